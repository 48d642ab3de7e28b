"""Argument checks shared by every public function: each error names the parameter, the value it
got and what it accepts. Also the one place that decides which device a call runs on."""

from __future__ import annotations

import math
import numbers
import os
from pathlib import Path

import numpy as np
import torch

#: Device types fastdream runs on (the reference path runs on any of them; the kernels on cpu/cuda).
DEVICE_TYPES = ("cpu", "cuda", "mps")


def integer(name: str, v, lo: int | None = None, hi: int | None = None) -> int:
    """An integer (not a bool), optionally bounded (``lo <= v <= hi``).

    Examples:
        >>> integer("steps", 3, 1)
        3
        >>> integer("steps", 0, 1)
        Traceback (most recent call last):
        ...
        ValueError: steps must be >= 1, got 0
    """
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


def parse_device(name: str, v) -> torch.device:
    """``v`` as a torch.device of a type fastdream runs on (not yet checked for availability)."""
    if not isinstance(v, (str, torch.device)):
        raise TypeError(f"{name} must be None, a string such as 'cpu' or 'cuda:0', or a torch.device, got {v!r}")
    try:
        dev = torch.device(v)
    except (RuntimeError, ValueError):
        dev = None
    if dev is None or dev.type not in DEVICE_TYPES:
        raise ValueError(f"{name}: {str(v)!r} is not a valid device; use 'cpu', 'cuda', 'cuda:N' or 'mps'") from None
    return dev


def _where(thing) -> torch.device | None:
    """The device of a module's parameters or of a tensor; None for anything else."""
    if isinstance(thing, torch.nn.Module):
        p = next(thing.parameters(), None)
        return None if p is None else p.device
    if isinstance(thing, torch.Tensor):
        return thing.device
    return None


def device(name: str, v, *, model=None, tensor=None, fallback: str | None = None) -> torch.device:
    """The device a call runs on: ``v`` when given, else ``model``'s, else ``tensor``'s, else
    ``fallback``, else CUDA when torch sees a GPU, else the CPU.

    A bare ``"cuda"`` is made a definite GPU (so it compares equal to the model's ``cuda:0``): the
    process's ``LOCAL_RANK`` under torchrun, else the current GPU. CUDA (or MPS) is refused up front
    when torch cannot see one, and so is a device other than the one ``model``'s parameters are on.

    Examples:
        >>> device("device", "cpu")
        device(type='cpu')
        >>> device("device", "tpu")
        Traceback (most recent call last):
        ...
        ValueError: device: 'tpu' is not a valid device; use 'cpu', 'cuda', 'cuda:N' or 'mps'
    """
    own = _where(model)
    if v is not None:
        dev = parse_device(name, v)
    else:
        dev = own or _where(tensor) or torch.device(fallback or ("cuda" if torch.cuda.is_available() else "cpu"))
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(
                f"{name}: {str(v or dev)!r} asks for a GPU, but CUDA is not available to torch {torch.__version__}; "
                f"use {name}='cpu'"
            )
        if dev.index is None:
            dev = torch.device("cuda", int(os.environ.get("LOCAL_RANK", torch.cuda.current_device())))
    if dev.type == "mps" and not (hasattr(torch.backends, "mps") and torch.backends.mps.is_available()):
        raise ValueError(f"{name}: {str(v)!r} asks for MPS, which is not available here")
    if own is not None and own != dev:
        raise ValueError(f"{name} is {dev} but the model's parameters are on {own}; move the model or pass {name}=")
    return dev
