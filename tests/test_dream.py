"""fastdream.dream: real DeepDream behaviour on small images with the embedded backbone."""

import os
import warnings

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

import fastdream as fd
from fastdream import objectives, ops
from fastdream.dream import DEFAULT_LAYERS, default_model
from fastdream.models.taps import LayerTaps

FAST = dict(octaves=1, steps=2, jitter=8, seed=0)


@pytest.fixture(scope="module")
def photo():
    from skimage import data

    return Image.fromarray(data.chelsea()).resize((96, 64), Image.BICUBIC)


def _objective_of(img01: torch.Tensor) -> float:
    model = default_model("cpu")
    x = (img01 - 127 / 255) / (128 / 255)
    acts = LayerTaps(model, DEFAULT_LAYERS)(x.contiguous(memory_format=torch.channels_last))
    total = objectives.layer_l2(DEFAULT_LAYERS[0]) + objectives.layer_l2(DEFAULT_LAYERS[1])
    return float(total(dict(zip(DEFAULT_LAYERS, acts))).sum())


def test_objective_grows_and_the_image_changes(photo):
    x = torch.from_numpy(np.array(photo)).permute(2, 0, 1).float()[None] / 255
    short = fd.dream(x, octaves=2, steps=2, seed=0)
    out = fd.dream(x, octaves=2, steps=8, seed=0)
    assert out.shape == x.shape and out.dtype == x.dtype
    before, middle, after = _objective_of(x), _objective_of(short), _objective_of(out)
    assert before < middle < after and after > 1.25 * before
    change = (out - x).abs().mean() * 255
    assert 1.0 < change < 40.0  # a visible change, not noise and not a wash-out


def test_seeded_runs_are_identical_and_seeds_matter(photo):
    a = fd.dream(photo, **FAST)
    b = fd.dream(photo, **FAST)
    c = fd.dream(photo, **{**FAST, "seed": 1})
    assert np.array_equal(np.asarray(a), np.asarray(b))
    assert not np.array_equal(np.asarray(a), np.asarray(c))


def test_a_tile_covering_the_image_is_the_untiled_dream(photo):
    a = fd.dream(photo, tile_size=None, **FAST)
    b = fd.dream(photo, tile_size=512, **FAST)
    assert np.array_equal(np.asarray(a), np.asarray(b))
    tiled = fd.dream(photo, tile_size=48, **FAST)  # 2x3 tiles: a dream of the same strength
    change_tiled = np.abs(np.asarray(tiled, dtype=float) - np.asarray(photo, dtype=float)).mean()
    change = np.abs(np.asarray(a, dtype=float) - np.asarray(photo, dtype=float)).mean()
    assert 0.5 < change_tiled / change < 2.0


def _seam_stats(change: np.ndarray, boundaries) -> tuple[float, float]:
    """How much tile boundaries stand out in a change image (H, W, C), along rows and columns.

    spike: the jump across the boundary over the median jump of the 20 rows around it;
    step: the ratio of the mean change magnitude in the 4 rows on either side (>= 1).
    """
    spikes, steps = [], []
    for axis in (0, 1):
        jump = np.abs(np.diff(change, axis=axis)).mean(axis=(1 - axis, 2))
        mag = np.abs(change).mean(axis=(1 - axis, 2))
        for b in boundaries:
            y = b - 1
            spikes.append(jump[y] / np.median(np.r_[jump[y - 10 : y - 1], jump[y + 2 : y + 11]]))
            r = mag[b - 4 : b].mean() / mag[b : b + 4].mean()
            steps.append(max(r, 1 / r))
    return max(spikes), max(steps)


@pytest.mark.slow
@pytest.mark.parametrize("norm", ["std", "laplacian"])
def test_tiles_leave_no_seams(norm):
    from skimage import data

    photo = Image.fromarray(data.astronaut()).resize((512, 512), Image.BICUBIC)
    before = np.asarray(photo).astype(np.float64)
    out = fd.dream(photo, octaves=1, steps=6, jitter=0, tile_size=128, seed=0, norm=norm)
    change = np.asarray(out).astype(np.float64) - before
    grid = ops.tile_grid((512, 512), 128)
    edges = sorted((set(grid.ys) | {y + grid.tile_h for y in grid.ys}) - {0, 512})
    assert len(edges) >= 6
    spike, step = _seam_stats(change, edges)
    assert spike < 1.3 and step < 1.3, (spike, step)
    # The statistic does catch a seam: the same change, 1.5x stronger inside one band of tiles.
    seamed = change.copy()
    seamed[128:256] *= 1.5
    assert _seam_stats(seamed, [128, 256])[1] > 1.3


def test_mask_limits_the_change():
    rng = np.random.default_rng(0)
    img = (rng.random((48, 64, 3)) * 255).astype(np.uint8)
    mask = np.zeros((48, 64), np.float32)
    mask[:, 32:] = 1.0
    out = fd.dream(img, mask=mask, **FAST)
    assert np.array_equal(out[:, :32], img[:, :32])
    assert np.abs(out[:, 32:].astype(int) - img[:, 32:]).mean() > 1.0
    out2 = fd.dream(img, mask=mask, octaves=2, steps=2, seed=0)  # octaves must not bleed either
    assert np.array_equal(out2[:, :32], img[:, :32])
    with pytest.raises(ValueError, match="mask is 0 everywhere: nothing would be dreamed"):
        fd.dream(img, mask=np.zeros_like(mask), **FAST)  # it gave the picture back as it was


def test_every_input_kind_round_trips(tmp_path, photo):
    rgb = np.asarray(photo)
    h, w = rgb.shape[:2]
    out = fd.dream(photo, **FAST)
    assert isinstance(out, Image.Image) and out.size == (w, h) and out.mode == "RGB"
    path = tmp_path / "in.png"
    photo.save(path)
    assert fd.dream(str(path), **FAST).size == (w, h)
    rgba = photo.convert("RGBA")
    alpha = np.linspace(0, 255, w * h).reshape(h, w).astype(np.uint8)
    rgba.putalpha(Image.fromarray(alpha))
    out = fd.dream(rgba, **FAST)
    assert out.mode == "RGBA" and np.array_equal(np.asarray(out)[..., 3], alpha)
    gray = fd.dream(photo.convert("L"), **FAST)
    assert gray.mode == "L" and gray.size == (w, h)
    u8 = fd.dream(rgb, **FAST)
    assert u8.dtype == np.uint8 and u8.shape == rgb.shape
    f32 = fd.dream(rgb[..., 0].astype(np.float32) / 255, **FAST)
    assert f32.dtype == np.float32 and f32.shape == (h, w) and f32.min() >= 0 and f32.max() <= 1
    t = torch.from_numpy(rgb.copy()).permute(2, 0, 1).float() / 255
    out = fd.dream(t, **FAST)
    assert out.shape == t.shape and out.dtype == torch.float32
    batch = torch.stack([t, t.flip(-1)])
    out = fd.dream(batch, **FAST)
    assert out.shape == batch.shape and not torch.equal(out[0], batch[0])
    t4 = torch.cat([t, torch.rand(1, h, w)])
    out = fd.dream(t4, **FAST)
    assert out.shape == t4.shape and torch.equal(out[3], t4[3])


def test_exif_orientation_is_applied(tmp_path, photo):
    exif = Image.Exif()
    exif[0x0112] = 6  # rotated 90 degrees: displayed as portrait
    path = tmp_path / "rotated.jpg"
    photo.save(path, exif=exif.tobytes())
    out = fd.dream(path, **FAST)
    assert out.size == (photo.height, photo.width)


class _Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Conv2d(3, 8, 3, padding=1)
        self.b = nn.Conv2d(8, 8, 3, padding=1)
        self.c = nn.Conv2d(8, 8, 3, padding=1)

    def forward(self, x):
        return self.c(torch.relu(self.b(torch.relu(self.a(x)))))


def test_any_model_and_layers_with_truncation_and_no_parameter_grads():
    net = _Net().train()
    calls = []
    net.c.register_forward_hook(lambda *a: calls.append("c"))
    img = torch.rand(3, 40, 40)
    out = fd.dream(img, layers=["b"], model=net, **FAST)
    assert out.shape == img.shape and not torch.equal(out, img)
    assert calls == []  # the forward stopped after the deepest requested layer
    assert all(p.grad is None and p.requires_grad for p in net.parameters())
    assert net.training  # the mode is restored
    with pytest.raises(ValueError, match="unknown layer"):
        fd.dream(img, layers=["d"], model=net, **FAST)
    with pytest.raises(ValueError, match="layers"):
        fd.dream(img, model=net, **FAST)


def test_small_image_uses_fewer_octaves_with_a_warning():
    img = torch.rand(3, 40, 50)
    with pytest.warns(UserWarning, match="octave"):
        out = fd.dream(img, octaves=5, steps=1, seed=0)
    assert out.shape == img.shape


@pytest.mark.parametrize("hw", [(1, 1), (2, 9), (7, 1)])
@pytest.mark.parametrize("low_memory", [False, True])
def test_images_smaller_than_the_smallest_tile_dream_untiled(hw, low_memory):
    """tile_size=None (the CLI's --tile 0) is one tile of the image, however small."""
    img = torch.rand(3, *hw, generator=torch.Generator().manual_seed(0))
    with pytest.warns(UserWarning):  # fewer octaves than asked
        out = fd.dream(img, tile_size=None, octaves=2, steps=1, seed=0, low_memory=low_memory)
    assert out.shape == img.shape and torch.isfinite(out).all()


@pytest.mark.parametrize(
    "kwargs, exc, word",
    [
        (dict(octaves=0), ValueError, "octaves"),
        (dict(octave_scale=1.0), ValueError, "octave_scale"),
        (dict(steps=2.5), TypeError, "steps"),
        (dict(step_size=-1.0), ValueError, "step_size"),
        (dict(jitter=-1), ValueError, "jitter"),
        (dict(tile_size=8), ValueError, r"tile_size must be >= 32, got 8 \(None: no tiling\)"),
        (dict(objective="l3"), ValueError, "objective"),
        (dict(norm="max"), ValueError, "norm"),
        (dict(layers=["nope"]), ValueError, "unknown layer"),
        (dict(mask=np.ones((5, 5, 3))), ValueError, "mask"),
        (dict(progress="yes"), TypeError, "progress must be True or False"),
        pytest.param(
            dict(device="cuda"),
            ValueError,
            "CUDA is not available",
            marks=pytest.mark.skipif(torch.cuda.is_available(), reason="has a GPU"),
        ),
    ],
)
def test_bad_arguments(kwargs, exc, word):
    with pytest.raises(exc, match=word):
        fd.dream(np.zeros((32, 32, 3), np.uint8), **kwargs)


@pytest.mark.parametrize(
    "image, exc",
    [
        ("/no/such/file.png", FileNotFoundError),
        (np.zeros((4, 4, 3), np.int32), TypeError),
        (torch.full((3, 8, 8), 2.0), ValueError),
        (torch.rand(5, 8, 8), ValueError),
        (torch.rand(3, 8, 8).to_sparse(), TypeError),  # (torch's NotImplementedError came through)
        (3, TypeError),
    ],
)
def test_bad_images(image, exc):
    with pytest.raises(exc, match="image"):
        fd.dream(image, **FAST)


@pytest.mark.parametrize(
    "image, words",
    [
        ("", "image: the path is empty"),
        ("https://example.com/cat.png", "is an address, not a file; download it first"),
        (np.zeros((3, 48, 40), np.uint8), "got 40; it looks like channels first: a numpy image is H x W x C"),
        (torch.zeros(48, 40, 3), "got 48; it looks like channels last: a tensor image is .C, H, W."),
        (torch.empty(3, 8, 8, device="meta"), "a tensor on the meta device has no values"),
        (
            np.array([[[np.nan, 0.5, 0.2]] * 4] * 4, np.float32),
            r"16 value\(s\) NaN or infinite, the others in \[0.2, 0.5\]",
        ),
        (np.full((8, 8, 3), np.nan, np.float32), "got only NaN or infinite ones"),  # (it said "in [nan, nan]")
    ],
)
def test_images_a_user_gets_wrong_are_said_plainly(image, words):
    """Each was a misleading line: '' "must be a path (str...)", a URL mangled into a missing
    file, a (C, H, W) array "got 40 channels" with no hint, a meta tensor torch's .item() error,
    one NaN "range [nan, nan]"."""
    with pytest.raises(ValueError, match=words):
        fd.dream(image, **FAST)


def test_a_named_pipe_given_as_the_picture_is_refused_not_waited_on(tmp_path):
    """dream's size probe opened it with Pillow before the guarded loader: it waited for ever."""
    os.mkfifo(tmp_path / "p.png")
    with pytest.raises(ValueError, match="is a named pipe, not a regular file"):
        fd.dream(str(tmp_path / "p.png"), **FAST)


def test_32_bit_gray_pictures_keep_their_levels():
    """Mode I holding 8-bit values (PIL's convert("I")) came back almost black, and one holding
    values past 16 bits almost white."""
    gray = np.arange(0, 256, dtype=np.int32).reshape(16, 16)
    assert np.array_equal(np.asarray(fd.io.standard(Image.fromarray(gray, "I"))), gray)
    wide = np.asarray(fd.io.standard(Image.fromarray(gray * 1000, "I"))).astype(int)
    assert abs(wide - gray).max() <= 1


def test_a_dream_too_small_to_show_says_so():
    """A step of 1e-4 changed no pixel of an 8-bit picture, without a word (its saved dream was the
    input); a step that shows says nothing."""
    img = (np.random.default_rng(0).random((48, 56, 3)) * 255).astype(np.uint8)
    with pytest.warns(fd.FastdreamWarning, match="no pixel changed by half a level of 255"):
        out = fd.dream(img, step_size=1e-4, steps=1, octaves=1, seed=0)
    assert np.array_equal(out, img)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert not np.array_equal(fd.dream(img, step_size=0.02, steps=1, octaves=1, seed=0), img)
        # a float picture keeps a change under half a level: nothing to say
        flt = img.astype(np.float32) / 255
        assert not np.array_equal(fd.dream(flt, step_size=1e-4, steps=1, octaves=1, seed=0), flt)
