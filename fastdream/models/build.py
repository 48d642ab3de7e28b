"""Networks built for gradient work on images (dreams, style transfer): the default backbone,
EfficientNet-Lite0 with its ImageNet weights, and any model a user brings, each in the fastest
build that keeps the tapped layers' activations (:func:`dream_net`)."""

from __future__ import annotations

import copy
import functools
import re
import weakref
from collections import OrderedDict
from typing import Sequence

import torch
from torch import nn

from fastdream import _checks
from fastdream._checks import shown
from fastdream.models import fold, phase_conv
from fastdream.models.efficientnet_lite import EfficientNetLite0, efficientnet_lite0, fuse_batchnorm
from fastdream.models.fingerprint import fingerprint
from fastdream.models.fused import EfficientNetLite0Fused, fuse_for_dream
from fastdream.models.modes import evaluating
from fastdream.models.taps import LayerTaps, layer_names, resolve_layer

#: Layers of the default backbone: block 5 (textures, eyes) and block 10 (animal parts), the pair
#: that gives the classic look on EfficientNet-Lite0.
DEFAULT_LAYERS = EfficientNetLite0.dream_layers

_default_models: dict[tuple[str, str], nn.Module] = {}
_BLOCK_OUTPUT = re.compile(r"_blocks\.\d+")


def variant(layers: Sequence[str] | None) -> str:
    """Which build of the default backbone gives the asked-for layers' true activations fastest.

    ``fused`` (BN folded, ReLU6 inside the conv) keeps only block outputs; ``folded`` (BN folded
    into the convs) keeps everything except the raw conv outputs, which it shifts by the folded
    affine; ``plain`` is the network as trained.
    """
    names = DEFAULT_LAYERS if layers is None else ([layers] if isinstance(layers, str) else list(layers))
    if all(_BLOCK_OUTPUT.fullmatch(n) or n == "_fc" for n in names):  # the fused build keeps _fc as is
        return "fused"
    if not any(n.endswith(("_conv", "_conv_stem", "_conv_head")) for n in names):
        return "folded"
    return "plain"


def default_model(device: str | torch.device = "cpu", layers: Sequence[str] | None = None) -> nn.Module:
    """The default backbone on ``device`` (pretrained EfficientNet-Lite0, channels_last, cached),
    built for dreaming ``layers`` (default: ``DEFAULT_LAYERS``) as fast as their activations allow:
    for block outputs, BN folded and ReLU6 fused into the convs (see :func:`variant` and
    bench/RESULTS.md for what each build costs). Layer names are those of
    :func:`~fastdream.models.efficientnet_lite0` either way."""
    device = torch.device(device)
    kind = variant(layers)
    key = (str(device), kind)
    if key not in _default_models:
        model = efficientnet_lite0(pretrained=True)
        names = tuple(layer_names(model))
        if kind == "fused":
            model = fuse_for_dream(model)
        elif kind == "folded":
            model = fuse_batchnorm(model)
        model.listed_layers = names  # what an unknown name's error lists: every layer, not the build's
        _default_models[key] = _mark(model.to(device=device, memory_format=torch.channels_last).eval())
    return _default_models[key]


# A user's model -> {(layers, device): (weights fingerprint, build)}; weak, so a model the user
# drops takes its builds with it. A few builds per model (say, the layers of a style and a dream).
_builds: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_BUILDS_PER_MODEL = 4


def _mark(net: nn.Module) -> nn.Module:
    net._fastdream_build = True  # a build passed back in (video frames, style octaves) is used as is
    return net


def dream_net(model: nn.Module | None, layers: Sequence[str], device) -> nn.Module:
    """The network a dream (or style transfer) runs for ``model`` tapping ``layers`` on ``device``:
    the default backbone's build when ``model`` is None, else :func:`dream_build`'s, cached.

    The caller's random state is left as it was: building a network draws its initial weights
    from the global RNG, which would silently change the user's own random draws."""
    with torch.random.fork_rng(devices=[]):
        return _dream_net(model, layers, device)


def _dream_net(model: nn.Module | None, layers: Sequence[str], device) -> nn.Module:
    device = torch.device(device)
    layers = (layers,) if isinstance(layers, str) else tuple(layers)
    if model is None:
        return default_model(device, layers)
    if getattr(model, "_fastdream_build", False):
        return model
    check_model(model)
    per_model = _builds.setdefault(model, OrderedDict())
    key, fp = (layers, str(device)), fingerprint(model)
    hit = per_model.get(key)
    if hit is not None and hit[0] == fp:
        per_model.move_to_end(key)
        return hit[1]
    net = dream_build(model, layers, device)
    per_model[key] = (fp, net)
    per_model.move_to_end(key)
    while len(per_model) > _BUILDS_PER_MODEL:
        per_model.popitem(last=False)
    return net


def check_model(model: nn.Module) -> None:
    """A model a dream can run: a Python ``nn.Module`` (its layers are tapped with hooks and it is
    rebuilt), with its weights loaded (not on the meta device)."""
    if isinstance(model, torch.jit.ScriptModule):
        raise TypeError(
            "model: a TorchScript module (torch.jit.script or trace) cannot be used: fastdream taps its layers "
            "and rebuilds it in Python; pass the nn.Module it was made from"
        )
    if any(t.is_meta for t in (*model.parameters(), *model.buffers())):
        raise ValueError(
            "model: its weights are on the meta device (made but never loaded); load them first "
            "(model.to_empty(device='cpu'), then load_state_dict)"
        )


@torch.no_grad()
def check_layer_names(model: nn.Module | None, layers: Sequence[str], name: str = "layers") -> None:
    """Refuses the names of ``layers`` that ``model`` lacks (:class:`LayerTaps`' error, said of the
    argument ``name``) before any network is built; None: the default backbone's names, from a copy
    without weights."""
    LayerTaps(model if model is not None else _default_names(), list(layers), name)


@functools.cache
def _default_names() -> EfficientNetLite0:
    with torch.device("meta"):  # (its names only: no weights made)
        return EfficientNetLite0()


def dream_build(model: nn.Module, layers: Sequence[str], device=None) -> nn.Module:
    """A private, optimized copy of ``model`` for dreaming ``layers``; ``model`` is not changed.

    The copy is in eval mode with no parameter gradients, in channels_last on ``device`` (default:
    where the model is), with eval-mode Conv+BatchNorm pairs folded (:mod:`fastdream.models.fold`)
    and the modules that only run after the deepest tapped layer left out, and strided image stems
    computing their input gradient by phases (:mod:`fastdream.models.phase_conv`). An
    :class:`~fastdream.models.EfficientNetLite0` gets the default backbone's builds (BN folded,
    ReLU6 fused, as :func:`variant` allows). The tapped layers' activations are checked against the
    original's on a small random input; a build that does not match is replaced by a plain copy.

    Examples:
        >>> import torch
        >>> from torch import nn
        >>> net = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.ReLU(), nn.Conv2d(8, 8, 3))
        >>> built = dream_build(net.eval(), ["2"])
        >>> type(built[1]).__name__, type(net[1]).__name__, net.training
        ('Identity', 'BatchNorm2d', False)
    """
    if not isinstance(model, nn.Module):  # (it was "'NoneType' object has no attribute 'named_modules'")
        raise TypeError(f"model must be a torch.nn.Module, got {shown(model)} ({type(model).__name__})")
    try:  # (a name, or any collection of them: a list, dict keys, a set)
        layers = [layers] if isinstance(layers, str) else list(layers)
    except TypeError:
        raise TypeError(f"layers must be a layer name or a list of them, got {shown(layers)}") from None
    LayerTaps(model, layers)  # unknown layer names: the error names the user's model's layers
    p = next(iter(model.parameters()), None)
    # (a bad device was torch's RuntimeError, or its overload list for True)
    device = (
        _checks.device("device", device) if device is not None else p.device if p is not None else torch.device("cpu")
    )
    with evaluating(model):
        if isinstance(model, EfficientNetLite0) and type(model).forward is EfficientNetLite0.forward:  # a dreamer too
            kind = variant(layers)
            net = {"fused": fuse_for_dream, "folded": fuse_batchnorm}.get(kind, _copy)(model)
        else:
            modules = [resolve_layer(model, n) for n in layers]  # aliases (InceptionV3's mixedN) name modules
            net = phase_conv.apply(fold.apply(model, fold.plan(model, modules))).eval()
        net = _prepare(net, device)
        if not _same_activations(model, net, layers, device):
            net = _prepare(_copy(model), device)
    if not getattr(net, "min_input_side", 0):  # unpadded layers: say what they take, as InceptionV3 does
        side = smallest_input(net, layers, device)
        if side > 1:
            net.min_input_side = side
            # A Linear head takes one size (its pools' rounding may let a few pixels more through):
            # convolutions alone take any size past their least, twice it too.
            if not _prober(net, layers, device)[0](2 * side):
                net.only_input_side = side
    return _mark(net)


@torch.no_grad()
def smallest_input(net: nn.Module, layers: Sequence[str], device, cap: int = 512) -> int:
    """The smallest square side of an RGB input that ``net`` takes up to the deepest of
    ``layers`` (1 when any side does; 1 too when no side up to ``cap`` does, so that the
    network's own error is the one the user sees). Unpadded convolutions and pools need more:
    the dream grows its tiles to this side, drops octaves below it and refuses smaller pictures
    in one line, instead of a convolution's complaint about kernel sizes deep inside. A model
    that takes no RGB picture at all (a 1-channel one) is a ``ValueError`` naming ``model``.

    Examples:
        >>> from torch import nn
        >>> net = nn.Sequential(nn.Conv2d(3, 4, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(4, 4, 3))
        >>> smallest_input(net.eval(), ["3"], "cpu")
        10
    """
    takes, failed = _prober(net, layers, device)
    if takes(1):
        return 1
    lo, hi = 1, 2  # lo fails
    while not takes(hi):
        if hi >= cap:
            # A model of ImageNet's one size (a Linear head on a flattened 224 px map): its side, so
            # that the dream says so in one line (it was torch's "mat1 and mat2 shapes" mid-step).
            one = next((side for side in (224, 227, 299) if takes(side)), None)  # (227: AlexNet's)
            if one is not None:
                return one
            if isinstance(failed[-1], RuntimeError):
                # No picture at all: a model of 1 channel, or of another kind of input. Said here,
                # in one line, not by torch in the middle of the first step.
                why = str(failed[-1]).strip().splitlines()[0][:300]
                raise ValueError(f"model: it takes no RGB picture (1, 3, H, W) up to {list(layers)}: {why}")
            return 1
        lo, hi = hi, hi * 2
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if takes(mid) else (mid, hi)
    return hi


def _prober(net: nn.Module, layers: Sequence[str], device):
    """``takes(side)``: whether ``net`` runs up to ``layers`` on a square RGB picture of that side;
    and the list holding the last failed probe's error (only it: each holds its frames' tensors)."""
    taps = LayerTaps(net, layers)
    p = next(iter(net.parameters()), None)
    dtype = p.dtype if p is not None and p.is_floating_point() else torch.float32
    failed: list[BaseException] = []

    def takes(side: int) -> bool:
        x = torch.zeros(1, 3, side, side, device=device, dtype=dtype).contiguous(memory_format=torch.channels_last)
        try:
            taps(x)
        except Exception as exc:  # torch's "kernel size can't be greater than ...", a model's own size check, ...
            failed[:] = [exc]
            return False
        return True

    return takes, failed


def _copy(model: nn.Module) -> nn.Module:
    return copy.deepcopy(model, fold.copy_memo(model)).eval()


def _prepare(net: nn.Module, device) -> nn.Module:
    # float32 whatever the model's own dtype (a half or double model): the dream's pictures are
    # float32, and the build is a private copy.
    net = net.eval().requires_grad_(False).to(device=device, dtype=torch.float32)
    return net.to(memory_format=torch.channels_last)


def _same_activations(model, net, layers, device, side: int = 96) -> bool:
    if isinstance(net, EfficientNetLite0Fused):
        return True  # equal by construction, and tested so (tests/test_fused_model.py)
    p = next(iter(model.parameters()), None)
    dtype = p.dtype if p is not None and p.is_floating_point() else torch.float32
    x = torch.randn(1, 3, side, side, generator=torch.Generator().manual_seed(0), dtype=dtype)
    # Without TF32 (cuDNN's default on Ampere and later rounds convolutions to 10 bits): its error
    # is past the tolerance, and a correct build would be taken for a wrong one.
    b = torch.backends.cudnn
    try:
        with b.flags(enabled=b.enabled, benchmark=b.benchmark, deterministic=b.deterministic, allow_tf32=False):
            ref = LayerTaps(model, layers)(x.to(p.device if p is not None else "cpu"))
            got = LayerTaps(net, layers)(x.to(device).contiguous(memory_format=torch.channels_last))
    except Exception:
        return False  # the model cannot take this probe: keep the plain copy, whose output is the model's
    for a, b in zip(ref, got):
        a = a[0] if isinstance(a, (tuple, list)) else a
        b = b[0] if isinstance(b, (tuple, list)) else b
        a, b = a.detach().float().cpu(), b.detach().float().cpu()
        scale = a.abs().max().clamp_min(1e-6)
        if a.shape != b.shape or not torch.isfinite(b).all() or (a - b).abs().max() > 1e-3 * scale:
            return False
    return True
