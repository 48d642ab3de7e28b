"""What a checkpoint must hold, checked before anything is built from it.

A checkpoint that passes ``torch.load(weights_only=True)`` and names the right format may still
lack a key, hold a string where a size goes, or ask for a network of 10**12 parameters. Each
pipeline states its layout as a :class:`Record` of fields; :func:`validate` walks it and raises
one ``ValueError`` naming the file, the key and what it accepts, and :func:`model_fits` and
:func:`load_weights` refuse a network that does not fit in memory or whose weights do not fit it.

Examples:
    >>> schema = Record({"config": Record({"nz": Int(1, 4096)}), "generator": Weights()})
    >>> validate({"config": {"nz": 0}, "generator": {}}, schema, "ckpt.pt")
    Traceback (most recent call last):
    ...
    ValueError: checkpoint: ckpt.pt is not a usable checkpoint: config.nz must be an integer in [1, 4096], got 0
"""

from __future__ import annotations

import numbers
from typing import Any, Callable

import torch
from torch import nn

from fastdream import _checks


class Field:
    """One value of a checkpoint: :meth:`problem` says what is wrong with it (None: nothing)."""

    def problem(self, v: Any) -> str | None:
        raise NotImplementedError


class Int(Field):
    def __init__(self, lo: int, hi: int):
        self.lo, self.hi = lo, hi

    def problem(self, v):
        if isinstance(v, bool) or not isinstance(v, numbers.Integral) or not self.lo <= v <= self.hi:
            return f"must be an integer in [{self.lo}, {self.hi}], got {_short(v)}"
        return None


class Real(Field):
    def problem(self, v):
        if isinstance(v, bool) or not isinstance(v, numbers.Real) or v != v or abs(v) == float("inf"):
            return f"must be a finite number, got {_short(v)}"
        return None


class Choice(Field):
    def __init__(self, *values):
        self.values = values

    def problem(self, v):
        if not any(type(v) is type(x) and v == x for x in self.values):
            return f"must be one of {', '.join(map(repr, self.values))}, got {_short(v)}"
        return None


class Anything(Field):
    def problem(self, v):
        return None


class Weights(Field):
    """A state dict: names to tensors (what ``load_state_dict`` takes)."""

    def problem(self, v):
        if not isinstance(v, dict):
            return f"must be a dict of tensors (a state dict), got {type(v).__name__}"
        for k, t in v.items():
            if not isinstance(k, str) or not isinstance(t, torch.Tensor):
                return f"must map names to tensors; {_short(k)} holds {type(t).__name__}"
        return None


class OptimizerState(Field):
    """An optimizer's ``state_dict()``: ``state`` (a dict) and ``param_groups`` (a list of dicts);
    whether it fits the network is :func:`check_optimizer`'s question, after loading."""

    def problem(self, v):
        if not isinstance(v, dict) or not isinstance(v.get("state"), dict):
            return f"must be an optimizer's state dict (with 'state' and 'param_groups'), got {_short(v)}"
        groups = v.get("param_groups")
        if not isinstance(groups, list) or not groups or not all(isinstance(g, dict) for g in groups):
            return f"must hold 'param_groups', a list of dicts, got {_short(groups)}"
        return None


class Tensor(Field):
    """A tensor of ``ndim`` dimensions (any when None)."""

    def __init__(self, ndim: int | None = None):
        self.ndim = ndim

    def problem(self, v):
        if not isinstance(v, torch.Tensor) or (self.ndim is not None and v.dim() != self.ndim):
            dims = "" if self.ndim is None else f" of {self.ndim} dimensions"
            return f"must be a tensor{dims}, got {_short(v) if not isinstance(v, torch.Tensor) else tuple(v.shape)}"
        return None


class Maybe(Field):
    """None, or a value that passes ``field``."""

    def __init__(self, field: Field):
        self.field = field

    def problem(self, v):
        return None if v is None else self.field.problem(v)


class Listing(Field):
    """A list (or tuple) of at most ``most`` items, each passing ``item``."""

    def __init__(self, item: Field, most: int = 1 << 20):
        self.item, self.most = item, most

    def problem(self, v):
        if not isinstance(v, (list, tuple)) or len(v) > self.most:
            return f"must be a list of at most {self.most} items, got {_short(v)}"
        for i, x in enumerate(v):
            bad = self.item.problem(x)
            if bad:
                return f"[{i}] {bad}"
        return None


class Record(Field):
    """A dict with the ``required`` keys and maybe the ``optional`` ones (others are ignored)."""

    def __init__(self, required: dict[str, Field], optional: dict[str, Field] | None = None):
        self.required, self.optional = required, optional or {}

    def problem(self, v):
        if not isinstance(v, dict):
            return f"must be a dict, got {type(v).__name__}"
        for key, field in [*self.required.items(), *self.optional.items()]:
            if key not in v or (key in self.optional and v[key] is None):
                if key in self.required:
                    return f"{key} is missing"
                continue
            bad = field.problem(v[key])
            if bad:  # a leaf's words follow the key; a nested one's key path joins it with a dot
                return f"{key} {bad}" if bad.startswith("must") else f"{key}{'' if bad[0] == '[' else '.'}{bad}"
        return None


def _short(v) -> str:
    text = repr(v)
    return text if len(text) <= 60 else text[:57] + "..."


def validate(state, schema: Record, where, name: str = "checkpoint") -> dict:
    """``state`` if it matches ``schema``; else a ``ValueError`` naming the first key that does not."""
    bad = schema.problem(state)
    if bad is not None:
        raise ValueError(f"{name}: {where} is not a usable checkpoint: {bad}")
    return state


def model_fits(what: str, build: Callable[[], nn.Module], copies: int = 1) -> int:
    """The parameter count of the network ``build()`` makes, built without memory (on the meta
    device); a ``ValueError`` when ``copies`` float32 copies of it (4 to train with Adam: weights,
    gradients, two moments) do not fit in this machine's memory. ``what`` names the settings."""
    try:
        with torch.device("meta"):
            n = sum(p.numel() for p in build().parameters())
    except (RuntimeError, OverflowError):
        raise ValueError(
            f"{what} asks for a network too large to even describe, far beyond the memory of this machine "
            f"({_checks.human_bytes(_checks.memory_budget())} available)"
        ) from None
    _checks.fits(f"{what} (a network of {n:.3g} parameters)", 4 * n * copies)
    return n


def resumed(where, name: str):
    """A context in which any error while restoring a checkpoint's state into the trainer (an
    optimizer state for other parameters, a tensor of another shape) becomes a one-line
    ``ValueError`` that says how to start over."""
    return _Resumed(where, name)


class _Resumed:
    def __init__(self, where, name: str):
        self.where, self.name = where, name

    def __enter__(self):
        return self

    def __exit__(self, kind, exc, tb):
        ours = kind is not None and issubclass(kind, ValueError) and str(exc).startswith(f"{self.name}:")
        if (
            not ours
            and kind is not None
            and issubclass(kind, (AttributeError, KeyError, IndexError, RuntimeError, TypeError, ValueError))
        ):
            text = " ".join(str(exc).split())[:200]
            raise ValueError(
                f"{self.name}: {self.where} cannot be resumed from ({kind.__name__}: {text}); "
                "pass resume=False (--no-resume) to start over"
            ) from None
        return False


def check_optimizer(opt, where, name: str) -> None:
    """After ``opt.load_state_dict``: every parameter's state holds what an Adam step reads, in
    its parameter's shape (torch checks none of it until the first step fails)."""
    for group in opt.param_groups:
        for p in group["params"]:
            st = opt.state.get(p)
            if not st:
                continue
            for key in ("exp_avg", "exp_avg_sq"):
                t = st.get(key)
                if not isinstance(t, torch.Tensor) or tuple(t.shape) != tuple(p.shape):
                    raise ValueError(f"{name}: the optimizer state in {where} does not fit the network ({key})")
            step = st.get("step")
            if isinstance(step, torch.Tensor):
                step = float(step) if step.numel() == 1 else None
            if isinstance(step, bool) or not isinstance(step, numbers.Real) or not 0 <= step < 2**53:
                raise ValueError(f"{name}: the optimizer state in {where} has no valid step count")


def load_weights(model: nn.Module, weights: dict, where, name: str = "checkpoint", key: str = "weights") -> nn.Module:
    """``model.load_state_dict(weights)``, with weights that do not fit the network (missing or
    extra names, other shapes) a one-line ``ValueError`` instead of torch's report."""
    own = model.state_dict()
    missing = [k for k in own if k not in weights]
    extra = [k for k in weights if k not in own]
    shapes = [k for k in own if k in weights and tuple(weights[k].shape) != tuple(own[k].shape)]
    if missing or extra or shapes:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing (first: {missing[0]})")
        if extra:
            parts.append(f"{len(extra)} unexpected (first: {extra[0]})")
        if shapes:
            k = shapes[0]
            parts.append(
                f"{len(shapes)} of another shape ({k}: {tuple(weights[k].shape)}, expected {tuple(own[k].shape)})"
            )
        raise ValueError(
            f"{name}: the {key} in {where} do not fit the network its config describes: {'; '.join(parts)}"
        )
    try:
        model.load_state_dict(weights)
    except (RuntimeError, TypeError, ValueError) as exc:
        raise ValueError(f"{name}: the {key} in {where} cannot be loaded ({type(exc).__name__})") from None
    return model
