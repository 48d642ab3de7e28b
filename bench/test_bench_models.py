"""Models a user brings: ``fastdream.dream(model=...)`` vs the textbook loop on the same model,
and the explicit ``model=fd.models.efficientnet_lite0()`` vs the default backbone.

The "unbuilt" rows run the engine on the user's model as it is (the dream build skipped, as
before issue 16): the gain of the build alone, in the same run; "no phase stem" the build without
the stem's phase input gradient (fastdream.models.phase_conv).

    python -m pytest bench/test_bench_models.py --benchmark-group-by=group
"""

import copy

import pytest
import torch

import fastdream as fd
from bench.test_bench_dream import _photo, _tensor
from bench.textbook import textbook_dream
from tests.helpers import resnet_style

RESNET = dict(octaves=2, steps=10, step_size=0.01, jitter=32, seed=0)
LITE = dict(octaves=3, steps=20, step_size=0.01, jitter=32, seed=0)


@pytest.fixture(scope="module")
def photo():
    return _tensor(_photo(512))


def test_resnet_textbook(benchmark, photo):
    benchmark.group = "ResNet-style BN model, 512x341, layer3, 2 octaves x 10 steps"
    net = resnet_style()
    benchmark.pedantic(lambda: textbook_dream(net, photo, layers=["layer3"], **RESNET), rounds=3, warmup_rounds=1)


def test_resnet_unbuilt(benchmark, photo):
    benchmark.group = "ResNet-style BN model, 512x341, layer3, 2 octaves x 10 steps"
    net = copy.deepcopy(resnet_style())
    net._fastdream_build = True  # the engine takes it as already built: the path before the build
    benchmark.pedantic(lambda: fd.dream(photo, "layer3", model=net, **RESNET), rounds=3, warmup_rounds=1)


def test_resnet_dream(benchmark, photo):
    benchmark.group = "ResNet-style BN model, 512x341, layer3, 2 octaves x 10 steps"
    net = resnet_style()
    benchmark.pedantic(lambda: fd.dream(photo, "layer3", model=net, **RESNET), rounds=3, warmup_rounds=1)


def test_resnet_dream_no_phase_stem(benchmark, photo, monkeypatch):
    """The dream build without the phase input gradient of the 7x7 stem: that step's gain."""
    from fastdream.models import phase_conv

    benchmark.group = "ResNet-style BN model, 512x341, layer3, 2 octaves x 10 steps"
    monkeypatch.setattr(phase_conv, "eligible", lambda m: False)
    net = resnet_style()
    benchmark.pedantic(lambda: fd.dream(photo, "layer3", model=net, **RESNET), rounds=3, warmup_rounds=1)


def test_lite0_default(benchmark, photo):
    benchmark.group = "EfficientNet-Lite0, 512x341, default layers, 3 octaves x 20 steps"
    benchmark.pedantic(lambda: fd.dream(photo, **LITE), rounds=3, warmup_rounds=1)


def test_lite0_explicit(benchmark, photo):
    benchmark.group = "EfficientNet-Lite0, 512x341, default layers, 3 octaves x 20 steps"
    net = fd.models.efficientnet_lite0()
    benchmark.pedantic(lambda: fd.dream(photo, model=net, **LITE), rounds=3, warmup_rounds=1)


def test_lite0_textbook(benchmark, photo):
    benchmark.group = "EfficientNet-Lite0, 512x341, default layers, 3 octaves x 20 steps"
    net = fd.models.efficientnet_lite0()
    benchmark.pedantic(lambda: textbook_dream(net, photo, **LITE), rounds=3, warmup_rounds=1)


# The classic backbones (random weights: the speed is the same with real ones), their default
# layers, 2 octaves x 10 steps: fastdream's dream build vs the textbook loop on the same model.
CLASSIC = dict(octaves=2, steps=10, step_size=0.01, jitter=32, seed=0)
INCEPTION_V3_LAYERS = ("Mixed_6a", "Mixed_6c", "Mixed_6e")  # mixed3/5/7 by torchvision's names


def _classic(name):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # no weights: random ones
        return fd.models.load(name)


@pytest.mark.parametrize("impl", ["textbook", "dream"])
def test_googlenet(benchmark, photo, impl):
    benchmark.group = "GoogLeNet, 512x341, inception4c, 2 octaves x 10 steps"
    net = _classic("googlenet")
    if impl == "textbook":
        fn = lambda: textbook_dream(net, photo, layers=["inception4c"], **CLASSIC)
    else:
        fn = lambda: fd.dream(photo, model=net, **CLASSIC)
    benchmark.pedantic(fn, rounds=3, warmup_rounds=1)


@pytest.mark.parametrize("impl", ["textbook", "dream"])
def test_inception_v3(benchmark, photo, impl):
    benchmark.group = "InceptionV3, 512x341, mixed3/5/7, 2 octaves x 10 steps"
    net = _classic("inception_v3")
    if impl == "textbook":
        fn = lambda: textbook_dream(net, photo, layers=INCEPTION_V3_LAYERS, **CLASSIC)
    else:
        fn = lambda: fd.dream(photo, model=net, **CLASSIC)
    benchmark.pedantic(fn, rounds=3, warmup_rounds=1)


@torch.no_grad()
def test_resnet_build_cost(benchmark):
    """What the first dream with a new model pays once: trace, fold, copy, probe."""
    benchmark.group = "dream build of the ResNet-style model (once per model and layers)"
    from fastdream.models.build import dream_build

    net = resnet_style()
    benchmark.pedantic(lambda: dream_build(net, ["layer3"]), rounds=5, warmup_rounds=1)


STEMS = [  # (in, out, kernel, stride, padding): ResNet/GoogLeNet, a 5x5, EfficientNet's, a patchify stem
    (3, 32, 7, 2, 3),
    (3, 32, 5, 2, 2),
    (3, 32, 3, 2, 1),
    (3, 64, 4, 4, 0),
    (32, 64, 3, 2, 1),  # not a stem: oneDNN's own gradient is faster here, so the build keeps it
]


@pytest.mark.parametrize("stem", STEMS, ids=lambda s: f"{s[0]}to{s[1]}-k{s[2]}s{s[3]}")
@pytest.mark.parametrize("impl", ["onednn", "phases"])
def test_stem_input_gradient(benchmark, stem, impl):
    """The input gradient of a strided convolution on a 512x341 image (channels_last, batch 1):
    oneDNN's transposed convolution vs fastdream.models.phase_conv."""
    from fastdream.models import phase_conv

    cin, cout, k, s, p = stem
    h, w = (341, 512) if cin <= 4 else (171, 256)
    benchmark.group = f"strided conv input gradient {cin}->{cout} {k}x{k} stride {s}, {w}x{h}"
    x = torch.randn(1, cin, h, w).contiguous(memory_format=torch.channels_last)
    weight = torch.randn(cout, cin, k, k)
    g = torch.nn.functional.conv2d(x, weight, stride=s, padding=p).contiguous(memory_format=torch.channels_last)
    if impl == "onednn":
        args = (g, x, weight, None, [s, s], [p, p], [1, 1], False, [0, 0], 1, [True, False, False])
        fn = lambda: torch.ops.aten.convolution_backward(*args)
    else:
        kernel = phase_conv.phase_kernel(weight, s, (p, p))
        fn = lambda: phase_conv.input_grad(g, kernel, s, (p, p), (h, w))
    benchmark.pedantic(fn, rounds=20, warmup_rounds=2)
