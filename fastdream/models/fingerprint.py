"""What a model's cached dream build depends on, read cheaply before every dream: a build is used
again only while its model's fingerprint is unchanged.

The build is a copy: of the weights and buffers, of each module's settings and hooks, and of
whatever else its modules keep (functions, lists, tensors not registered as buffers). A change to
any of them after a first dream must reach the next dream; the weights' own tensors are also read
by value, since an update through ``.data`` (EMA weights, pruning, ``p.data.copy_``) bumps no
``_version``.
"""

from __future__ import annotations

import torch
from torch import nn

#: Attributes of a model that its build copies and a dream reads: set after a first dream, they
#: must reach the next one.
READ_ATTRIBUTES = ("input_mean", "input_std", "dream_layers", "forward")
_PLAIN = (bool, int, float, str, type(None))
#: The hooks a module runs in its forward (an ablation hook changes the dream).
_HOOKS = ("_forward_pre_hooks", "_forward_hooks")


def fingerprint(model: nn.Module) -> tuple:
    """Identities, versions, settings and value checksums of everything ``model``'s build copies."""
    loose: list[torch.Tensor] = []
    modules = tuple((name, id(m), type(m), _settings(m, loose), _hooks(m)) for name, m in model.named_modules())
    every = (*model.parameters(), *model.buffers(), *loose)
    tensors = tuple((t.data_ptr(), t._version, tuple(t.shape)) for t in every)
    attributes = tuple(repr(model.__dict__.get(a)) for a in READ_ATTRIBUTES)
    return tensors, modules, attributes, _values(every)


def _settings(m: nn.Module, loose: list) -> tuple:
    """A module's own attributes: plain values (a BatchNorm's eps, a conv's padding) and lists or
    tuples of them by value, functions (``self.act = torch.tanh``, a patched ``forward``) by
    identity; tensors that are not parameters or buffers go to ``loose`` (read by value)."""
    out = []
    for k, v in vars(m).items():
        if k == "training" or k.startswith("_"):
            continue
        if isinstance(v, _PLAIN):
            out.append((k, v))
        elif isinstance(v, (tuple, list)) and all(isinstance(e, _PLAIN) for e in v):
            out.append((k, tuple(v)))
        elif isinstance(v, torch.Tensor):
            loose.append(v)
        elif callable(v) and not isinstance(v, nn.Module):
            out.append((k, id(v)))
    return tuple(out)


def _hooks(m: nn.Module) -> tuple:
    return tuple((name, tuple((k, id(f)) for k, f in getattr(m, name, {}).items())) for name in _HOOKS)


def _values(tensors) -> bytes:
    """Each tensor as a (rows, columns) matrix: its row sums and its rows weighted by column index
    (a matrix-vector product), so a permutation (RGB filters flipped to BGR, channels reordered)
    changes them too: two passes over the values, and a vector per tensor kept, not one number
    (a float32 total lost a change of 0.25 in 8 million). The 1-D tensors (biases, BatchNorm's)
    as they are. In float32 (a half sum overflowed), one copy to the host per device, as bytes
    (NaN, never equal to itself, rebuilt every dream)."""
    by_device: dict = {}
    with torch.no_grad():
        for t in tensors:
            if not (t.is_floating_point() and t.numel()):
                continue
            t = t.detach()
            if t.dim() < 2:
                by_device.setdefault(t.device, []).append(t.reshape(-1).float())
                continue
            m = t.reshape(t.shape[0], -1)
            m = m.float() if m.dtype != torch.float64 else m  # (half: no CPU matrix-vector product)
            ramp = torch.arange(1, m.shape[1] + 1, dtype=m.dtype, device=m.device)
            by_device.setdefault(t.device, []).extend((m.sum(1).float(), (m @ ramp).float()))
        return b"".join(torch.cat(v).cpu().numpy().tobytes() for v in by_device.values())
