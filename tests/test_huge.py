"""The low-memory dream (fastdream.dream.huge): the float32 path's steps, band by band.

With float32 storage the banded path must give the float32 path's result up to summation order;
with its real storage (float16 detail, bfloat16 gradient) one step must stay within one 8-bit
level. Long dreams are chaotic (a 1e-5 change of the input moves many pixels by several levels
after a few steps, bench/RESULTS.md), so multi-step comparisons use float32 storage.
"""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

import fastdream as fd
from fastdream.dream import huge


@pytest.fixture
def photo():
    from skimage import data

    return Image.fromarray(data.astronaut()).resize((150, 113))


@pytest.fixture
def float32_storage(monkeypatch):
    monkeypatch.setattr(huge, "DETAIL_DTYPE", torch.float32)
    monkeypatch.setattr(huge, "GRAD_DTYPE", torch.float32)


def _levels(a, b):
    return np.abs(np.asarray(a).astype(int) - np.asarray(b).astype(int))


def _tensor(im):
    return torch.from_numpy(np.array(im)).permute(2, 0, 1)[None].float() / 255


@pytest.mark.parametrize(
    "kw",
    [
        dict(octaves=1, steps=3),  # jitter on: rolled rows across the image's edge
        dict(octaves=2, steps=2, jitter=0),  # the detail carried up an octave, banded
        dict(octaves=1, steps=2, layers=["_blocks.5:top4"], jitter=0),  # channel means over the banded tiles
        dict(octaves=1, steps=2, preserve_colors=True, jitter=0),
        dict(octaves=1, steps=2, norm="mean_abs", jitter=0),
    ],
)
def test_float32_storage_matches_the_float32_path(photo, float32_storage, kw):
    x = _tensor(photo)
    ref = fd.dream(x, seed=0, tile_size=64, **kw)
    got = fd.dream(x, seed=0, tile_size=64, low_memory=True, **kw)
    assert got.shape == ref.shape and got.dtype == ref.dtype
    diff = (got - ref).abs() * 255
    assert diff.mean() < 0.05 and diff.max() < 8, (diff.mean(), diff.max())


def test_float32_storage_with_a_mask(photo, float32_storage):
    x = _tensor(photo)
    mask = torch.zeros(113, 150)
    mask[20:90, 30:120] = 1.0
    # step 0.01 (the tolerance's calibration): float16 detail rounding grows with the step
    kw = dict(seed=0, tile_size=64, octaves=2, steps=2, step_size=0.01, jitter=0, mask=mask)
    ref = fd.dream(x, **kw)
    got = fd.dream(x, low_memory=True, **kw)
    assert ((got - ref).abs() * 255).mean() < 0.05
    assert torch.equal(got[..., :10, :], x[..., :10, :])  # masked out: untouched, exactly


def test_one_step_is_within_one_level_of_the_float32_path(photo):
    ref = fd.dream(photo, seed=0, tile_size=64, octaves=1, steps=1)
    got = fd.dream(photo, seed=0, tile_size=64, octaves=1, steps=1, low_memory=True)
    assert got.size == ref.size and got.mode == ref.mode
    d = _levels(got, ref)
    assert d.max() <= 1 and d.mean() < 0.01
    assert _levels(got, photo).mean() > 0.3  # and it dreamed


def test_smaller_octaves_start_from_an_8bit_base(photo):
    # 8-bit input: the lower octaves' bases are 8-bit copies, a change of under half a level. The
    # float32 path moves as much when its input moves by a quarter level (the gradient is that
    # sensitive), so that is the yardstick, not zero.
    kw = dict(seed=0, tile_size=64, octaves=2, steps=1, jitter=0)
    ref = fd.dream(photo, **kw)
    got = fd.dream(photo, low_memory=True, **kw)
    x = _tensor(photo)
    nudged = (x + torch.randn(x.shape, generator=torch.Generator().manual_seed(0)) * 1e-3).clamp(0, 1)
    yardstick = ((fd.dream(nudged, **kw) - fd.dream(x, **kw)).abs() * 255).mean().item()
    assert _levels(got, ref).mean() < 1.5 * yardstick
    assert _levels(got, photo).mean() > 0.3  # and it dreamed


@pytest.mark.parametrize("size", [(7, 9, 20, 31), (16, 5, 17, 5), (3, 3, 3, 3)])
def test_upsample_is_interpolate(size):
    h, w, big_h, big_w = size
    d = torch.randn(2, h, w, 3)
    ref = F.interpolate(d.permute(0, 3, 1, 2), size=(big_h, big_w), mode="bilinear", align_corners=False)
    torch.testing.assert_close(huge.upsample(d, (big_h, big_w)), ref.permute(0, 2, 3, 1), atol=1e-5, rtol=1e-5)


def test_upsample_in_bands(monkeypatch):
    monkeypatch.setattr(huge, "BAND_PIXELS", 40)  # 1 output row per band
    d = torch.randn(1, 6, 8, 3)
    ref = F.interpolate(d.permute(0, 3, 1, 2), size=(11, 13), mode="bilinear", align_corners=False)
    torch.testing.assert_close(huge.upsample(d, (11, 13)), ref.permute(0, 2, 3, 1), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "L", "LA"])
def test_pil_kinds_come_back_with_alpha_untouched(mode):
    rng = np.random.default_rng(0)
    im = Image.fromarray((rng.random((40, 50, 4)) * 255).astype(np.uint8), "RGBA").convert(mode)
    out = fd.dream(im, octaves=1, steps=1, seed=0, low_memory=True)
    assert out.mode == mode and out.size == im.size
    if "A" in mode:
        assert np.array_equal(np.asarray(out)[..., -1], np.asarray(im)[..., -1])


def test_arrays_and_tensors_come_back_as_they_came():
    rng = np.random.default_rng(0)
    gray = (rng.random((40, 50)) * 255).astype(np.uint8)
    out = fd.dream(gray, octaves=1, steps=1, seed=0, low_memory=True)
    assert out.shape == gray.shape and out.dtype == np.uint8
    floats = rng.random((40, 50, 3)).astype(np.float64)
    out = fd.dream(floats, octaves=1, steps=1, seed=0, low_memory=True)
    assert out.shape == floats.shape and out.dtype == np.float64
    batch = torch.rand(2, 3, 40, 50, dtype=torch.float64)
    out = fd.dream(batch, octaves=1, steps=1, seed=0, low_memory=True)
    assert out.shape == batch.shape and out.dtype == torch.float64
    assert not torch.equal(out[0], out[1])


def test_auto_switch_by_size(monkeypatch, photo):
    calls = []
    real = huge.run
    monkeypatch.setattr(huge, "run", lambda *a, **k: calls.append(1) or real(*a, **k))
    monkeypatch.setattr(huge, "LOW_MEMORY_PIXELS", 100 * 100)
    fd.dream(photo, octaves=1, steps=1, seed=0)
    assert calls == [1]  # 150x113 > 100x100: the low-memory path
    fd.dream(photo, octaves=1, steps=1, seed=0, low_memory=False)
    with pytest.warns(UserWarning, match="takes the float32 path, not the low-memory one: norm='laplacian'"):
        fd.dream(photo, octaves=1, steps=1, seed=0, norm="laplacian")  # needs the whole gradient: float32 path
    assert calls == [1]


def test_clear_errors(photo):
    with pytest.raises(ValueError, match="low_memory: norm='laplacian' needs the whole gradient"):
        fd.dream(photo, octaves=1, steps=1, norm="laplacian", low_memory=True)
    with pytest.raises(ValueError, match="low_memory: color_match"):
        fd.dream(photo, octaves=1, steps=1, color_match=True, low_memory=True)
    with pytest.raises(TypeError, match="low_memory must be True or False"):
        fd.dream(photo, octaves=1, steps=1, low_memory="yes")


def test_a_16_bit_gray_file_comes_back_in_its_mode_and_says_its_8_bits(tmp_path):
    """A file came back 8-bit L and the same picture opened with PIL came back I;16, both in 256
    levels and without a word (low memory is automatic over 4096x4096: a print's tones)."""
    ramp = (np.linspace(0, 1, 96 * 64).reshape(64, 96) * 65535).astype(np.uint16)
    Image.fromarray(ramp).save(tmp_path / "deep.png")
    outs = []
    for given in (tmp_path / "deep.png", Image.open(tmp_path / "deep.png")):
        with pytest.warns(fd.FastdreamWarning, match=r"low_memory dreams I;16 gray in 8 bits: the result comes back"):
            outs.append(fd.dream(given, low_memory=True, steps=1, octaves=1, seed=0))
    assert [o.mode for o in outs] == ["I;16", "I;16"]
    assert np.array_equal(np.asarray(outs[0]), np.asarray(outs[1]))
