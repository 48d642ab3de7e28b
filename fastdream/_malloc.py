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
import os
import sys

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
