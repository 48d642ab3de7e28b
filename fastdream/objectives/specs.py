"""Layer specs: the terms of ``layers=`` as text (``"NAME:30-40,77=2"``), parsed and checked
(see :mod:`fastdream.objectives` for the syntax)."""

from __future__ import annotations

import numbers
import re
from dataclasses import dataclass

import torch

from fastdream import _checks
from fastdream._checks import shown

_SPEC = re.compile(r"^(?P<layer>[^:=]+)(?::(?P<sel>[^=]+))?(?:=(?P<weight>.+))?$")
_MODE = re.compile(r"^(top|bottom)(\d+)$")

#: The largest channel index (and topK) a spec may name: more than any layer has (a larger number
#: is a typo, refused before a list of that length is made).
MAX_CHANNEL = (1 << 16) - 1


@dataclass(frozen=True)
class LayerSpec:
    """One term of ``layers=``: a layer, which of its channels (all, a list, or top/bottom k), a weight."""

    layer: str
    channels: tuple[int, ...] | None = None
    mode: str | None = None
    k: int | None = None
    weight: float = 1.0

    def __str__(self) -> str:
        sel = ""
        if self.mode is not None:
            sel = f":{self.mode}{self.k}"
        elif self.channels is not None:
            sel = ":" + ",".join(map(str, self.channels))
        return f"{self.layer}{sel}" + ("" if self.weight == 1.0 else f"={self.weight:g}")


def parse_spec(text: str, weight=None) -> LayerSpec:
    """``"NAME[:CHANNELS|:topK|:bottomK][=WEIGHT]"`` as a :class:`LayerSpec` (see the module docs)."""
    if not isinstance(text, str):
        raise TypeError(f"layers: a layer spec must be a string, got {shown(text)}")
    m = _SPEC.match(text.strip())
    if not m or not m["layer"].strip():
        raise ValueError(f"layers: {text!r} is not a layer spec (NAME, NAME:37, NAME:30-40,77, NAME:top8, NAME=2)")
    layer, sel, w = m["layer"].strip(), m["sel"], m["weight"]
    if w is not None:
        if weight is not None:
            raise ValueError(f"layers: {text!r} has a weight in the spec and another in the dict")
        try:
            weight = float(w)
        except ValueError:
            raise ValueError(f"layers: the weight in {text!r} is not a number") from None
    weight = check_weight(text, 1.0 if weight is None else weight)
    if sel is None:
        return LayerSpec(layer, weight=weight)
    sel = sel.strip()
    mode = _MODE.match(sel)
    if mode:
        k = _checks.indices("layers", mode[2], MAX_CHANNEL, text)[0]
        if k < 1:
            raise ValueError(f"layers: {text!r} asks for {k} channels; use {mode[1]}1 or more")
        return LayerSpec(layer, mode=mode[1], k=k, weight=weight)
    accepted = "a channel, a range like 30-40, or topK/bottomK"
    return LayerSpec(layer, channels=_checks.indices("layers", sel, MAX_CHANNEL, text, accepted), weight=weight)


def factor(w, op: str, objective: bool = False):
    """A weight an objective is multiplied or divided by (``op``): a number, or a tensor of one
    (``objective``: ``w`` is another objective). Python said "unsupported operand type(s) for *:
    '_Term' and '_Term'", a class no page names."""
    if isinstance(w, torch.Tensor) and w.numel() == 1 and not (w.is_complex() or w.dtype == torch.bool):
        w = w.item()
    if isinstance(w, bool) or not isinstance(w, numbers.Real):
        what = "another objective" if objective else f"a {type(w).__name__}"
        raise TypeError(f"an objective {op} {what}: objectives are weighted by numbers (and added to each other)")
    return w


def check_weight(text, w, name: str = "layers") -> float:
    """A term's weight ``w`` (of ``text``, for ``name``'s message): finite, and 0 or between
    :data:`~fastdream._checks.MIN_WEIGHT` and :data:`~fastdream._checks.MAX_WEIGHT` in size (:func:`fastdream._checks.weight`).

    Examples:
        >>> check_weight("_blocks.5", 2), check_weight("_blocks.5", 0)
        (2.0, 0.0)
    """
    return _checks.weight(name, text, w)


def parse_layers(layers, module_of=None) -> tuple[LayerSpec, ...]:
    """``layers=`` as specs: a spec string, a list of them, or a dict spec -> weight.

    ``module_of`` maps a layer name to the module it names (a model's aliases: InceptionV3's
    ``mixed3`` is ``Mixed_6a``), so a layer given twice under two names is found too."""
    if isinstance(layers, str):
        layers = [layers]
    if isinstance(layers, dict):
        none = next((k for k, v in layers.items() if v is None), None)
        if none is not None:  # (None was taken as weight 1)
            raise TypeError(f"layers: the weight of {none!r} must be a number, got None")
        specs = tuple(parse_spec(k, v) for k, v in layers.items())
    elif isinstance(layers, (list, tuple)):
        specs = tuple(parse_spec(s) for s in layers)
    else:
        raise TypeError(f"layers must be a layer spec, a list of them, or a dict spec -> weight, got {shown(layers)}")
    if not specs:
        raise ValueError("layers must name at least one layer")
    seen: dict[LayerSpec, LayerSpec] = {}  # by the module each names (an alias is its module)
    for s in specs:
        term = LayerSpec(s.layer, s.channels, s.mode, s.k)
        module = LayerSpec(module_of(s.layer) if module_of else s.layer, s.channels, s.mode, s.k)
        first = seen.setdefault(module, term)
        if first is term:
            continue
        if first == term:  # (counted twice without a word: a typo, or a weight said the long way)
            raise ValueError(f"layers: {str(term)!r} is given twice; to weight it more, give it once: '{term}=2'")
        # (mixed3=1 Mixed_6a=-1 cancelled to nothing, without a word)
        raise ValueError(f"layers: {str(first)!r} and {str(term)!r} are the same layer ({module.layer}); give it once")
    if all(s.weight == 0 for s in specs):
        raise ValueError("layers: every weight is 0, so there is nothing to dream; give a layer a weight")
    return specs
