"""Argument checks shared by every public function: each error names the parameter, the value it
got and what it accepts. Also the one place that decides which device a call runs on."""

from __future__ import annotations

import math
import numbers
import os
import re
import shutil
import stat
from pathlib import Path

import numpy as np
import torch

#: Device types fastdream runs on (the reference path runs on any of them; the kernels on cpu/cuda).
DEVICE_TYPES = ("cpu", "cuda", "mps")


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
        raise TypeError(f"{name} must be an integer, got {v!r}")
    if (lo is not None and v < lo) or (hi is not None and v > hi):
        accepted = f">= {lo}" if hi is None else (f"<= {hi}" if lo is None else f"in [{lo}, {hi}]")
        raise ValueError(f"{name} must be {accepted}, got {v}")
    if cap is not None and v > cap:
        raise ValueError(f"{name} must be <= {cap}, got {v}")
    return int(v)


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
    if cap is not None and v > cap:
        raise ValueError(f"{name} must be <= {cap:g}, got {v!r}")
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
    if isinstance(v, str) and not v.strip():
        raise ValueError(f"{name}: the path is empty; give a file or folder name")
    if not isinstance(v, (str, os.PathLike)) or not str(v):
        got = repr(v) if isinstance(v, (str, bytes, int, float, type(None))) else f"a {type(v).__name__}"
        raise TypeError(f"{name} must be a path (str or os.PathLike), got {got[:80]}")
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
    if isinstance(w, bool) or not isinstance(w, numbers.Real) or not math.isfinite(w):
        raise ValueError(f"{name}: the weight of {text!r} must be a finite number, got {w!r}")
    if w != 0 and not MIN_WEIGHT <= abs(w) <= MAX_WEIGHT:
        raise ValueError(
            f"{name}: the weight of {text!r} must be 0 or between {MIN_WEIGHT:g} and {MAX_WEIGHT:g} in size, "
            f"got {w!r} (weights count relative to each other: the dream normalizes its gradient)"
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


def human_bytes(n: float) -> str:
    """``n`` bytes for a message.

    Examples:
        >>> human_bytes(3.2e9), human_bytes(512)
        ('3.2 GB', '512 B')
    """
    for unit, size in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= size:
            return f"{n / size:.3g} {unit}"
    return f"{int(n)} B"


def _meminfo(key: str) -> int | None:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def _cgroup_room() -> int | None:
    """What the cgroup (v2) of this process may still allocate, where it sets a limit."""
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        used = Path("/sys/fs/cgroup/memory.current").read_text().strip()
        return None if limit == "max" else max(0, int(limit) - int(used))
    except (OSError, ValueError):
        return None


def _rlimit_room() -> int | None:
    """What ``ulimit -v`` (RLIMIT_AS) leaves of this process's address space."""
    try:
        import resource

        soft = resource.getrlimit(resource.RLIMIT_AS)[0]
        if soft == resource.RLIM_INFINITY:
            return None
        with open("/proc/self/statm") as f:
            size = int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
        return max(0, soft - size)
    except (ImportError, OSError, ValueError, AttributeError):
        return None


def memory_budget() -> int:
    """Bytes this process can still allocate: the memory available on the machine (Linux's
    MemAvailable, else the physical memory), less where a cgroup limit or ``ulimit -v`` leaves less."""
    room = [r for r in (_meminfo("MemAvailable"), _cgroup_room(), _rlimit_room()) if r is not None]
    if not room:
        try:
            room.append(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
        except (ValueError, OSError, AttributeError):
            room.append(1 << 40)  # unknown: only the hard limits of each option hold
    return min(room)


def fits(what: str, need: float, hint: str = "") -> None:
    """Refuses, before any allocation, work whose memory ``need`` (bytes) exceeds
    :func:`memory_budget`; ``what`` says what needs it, with the value the user gave.

    Examples:
        >>> fits("nz=10**15 (a generator of 1e18 parameters)", 4e18)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: nz=10**15 (a generator of 1e18 parameters) needs about 4e+06 TB of memory, more than the ...
    """
    budget = memory_budget()
    if need > budget:
        raise ValueError(
            f"{what} needs about {human_bytes(need)} of memory, more than the {human_bytes(budget)} this machine "
            f"has available{'; ' + hint if hint else ''}"
        )


def fits_on_disk(what: str, need: float, folder) -> None:
    """Refuses, before anything is written, files of ``need`` bytes in all that would not fit in
    the free space where ``folder`` is (or will be made)."""
    folder = Path(folder)
    root = next((p for p in [folder, *folder.parents] if p.exists()), Path("."))
    free = shutil.disk_usage(root).free
    if need > free:
        raise ValueError(
            f"{what} need about {human_bytes(need)} in {folder}, more than the {human_bytes(free)} free there"
        )


#: torch's allocators say what they were asked for: the CPU's in bytes, CUDA's in GiB/MiB.
_ASKED = re.compile(r"tried to allocate ([\d.]+) ?(bytes|[KMGT]iB)", re.IGNORECASE)
_UNIT = {"bytes": 1, "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}


def out_of_memory(exc: BaseException) -> str | None:
    """For an exception that is the machine running out of memory during the work (Python's
    ``MemoryError``, torch's CPU or CUDA allocator), a phrase with what the failed allocation asked
    for and what is free, where known; ``None`` for any other exception.

    Examples:
        >>> out_of_memory(RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried to allocate 9000000000000 bytes"))[:42]
        'one allocation of 9 TB did not fit in the '
        >>> out_of_memory(ValueError("bad")) is None
        True
    """
    text = str(exc)
    if not isinstance(exc, MemoryError) and not (
        isinstance(exc, RuntimeError) and re.search(r"out of memory|can't allocate memory", text, re.IGNORECASE)
    ):
        return None
    m = _ASKED.search(text)
    asked = f"one allocation of {human_bytes(float(m[1]) * _UNIT[m[2].lower()])}" if m else "the work"
    if "cuda" not in text.lower():
        room = f"the {human_bytes(memory_budget())} available"
    elif torch.cuda.is_available():
        room = f"the {human_bytes(torch.cuda.mem_get_info()[0])} free on the GPU"
    else:
        room = "the GPU's memory"
    return f"{asked} did not fit in {room}"
