"""Argument checks shared by every public function: each error names the parameter, the value it
got and what it accepts. Also the one place that decides which device a call runs on."""

from __future__ import annotations

import math
import numbers
import os
import re
import stat
from pathlib import Path

import numpy as np
import torch

# (the machine's room is checked with the arguments: callers say _checks.fits(...))
from fastdream._room import fits, fits_on_disk, human_bytes, memory_budget, out_of_memory  # noqa: F401

#: Device types fastdream runs on (the reference path runs on any of them; the kernels on cpu/cuda).
DEVICE_TYPES = ("cpu", "cuda", "mps")


def shown(v) -> str:
    """A value as an error message shows it: its ``repr``, on one short line. An array or a tensor
    of more than a few numbers is said by its shape: its repr was dozens of lines of numbers.

    Examples:
        >>> shown("yes"), shown(np.arange(30.0)), shown(np.array([1, 2]))
        ("'yes'", 'a numpy array of shape (30,)', 'array([1, 2])')
        >>> shown(list(range(100)))
        '[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, ... 96, 97, 98, 99] (100 items)'
    """
    if isinstance(v, (np.ndarray, torch.Tensor)):
        count = v.numel() if isinstance(v, torch.Tensor) else v.size
        if v.ndim > 1 or count > 8:
            kind = "numpy array" if isinstance(v, np.ndarray) else "torch tensor"
            return f"a {kind} of shape {tuple(v.shape)}"
    text = " ".join(repr(v).split())
    if len(text) <= 100:
        return text
    count = f" ({len(v)} items)" if isinstance(v, (list, tuple)) else ""
    return f"{text[:64]} ... {text[-16:]}{count}"


def integer(name: str, v, lo: int | None = None, hi: int | None = None, *, cap: int | None = None) -> int:
    """An integer (not a bool), optionally bounded (``lo <= v <= hi``); ``cap`` is an upper limit
    of the machine or of sense (named only when crossed: a message about ``lo`` stays ``>= lo``).

    Examples:
        >>> integer("steps", 3, 1)
        3
        >>> integer("steps", 0, 1)
        Traceback (most recent call last):
        ...
        ValueError: steps must be >= 1, got 0
    """
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {shown(v)}")
    if (lo is not None and v < lo) or (hi is not None and v > hi):
        accepted = f">= {lo}" if hi is None else (f"<= {hi}" if lo is None else f"in [{lo}, {hi}]")
        raise ValueError(f"{name} must be {accepted}, got {_digits(v)}")
    if cap is not None and v > cap:
        raise ValueError(f"{name} must be <= {cap}, got {_digits(v)}")
    return int(v)


def _digits(v) -> str:
    """A whole number as a message says it: 10**400 by its first and last digits, not all 401.

    Examples:
        >>> integer("start", 10**400, 0, 2)
        Traceback (most recent call last):
        ...
        ValueError: start must be in [0, 2], got 100000000000...0000 (401 digits)
    """
    text = str(v)
    return text if len(text) <= 40 else f"{text[:12]}...{text[-4:]} ({len(text)} digits)"


def tile_size(v, cap: int) -> int:
    """A tile size: at least 32 px (a ``ValueError`` that says None means no tiles: a size of 1 is
    rarely meant, and ``--tile -1`` said ">= 32" though 0 is taken too)."""
    try:
        return integer("tile_size", v, 32, cap=cap)
    except ValueError as exc:
        raise ValueError(f"{exc} (None: no tiling)") from None


def real(
    name: str, v, *, lo: float | None = None, hi: float | None = None, lo_open=True, hi_open=True, cap=None
) -> float:
    """A finite real number, optionally bounded (open bounds by default: ``lo < v < hi``);
    ``cap``: an upper limit (``v <= cap``) named only when crossed, as for :func:`integer`."""
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Real):
        raise TypeError(f"{name} must be a number, got {shown(v)} ({type(v).__name__})")
    given, v = v, _float(v)
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
        raise ValueError(f"{name} must be a finite number{accepted}, got {shown(v if math.isfinite(v) else given)}")
    if cap is not None and v > cap:
        raise ValueError(f"{name} must be <= {cap:g}, got {shown(v)}")
    return v


def _float(v) -> float:
    """``float(v)``, an integer past float's range as an infinity (``float(10**400)`` raised
    OverflowError from every check of a real number), to be refused as one.

    Examples:
        >>> _float(10**400), _float(-(10**400)), _float(3)
        (inf, -inf, 3.0)
    """
    try:
        return float(v)
    except OverflowError:
        return math.inf if v > 0 else -math.inf


def pair(name: str, v) -> tuple[float, float]:
    if not isinstance(v, (tuple, list)) or len(v) != 2:
        raise TypeError(f"{name} must be a pair of numbers, got {shown(v)}")
    return real(f"{name}[0]", v[0]), real(f"{name}[1]", v[1])


def boolean(name: str, v) -> bool:
    if not isinstance(v, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {shown(v)}")
    return bool(v)


def choice(name: str, v, options):
    if v not in options:  # (a number for a name is the wrong type, a name not listed the wrong value)
        wrong_type = all(isinstance(o, str) for o in options) and not isinstance(v, str)
        raise (TypeError if wrong_type else ValueError)(
            f"{name} must be one of {', '.join(map(repr, options))}, got {shown(v)}"
        )
    return v


def path(name: str, v) -> Path:
    if isinstance(v, str) and not v.strip():
        raise ValueError(f"{name}: the path is empty; give a file or folder name")
    if not isinstance(v, (str, os.PathLike)) or not str(v):
        got = repr(v) if isinstance(v, (str, bytes, int, float, type(None))) else f"a {type(v).__name__}"
        raise TypeError(f"{name} must be a path (str or os.PathLike), got {got[:80]}")
    return Path(v)


def parse_device(name: str, v) -> torch.device:
    """``v`` as a torch.device of a type fastdream runs on (not yet checked for availability)."""
    if not isinstance(v, (str, torch.device)):
        raise TypeError(f"{name} must be None, a string such as 'cpu' or 'cuda:0', or a torch.device, got {shown(v)}")
    try:
        dev = torch.device(v)
    except (RuntimeError, ValueError):
        dev = None
    if dev is None or dev.type not in DEVICE_TYPES:
        raise ValueError(f"{name}: {str(v)!r} is not a valid device; use 'cpu', 'cuda', 'cuda:N' or 'mps'") from None
    if dev.type == "cpu" and dev.index is not None:  # torch has one CPU device: "cpu:1" is it, under another name
        raise ValueError(f"{name}: {str(v)!r}: the CPU is one device, with no number; use 'cpu'")
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
        if dev.index >= torch.cuda.device_count():  # (torch's "invalid device ordinal" came from deep inside)
            raise ValueError(
                f"{name}: {str(v or dev)!r} asks for GPU {dev.index}, but torch sees {torch.cuda.device_count()} "
                "(CUDA_VISIBLE_DEVICES, LOCAL_RANK); use cuda:0 .. cuda:N-1"
            )
    if dev.type == "mps" and not (hasattr(torch.backends, "mps") and torch.backends.mps.is_available()):
        raise ValueError(f"{name}: {str(v)!r} asks for MPS, which is not available here")
    if own is not None and own != dev:
        raise ValueError(f"{name} is {dev} but the model's parameters are on {own}; move the model or pass {name}=")
    return dev


#: Seeds are unsigned 64-bit in torch; a run adds the frame or epoch to its seed, so fastdream takes
#: up to 2**63 - 1 and keeps that sum in range.
SEED_MAX = 2**63 - 1
#: The largest count any option takes (frames, samples, channels, epochs...): an index that fits
#: in a C int, so no kernel or library below sees an overflow whatever memory allows.
COUNT_MAX = 2**31 - 1
#: The largest learning rate: Adam moves each weight by up to lr a step, so past 1 a training only
#: diverges (lr 100 "finished" a VAE of black samples; 1e308 overflowed inside the optimizer).
LR_MAX = 1.0


#: The sizes a term's weight may have besides 0 (a layer's, a subject's, a dreamer recipe's):
#: past them the objective overflows float32 (inf: no step at all) or its gradient sinks under
#: the step's epsilon (a fainter dream); weights only matter relative to each other.
MIN_WEIGHT, MAX_WEIGHT = 1e-6, 1e6


def weight(name: str, text, w) -> float:
    """The weight ``w`` of the term ``text``: finite, and 0 or between :data:`MIN_WEIGHT` and
    :data:`MAX_WEIGHT` in size.

    Examples:
        >>> weight("layers", "_blocks.5", 1e30)
        Traceback (most recent call last):
        ...
        ValueError: layers: the weight of '_blocks.5' must be 0 or between 1e-06 and 1e+06 in size, got 1e+30 (weights count relative to each other: the dream normalizes its gradient)
    """
    if isinstance(w, bool) or not isinstance(w, numbers.Real) or not math.isfinite(_float(w)):
        raise ValueError(f"{name}: the weight of {text!r} must be a finite number, got {shown(w)}")
    if w != 0 and not MIN_WEIGHT <= abs(w) <= MAX_WEIGHT:
        raise ValueError(
            f"{name}: the weight of {text!r} must be 0 or between {MIN_WEIGHT:g} and {MAX_WEIGHT:g} in size, "
            f"got {shown(w)} (weights count relative to each other: the dream normalizes its gradient)"
        )
    return float(w)


def seed(name: str, v) -> int:
    """A seed: an integer in [0, :data:`SEED_MAX`].

    Examples:
        >>> seed("seed", 2**64)
        Traceback (most recent call last):
        ...
        ValueError: seed must be <= 9223372036854775807, got 18446744073709551616
    """
    return integer(name, v, 0, cap=SEED_MAX)


def torch_seed(seed: int, of: int | None = None) -> int:
    """``seed`` as a torch generator is seeded with: the CPU generator (mt19937) keeps only the low
    32 bits, so ``seed`` and ``seed + 2**32`` drew the same picture. The high bits are folded into
    the low ones (a 64-bit odd multiplier); seeds below 2**32 stay as they are. A seed derived
    ``of`` the user's (``seed * 1_000_003 + epoch``...) stays as it is when that one is below 2**32:
    its draws, and a resumed training's, are the same as before the fold.

    Examples:
        >>> torch_seed(7), torch_seed(7 + 2**32) == 7, torch_seed(5000 * 1_000_003, of=5000) == 5000 * 1_000_003
        (7, False, True)
    """
    high = seed >> 32
    if not high or (of is not None and of >> 32 == 0):
        return seed
    return (seed ^ (high * 0x9E3779B97F4A7C15)) & 0xFFFFFFFF


_RANGE = re.compile(r"^(\d{1,9})(?:-(\d{1,9}))?$")


def indices(
    name: str, text: str, most: int, context: str, accepted: str = "a number or a range like 30-40"
) -> tuple[int, ...]:
    """The indices of ``"30-40,77,..."`` (ranges inclusive), each once, in the order they first
    appear, none above ``most``; in time linear in the text and the indices (a range jumps over
    the runs taken before it, through ``skip``, which points from a taken index past its run).

    Examples:
        >>> indices("layers", "3-5,1,4-8", 100, "x:3-5,1,4-8")
        (3, 4, 5, 1, 6, 7, 8)
        >>> indices("layers", "0-999999", 100, "x:0-999999")
        Traceback (most recent call last):
        ...
        ValueError: layers: 999999 in 'x:0-999999' is beyond 100, the largest index accepted
    """
    out: list[int] = []
    skip: dict[int, int] = {}
    for part in text.split(","):
        r = _RANGE.match(part.strip())
        if not r:
            raise ValueError(f"{name}: {part.strip()[:40]!r} in {context[:80]!r} is not {accepted}")
        lo, hi = int(r[1]), int(r[2] or r[1])
        if hi > most:
            raise ValueError(f"{name}: {hi} in {context[:80]!r} is beyond {most}, the largest index accepted")
        if hi < lo:
            raise ValueError(f"{name}: the range {part.strip()!r} in {context[:80]!r} runs backwards")
        c, passed = lo, []
        while c <= hi:
            passed.append(c)
            if c in skip:
                c = skip[c]
            else:
                out.append(c)
                c += 1
        for t in passed:  # path compression: all of them now point past this range
            skip[t] = max(c, skip.get(t, 0))
    return tuple(out)


def input_file(name: str, v) -> Path:
    """``v`` as the path of an existing regular file (followed through links) that can be read.

    Named pipes, devices and sockets are refused before anything opens them: reading a pipe
    waits for a writer for ever, and ``/dev/zero`` never ends.
    """
    p = path(name, v)
    try:
        st = os.stat(p)
    except FileNotFoundError:
        if re.match(r"^[a-z][a-z0-9+.-]*://", str(v), re.IGNORECASE):
            raise ValueError(
                f"{name}: {v} is an address, not a file; download it first (fastdream reads files)"
            ) from None
        raise FileNotFoundError(f"{name}: no such file: {p}") from None
    except OSError as exc:
        raise OSError(f"{name}: cannot read {p} ({exc.strerror or exc})") from None
    if stat.S_ISDIR(st.st_mode):
        raise IsADirectoryError(f"{name}: {p} is a folder, not a file")
    if not stat.S_ISREG(st.st_mode):
        kind = "a named pipe" if stat.S_ISFIFO(st.st_mode) else "a device" if stat.S_ISCHR(st.st_mode) else None
        kind = kind or ("a block device" if stat.S_ISBLK(st.st_mode) else "a socket or other special file")
        raise ValueError(f"{name}: {p} is {kind}, not a regular file; give a file (fastdream does not read streams)")
    if not os.access(p, os.R_OK):
        raise PermissionError(f"{name}: {p} is not readable")
    return p


def number_runs(values: list[int], most: int = 8) -> str:
    """Whole numbers as their runs, ``[112, 113, ..., 65535]`` as ``112-65535`` (a range past a
    layer's channels was a message of 447,000 characters).

    Examples:
        >>> number_runs([112, 113, 114, 200]), number_runs(list(range(0, 40, 2)), most=3)
        ('112-114, 200', '0, 2, 4, ... (20 in all)')
    """
    runs: list[list[int]] = []
    for v in sorted(set(values)):
        if runs and v == runs[-1][1] + 1:
            runs[-1][1] = v
        else:
            runs.append([v, v])
    text = ", ".join(f"{a}" if a == b else f"{a}-{b}" for a, b in runs[:most])
    return text + (f", ... ({len(set(values))} in all)" if len(runs) > most else "")
