"""The machine's room for a run, checked before the work: memory (what a process may still take:
RAM, a cgroup's limit, an rlimit) and disk, and torch's out-of-memory errors said in bytes."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import torch


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
