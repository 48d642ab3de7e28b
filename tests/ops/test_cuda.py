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


def _ops(x: torch.Tensor, g: torch.Tensor) -> dict:
    """Every CUDA op on ``x`` (ascent_step_ on a copy made on the current stream)."""
    grid = fd.ops.tile_grid(x.shape[-2:], 64)
    y = x.clone()
    fd.ops.ascent_step_(y, g, 0.05)
    tiles = fd.ops.extract_tiles(x, grid, roll=(7, -3))
    return {
        "ascent_step_": y,
        "zoom_shift": fd.ops.zoom_shift(x, zoom=1.1, angle=3.0),
        "extract_tiles": tiles,
        "blend_tiles": fd.ops.blend_tiles(tiles * 2, grid, roll=(7, -3)),
    }


def test_kernels_run_on_the_current_stream():
    """A side stream writes the input after a long sleep; the ops are queued right behind it, with
    no sync. A kernel launched on any other stream (the legacy default stream does not wait for
    torch's non-blocking streams) would read the input before it is written, and fail here."""
    src = torch.rand(2, 3, 301, 299, device="cuda")
    grad = torch.randn_like(src)
    with fd.use_backend("native"):
        expected = _ops(src, grad)
    x = torch.zeros_like(src)
    torch.cuda.synchronize()
    side = torch.cuda.Stream()
    with torch.cuda.stream(side), fd.use_backend("native"):
        torch.cuda._sleep(SLEEP_CYCLES)
        x.copy_(src)
        got = _ops(x, grad)
        queued = not side.query()  # the ops were queued behind the sleep, not run at once
    side.synchronize()
    assert queued
    for name, value in expected.items():
        assert max_rel_err(got[name], value) <= 1e-6, name


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
