"""The CUDA kernels vs their PyTorch references, and the whole dream vs the textbook loop, on a GPU.

Run: ``pytest bench/test_bench_cuda.py --benchmark-group-by=group`` on a machine with a GPU and the
CUDA kernels built (``FASTDREAM_CUDA=ON pip install --no-build-isolation .``); skipped elsewhere.
Each timed call ends with ``torch.cuda.synchronize()``: the kernels are queued on the stream, and a
timer stopped before they finish would measure the launch, not the work.
"""

import pytest
import torch

import fastdream as fd
from bench.test_bench_dream import SETTINGS, _photo, _tensor
from bench.textbook import load_model, textbook_dream
from fastdream.ops import _native

pytestmark = pytest.mark.skipif(
    not (torch.cuda.is_available() and _native.cuda_compiled()), reason="needs a GPU and the CUDA kernels"
)
SIZES = [1024, 2048, 4096]
BATCHES = [1, 8]


def _timed(benchmark, fn, rounds=50):
    def run():
        fn()
        torch.cuda.synchronize()

    benchmark.pedantic(run, rounds=rounds, iterations=1, warmup_rounds=3)


@pytest.mark.parametrize("batch", BATCHES)
@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("impl", ["native", "reference", "natural", "copy_floor"])
def test_ascent_step(benchmark, size, batch, impl):
    benchmark.group = f"cuda ascent_step_ {batch}x3x{size}x{size}"
    image = torch.rand(batch, 3, size, size, device="cuda") * 2 - 1
    grad = torch.randn_like(image)
    if impl in ("native", "reference"):
        with fd.use_backend(impl):
            _timed(benchmark, lambda: fd.ops.ascent_step_(image, grad, 0.01))
    elif impl == "natural":

        def natural():
            g = grad / (grad.std() + 1e-8)
            image.add_(g, alpha=0.01).clamp_(-1.0, 1.0)

        _timed(benchmark, natural)
    else:
        # The op reads grad twice and reads + writes image once: 4 tensor passes, as two copies.
        dst = torch.empty_like(image)
        _timed(benchmark, lambda: (dst.copy_(grad), image.copy_(dst)))


@pytest.mark.parametrize("batch", BATCHES)
@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("impl", ["native", "reference"])
@pytest.mark.parametrize("interpolation", ["bilinear", "bicubic"])
def test_zoom_shift(benchmark, size, batch, impl, interpolation):
    benchmark.group = f"cuda zoom_shift {interpolation} {batch}x3x{size}x{size}"
    image = torch.rand(batch, 3, size, size, device="cuda")
    kw = dict(zoom=1.05, shift=(2.5, -1.5), angle=1.0, interpolation=interpolation)
    with fd.use_backend(impl):
        _timed(benchmark, lambda: fd.ops.zoom_shift(image, **kw))


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("impl", ["native", "reference"])
def test_tiles_extract_blend(benchmark, size, impl):
    benchmark.group = f"cuda extract+blend tiles 512 {size}x{size}"
    image = torch.rand(1, 3, size, size, device="cuda").contiguous(memory_format=torch.channels_last)
    grid = fd.ops.tile_grid((size, size), 512)

    def run():
        fd.ops.blend_tiles(fd.ops.extract_tiles(image, grid, roll=(17, 23)), grid, roll=(17, 23))

    with fd.use_backend(impl):
        _timed(benchmark, run)


@pytest.mark.parametrize("width", [1024, 2048])
@pytest.mark.parametrize("impl", ["textbook", "fastdream"])
def test_dream(benchmark, width, impl):
    """Both give back a picture on the CPU, so both pay the copy back and wait for the GPU."""
    benchmark.group = f"cuda dream {width}px, 3 octaves x 20 steps"
    x = _tensor(_photo(width)).cuda()
    if impl == "textbook":
        model = load_model().cuda()
        fn = lambda: textbook_dream(model, x, **SETTINGS).cpu()
    else:
        fn = lambda: fd.dream(x, device="cuda", **SETTINGS).cpu()
    benchmark.pedantic(fn, rounds=3, iterations=1, warmup_rounds=1)


@pytest.mark.parametrize("impl", ["textbook", "dream"])
@pytest.mark.parametrize("name", ["googlenet", "inception_v3"])
def test_classic(benchmark, name, impl):
    """Issue 25's comparison on the GPU: each classic backbone's default layers, dream vs textbook."""
    from bench.test_bench_models import CLASSIC, INCEPTION_V3_LAYERS, _classic

    benchmark.group = f"cuda {name}, 1024px, default layers, 2 octaves x 10 steps"
    net, x = _classic(name), _tensor(_photo(1024)).cuda()
    layers = INCEPTION_V3_LAYERS if name == "inception_v3" else ("inception4c",)
    if impl == "textbook":
        net = net.cuda()
        fn = lambda: textbook_dream(net, x, layers=layers, **CLASSIC).cpu()
    else:
        fn = lambda: fd.dream(x, model=net, device="cuda", **CLASSIC).cpu()
    benchmark.pedantic(fn, rounds=3, iterations=1, warmup_rounds=1)
