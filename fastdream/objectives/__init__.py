r"""Dream objectives: what a dream makes the network see more of, as composable expressions.

An :class:`Objective` maps the tapped activations (a dict layer name -> tensor) to one value per
sample; the dream climbs its gradient. Objectives add, subtract and scale like numbers::

    objectives.channel("_blocks.10", 37) + 0.5 * objectives.layer_l2("_blocks.5")

and know which layers they need (``.layers``), so ``dream(img, objective=expr)`` taps exactly
those. ``layers=`` of :func:`fastdream.dream` is a shorthand for a sum of these terms, written as
*layer specs*:

- ``"NAME"``: the whole layer; ``"NAME:37"``, ``"NAME:30-40,77"``: those channels (ranges are
  inclusive); ``"NAME:top8"`` / ``"NAME:bottom8"``: the 8 channels whose mean activation on the
  image is the largest / smallest, decided once per octave on the whole image;
- a weight: ``"NAME=2"`` or ``{"NAME:37": 2.0, "_blocks.5": 0.5}``.

Convention:
    ``l2`` is the mean of squared activations, ``mean`` the mean activation, over the chosen
    channels and all positions. A channel outside the layer is a ``ValueError`` that says how
    many channels the layer has (checked on the first forward pass).

Examples:
    >>> from fastdream import objectives as O
    >>> expr = O.channel("_blocks.10", 37) + 0.5 * O.layer_l2("_blocks.5")
    >>> expr
    channel('_blocks.10', 37) + 0.5 * layer_l2('_blocks.5')
    >>> expr.layers
    ('_blocks.10', '_blocks.5')
    >>> acts = {"_blocks.10": torch.ones(2, 40, 4, 4), "_blocks.5": torch.full((2, 8, 4, 4), 2.0)}
    >>> expr(acts)
    tensor([3., 3.])
    >>> parse_spec("_blocks.10:30-32,77=2")
    LayerSpec(layer='_blocks.10', channels=(30, 31, 32, 77), mode=None, k=None, weight=2.0)
"""

from __future__ import annotations

import numbers
import operator
import os
from typing import Callable

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from fastdream import _checks
from fastdream._checks import shown
from fastdream.objectives.matching import guide_match
from fastdream.objectives.specs import MAX_CHANNEL, LayerSpec, check_weight, factor, parse_layers, parse_spec

__all__ = [
    "LayerSpec",
    "Objective",
    "channel",
    "check_weight",
    "describe",
    "from_layers",
    "guide",
    "guide_match",
    "layer_l2",
    "layer_mean",
    "neuron",
    "parse_layers",
    "parse_spec",
]


# ------------------------------------------------------------------------------------------------
# expressions


def _per_sample(v: Tensor) -> Tensor:
    # Mean over every dim but the batch, not flatten(1).mean(1): flattening a channels_last
    # activation copies it, and its gradient would reach the network in the slow NCHW layout.
    return v.mean(dim=tuple(range(1, v.dim())))


def _activation(acts: dict, layer: str) -> Tensor:
    a = acts[layer]
    return (a[0] if isinstance(a, (tuple, list)) else a).float()


class Objective:
    """A function of the tapped activations giving one value per sample, shape (N,).

    Add, subtract, negate and scale objectives like numbers. :meth:`prepare` is called by the
    dream once per octave with a context that can run the network (for choices such as top-k
    channels, and for a guide image's features); simple objectives ignore it.

    Args:
        fn: ``fn(acts) -> Tensor (N,)``; ``acts`` maps each of ``layers`` to its activation.
        layers: the layers ``fn`` reads.
        text: how the objective prints.
    """

    def __init__(self, fn: Callable[[dict], Tensor], layers, text: str, parts=(), terms=None, key=None):
        self.fn, self.layers, self.text, self.parts = fn, tuple(dict.fromkeys(layers)), text, tuple(parts)
        # The objective as a weighted sum of its leaves (what a leaf computes -> (leaf, weight)),
        # kept by + - * so that a sum whose weights are all 0, or cancel, is refused rather than
        # dreamed as nothing. A leaf's key: what it computes where that is known, else itself.
        self.terms: dict[object, tuple[Objective, float]] = (
            terms if terms is not None else {id(self) if key is None else key: (self, 1.0)}
        )

    def check_not_zero(self) -> None:
        """A ``ValueError`` when every term's weight is 0 or they cancel (``0 * a``, ``a - a``):
        such an objective has no gradient, and the dream would return the picture unchanged."""
        if all(abs(w) < 1e-9 * max(1.0, *(abs(v) for _, v in self.terms.values())) for _, w in self.terms.values()):
            raise ValueError(
                f"objective: {self} has every weight 0 (or its terms cancel), so there is nothing to dream; "
                "give a term a weight"
            )

    def __call__(self, acts: dict) -> Tensor:
        return self.fn(acts)

    def prepare(self, ctx) -> None:
        for p in self.parts:
            p.prepare(ctx)

    def __repr__(self) -> str:
        return self.text

    def _weighted(self, w: float) -> dict:
        return {k: (leaf, w * v) for k, (leaf, v) in self.terms.items()}

    def _merged(self, other: Objective, sign: float) -> dict:
        """The terms of ``self + sign * other``: a leaf in both has its weights summed."""
        terms = dict(self.terms)
        for k, (leaf, v) in other.terms.items():
            terms[k] = (leaf, terms[k][1] + sign * v if k in terms else sign * v)
        return terms

    def __add__(self, other):
        other = _lift(other)
        layers, text, parts = self.layers + other.layers, f"{self} + {other}", (self, other)
        return Objective(lambda a: self(a) + other(a), layers, text, parts, self._merged(other, 1.0))

    __radd__ = __add__

    def __sub__(self, other):
        other = _lift(other)
        layers, text, parts = self.layers + other.layers, f"{self} - {other}", (self, other)
        return Objective(lambda a: self(a) - other(a), layers, text, parts, self._merged(other, -1.0))

    def __rsub__(self, other):
        return _lift(other) - self

    def __neg__(self):
        return Objective(lambda a: -self(a), self.layers, f"-({self})", (self,), self._weighted(-1.0))

    def __mul__(self, w):
        w = factor(w, "*", isinstance(w, Objective))
        w = check_weight(str(self), w, "objective")  # a layer weight's bounds: no silent overflow
        text = f"{w:g} * {self}" if " + " not in self.text and " - " not in self.text else f"{w:g} * ({self})"
        return Objective(lambda a: w * self(a), self.layers, text, (self,), self._weighted(w))

    __rmul__ = __mul__

    def __truediv__(self, w):
        w = factor(w, "/", isinstance(w, Objective))
        if w == 0:  # (Python's "unsupported operand type(s) for /" said it is not a number)
            raise ZeroDivisionError(f"{self} / 0: an objective divided by zero")
        return self * (1.0 / _checks.real("a divisor of an objective", w))


def describe(fn) -> str:
    """A stable name for a callable objective (module and qualified name, no memory address)."""
    if isinstance(fn, Objective):
        return repr(fn)
    name = getattr(fn, "__qualname__", None) or type(fn).__qualname__
    return f"{getattr(fn, '__module__', None) or type(fn).__module__}.{name}"


def _lift(x) -> Objective:
    if isinstance(x, Objective):
        return x
    if isinstance(x, numbers.Real) and not isinstance(x, bool):
        # (NaN or inf made the whole loss so; 10**400 raised OverflowError)
        v = _checks.real("a constant added to an objective", x)
        return Objective(lambda a: _constant(a, v), (), f"{v:g}", terms={})  # no gradient: no term that dreams
    raise TypeError(f"objectives combine with objectives and numbers, not {type(x).__name__}")


def _constant(acts: dict, v: float) -> Tensor:
    """``v`` for each sample, float32 on the activations' device (the terms' dtype and device: a
    constant made on the CPU could not be added to them on a GPU)."""
    for a in acts.values():
        a = a[0] if isinstance(a, (tuple, list)) else a
        return torch.full((a.shape[0],), v, dtype=torch.float32, device=a.device)
    return torch.full((1,), v)


class _Term(Objective):
    """One layer's l2 / mean / guide term over all channels, a fixed list, or top/bottom k."""

    def __init__(self, spec: LayerSpec, kind: str, text: str, guide_image=None):
        super().__init__(self._value, (spec.layer,), text)
        self.spec, self.kind, self.guide_image = spec, kind, guide_image
        self.given_as = "objective"  # the argument its errors name: layers= for from_layers' terms
        what = (
            kind,
            spec.layer,
            spec.channels,
            spec.mode,
            spec.k,
            id(guide_image) if guide_image is not None else None,
        )
        self.terms = {what: (self, spec.weight)}
        self.chosen: list[int] | None = None  # the channels of top/bottom k, decided by prepare()
        self.target: Tensor | None = None  # guide features (M, C), computed once per model
        self._target_of = None
        self._weights: dict = {}

    def prepare(self, ctx) -> None:
        s = self.spec
        if s.channels is not None:  # (before the first step, and the bar's first line)
            self._check_channels(ctx.channels(s.layer))
        if s.mode is not None:
            n = ctx.channels(s.layer)
            if s.k > n:
                raise ValueError(f"{self.given_as}: {s.layer} has {n} channels; {s.mode}{s.k} asks for more")
            self.chosen = torch.topk(ctx.channel_means(s.layer), s.k, largest=s.mode == "top").indices.tolist()
        if self.kind == "guide" and self._target_of != ctx.key:
            self.target, self._target_of = ctx.guide_features(self.guide_image, s.layer), ctx.key

    def _check_channels(self, n: int) -> None:
        s = self.spec
        bad = [c for c in s.channels or () if c >= n]
        if bad:
            raise ValueError(
                f"{self.given_as}: {s.layer} has {n} channels (0-{n - 1}); channel(s) {_checks.number_runs(bad)} are out of range"
            )

    def channel_weights(self, a: Tensor) -> Tensor | None:
        """(1, C, 1, 1) weights: 1 on the chosen channels, 0 elsewhere (None: all channels).
        Weights rather than indexing keep the activation's gradient in its channels_last layout."""
        return self._selection(a)[0]

    def _selection(self, a: Tensor) -> tuple[Tensor | None, int]:
        """:meth:`channel_weights` and the number of chosen channels (all of them for None)."""
        s, n = self.spec, a.shape[1]
        if s.mode is not None:
            if self.chosen is None:
                raise RuntimeError(f"{self}: {s.mode}{s.k} channels are chosen on the image by the dream")
            chosen = self.chosen
        elif s.channels is not None:
            self._check_channels(n)
            chosen = s.channels
        else:
            return None, n
        key = (n, a.dim(), a.device, tuple(chosen))
        if key not in self._weights:
            w = torch.zeros(n, device=a.device)
            w[list(chosen)] = 1.0
            # (1, C, 1, 1) for a feature map, (1, C) for a classifier's logits: a (1, C, 1, 1)
            # against (N, C) broadcast to (1, C, N, C) and dreamed every channel alike
            self._weights = {key: (w.view(1, n, *[1] * (a.dim() - 2)), len(set(chosen)))}
        return self._weights[key]

    def _value(self, acts: dict) -> Tensor:
        a = _activation(acts, self.spec.layer)
        w, count = self._selection(a)
        if self.kind == "guide":
            if self.target is None:
                raise RuntimeError(f"{self}: the guide's features are computed by the dream (prepare)")
            return self.spec.weight * guide_match(a if w is None else a * w, self.target, w)
        v = a * a if self.kind == "l2" else a
        if w is not None:
            # The mean over the chosen channels, counted here rather than read back from the
            # device (w.sum() would wait for the GPU every step).
            v = v * w * (a.shape[1] / count)
        return self.spec.weight * _per_sample(v)


def _layer_name(fn: str, layer) -> str:
    """A layer name given to ``fn`` (``layer_l2(None)`` was taken, and failed in the dream)."""
    if not isinstance(layer, str) or not layer:
        raise TypeError(f"{fn}: layer must be a layer name (a str, as model.named_modules() gives), got {shown(layer)}")
    return layer


def _term(spec: LayerSpec, kind: str, name: str, guide_image=None) -> _Term:
    text = f"{name}({spec.layer!r}" + (f", {list(spec.channels)}" if spec.channels is not None else "")
    text += f", {spec.mode}={spec.k}" if spec.mode else ""
    text += ")" if spec.weight == 1.0 else f") * {spec.weight:g}"
    return _Term(spec, kind, text, guide_image)


def layer_l2(layer: str) -> Objective:
    """The mean of the squared activations of ``layer`` (the classic DeepDream objective)."""
    return _term(LayerSpec(_layer_name("layer_l2", layer)), "l2", "layer_l2")


def layer_mean(layer: str) -> Objective:
    """The mean activation of ``layer``."""
    return _term(LayerSpec(_layer_name("layer_mean", layer)), "mean", "layer_mean")


def channel(layer: str, channels, kind: str = "l2") -> Objective:
    """The mean of the squared (``kind="l2"``) or plain (``"mean"``) activations of one channel of
    ``layer`` or a list of them, over all positions."""
    layer = _layer_name("channel", layer)
    many = isinstance(channels, (list, tuple, range, set)) or getattr(channels, "ndim", 0) > 0  # (arrays, tensors)
    if many and len(channels) > MAX_CHANNEL + 1:  # (range(10**9) was listed whole, and took the memory)
        raise ValueError(
            f"channel: channels: {len(channels)} of them, more than a layer has (at most {MAX_CHANNEL + 1})"
        )
    items = list(channels) if many else [channels]
    try:  # ints: Python's, numpy's and torch's (not floats, not bools)
        if any(isinstance(c, (bool, str)) for c in items):
            raise TypeError
        chans = tuple(operator.index(c) for c in items)
    except TypeError:
        raise TypeError(
            f"channel: channels must be a channel number or a list of them (ints), got {shown(channels)}"
        ) from None
    if not chans:
        raise ValueError("channel: channels is empty; give a channel number or a list of them")
    if min(chans) < 0 or max(chans) > MAX_CHANNEL:  # (10**30 was accepted, and failed at the first forward)
        raise ValueError(f"channel: channels must be channel numbers in [0, {MAX_CHANNEL}], got {shown(channels)}")
    if kind not in ("l2", "mean"):
        raise ValueError(f"kind must be 'l2' or 'mean', got {shown(kind)}")
    o = _term(LayerSpec(layer, channels=chans), kind, "channel")
    o.text = f"channel({layer!r}, {chans[0] if len(chans) == 1 else list(chans)})"
    return o


def neuron(layer: str, c: int, y: int | None = None, x: int | None = None) -> Objective:
    """The activation of channel ``c`` of ``layer`` at one position (default: the center of the
    activation map, so of each tile the network sees). ``y`` and ``x`` count from the map's top
    left; where a map is smaller than that (a small octave or tile) its last row or column is used."""
    layer = _layer_name("neuron", layer)
    c = _checks.integer("neuron: c", c, 0, cap=MAX_CHANNEL)
    y = None if y is None else _checks.integer("neuron: y", y, 0, cap=_checks.COUNT_MAX)
    x = None if x is None else _checks.integer("neuron: x", x, 0, cap=_checks.COUNT_MAX)

    def value(acts):
        a = _activation(acts, layer)
        n = a.shape[1]
        if not 0 <= c < n:
            raise ValueError(f"neuron: {layer} has {n} channels (0-{n - 1}); channel {c} is out of range")
        if a.dim() == 2:  # a classifier's (N, C): the channel is the neuron (a class's logit)
            if y is not None or x is not None:
                raise ValueError(f"neuron: {layer}'s output (N, C) has no positions; leave y and x out")
            return a[:, c]
        if a.dim() != 4:
            raise ValueError(f"neuron: {layer}'s output is not a feature map (N, C, H, W), got {tuple(a.shape)}")
        yy = a.shape[2] // 2 if y is None else min(y, a.shape[2] - 1)
        xx = a.shape[3] // 2 if x is None else min(x, a.shape[3] - 1)
        return a[:, c, yy, xx]

    pos = "" if y is None and x is None else f", y={y}, x={x}"
    text = f"neuron({layer!r}, {c}{pos})"
    return Objective(value, (layer,), text, key=text)  # two neuron(...) of the same place are one term


def guide(layer: str, image) -> Objective:
    """The match of ``layer``'s features with those of a guide ``image`` (any image kind
    ``dream`` accepts): each position is pulled toward the guide feature it resembles most, so
    the dream grows what the guide contains. The guide's features are computed once, at a size
    like the dream's tiles."""
    if isinstance(image, (str, os.PathLike)):  # (a missing file, None or 3 were taken, and failed in the dream)
        _checks.input_file("guide", image)
    elif not isinstance(image, (Image.Image, np.ndarray, Tensor)):
        raise TypeError(f"guide: image must be a path, PIL image, numpy array or tensor, got {shown(image)}")
    return _term(LayerSpec(_layer_name("guide", layer)), "guide", "guide", guide_image=image)


def from_layers(specs: tuple[LayerSpec, ...], kind: str, guide_image=None) -> Objective:
    """The sum of the terms of ``layers=`` specs, each ``kind`` (``l2``, ``mean``) or, with a
    guide image, the guide match on each layer."""
    # (an empty tuple was an IndexError, a str an AttributeError, kind="bogus" a mean)
    if not isinstance(specs, (tuple, list)) or not specs or not all(isinstance(s, LayerSpec) for s in specs):
        raise TypeError(f"specs must be a non-empty tuple of LayerSpec (parse_layers makes them), got {shown(specs)}")
    if kind not in ("l2", "mean"):
        raise ValueError(f"kind must be 'l2' or 'mean', got {shown(kind)}")
    name = "guide" if guide_image is not None else f"layer_{kind}"
    terms = [_term(s, "guide" if guide_image is not None else kind, name, guide_image) for s in specs]
    for t in terms:
        t.given_as = "layers"
    total = terms[0]
    for t in terms[1:]:
        total = total + t
    return total
