"""Layer taps for any ``nn.Module``: record chosen layers' outputs and stop the forward there.

DeepDream only needs the activations of a few layers; everything computed after the deepest of
them is wasted (time and, for the backward, memory). :class:`LayerTaps` hooks the chosen modules
and raises out of the forward as soon as the last of them has produced its output, which works
for any model whose forward calls its submodules (torchvision's included) without rewriting it.
"""

from __future__ import annotations

import difflib
import math
import numbers
import threading
from typing import Sequence

import torch
from torch import nn

from fastdream.models.modes import evaluating

# ImageNet statistics: what torchvision's pretrained models expect, and so the default
# convention for a model that does not state its own.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class _Stop(Exception):
    """Raised by the last hook to end the forward early."""


def layer_names(model: nn.Module) -> list[str]:
    """Names accepted by ``layers=``: every named submodule (the root excluded) but the containers
    that a forward never calls (``ModuleList``, ``ModuleDict``: no output to dream), and the
    model's aliases for them (:func:`resolve_layer`).

    Examples:
        >>> net = nn.Sequential(nn.Conv2d(3, 4, 3))
        >>> net.blocks = nn.ModuleList([nn.ReLU()])
        >>> layer_names(net)
        ['0', 'blocks.0']
    """
    containers = (nn.ModuleList, nn.ModuleDict)
    return [name for name, m in model.named_modules() if name and not isinstance(m, containers)] + list(aliases(model))


def aliases(model: nn.Module) -> dict[str, str]:
    """The model's other names for its modules: its ``layer_aliases`` attribute (alias -> module
    name; InceptionV3's Keras names ``mixed0`` .. ``mixed10``), else none."""
    return dict(getattr(model, "layer_aliases", None) or {})


def resolve_layer(model: nn.Module, name: str) -> str:
    """The module name ``name`` stands for in ``model``: itself, or what its alias names.

    Examples:
        >>> net = nn.Sequential(nn.Conv2d(3, 4, 3))
        >>> net.layer_aliases = {"conv": "0"}
        >>> resolve_layer(net, "conv"), resolve_layer(net, "0")
        ('0', '0')
    """
    return aliases(model).get(name, name)


def input_convention(model: nn.Module) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """``(mean, std)`` such that the model's input is ``(x01 - mean) / std`` for an image in [0, 1].

    Read from the model's ``input_mean`` / ``input_std`` attributes (fastdream's models set
    them); any other model is assumed to take ImageNet-normalized input, as torchvision's do.
    """
    mean = _channel_values(model, "input_mean", IMAGENET_MEAN)
    std = _channel_values(model, "input_std", IMAGENET_STD)
    if min(std) <= 0:
        raise ValueError(f"model: its input_std must be above 0 for each channel, got {std}")
    return mean, std


def _channel_values(model: nn.Module, name: str, default) -> tuple[float, ...]:
    """A model's ``input_mean`` or ``input_std``: 3 finite numbers (R, G, B), or one for all three.
    ((0.5, 0.5) was torch's "shape '[1, 3, 1, 1]' is invalid", "imagenet" a float() error.)"""
    v = getattr(model, name, default)
    said = f"model: its {name} must be 3 finite numbers (R, G, B) or one for all three, got {v!r}"
    if isinstance(v, torch.Tensor):
        v = v.detach().flatten().tolist()
    elif isinstance(v, numbers.Real) and not isinstance(v, bool):
        v = [v]
    if isinstance(v, (str, bytes)) or not hasattr(v, "__len__") or len(v) not in (1, 3):
        raise ValueError(said)
    if not all(isinstance(x, numbers.Real) and not isinstance(x, bool) and math.isfinite(x) for x in v):
        raise ValueError(said)
    return tuple(float(x) for x in v) * (3 if len(v) == 1 else 1)


class LayerTaps:
    """Captures the outputs of ``layers`` of ``model`` and stops the forward after the last one.

    Examples:
        >>> import torch
        >>> from torch import nn
        >>> net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Conv2d(4, 4, 3))
        >>> taps = LayerTaps(net, ["1"])
        >>> [a.shape for a in taps(torch.rand(1, 3, 8, 8))]
        [torch.Size([1, 4, 6, 6])]
    """

    def __init__(self, model: nn.Module, layers: Sequence[str], name: str = "layers"):
        if isinstance(layers, str):
            layers = [layers]
        layers = list(dict.fromkeys(layers))
        if not layers:
            raise ValueError(f"{name} must name at least one layer")
        modules = dict(model.named_modules())
        for layer in layers:  # (accepted, then "produced no output in the model's forward (are they used?)")
            box = modules.get(resolve_layer(model, layer))
            # (a subclass with a forward of its own is called: a torchvision IntermediateLayerGetter)
            if isinstance(box, (nn.ModuleList, nn.ModuleDict)) and type(box).forward is nn.Module.forward and layer:
                members = ", ".join(f"{layer}.{k}" for k, _ in list(box.named_children())[:4])
                raise ValueError(
                    f"{name}: {layer!r} is a {type(box).__name__}, which a forward never calls (it holds layers); "
                    f"tap one of its members: {members}{', ...' if len(box) > 4 else ''}"
                )
        unknown = [name for name in layers if resolve_layer(model, name) not in modules or not name]
        if unknown:
            # A build that leaves layers out (the default backbone's fused one) lists its source's.
            valid = list(getattr(model, "listed_layers", None) or [n for n in layer_names(model) if n in modules])
            close = [
                m for name in unknown for m in difflib.get_close_matches(str(name), valid + list(aliases(model)), 2)
            ]
            meant = f" (did you mean {', '.join(dict.fromkeys(close))}?)" if close else ""
            parts = [p.strip() for name in unknown for p in str(name).replace(" ", ",").split(",") if p.strip()]
            if len(parts) > 1 and all(resolve_layer(model, p) in modules for p in parts):  # "a,b": two layers
                meant = f" (several layers go in a list: {parts})"
            shown = ", ".join(valid[:60]) + (f", ... ({len(valid)} in all)" if len(valid) > 60 else "")
            also = f"; and the aliases {', '.join(aliases(model))}" if aliases(model) else ""
            raise ValueError(f"{name}: unknown layer name(s) {unknown}{meant}; valid names are: {shown}{also}")
        self.model = model
        self.layers = layers  # the names as given (the keys of the objective's activations)
        self._modules = [modules[resolve_layer(model, name)] for name in layers]
        # Set once a tapped output is seen changed in place later in the forward (a ReLU(inplace=True)
        # after a tapped BatchNorm): the taps before the last are then copied as they come.
        self.copies = False

    def __call__(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Runs the model on ``x`` until every tapped layer has produced its output."""
        src = x
        if x.requires_grad and x.is_leaf:  # (a model's own x.sub_(...) met torch's "a leaf Variable ... in-place")
            x = x.clone()
        outputs: dict[int, torch.Tensor] = {}
        versions: dict[int, int] = {}
        copying = self.copies  # (read once: another thread's call may set it while this one runs)
        pending = set(range(len(self._modules)))
        # The hooks sit on modules that other threads may be running too (a cached build shared by
        # two dreams, the web app's jobs): each call takes the outputs of its own thread only.
        owner = threading.get_ident()

        def make_hook(i):
            def hook(module, args, output):
                if i in pending and threading.get_ident() == owner:
                    pending.discard(i)
                    # (the last: nothing runs after it; an inference tensor keeps no version count
                    # to compare, so it is copied)
                    if isinstance(output, torch.Tensor) and pending:
                        output = output.clone() if copying or output.is_inference() else output
                        if not output.is_inference():
                            versions[i] = output._version
                    outputs[i] = output
                    if not pending:
                        raise _Stop

            return hook

        handles = [m.register_forward_hook(make_hook(i)) for i, m in enumerate(self._modules)]
        try:
            self.model(x)
        except _Stop:
            pass
        finally:
            for h in handles:
                h.remove()
        if pending:
            missing = [self.layers[i] for i in sorted(pending)]
            raise ValueError(f"layers {missing} produced no output in the model's forward (are they used?)")
        if any(outputs[i]._version != v for i, v in versions.items()) and not copying:
            self.copies = True  # what a later layer did to a tapped output in place: again, copying them
            return self(src)
        if torch.is_grad_enabled() and x.requires_grad:
            self._check_depends(outputs)
        return [outputs[i] for i in range(len(self._modules))]

    def _check_depends(self, outputs: dict) -> None:
        """A tapped output the picture's gradient cannot reach is one line naming it (torch's
        "element 0 of tensors does not require grad", or, beside another layer, nothing at all)."""
        for i, out in outputs.items():
            if isinstance(out, torch.Tensor) and not out.requires_grad:
                raise ValueError(
                    f"layers: {self.layers[i]!r} does not depend on the picture: the model's forward cuts the "
                    "gradient before it (torch.no_grad(), .detach(), or whole numbers such as an argmax); tap a "
                    "layer before the cut"
                )


@torch.no_grad()
def layer_shapes(model: nn.Module, size: tuple[int, int] = (64, 64)) -> dict[str, tuple[int, ...]]:
    """The output shape (without the batch) of every named submodule of ``model`` on a
    ``size`` input: what ``layers=`` can tap, and how many channels each has.

    Examples:
        >>> net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Conv2d(4, 6, 3))
        >>> layer_shapes(net, (8, 8))
        {'0': (4, 6, 6), '1': (4, 6, 6), '2': (6, 4, 4)}
    """
    shapes: dict[str, tuple[int, ...]] = {}
    handles = []
    owner = threading.get_ident()  # another thread's forward of the same modules is not this one's
    for name, m in model.named_modules():
        if not name:
            continue

        def hook(module, args, out, name=name):
            t = out[0] if isinstance(out, (tuple, list)) else out
            if isinstance(t, torch.Tensor) and name not in shapes and threading.get_ident() == owner:
                shapes[name] = tuple(t.shape[1:])

        handles.append(m.register_forward_hook(hook))
    p = next(model.parameters(), None)
    x = torch.zeros(1, 3, *size, dtype=torch.float32, device=p.device if p is not None else "cpu")
    try:
        with evaluating(model):
            model(x)
    finally:
        for h in handles:
            h.remove()
    return {name: shapes[name] for name in layer_names(model) if name in shapes}
