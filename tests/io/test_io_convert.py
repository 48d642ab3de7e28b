"""fastdream.io.convert: 8-bit levels to floats and back, exactly; PIL images; grids."""

import numpy as np
import pytest
import torch
from PIL import Image

from fastdream import io

LEVELS = torch.arange(256, dtype=torch.uint8)


@pytest.mark.parametrize("value_range", [(0.0, 1.0), (-1.0, 1.0), (0.0, 255.0)])
def test_every_level_survives_the_round_trip(value_range):
    x = io.from_uint8(LEVELS, value_range)
    assert x.dtype == torch.float32 and x[0] == value_range[0] and x[-1] == value_range[1]
    assert torch.equal(io.to_uint8(x, value_range), LEVELS)


def test_levels_are_the_division_by_255():
    # The float nearest k / 255, as the code this replaced computed it (x.float() / 255).
    assert torch.equal(io.from_uint8(LEVELS), LEVELS.float() / 255.0)
    assert torch.equal(io.from_uint8(LEVELS, (-1.0, 1.0)), LEVELS.float() / 127.5 - 1.0)


def test_from_uint8_refuses_other_dtypes_and_keeps_the_input():
    with pytest.raises(TypeError, match="uint8"):
        io.from_uint8(torch.zeros(3))
    x = LEVELS.clone()
    io.from_uint8(x).zero_()
    assert torch.equal(x, LEVELS)


def test_quantize_rounds_and_clamps():
    assert io.quantize(torch.tensor([-0.5, 0.499 / 255, 0.501 / 255, 2.0])).tolist() == [0, 0, 1, 255]


@pytest.mark.parametrize("mode, channels", [("L", 1), ("LA", 2), ("RGB", 3), ("RGBA", 4)])
def test_pil_to_tensors_and_back(mode, channels):
    a = np.random.default_rng(0).integers(0, 256, (4, 6, channels), dtype=np.uint8)
    im = Image.fromarray(a[..., 0] if channels == 1 else a, mode)
    t = io.uint8_from_pil(im)
    assert t.shape == (channels, 4, 6) and t.dtype == torch.uint8 and t.is_contiguous()
    assert np.array_equal(t.permute(1, 2, 0).numpy(), a)
    f = io.from_pil(im)
    assert torch.equal(f, t.float() / 255)
    back = io.to_pil(f)
    assert back.mode == mode and np.array_equal(np.asarray(back), np.asarray(im))
    t.zero_()  # a copy of the pixels: the image is not changed
    assert np.array_equal(np.asarray(im), a[..., 0] if channels == 1 else a)


def test_modes_are_converted_when_asked_and_refused_otherwise():
    p = Image.new("P", (3, 2))
    assert io.uint8_from_pil(p, "RGB").shape == (3, 2, 3)
    assert io.from_pil(Image.new("RGBA", (3, 2)), "L").shape == (1, 2, 3)
    with pytest.raises(ValueError, match="pass mode="):
        io.uint8_from_pil(p)


def test_grids():
    g = io.grid(torch.ones(5, 3, 4, 4), nrow=2, pad=1)
    assert g.size == (1 + 2 * 5, 1 + 3 * 5) and g.mode == "RGB"
    a = np.asarray(g)
    assert a[0].max() == 0 and a[1, 1].tolist() == [255, 255, 255] and a[-5:-1, -5:-1].max() == 0  # 6th cell empty
    assert io.grid_tensor(torch.zeros(3, 1, 4, 4), nrow=3).shape == (1, 8, 20)


@pytest.mark.parametrize(
    "call, exc, words",
    [
        (lambda: io.save_image(None, "x.png"), TypeError, r"^image must be a PIL image .* got None"),
        (lambda: io.save_image(torch.rand(3, 8, 8), "x.png"), TypeError, r"^image must be a PIL image"),
        (lambda: io.to_pil(torch.rand(3, 4, 4), value_range=(1, 1)), ValueError, r"^value_range must be .* lo < hi"),
        (lambda: io.to_uint8(torch.rand(3), value_range=(0, float("nan"))), ValueError, r"^value_range\[1\] must"),
        (lambda: io.to_pil(torch.zeros(5, 4, 4)), ValueError, r"^x must be a \(C, H, W\) or \(N, C, H, W\) tensor"),
        (lambda: io.grid(torch.rand(2, 3, 4, 4), nrow=0), ValueError, r"^nrow must be >= 1"),
        (lambda: io.grid(torch.rand(3, 4, 4)), ValueError, r"^x must be an \(N, C, H, W\) tensor"),
        (lambda: io.write_animation([np.zeros((8, 8, 3), np.uint8)] * 2, "l.gif", loop=-1), ValueError, r"^loop must"),
    ],
)
def test_the_io_helpers_refuse_bad_arguments_naming_them(call, exc, words, tmp_path, monkeypatch):
    """They raised ZeroDivisionError, AttributeError, Pillow's struct.error, or gave zeros for NaN."""
    monkeypatch.chdir(tmp_path)
    with pytest.raises(exc, match=words):
        call()
    assert list(tmp_path.iterdir()) == []


def test_a_value_range_of_one_number_tensors_is_taken():
    """(t.min(), t.max()) is how a preview is normalized: the new check refused its tensors."""
    t = torch.randn(3, 8, 8)
    assert np.array_equal(
        np.asarray(io.to_pil(t, value_range=(t.min(), t.max()))),
        np.asarray(io.to_pil(t, value_range=(float(t.min()), float(t.max())))),
    )
    assert io.to_uint8(t, value_range=(np.float32(-1), np.array(1.0))).dtype == torch.uint8


def test_a_palette_of_rgba_colors_keeps_its_alpha():
    """quantize() of an RGBA picture holds its alpha in the palette, not in a color key: it was
    read as RGB, and its clear part came out opaque in every pipeline."""
    a = np.zeros((4, 6, 4), np.uint8)
    a[..., 0], a[..., 3] = 200, 255
    a[:, :3, 3] = 0
    p = Image.fromarray(a, "RGBA").quantize()
    assert "transparency" not in p.info and io.standard_mode(p) == "RGBA"
    assert np.array_equal(np.asarray(io.standard(p))[..., 3], a[..., 3])
