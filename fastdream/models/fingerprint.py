"""What a model's cached dream build depends on, read cheaply before every dream: a build is used
again only while its model's fingerprint is unchanged.

The build is a copy: of the weights and buffers, of each module's settings and hooks, and of the
functions its modules keep. A change to any of them after a first dream must reach the next
dream; the weights' own tensors are also read by value, since an update through ``.data`` (EMA
weights, pruning, ``p.data.copy_``) bumps no ``_version``. Tensors a module keeps as plain
attributes are left out: a forward that stores one (``self.last = x``, pruning's ``weight``)
changed the fingerprint at every dream, which then rebuilt the network every time.
"""

from __future__ import annotations

import numbers
import weakref

import torch
from torch import nn

#: Attributes of a model that its build copies and a dream reads: set after a first dream, they
#: must reach the next one.
READ_ATTRIBUTES = ("input_mean", "input_std", "dream_layers")  # (a patched forward: _settings)
#: The hooks a module runs in its forward and backward (an ablation hook changes the dream).
_HOOKS = ("_forward_pre_hooks", "_forward_hooks", "_backward_pre_hooks", "_backward_hooks")
#: Past this many values a 1-D tensor is summed like a matrix's row, not kept whole.
_KEPT_WHOLE = 4096


def fingerprint(model: nn.Module) -> tuple:
    """Identities, versions, settings and value checksums of everything ``model``'s build copies."""
    modules = tuple((name, id(m), type(m), _settings(m), _hooks(m)) for name, m in model.named_modules())
    every = (*model.parameters(), *model.buffers())
    tensors = tuple((t.data_ptr(), t._version, tuple(t.shape)) for t in every)
    attributes = tuple(repr(model.__dict__.get(a)) for a in READ_ATTRIBUTES)
    return tensors, modules, attributes, _values(every)


def _settings(m: nn.Module) -> tuple:
    """A module's own attributes: plain values (a BatchNorm's eps, a conv's padding, a numpy
    slope) and lists, tuples and dicts of them by value; functions (``self.act = torch.tanh``, a
    patched ``forward``) by a weak reference (an id could be reused by the next one made)."""
    out = []
    for k, v in vars(m).items():
        if k == "training" or k.startswith("_"):
            continue
        plain = _plain(v)
        if plain is not _NOT_PLAIN:
            out.append((k, plain))
        elif callable(v) and not isinstance(v, (nn.Module, torch.Tensor)):
            out.append((k, _ref(v), _plain(getattr(v, "__dict__", None))))  # (and what it keeps)
    return tuple(out)


_NOT_PLAIN = object()


def _plain(v, depth: int = 0):
    """``v`` as a comparable value when it is a number, string or None, or a list, tuple or dict of
    them (nested a little); else ``_NOT_PLAIN``."""
    if v is None or isinstance(v, (str, bool, numbers.Number)):
        return v
    if depth < 3 and isinstance(v, (list, tuple)):
        items = [_plain(e, depth + 1) for e in v]
        return _NOT_PLAIN if any(e is _NOT_PLAIN for e in items) else tuple(items)
    if depth < 3 and isinstance(v, dict):
        items = [(_plain(a, depth + 1), _plain(b, depth + 1)) for a, b in v.items()]
        return _NOT_PLAIN if any(_NOT_PLAIN in kv for kv in items) else ("dict", tuple(items))
    return _NOT_PLAIN


def _ref(f):
    try:
        return weakref.ref(f)  # (equal while both live and are one; a dead one equals no other)
    except TypeError:  # (builtins take no weak reference: their ids are not reused)
        return id(f)


def _hooks(m: nn.Module) -> tuple:
    return tuple((name, tuple((k, _ref(f)) for k, f in getattr(m, name, {}).items())) for name in _HOOKS)


def _values(tensors) -> bytes:
    """Each tensor as a (rows, columns) matrix: its row sums and its rows weighted by column index
    (a matrix-vector product), so a permutation (RGB filters flipped to BGR, channels reordered)
    changes them too: two passes over the values, and a vector per tensor kept, not one number
    (a float32 total lost a change of 0.25 in 8 million). Short 1-D tensors (biases, BatchNorm's)
    as they are; integer ones too (a permutation index). In float32 (a half sum overflowed), one
    copy to the host per device, as bytes (NaN, never equal to itself, rebuilt every dream)."""
    by_device: dict = {}
    with torch.no_grad():
        for t in tensors:
            if not t.numel() or t.is_complex() or t.dtype == torch.bool:
                continue
            t = t.detach()
            if t.dim() < 2 and t.numel() <= _KEPT_WHOLE:
                by_device.setdefault(t.device, []).append(t.reshape(-1).double())
                continue
            m = t.reshape(t.shape[0], -1) if t.dim() >= 2 else t.reshape(1, -1)
            m = m.double() if m.dtype == torch.float64 or not m.is_floating_point() else m.float()
            ramp = torch.arange(1, m.shape[1] + 1, dtype=m.dtype, device=m.device)
            by_device.setdefault(t.device, []).extend((m.sum(1).double(), (m @ ramp).double()))
        return b"".join(torch.cat(v).cpu().numpy().tobytes() for v in by_device.values())
