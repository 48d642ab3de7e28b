"""zoom_shift: the shared op tests, native vs the reference at dream sizes, and the pinned conventions."""

import math

import pytest
import torch
from hypothesis import strategies as st

import fastdream as fd
from fastdream.ops import reference
from fastdream.ops.zoom_shift import INTERPOLATIONS, PADDINGS
from tests.conftest import layouts, max_rel_err, needs_native
from tests.ops.tester import Case, OpTests

BACKENDS = ["reference", pytest.param("native", marks=needs_native)]


def _native(image, **kw):
    with fd.use_backend("native"):
        return fd.ops.zoom_shift(image, **kw)


def _oracle(image, zoom=1.0, shift=(0.0, 0.0), angle=0.0, padding="reflect", interpolation="bilinear"):
    # The reference with float64 arithmetic: its float32 grid would round coordinates by ~1e-4 px
    # on big images, more than the 1e-5 the native kernel is held to.
    return reference.zoom_shift(image.double(), zoom, shift, angle, padding, interpolation).to(image.dtype)


@needs_native
@pytest.mark.parametrize("shape", [(1, 3, 37, 53), (2, 3, 255, 257), (3, 2, 16, 9), (1, 1, 1, 5)])
@pytest.mark.parametrize("layout", ["nchw", "channels_last"])
@pytest.mark.parametrize("padding", ["reflect", "border", "zeros"])
@pytest.mark.parametrize("interpolation", INTERPOLATIONS)
@pytest.mark.parametrize(
    "params", [dict(zoom=1.05), dict(zoom=0.7, angle=17.0), dict(shift=(3.3, -40.7), angle=-95.0, zoom=1.3)]
)
def test_matches_reference(shape, layout, padding, interpolation, params):
    image = layouts(torch.rand(shape), layout)
    out = _native(image, padding=padding, interpolation=interpolation, **params)
    assert out.shape == image.shape and out.stride() == image.stride()
    assert max_rel_err(out, _oracle(image, padding=padding, interpolation=interpolation, **params)) <= 1e-5


class TestZoomShift(OpTests):
    """Parity, layouts, dtypes, opcheck, gradients, torch.compile and CUDA: tests/ops/tester.py."""

    op = "zoom_shift"

    def params(self, h, w):
        return dict(
            zoom=st.floats(0.2, 4.0),
            dx=st.floats(-80, 80),
            dy=st.floats(-80, 80),
            angle=st.floats(-400, 400),
            padding=st.sampled_from(PADDINGS),
            interpolation=st.sampled_from(INTERPOLATIONS),
        )

    def fixed_params(self, h, w):
        return dict(zoom=1.3, dx=2.5, dy=-7.25, angle=11.0, padding="reflect", interpolation="bicubic")

    def make(self, gen, n, c, h, w, dtype, params):
        return Case({"image": torch.rand(n, c, h, w, generator=gen, dtype=dtype)}, params)

    def call(self, case):
        p = case.params
        shift = (p["dx"], p["dy"])
        return fd.ops.zoom_shift(
            case.tensors["image"],
            zoom=p["zoom"],
            shift=shift,
            angle=p["angle"],
            padding=p["padding"],
            interpolation=p["interpolation"],
        )

    def op_args(self, case):
        p = case.params
        return (case.tensors["image"], p["zoom"], p["dx"], p["dy"], p["angle"], p["padding"], p["interpolation"])


@needs_native
def test_non_dense_input():
    base = torch.rand(2, 3, 30, 40)
    view = base[..., ::2]
    assert max_rel_err(_native(view, zoom=1.2, angle=5.0), _oracle(view.contiguous(), zoom=1.2, angle=5.0)) <= 1e-5


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("layout", ["nchw", "channels_last"])
@pytest.mark.parametrize("interpolation", INTERPOLATIONS)
def test_identity_is_exact(backend, layout, interpolation):
    image = layouts(torch.rand(2, 3, 31, 44), layout)
    with fd.use_backend(backend):
        for padding in ("reflect", "border", "zeros"):
            out = fd.ops.zoom_shift(image, padding=padding, interpolation=interpolation)
            if backend == "native":
                assert torch.equal(out, image)
            else:  # grid_sample normalizes coordinates in float32: exact up to its rounding
                assert torch.allclose(out, image, atol=1e-5, rtol=0)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dx, dy", [(3, 0), (0, -5), (7, 4), (-2, -9)])
@pytest.mark.parametrize("interpolation", INTERPOLATIONS)
def test_integer_shift_is_a_roll_inside_the_image(backend, dx, dy, interpolation):
    image = torch.rand(1, 3, 29, 33)
    with fd.use_backend(backend):
        out = fd.ops.zoom_shift(image, shift=(float(dx), float(dy)), interpolation=interpolation)
    rolled = torch.roll(image, shifts=(dy, dx), dims=(-2, -1))
    ys = slice(max(dy, 0), 29 + min(dy, 0))
    xs = slice(max(dx, 0), 33 + min(dx, 0))
    assert torch.allclose(out[..., ys, xs], rolled[..., ys, xs], atol=1e-5)
    # positive dx moves the content right: the pixel at x lands on x + dx
    assert torch.allclose(out[0, :, 10 + dy, 10 + dx], image[0, :, 10, 10], atol=1e-5)


@pytest.mark.parametrize("backend", BACKENDS)
def test_zoom_keeps_the_center_pixel_and_magnifies(backend):
    image = torch.rand(1, 3, 41, 63)
    with fd.use_backend(backend):
        out = fd.ops.zoom_shift(image, zoom=1.5)
        rot = fd.ops.zoom_shift(image, zoom=2.0, angle=33.0)
    assert torch.allclose(out[..., 20, 31], image[..., 20, 31], atol=1e-5)
    assert torch.allclose(rot[..., 20, 31], image[..., 20, 31], atol=1e-5)
    # zoom 2: the output pixel 4 px right of the center samples the input 2 px right of it
    with fd.use_backend(backend):
        z2 = fd.ops.zoom_shift(image, zoom=2.0)
    assert torch.allclose(z2[..., 20, 35], image[..., 20, 33], atol=1e-5)


@pytest.mark.parametrize("backend", BACKENDS)
def test_rotation_is_counter_clockwise_on_screen(backend):
    image = torch.zeros(1, 1, 21, 21)
    image[0, 0, 10, 15] = 1.0  # 5 px right of the center
    with fd.use_backend(backend):
        out = fd.ops.zoom_shift(image, angle=90.0, padding="zeros")
    assert out[0, 0, 5, 10] == pytest.approx(1.0, abs=1e-5)  # now 5 px above the center


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("interpolation", INTERPOLATIONS)
def test_padding_modes(backend, interpolation):
    image = torch.arange(1.0, 6.0).reshape(1, 1, 1, 5).expand(1, 1, 3, 5).contiguous()
    with fd.use_backend(backend):
        z = fd.ops.zoom_shift(image, shift=(2.0, 0.0), padding="zeros", interpolation=interpolation)
        b = fd.ops.zoom_shift(image, shift=(2.0, 0.0), padding="border", interpolation=interpolation)
        r = fd.ops.zoom_shift(image, shift=(2.0, 0.0), padding="reflect", interpolation=interpolation)

    def row(t):
        return [round(v, 4) for v in t[0, 0, 1].tolist()]

    assert row(z) == [0, 0, 1, 2, 3]
    assert row(b) == [1, 1, 1, 2, 3]
    assert row(r) == [2, 1, 1, 2, 3]  # mirrored about the edge at x = -0.5


@pytest.mark.parametrize("backend", BACKENDS)
def test_bicubic_keeps_detail_that_repeated_bilinear_zooms_wash_out(backend):
    """Why a zoom video resamples bicubically: each frame is resampled from the last, and ten
    bilinear passes at 1.03x keep an eighth of the fine detail that ten bicubic passes keep."""
    x = torch.rand(1, 3, 96, 96, generator=torch.Generator().manual_seed(0))
    lap = torch.tensor([[0.0, 1, 0], [1, -4, 1], [0, 1, 0]]).expand(3, 1, 3, 3)

    def detail(t):
        return torch.nn.functional.conv2d(t[..., 24:-24, 24:-24], lap, groups=3).var().item()

    kept = {}
    with fd.use_backend(backend):
        for mode in INTERPOLATIONS:
            y = x
            for _ in range(10):
                y = fd.ops.zoom_shift(y, zoom=1.03, interpolation=mode)
            kept[mode] = detail(y)
    assert kept["bicubic"] > 5 * kept["bilinear"]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("move", [dict(shift=(0.5, 0.0)), dict(angle=2.0), dict(zoom=1.02, angle=1.0)])
def test_bicubic_frames_resampled_from_frames_do_not_ring(backend, move):
    """grid_sample's bicubic (a = -0.75) boosts mid frequencies by up to 3%: sixty half-pixel shifts
    of a zoom video grew halos around every edge until they clipped to black and white.
    Catmull-Rom (a = -0.5) amplifies no frequency at any offset."""
    x = torch.full((1, 3, 48, 48), 0.3)
    x[..., 12:36, 12:36] = 0.7  # a square on gray, softened as a photo's edges are
    x = torch.nn.functional.avg_pool2d(x, 3, 1, 1, count_include_pad=False)
    with fd.use_backend(backend):
        for _ in range(60):  # as a video: clamped and rounded to 8 bits each frame
            x = (fd.ops.zoom_shift(x, interpolation="bicubic", **move).clamp(0, 1) * 255).round() / 255
    # (a = -0.75 here: 0 and 255 after the turns, 9 and 248 after the shifts; a = -0.5: 68 and 189 at most)
    assert x.min() > 0.3 - 0.06 and x.max() < 0.7 + 0.06, (x.min(), x.max())


@pytest.mark.parametrize(
    "kwargs, exc, words",
    [
        (dict(zoom=0.0), ValueError, "zoom"),
        (dict(zoom=-1.0), ValueError, "zoom"),
        (dict(zoom=math.inf), ValueError, "zoom"),
        (dict(padding="wrap"), ValueError, "padding"),
        (dict(interpolation="nearest"), ValueError, "interpolation"),
        (dict(shift=3.0), TypeError, "shift"),
        (dict(angle="10"), TypeError, "angle"),
    ],
)
def test_bad_arguments(kwargs, exc, words):
    with pytest.raises(exc, match=words):
        fd.ops.zoom_shift(torch.rand(1, 3, 8, 8), **kwargs)


@pytest.mark.parametrize(
    "image, exc", [(torch.zeros(1, 3, 8, 8, dtype=torch.uint8), TypeError), (torch.zeros(8, 8), ValueError)]
)
def test_bad_images(image, exc):
    with pytest.raises(exc, match="image"):
        fd.ops.zoom_shift(image, zoom=1.1)


@needs_native
@pytest.mark.parametrize("interpolation", INTERPOLATIONS)
@pytest.mark.parametrize("padding", ["border", "zeros"])
def test_a_far_coordinate_reads_the_edge_or_nothing(interpolation, padding):
    """Bicubic wrote 0 past 1e15 px for every padding: border reads the edge there, as bilinear."""
    x = torch.rand(1, 3, 17, 23, generator=torch.Generator().manual_seed(0))
    with fd.use_backend("native"):
        far = fd.ops.zoom_shift(x, shift=(1e16, -1e17), padding=padding, interpolation=interpolation)
        near = fd.ops.zoom_shift(x, shift=(1e3, -1e3), padding=padding, interpolation=interpolation)
    torch.testing.assert_close(far, near, rtol=0, atol=1e-6)
    edge = x[..., -1:, :1].expand_as(x) if padding == "border" else torch.zeros_like(x)  # bottom left
    torch.testing.assert_close(far, edge, rtol=0, atol=1e-6)


@needs_native
@pytest.mark.parametrize("padding", PADDINGS)
@pytest.mark.parametrize("move", [dict(shift=(2e19, 3.0)), dict(zoom=1e-300), dict(zoom=1e-320)])
def test_bicubic_reference_reads_far_and_infinite_coordinates_as_the_kernel(padding, move):
    """The reference (also the op's backward) overflowed a far coordinate's floor and gave NaN for
    an infinite one, where the kernel read the edge, the mirrored pixel or 0."""
    x = torch.rand(1, 3, 17, 23, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    with fd.use_backend("native"):
        native = fd.ops.zoom_shift(x, padding=padding, interpolation="bicubic", **move)
    ref = reference.zoom_shift(x, move.get("zoom", 1.0), move.get("shift", (0.0, 0.0)), 0.0, padding, "bicubic")
    assert torch.isfinite(ref).all() and torch.equal(native, ref)


@needs_native
@pytest.mark.parametrize("interpolation", INTERPOLATIONS)
@pytest.mark.parametrize("k", [1, 2**20, 2**40])
def test_reflection_repeats_every_two_spans_however_far(k, interpolation):
    """Reflect padding is periodic (there and back: two spans). The kernels counted the flips as an
    integer, a cast that is undefined for huge coordinates and differed between CPU and GPU; now
    fmod by the period."""
    x = torch.rand(1, 3, 17, 23, generator=torch.Generator().manual_seed(0))
    w = x.shape[-1]
    with fd.use_backend("native"):
        far = fd.ops.zoom_shift(x, shift=(2 * w * k + 5.25, -3.5), padding="reflect", interpolation=interpolation)
        near = fd.ops.zoom_shift(x, shift=(5.25, -3.5), padding="reflect", interpolation=interpolation)
    torch.testing.assert_close(far, near, rtol=0, atol=1e-5)
