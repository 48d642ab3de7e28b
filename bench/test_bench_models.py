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


@torch.no_grad()
def test_resnet_build_cost(benchmark):
    """What the first dream with a new model pays once: trace, fold, copy, probe."""
    benchmark.group = "dream build of the ResNet-style model (once per model and layers)"
    from fastdream.models.build import dream_build

    net = resnet_style()
    benchmark.pedantic(lambda: dream_build(net, ["layer3"]), rounds=5, warmup_rounds=1)
