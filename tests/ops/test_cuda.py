"""CUDA specifics on a real GPU: the kernels run on the caller's stream, compile across ops, and
info() sees the GPU. Each op's CUDA parity (every dtype, layouts, odd sizes, batch > 1) and opcheck
are in tests/ops/tester.py. Skipped without a GPU and the CUDA kernels (CI has neither)."""

import pytest
import torch

import fastdream as fd
from fastdream.ops import _native
from tests.conftest import max_rel_err, needs_cuda

pytestmark = [pytest.mark.cuda, needs_cuda]

# About 50-100 ms of spinning on the side stream: far longer than the ops take.
SLEEP_CYCLES = 100_000_000
GRID = fd.ops.tile_grid((301, 299), 64)
ROLL = (7, -3)


def _ascent(x, g, w):
    y = x.clone()
    return fd.ops.ascent_step_(y, g, 0.05)


def _blend(x, g, w):
    # The raw op with the weights already on the GPU: the public op copies them from the CPU
    # first, a synchronous copy that would drain the stream before the kernel is queued.
    wy, wx = w
    tiles = x[:, :, : GRID.tile_h, : GRID.tile_w].repeat(GRID.count, 1, 1, 1)
    return torch.ops.fastdream.blend_tiles(tiles, list(GRID.ys), list(GRID.xs), wy, wx, *GRID.size, *ROLL)


OPS = {
    "ascent_step_": _ascent,
    "zoom_shift": lambda x, g, w: fd.ops.zoom_shift(x, zoom=1.1, angle=3.0),
    "extract_tiles": lambda x, g, w: fd.ops.extract_tiles(x, GRID, roll=ROLL),
    "blend_tiles": _blend,
}


@pytest.mark.parametrize("op", list(OPS))
def test_kernels_run_on_the_current_stream(op):
    """A side stream writes the input after a long sleep, and the op is queued right behind it,
    with no sync. A kernel launched on any other stream (the legacy default stream does not wait
    for torch's non-blocking streams) would read the input before it is written, and an op that
    made the host wait for the stream would find the sleep over: either fails here."""
    src = torch.rand(2, 3, 301, 299, device="cuda")
    grad = torch.randn_like(src)
    weights = (GRID.weight_y.cuda(), GRID.weight_x.cuda())
    with fd.use_backend("native"):
        expected = OPS[op](src, grad, weights)
        x = torch.zeros_like(src)
        torch.cuda.synchronize()
        side = torch.cuda.Stream()
        with torch.cuda.stream(side):
            torch.cuda._sleep(SLEEP_CYCLES)
            x.copy_(src)
            got = OPS[op](x, grad, weights)
            queued = not side.query()  # still behind the sleep: nothing waited for the stream
        side.synchronize()
    assert queued
    assert max_rel_err(got, expected) <= 1e-6


def test_compile_across_ops():
    image = torch.rand(2, 3, 17, 23, device="cuda")
    grad = torch.randn_like(image)

    def step(x, g):
        return fd.ops.ascent_step_(fd.ops.zoom_shift(x, zoom=1.1), g, 0.05)

    with fd.use_backend("native"):
        expected = step(image, grad)
        torch._dynamo.reset()
        assert torch.allclose(torch.compile(step, fullgraph=True)(image, grad), expected)


def test_info_reports_the_gpu():
    d = fd.info()
    assert d["native_cuda"] and d["gpu"]["covered"] == _native.cuda_covers(torch.cuda.get_device_capability())


def test_a_batch_past_the_grids_65535_samples():
    """The sample is the grid's y index, which stops at 65535: a larger batch failed to launch."""
    x = torch.rand(70_000, 1, 2, 3, device="cuda")
    g = torch.randn_like(x)
    with fd.use_backend("native"):
        got = fd.ops.ascent_step_(x.clone(), g, 0.05)
    with fd.use_backend("reference"):
        want = fd.ops.ascent_step_(x.clone(), g, 0.05)
    assert max_rel_err(got, want) <= 1e-5
