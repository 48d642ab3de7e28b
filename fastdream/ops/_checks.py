"""Argument checks shared by the public ops: each error names the parameter, the value it got
and what it accepts (DESIGN.md, "Errors and data safety")."""
from __future__ import annotations

import math
import numbers

import torch

FLOAT_DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)


def image_tensor(name: str, t, ranks=(3, 4)) -> torch.Tensor:
    if not isinstance(t, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
    if t.dtype not in FLOAT_DTYPES:
        raise TypeError(f"{name} must be a floating-point tensor (float16, bfloat16, float32 or float64), got {t.dtype}")
    if t.dim() not in ranks:
        want = " or ".join({3: "(C, H, W)", 4: "(N, C, H, W)"}[r] for r in ranks)
        raise ValueError(f"{name} must have shape {want}, got {tuple(t.shape)}")
    return t


def number(name: str, v, *, positive=False, nonnegative=False) -> float:
    if isinstance(v, bool) or not isinstance(v, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {v!r} ({type(v).__name__})")
    v = float(v)
    if not math.isfinite(v):
        raise ValueError(f"{name} must be finite, got {v}")
    if positive and v <= 0:
        raise ValueError(f"{name} must be > 0, got {v}")
    if nonnegative and v < 0:
        raise ValueError(f"{name} must be >= 0, got {v}")
    return v


def pair(name: str, v) -> tuple[float, float]:
    if not isinstance(v, (tuple, list)) or len(v) != 2:
        raise TypeError(f"{name} must be a pair of numbers, got {v!r}")
    return number(f"{name}[0]", v[0]), number(f"{name}[1]", v[1])


def choice(name: str, v, options) -> str:
    if v not in options:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, options))}, got {v!r}")
    return v


def same_device(name: str, t: torch.Tensor, ref: torch.Tensor, ref_name: str = "image") -> None:
    if t.device != ref.device:
        raise ValueError(f"{name} is on {t.device} but {ref_name} is on {ref.device}; move both to one device")


def memory_format(t: torch.Tensor):
    """The dense 4-d layout of ``t``: contiguous_format, channels_last, or None if neither."""
    if t.is_contiguous():
        return torch.contiguous_format
    if t.is_contiguous(memory_format=torch.channels_last):
        return torch.channels_last
    return None
