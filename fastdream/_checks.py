"""Argument checks shared by every public function: each error names the parameter, the value it
got and what it accepts (DESIGN.md, "Errors and data safety")."""
from __future__ import annotations

import math
import numbers
import os
from pathlib import Path

import numpy as np
import torch


def integer(name: str, v, lo: int | None = None, hi: int | None = None) -> int:
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {v!r}")
    if (lo is not None and v < lo) or (hi is not None and v > hi):
        accepted = f">= {lo}" if hi is None else (f"<= {hi}" if lo is None else f"in [{lo}, {hi}]")
        raise ValueError(f"{name} must be {accepted}, got {v}")
    return int(v)


def real(name: str, v, *, lo: float | None = None, hi: float | None = None, lo_open=True, hi_open=True) -> float:
    """A finite real number, optionally bounded (open bounds by default: ``lo < v < hi``)."""
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Real):
        raise TypeError(f"{name} must be a number, got {v!r} ({type(v).__name__})")
    v = float(v)
    bad = not math.isfinite(v)
    if lo is not None:
        bad |= v <= lo if lo_open else v < lo
    if hi is not None:
        bad |= v >= hi if hi_open else v > hi
    if bad:
        if lo is None and hi is None:
            accepted = ""
        elif hi is None:
            accepted = f" {'>' if lo_open else '>='} {lo:g}"
        elif lo is None:
            accepted = f" {'<' if hi_open else '<='} {hi:g}"
        else:
            accepted = f" in {'(' if lo_open else '['}{lo:g}, {hi:g}{')' if hi_open else ']'}"
        raise ValueError(f"{name} must be a finite number{accepted}, got {v!r}")
    return v


def pair(name: str, v) -> tuple[float, float]:
    if not isinstance(v, (tuple, list)) or len(v) != 2:
        raise TypeError(f"{name} must be a pair of numbers, got {v!r}")
    return real(f"{name}[0]", v[0]), real(f"{name}[1]", v[1])


def boolean(name: str, v) -> bool:
    if not isinstance(v, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {v!r}")
    return bool(v)


def choice(name: str, v, options):
    if v not in options:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, options))}, got {v!r}")
    return v


def path(name: str, v) -> Path:
    if not isinstance(v, (str, os.PathLike)) or not str(v):
        raise TypeError(f"{name} must be a path (str or os.PathLike), got {v!r}")
    return Path(v)


def device(name: str, v) -> torch.device | None:
    """``None`` or a usable torch.device; CUDA is refused up front when torch cannot see a GPU."""
    if v is None:
        return None
    if not isinstance(v, (str, torch.device)):
        raise TypeError(f"{name} must be None, a string such as 'cpu' or 'cuda:0', or a torch.device, got {v!r}")
    try:
        dev = torch.device(v)
    except RuntimeError as exc:
        raise ValueError(f"{name}: {v!r} is not a valid device ({exc})") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"{name}: {v!r} asks for CUDA, which is not available here")
    return dev
