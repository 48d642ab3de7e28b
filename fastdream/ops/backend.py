"""Which implementation the ops run: the native kernels or the pure-PyTorch reference.

The choice is ``FASTDREAM_BACKEND=auto|native|reference``, read at every call so tests and
benchmarks can switch, or :func:`use_backend` in code (it wins over the variable):

- ``reference``: always the PyTorch reference.
- ``native``: always the native kernels; an error if they cannot run the call.
- ``auto`` (default): native where it can run the call, else the reference, with one warning
  saying why when the native module is missing or does not cover the GPU.
"""

from __future__ import annotations

import contextlib
import os
import threading

import torch

from fastdream._checks import shown
from fastdream._warnings import FastdreamRuntimeWarning, warn
from fastdream.ops import _native

BACKENDS = ("auto", "native", "reference")
# A plain global, not a ContextVar: torch.compile traces the ops' backend choice and cannot read
# a ContextVar. So use_backend applies process-wide, like torch's own global switches. Its blocks
# in the process, innermost last: a block that ends takes out its own entry, so blocks of two
# threads ending in either order leave the setting as it was (the last to end restored the
# first's choice, for good).
_override: str | None = None
_active: list[tuple[object, str]] = []
_lock = threading.Lock()
_warned: set[str] = set()


def requested() -> str:
    """The backend asked for: :func:`use_backend` if active, else ``FASTDREAM_BACKEND``, else auto."""
    name = _override or os.environ.get("FASTDREAM_BACKEND", "auto").strip().lower() or "auto"
    if name not in BACKENDS:
        raise ValueError(f"FASTDREAM_BACKEND={name!r} is not one of {', '.join(BACKENDS)}")
    return name


def use_backend(name: str):
    """Runs the ops of the ``with`` block on ``name`` (``auto``, ``native`` or ``reference``).

    The choice is process-wide, as torch's own switches are: while a block runs in one thread,
    the ops of every thread run on its backend (the block begun last wins while both run). The
    name is checked at the call (it was checked only on entering the block: a call without
    ``with`` let any name pass).

    Examples:
        >>> import fastdream as fd
        >>> with fd.use_backend("reference"):
        ...     pass
    """
    if not isinstance(name, str):
        raise TypeError(f"backend must be one of {', '.join(BACKENDS)}, got {shown(name)}")
    if name not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, got {shown(name)}")
    return _using(name)


@contextlib.contextmanager
def _using(name: str):
    global _override
    entry = (object(), name)
    with _lock:
        _active.append(entry)
        _override = name
    try:
        yield
    finally:
        with _lock:
            _active.remove(entry)
            _override = _active[-1][1] if _active else None


def native_unavailable_reason(device: torch.device, dtype: torch.dtype | None = None) -> str | None:
    """Why the native kernels cannot run on ``device`` (and ``dtype``), or None if they can."""
    if not _native.available():
        return f"the native module fastdream._C did not load ({_native.LOAD_ERROR})"
    if device.type == "cuda":
        if not _native.cuda_compiled():
            return "this build of fastdream has no CUDA kernels (built with FASTDREAM_CUDA=OFF or without nvcc)"
        cap = torch.cuda.get_device_capability(device)
        if not _native.cuda_covers(cap):
            archs = ";".join(_native.cuda_architectures())
            return f"the CUDA kernels were built for {archs}, which does not cover this GPU (sm_{cap[0]}{cap[1]})"
        if dtype is not None and dtype not in _native.CUDA_DTYPES:
            return f"the CUDA kernels do not support {dtype}"
        return None
    if device.type == "cpu":
        if dtype is not None and dtype not in _native.CPU_DTYPES:
            return f"the CPU kernels support float32 and float64, not {dtype}"
        return None
    return f"no native kernels for device type {device.type!r}"


def _warn_once(reason: str) -> None:
    if reason not in _warned:
        _warned.add(reason)
        warn(f"fastdream: using the PyTorch reference path because {reason}", FastdreamRuntimeWarning)


#: Ops with a CPU kernel only: on a GPU they run as PyTorch ops (their reference), which is fast
#: there, whatever the backend.
CPU_ONLY = ("laplacian_normalize",)


def use_native(op: str, device: torch.device, dtype: torch.dtype) -> bool:
    """Resolves the backend for one call of ``op``."""
    name = requested()
    if name == "reference" or (op in CPU_ONLY and device.type != "cpu"):
        return False
    reason = native_unavailable_reason(device, dtype)
    if reason is None:
        return True
    if name == "native":
        raise RuntimeError(f"{op}: FASTDREAM_BACKEND=native but {reason}")
    # dtype gaps are a documented limit of a working build, not a broken install: no warning.
    if _native.available() and "support" in reason and device.type == "cpu":
        return False
    _warn_once(reason)
    return False


def resolved(device: str | torch.device = "cpu") -> str:
    """What ``auto`` (or the requested backend) resolves to for float32 tensors on ``device``."""
    device = torch.device(device)
    name = requested()
    if name == "reference":
        return "reference"
    reason = native_unavailable_reason(device, torch.float32)
    if reason is None:
        return "native"
    return "reference" if name == "auto" else f"native (unavailable: {reason})"
