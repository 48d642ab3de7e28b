"""glibc allocator tuning for the CPU dream.

By default glibc serves every large activation buffer with a fresh mmap and returns it to the
kernel on free, so each forward+backward pays page faults on hundreds of MB; on the 2-core
machines this project measures that costs up to half the step. Keeping freed memory in the heap
(no mmap for big blocks, no trimming) removes those faults. It is process-wide, so it is applied
once, only when a CPU dream runs, and ``FASTDREAM_TUNE_MALLOC=0`` turns it off.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import math
import mmap
import os
import sys

import torch

_M_TRIM_THRESHOLD, _M_TOP_PAD, _M_MMAP_MAX = -1, -2, -4
_done = False


def tune() -> bool:
    """Applies the settings once; returns whether they are in effect."""
    global _done
    if _done:
        return True
    if os.environ.get("FASTDREAM_TUNE_MALLOC", "1") == "0" or not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # musl and other libcs have no mallopt
        return False
    ok = mallopt(_M_MMAP_MAX, 0) == 1
    ok &= mallopt(_M_TRIM_THRESHOLD, 2**31 - 1) == 1
    ok &= mallopt(_M_TOP_PAD, 1 << 30) == 1
    _done = bool(ok)
    return _done


def mapped_empty(shape, dtype: torch.dtype) -> torch.Tensor:
    """An uninitialized (in fact zero-filled) CPU tensor in its own anonymous memory map.

    For the few full-size buffers of a huge dream (detail, gradient, output): under :func:`tune`
    the heap never gives memory back, so a freed 1.6 GB gradient would stay resident, and big
    blocks between the network's activations fragment it. A mapping is returned to the system when
    the tensor is freed, and its pages cost nothing until written.
    """
    count = math.prod(shape)
    nbytes = count * torch.empty((), dtype=dtype).element_size()
    if nbytes == 0:
        return torch.empty(shape, dtype=dtype)
    return torch.frombuffer(mmap.mmap(-1, nbytes), dtype=dtype, count=count).view(shape)
