"""Native kernels vs their PyTorch references, grouped per op and size so the ratio is visible.

Run: ``pytest bench/test_bench_ops.py --benchmark-group-by=group`` (see bench/README.md).
"""

import os
import subprocess
import sys

import pytest
import torch

import fastdream as fd
from bench.conftest import SIZES, rounds_for
from fastdream.ops import _native

pytestmark = pytest.mark.skipif(not _native.available(), reason="native module not built")


def _run(benchmark, fn, size):
    benchmark.pedantic(fn, rounds=rounds_for(size), iterations=1, warmup_rounds=1)


def natural_ascent_step(image, grad, step_size):
    """The update as tutorials write it: three full passes and a temporary per operation."""
    g = grad / (grad.std() + 1e-8)
    image.add_(g, alpha=step_size).clamp_(-1.0, 1.0)


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("impl", ["native", "reference", "natural", "copy_floor"])
def test_ascent_step(benchmark, size, impl):
    benchmark.group = f"ascent_step_ {size}x{size}"
    image = torch.rand(1, 3, size, size) * 2 - 1
    grad = torch.randn(1, 3, size, size)
    if impl == "native":
        with fd.use_backend("native"):
            _run(benchmark, lambda: fd.ops.ascent_step_(image, grad, 0.01), size)
    elif impl == "reference":
        with fd.use_backend("reference"):
            _run(benchmark, lambda: fd.ops.ascent_step_(image, grad, 0.01), size)
    elif impl == "natural":
        _run(benchmark, lambda: natural_ascent_step(image, grad, 0.01), size)
    else:
        # Bandwidth probe: the op must read grad twice and read+write image once = 4 tensor passes;
        # two copies move the same bytes (each reads one tensor and writes one).
        dst = torch.empty_like(image)
        _run(benchmark, lambda: (dst.copy_(grad), image.copy_(dst)), size)


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("impl", ["native", "reference"])  # (bilinear: grid_sample; bicubic: gathers)
@pytest.mark.parametrize("interpolation", ["bilinear", "bicubic"])
def test_zoom_shift(benchmark, size, impl, interpolation):
    benchmark.group = f"zoom_shift {interpolation} {size}x{size}"
    image = torch.rand(1, 3, size, size)
    kw = dict(zoom=1.05, shift=(2.5, -1.5), angle=1.0, interpolation=interpolation)
    with fd.use_backend("native" if impl == "native" else "reference"):
        _run(benchmark, lambda: fd.ops.zoom_shift(image, **kw), size)


@pytest.mark.parametrize("size", [1024, 2048])
@pytest.mark.parametrize("impl", ["native", "reference"])
def test_tiles_extract_blend(benchmark, size, impl):
    benchmark.group = f"extract+blend tiles 512 {size}x{size}"
    image = torch.rand(1, 3, size, size).contiguous(memory_format=torch.channels_last)
    grid = fd.ops.tile_grid((size, size), 512)

    def run():
        t = fd.ops.extract_tiles(image, grid, roll=(17, 23))
        fd.ops.blend_tiles(t, grid, roll=(17, 23))

    with fd.use_backend(impl):
        _run(benchmark, run, size)


# A fresh process: import fastdream, then one small call of each native op. What every CLI call,
# torchrun rank and test process pays before its first step (issue 23: 1.1-1.7 s when the ops
# were torch.library.custom_op, whose wrapper imported torch._dynamo on first use).
FRESH_PROCESS = """
import torch, fastdream as fd
x = torch.rand(1, 3, 64, 64); g = torch.randn_like(x); grid = fd.ops.tile_grid((64, 64), 32)
fd.ops.ascent_step_(x, g, 0.1); fd.ops.zoom_shift(x, zoom=1.1); fd.ops.laplacian_normalize(g)
fd.ops.blend_tiles(fd.ops.extract_tiles(x, grid), grid)
"""


@pytest.mark.parametrize("impl", ["native", "reference", "import_only"])
def test_fresh_process_first_calls(benchmark, impl):
    benchmark.group = "fresh process: import + first call of each op"
    code = "import torch, fastdream" if impl == "import_only" else FRESH_PROCESS
    env = dict(os.environ, FASTDREAM_BACKEND="native" if impl == "native" else "reference")
    benchmark.pedantic(
        lambda: subprocess.run([sys.executable, "-c", code], env=env, check=True), rounds=5, iterations=1
    )
