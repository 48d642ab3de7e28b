"""CUDA kernels vs the reference on a real GPU: every op, float32/float16/bfloat16, NCHW and
channels_last, odd sizes, batch > 1; stream behaviour; opcheck; torch.compile. Skipped without a
GPU and the CUDA kernels (CI has neither; run these on a GPU machine)."""

import pytest
import torch

import fastdream as fd
from fastdream.ops import _native, reference
from tests.conftest import layouts, max_rel_err, needs_cuda

pytestmark = [pytest.mark.cuda, needs_cuda]

DTYPES = [(torch.float32, 1e-5), (torch.float16, 2e-3), (torch.bfloat16, 1.6e-2)]
SHAPES = [(1, 3, 37, 53), (2, 3, 255, 257), (3, 4, 64, 33)]


def _cuda(t, dtype, layout):
    return layouts(t.to("cuda", dtype), layout)


@pytest.mark.parametrize("dtype, tol", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("layout", ["nchw", "channels_last"])
@pytest.mark.parametrize("norm", ["std", "mean_abs"])
@pytest.mark.parametrize("with_mask", [False, True])
def test_ascent_step(dtype, tol, shape, layout, norm, with_mask):
    n, c, h, w = shape
    image, grad = torch.rand(shape) * 2 - 1, torch.randn(shape)
    mask = torch.rand(n, 1, h, w) if with_mask else None
    # The oracle: the reference in float32 on the values the GPU sees (rounded to dtype).
    img_q, grad_q = image.to(dtype).float(), grad.to(dtype).float()
    mask_q = None if mask is None else mask.to(dtype).float()
    expected = reference.ascent_step_(img_q.clone(), grad_q, 0.05, norm, (-1.0, 1.0), mask_q, 1e-8)
    x = _cuda(image, dtype, layout)
    with fd.use_backend("native"):
        fd.ops.ascent_step_(
            x, _cuda(grad, dtype, layout), 0.05, norm=norm, mask=None if mask is None else mask.to("cuda", dtype)
        )
    assert max_rel_err(x.float().cpu(), expected) <= tol


@pytest.mark.parametrize("dtype, tol", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("layout", ["nchw", "channels_last"])
@pytest.mark.parametrize("padding", ["reflect", "border", "zeros"])
def test_zoom_shift(dtype, tol, shape, layout, padding):
    image = torch.rand(shape)
    kw = dict(zoom=1.3, shift=(2.5, -7.25), angle=11.0, padding=padding)
    expected = reference.zoom_shift(image.to(dtype).double(), kw["zoom"], kw["shift"], kw["angle"], padding)
    with fd.use_backend("native"):
        out = fd.ops.zoom_shift(_cuda(image, dtype, layout), **kw)
    assert out.device.type == "cuda" and out.dtype == dtype
    assert max_rel_err(out.float().cpu(), expected.float()) <= tol


@pytest.mark.parametrize("dtype, tol", DTYPES)
@pytest.mark.parametrize("layout", ["nchw", "channels_last"])
def test_tiles(dtype, tol, layout):
    image = torch.rand(2, 3, 255, 257)
    grid = fd.ops.tile_grid((255, 257), 64)
    with fd.use_backend("reference"):
        tiles_ref = fd.ops.extract_tiles(image.to(dtype), grid, roll=(13, -5))
        blend_ref = fd.ops.blend_tiles(tiles_ref.float(), grid, roll=(13, -5))
    with fd.use_backend("native"):
        tiles = fd.ops.extract_tiles(_cuda(image, dtype, layout), grid, roll=(13, -5))
        blend = fd.ops.blend_tiles(tiles, grid, roll=(13, -5))
    assert torch.equal(tiles.cpu(), tiles_ref)
    assert max_rel_err(blend.float().cpu(), blend_ref) <= tol


def test_results_identical_across_streams():
    image = torch.rand(2, 3, 301, 299, device="cuda")
    grad = torch.randn_like(image)
    results = []
    for stream in (torch.cuda.Stream(), torch.cuda.Stream()):
        with torch.cuda.stream(stream), fd.use_backend("native"):
            x = image.clone()
            fd.ops.ascent_step_(x, grad, 0.02)
            z = fd.ops.zoom_shift(x, zoom=1.1, angle=3.0)
        stream.synchronize()
        results.append(z.cpu())
    assert torch.equal(results[0], results[1])


def test_opcheck_and_compile():
    image = torch.rand(2, 3, 17, 23, device="cuda")
    grad = torch.randn_like(image)
    torch.library.opcheck(
        torch.ops.fastdream.ascent_step_.default, (image, grad, None, 0.1, "std", True, -1.0, 1.0, 1e-8)
    )
    torch.library.opcheck(torch.ops.fastdream.zoom_shift.default, (image, 1.2, 3.0, -2.0, 10.0, "reflect"))

    def step(x, g):
        return fd.ops.ascent_step_(fd.ops.zoom_shift(x, zoom=1.1), g, 0.05)

    with fd.use_backend("native"):
        expected = step(image, grad)
        torch._dynamo.reset()
        assert torch.allclose(torch.compile(step, fullgraph=True)(image, grad), expected)


def test_info_reports_the_gpu():
    d = fd.info()
    assert d["native_cuda"] and d["gpu"]["covered"] == _native.cuda_covers(torch.cuda.get_device_capability())
