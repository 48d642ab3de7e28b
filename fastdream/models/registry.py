"""The named backbones, with your own weights: :func:`load`.

``efficientnet_lite0`` (the default; its ImageNet weights come with fastdream), ``googlenet``
(Inception v1, the original DeepDream network), ``inception_v3`` (the TensorFlow tutorial's) and
``vgg16`` / ``vgg19``, each a fastdream
definition whose state-dict keys are torchvision's (see their modules for the layout), so
``torch.save(torchvision_model.state_dict(), PATH)`` on any machine gives a file that loads here.
"""

from __future__ import annotations

import os
from typing import Callable

import torch
from torch import nn

from fastdream import _checks
from fastdream._grad import autograd_on
from fastdream._warnings import warn
from fastdream.models.dreamer import is_dreamer_path, load_dreamer
from fastdream.models.efficientnet_lite import EfficientNetLite0
from fastdream.models.googlenet import GoogLeNet
from fastdream.models.inception_v3 import InceptionV3
from fastdream.models.vgg import vgg16, vgg19

MODELS: dict[str, Callable[[], nn.Module]] = {
    "efficientnet_lite0": EfficientNetLite0,
    "googlenet": GoogLeNet,
    "inception_v3": InceptionV3,
    "vgg16": vgg16,
    "vgg19": vgg19,
}
# Keys a file may hold that the dream network has no use for: the training-time auxiliary
# classifiers (torchvision's own checkpoints have them).
_IGNORED = {"googlenet": ("aux1.", "aux2."), "inception_v3": ("AuxLogits.",)}
# Each network's classifier. A network fine-tuned on other classes (torchvision's recipe: replace
# the last Linear) loads with its own class count: its file only differs there.
_HEADS = {
    "efficientnet_lite0": "_fc",
    "googlenet": "fc",
    "inception_v3": "fc",
    "vgg16": "classifier.6",
    "vgg19": "classifier.6",
}
# Dicts that checkpoints commonly wrap the state dict in (fastdream's trainers, Lightning, timm...).
_WRAPPERS = ("state_dict", "model_state_dict", "model", "weights", "net", "ema")
_SHOWN = 8
_DOCUMENTED_IN = {
    "efficientnet_lite0": "efficientnet_lite",
    "googlenet": "googlenet",
    "inception_v3": "inception_v3",
    "vgg16": "vgg",
    "vgg19": "vgg",
}


def names() -> list[str]:
    return sorted(MODELS)


@autograd_on  # (a model made under inference mode has weights no dream can take a gradient through)
def load(name: str, weights=None, *, device=None) -> nn.Module:
    """The backbone ``name`` with ``weights``, frozen and in eval mode.

    Args:
        name: one of :func:`names`, or the path of a dreamer checkpoint (written by
            :func:`fastdream.train_dreamer`: a :class:`~fastdream.models.dreamer.Dreamer`, which
            dreams its subjects with ``fastdream.dream(..., subject=NAME)``).
        weights: a file holding a state dict (or a checkpoint with one under ``state_dict``,
            ``model``, ...), read with ``torch.load(weights_only=True)``; keys prefixed by
            ``module.`` (DataParallel) are accepted, and so is a classifier for other classes
            than ImageNet's 1000 (a network fine-tuned on your own: the model gets that many).
            None: efficientnet_lite0's bundled ImageNet weights; random weights for the others
            (the same each time), with a warning.
        device: where the model goes (default: the CPU).

    Returns:
        The model, which carries its input convention (``input_mean`` / ``input_std``) and its
        default layers (``dream_layers``, ``style_layers``, ``content_layers``), so
        ``fastdream.dream(img, model=m)`` needs no ``layers=``.

    Raises:
        TypeError: a name that is not a string or a path.
        ValueError: an unknown name, a file that does not fit the network (the message lists
            the missing, unexpected and mis-shaped keys), or a device this machine does not have.
        FileNotFoundError: no such weights file.

    Examples:
        >>> import os, tempfile, torch
        >>> from fastdream.models import load
        >>> from fastdream.models.googlenet import GoogLeNet
        >>> path = os.path.join(tempfile.mkdtemp(), "w.pt")
        >>> torch.save(GoogLeNet().state_dict(), path)  # as torchvision's googlenet().state_dict() would be
        >>> net = load("googlenet", weights=path)
        >>> net.dream_layers, net.input_mean, net.training
        (('inception4c',), (0.5, 0.5, 0.5), False)
        >>> torch.save({"conv1.conv.weight": torch.zeros(64, 3, 7, 7)}, path)
        >>> try:
        ...     load("googlenet", weights=path)
        ... except ValueError as e:
        ...     print(str(e)[:70])
        weights: the file does not fit googlenet: 286 missing key(s) (conv1.bn
    """
    if not isinstance(name, (str, os.PathLike)):
        raise TypeError(
            f"model: a name ({', '.join(names())}) or a dreamer checkpoint's path, got {_checks.shown(name)}"
        )
    if device is not None:  # refused before any file is read (a notebook moved to a machine without a GPU)
        device = _checks.device("device", device, fallback="cpu")
    if is_dreamer_path(name):
        if weights is not None:
            raise ValueError(f"weights: {name} is a dreamer checkpoint, which holds its own weights; pass no weights")
        return load_dreamer(name, device).eval().requires_grad_(False)
    if name not in MODELS:
        raise ValueError(
            f"model: unknown name {name!r}; known models are: {', '.join(names())}, or the path of a dreamer "
            "checkpoint (written by train_dreamer)"
        )
    if weights is None:
        if name == "efficientnet_lite0":
            from fastdream.models.efficientnet_lite import efficientnet_lite0

            net = efficientnet_lite0(pretrained=True)
        else:
            warn(
                f"model {name}: no weights given, so random weights: its dreams are textures, not the things a "
                "trained network sees; pass weights=PATH (a state dict saved from torchvision's model fits)"
            )
            # The same random weights every time (drawn from seed 0, the caller's generator left
            # as it was): a seeded dream of it repeats, in the shell and in Python alike.
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(0)
                net = MODELS[name]()
    else:
        sd = read_state_dict(weights)
        classes = _classes(name, sd)
        sd = _fit(name, sd, classes)
        with torch.device("meta"):  # no random init of weights that are replaced at once (VGG: 138M)
            net = MODELS[name](num_classes=classes)
        net.load_state_dict(sd, strict=True, assign=True)
    net = net.eval().requires_grad_(False).float()  # (float32 under torch.set_default_dtype(torch.float64) too)
    return net.to(device) if device is not None else net


def read_state_dict(path) -> dict[str, torch.Tensor]:
    """The state dict in a weights file (plain, or wrapped in a checkpoint dict), safely loaded."""
    path = _checks.input_file("weights", path)  # pipes and devices refused before torch.load blocks on them
    _checks.fits(f"weights: loading {path}", 2 * path.stat().st_size)
    if _torchscript(path):  # (torch.load printed its own warning, then failed with a bare RuntimeError)
        raise ValueError(
            f"weights: {path} is a TorchScript archive (torch.jit.save); give the weights alone: "
            "torch.save(model.state_dict(), path)"
        )
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # pickles of arbitrary objects, zip errors, truncated or empty files
        # Only the error's type, as the checkpoint reader: torch's text suggests weights_only=False,
        # which is what must not be done with a file of unknown origin (and an EOFError has none).
        cut = isinstance(exc, EOFError) or "zip archive" in str(exc) or "central directory" in str(exc)
        raise ValueError(
            f"weights: {path} is not a file torch.load reads with weights_only=True (a state dict saved with "
            f"torch.save(model.state_dict(), path)): {type(exc).__name__}"
            + (" (the file is cut short, or not one torch wrote)" if cut else "")
        ) from None
    for _ in range(3):  # a state dict at most a few wrappers deep
        if isinstance(obj, dict) and obj and all(isinstance(v, torch.Tensor) for v in obj.values()):
            break
        inner = next((obj[k] for k in _WRAPPERS if isinstance(obj, dict) and isinstance(obj.get(k), dict)), None)
        if inner is None:
            break
        obj = inner
    if not (isinstance(obj, dict) and obj and all(isinstance(v, torch.Tensor) for v in obj.values())):
        raise ValueError(f"weights: {path} holds no state dict (a dict of tensors, maybe under 'state_dict')")
    # DataParallel's and torch.compile's wrappers, in either order
    for _ in range(2):
        for wrapper in ("module.", "_orig_mod."):
            if all(k.startswith(wrapper) for k in obj):
                obj = {k[len(wrapper) :]: v for k, v in obj.items()}
    # (a diverged training's file loaded, and its dream said only that no pixel changed)
    bad = next((k for k, v in obj.items() if v.is_floating_point() and not bool(torch.isfinite(v).all())), None)
    if bad is not None:
        raise ValueError(
            f"weights: {path} holds NaN or infinite values (first in {bad}); a network with them dreams nothing"
        )
    return obj


def _torchscript(path) -> bool:
    """Whether ``path`` is a TorchScript archive (a zip holding compiled code), not a state dict."""
    import zipfile

    try:
        with zipfile.ZipFile(path) as z:
            return any(n.split("/", 1)[-1].startswith(("code/", "constants.pkl")) for n in z.namelist())
    except (OSError, zipfile.BadZipFile):
        return False


def _classes(name: str, sd: dict[str, torch.Tensor]) -> int:
    """How many classes the file's classifier has (1000 when it has none or a malformed one: then
    :func:`_fit` names the key)."""
    w = sd.get(f"{_HEADS[name]}.weight")
    return int(w.shape[0]) if isinstance(w, torch.Tensor) and w.dim() == 2 and w.shape[0] > 0 else 1000


def _fit(name: str, sd: dict[str, torch.Tensor], classes: int = 1000) -> dict[str, torch.Tensor]:
    """``sd`` checked against ``name``'s keys and shapes with a ``classes``-way classifier; a
    ValueError listing what does not fit."""
    with torch.device("meta"):
        expected = {k: tuple(v.shape) for k, v in MODELS[name](num_classes=classes).state_dict().items()}
    sd = {k: v for k, v in sd.items() if not k.startswith(_IGNORED.get(name, ()))}
    for k in expected:  # files saved before BatchNorm counted its batches lack the counters
        if k.endswith("num_batches_tracked") and k not in sd:
            sd[k] = torch.tensor(0)
    missing = [k for k in expected if k not in sd]
    unexpected = [k for k in sd if k not in expected]
    shapes = [
        f"{k} {tuple(sd[k].shape)} (want {expected[k]})"
        for k in expected
        if k in sd and tuple(sd[k].shape) != expected[k]
    ]
    if missing or unexpected or shapes:
        parts = []
        for what, keys in (("missing", missing), ("unexpected", unexpected), ("mis-shaped", shapes)):
            if keys:
                shown = ", ".join(keys[:_SHOWN]) + (", ..." if len(keys) > _SHOWN else "")
                parts.append(f"{len(keys)} {what} key(s) ({shown})")
        raise ValueError(
            f"weights: the file does not fit {name}: " + "; ".join(parts) + f". {name}'s key layout is in "
            f"fastdream.models.{_DOCUMENTED_IN[name]}'s documentation"
        )
    return {k: v.to(torch.float32) if v.is_floating_point() else v for k, v in sd.items()}
