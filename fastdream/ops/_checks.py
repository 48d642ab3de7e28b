"""Argument checks shared by the public ops: each error names the parameter, the value it got
and what it accepts."""

from __future__ import annotations

import torch

from fastdream._checks import choice, integer, pair, real  # noqa: F401  (re-exported for the ops)

FLOAT_DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)


def image_tensor(name: str, t, ranks=(3, 4)) -> torch.Tensor:
    if not isinstance(t, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
    if t.dtype not in FLOAT_DTYPES:
        raise TypeError(
            f"{name} must be a floating-point tensor (float16, bfloat16, float32 or float64), got {t.dtype}"
        )
    if t.dim() not in ranks:
        want = " or ".join({3: "(C, H, W)", 4: "(N, C, H, W)"}[r] for r in ranks)
        raise ValueError(f"{name} must have shape {want}, got {tuple(t.shape)}")
    return t


def number(name: str, v, *, positive=False, nonnegative=False) -> float:
    if nonnegative:
        return real(name, v, lo=0.0, lo_open=False)
    return real(name, v, lo=0.0 if positive else None)


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
