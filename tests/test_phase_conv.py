"""The phase input gradient of strided convolutions (fastdream.models.phase_conv), compared with
autograd's through ``F.conv2d`` on fresh random inputs: odd sizes, batch > 1, strides 2-4,
kernels up to 7, uneven padding, NCHW and channels_last; and the module in the dream build."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from fastdream.models import phase_conv
from fastdream.models.build import dream_build
from fastdream.models.taps import LayerTaps
from tests.helpers import resnet_style

CASES = [
    # (h, w, kernel (kh, kw), stride, padding (ph, pw), in, out)
    (341, 512, (7, 7), 2, (3, 3), 3, 32),  # a ResNet/GoogLeNet stem at 512 px
    (33, 47, (3, 3), 2, (1, 1), 3, 8),
    (30, 31, (5, 5), 3, (2, 2), 4, 6),
    (17, 19, (4, 4), 2, (0, 0), 2, 5),
    (21, 20, (4, 4), 4, (0, 0), 3, 7),  # a patchify stem: kernel = stride
    (20, 21, (1, 1), 2, (0, 0), 3, 4),
    (25, 23, (7, 5), 2, (3, 1), 3, 4),  # non-square kernel, uneven padding
    (9, 11, (3, 3), 2, (2, 0), 1, 3),  # padding larger than half the kernel on one axis
]


@pytest.mark.parametrize("channels_last", [False, True])
@pytest.mark.parametrize("case", CASES, ids=lambda c: "x".join(map(str, c[:2])) + f"-k{c[2][0]}s{c[3]}")
def test_input_grad_equals_autograds(case, channels_last):
    h, w, k, s, p, cin, cout = case
    gen = torch.Generator().manual_seed(h * w + s)
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    x = torch.randn(3, cin, h, w, generator=gen, dtype=torch.float64).contiguous(memory_format=fmt)
    weight = torch.randn(cout, cin, *k, generator=gen, dtype=torch.float64)
    x.requires_grad_(True)
    y = F.conv2d(x, weight, stride=s, padding=p)
    g = torch.randn(y.shape, generator=gen, dtype=torch.float64).contiguous(memory_format=fmt)
    (ref,) = torch.autograd.grad(y, x, g)
    got = phase_conv.input_grad(g, phase_conv.phase_kernel(weight, s, p), s, p, (h, w))
    assert got.shape == ref.shape
    torch.testing.assert_close(got, ref, rtol=1e-10, atol=1e-10)
    assert got.is_contiguous(memory_format=fmt)


def _stem(**kw):
    torch.manual_seed(0)
    return nn.Conv2d(3, 16, 7, 2, 3, **kw).eval().requires_grad_(False)


def test_the_module_computes_the_same_forward_and_input_gradient():
    conv = _stem()
    fast = phase_conv.apply(nn.Sequential(_stem()))[0]
    assert type(fast) is phase_conv.PhaseGradConv2d
    x = torch.randn(2, 3, 45, 61, requires_grad=True)
    ref_y, got_y = conv(x), fast(x)
    torch.testing.assert_close(got_y, ref_y, rtol=0, atol=0)  # the forward is F.conv2d itself
    g = torch.randn_like(ref_y)
    (ref,) = torch.autograd.grad(ref_y, x, g)
    (got,) = torch.autograd.grad(got_y, x, g)
    torch.testing.assert_close(got, ref, rtol=1e-4, atol=1e-5)
    assert fast._phases  # the phase path ran


def test_trainable_weights_take_the_ordinary_path():
    fast = phase_conv.apply(nn.Sequential(_stem()))[0].requires_grad_(True)
    x = torch.randn(1, 3, 20, 20, requires_grad=True)
    fast(x).sum().backward()
    assert fast.weight.grad is not None and x.grad is not None
    assert not fast._phases


def test_the_phase_kernel_follows_the_weights():
    fast = phase_conv.apply(nn.Sequential(_stem()))[0]
    x = torch.randn(1, 3, 31, 29, requires_grad=True)
    fast(x)
    with torch.no_grad():
        fast.weight.mul_(-2.0)  # in place, as a load_state_dict would
    y = fast(x)
    (got,) = torch.autograd.grad(y.sum(), x)
    (ref,) = torch.autograd.grad(F.conv2d(x, fast.weight, fast.bias, 2, 3).sum(), x)
    torch.testing.assert_close(got, ref, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize(
    "conv, eligible",
    [
        (nn.Conv2d(3, 32, 7, 2, 3), True),
        (nn.Conv2d(3, 32, 4, 4), True),
        (nn.Conv2d(3, 32, 3, 2, 1), True),
        (nn.Conv2d(3, 32, 1, 2), False),  # 1x1: three phases of four are zeros
        (nn.Conv2d(32, 64, 7, 2, 3), False),  # many input channels: oneDNN's own is faster
        (nn.Conv2d(3, 32, 7, 1, 3), False),  # stride 1: nothing to split
        (nn.Conv2d(3, 3, 7, 2, 3, groups=3), False),
        (nn.Conv2d(3, 32, 7, 2, 3, dilation=2), False),
        (nn.Conv2d(3, 32, 7, 2, 3, padding_mode="reflect"), False),
        (nn.Conv2d(3, 32, 7, (2, 1), 3), False),
    ],
)
def test_only_image_stems_are_eligible(conv, eligible):
    assert phase_conv.eligible(conv) is eligible


def test_the_dream_build_of_a_resnet_gets_the_phase_stem_and_the_same_gradient():
    net = resnet_style(widths=(8, 16, 24, 32), blocks=1)
    built = dream_build(net, ["layer2"])
    assert type(built.conv1) is phase_conv.PhaseGradConv2d
    assert type(net.conv1) is nn.Conv2d  # the user's model is not changed
    x = torch.randn(2, 3, 77, 53)
    grads = []
    for model, inp in ((net, x), (built, x.contiguous(memory_format=torch.channels_last))):
        inp = inp.clone().requires_grad_(True)
        (act,) = LayerTaps(model, ["layer2"])(inp)
        grads.append(torch.autograd.grad(act.pow(2).mean(), inp)[0])
    torch.testing.assert_close(grads[1], grads[0], rtol=1e-3, atol=1e-6 * grads[0].abs().max().item())


@pytest.mark.parametrize("shape", [(1, 3, 66, 97), (2, 3, 65, 64), (3, 3, 41, 40)])  # SAME pad by parity
def test_the_default_backbones_stem_gets_the_same_gradient_by_phases(shape):
    from fastdream.models.efficientnet_lite import efficientnet_lite0
    from fastdream.models.fused import fuse_for_dream

    fused = fuse_for_dream(efficientnet_lite0(pretrained=False)).to(memory_format=torch.channels_last)
    stem = fused._conv_stem
    assert stem.by_phases and not any(getattr(m, "by_phases", False) for m in fused._blocks.modules())
    x = torch.randn(shape, generator=torch.Generator().manual_seed(shape[-1]))
    x = x.contiguous(memory_format=torch.channels_last)
    grads = []
    for by_phases in (False, True):
        stem.by_phases = by_phases
        inp = x.clone().requires_grad_(True)
        y = stem(inp)
        grads.append(torch.autograd.grad((y * torch.linspace(-1, 1, y.shape[-1])).sum(), inp)[0])
    torch.testing.assert_close(grads[1], grads[0], rtol=1e-4, atol=1e-6 * grads[0].abs().max().item())
    assert stem._phases  # the phase path ran


def test_the_default_stems_phase_kernel_follows_in_place_weight_changes():
    # The SAME padding's grown kernel is rebuilt as a new tensor on each change, possibly at the
    # freed address: the cache keys on the stem's own weight, not on that copy.
    from fastdream.models.efficientnet_lite import efficientnet_lite0
    from fastdream.models.fused import fuse_for_dream

    stem = fuse_for_dream(efficientnet_lite0(pretrained=False))._conv_stem
    x = torch.randn(1, 3, 64, 64).contiguous(memory_format=torch.channels_last)  # even: grown kernel
    for _ in range(6):
        grads = []
        for by_phases in (False, True):
            stem.by_phases = by_phases
            inp = x.clone().requires_grad_(True)
            grads.append(torch.autograd.grad(stem(inp).sum(), inp)[0])
        torch.testing.assert_close(grads[1], grads[0], rtol=1e-4, atol=1e-6 * grads[0].abs().max().item())
        with torch.no_grad():
            stem.weight.mul_(-1.5)


def test_under_cpu_autocast_the_gradient_comes_back_in_the_inputs_dtype():
    conv = _stem()
    fast = phase_conv.PhaseGradConv2d(3, 16, 7, 2, 3).eval().requires_grad_(False)  # built directly
    fast.load_state_dict(conv.state_dict())
    x = torch.randn(1, 3, 40, 33)
    grads = []
    for m in (conv, fast):
        inp = x.clone().requires_grad_(True)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            y = m(inp)
        grads.append(torch.autograd.grad(y.float().sum(), inp)[0])
    assert grads[1].dtype == torch.float32
    torch.testing.assert_close(grads[1], grads[0], rtol=2e-2, atol=2e-2 * grads[0].abs().max().item())


def test_the_kernel_cache_never_takes_a_new_tensor_for_an_old_one():
    w = torch.randn(8, 3, 7, 7)
    cache = {}
    k1 = phase_conv.cached_kernel(cache, w, w, 2, (3, 3))
    assert phase_conv.cached_kernel(cache, w, w, 2, (3, 3)) is k1
    w.mul_(2.0)  # in place: a new version
    torch.testing.assert_close(phase_conv.cached_kernel(cache, w, w, 2, (3, 3)), 2 * k1)
    # A new tensor that got a dropped one's id (the allocator reuses addresses): the cache holds
    # the tensor it was built from, so an entry under the same key but for another tensor is stale.
    new = torch.randn(8, 3, 7, 7)
    cache[(id(new), new._version, tuple(new.shape), (3, 3), new.dtype)] = (w, k1)
    torch.testing.assert_close(
        phase_conv.cached_kernel(cache, new, new, 2, (3, 3)), phase_conv.phase_kernel(new, 2, (3, 3))
    )
