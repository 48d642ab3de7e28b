"""Loading of the compiled module ``fastdream._C`` and the glue that hands it tensors.

The extension is built without libtorch, so tensors cross the boundary as plain
``(data_ptr, sizes, strides)`` tuples and a dtype code. If the module is missing or fails to
load, :data:`LOAD_ERROR` says why and the ops run on the reference path.
"""

from __future__ import annotations

import re

import torch

try:  # pragma: no cover - which branch runs depends on the build
    from fastdream import _C  # type: ignore[attr-defined]

    LOAD_ERROR: str | None = None
except Exception as exc:  # ImportError, or an OSError from a broken shared library
    _C = None
    LOAD_ERROR = f"{type(exc).__name__}: {exc}"

# Same table as csrc/fastdream.h (enum DType).
DTYPE_CODES = {torch.float32: 0, torch.float64: 1, torch.float16: 2, torch.bfloat16: 3}
CPU_DTYPES = (torch.float32, torch.float64)
CUDA_DTYPES = (torch.float32, torch.float64, torch.float16, torch.bfloat16)
NORM_CODES = {"std": 0, "mean_abs": 1}
PADDING_CODES = {"zeros": 0, "border": 1, "reflect": 2}


def available() -> bool:
    return _C is not None


def cuda_compiled() -> bool:
    return _C is not None and bool(_C.cuda_compiled())


def cuda_architectures() -> list[str]:
    """The architecture list the CUDA kernels were compiled for, as given to CMake."""
    if not cuda_compiled():
        return []
    return [a for a in _C.cuda_architectures().replace(";", ",").split(",") if a]


def cuda_covers(capability: tuple[int, int]) -> bool:
    """Whether the compiled kernels run on a GPU of this compute capability.

    SASS (``NN`` or ``NN-real``) runs on the same major version with an equal or higher minor
    version; PTX (``NN`` or ``NN-virtual``) is JIT-compiled for any newer GPU. Arch-specific
    ``NNa`` runs on that exact GPU only, family-specific ``NNf`` on its major version from that
    minor on. CMake's ``all`` and ``all-major`` hold every GPU nvcc knew, with PTX of the newest.
    """
    return any(_arch_covers(arch, capability[0] * 10 + capability[1]) for arch in cuda_architectures())


def _arch_covers(arch: str, cc: int) -> bool:
    """
    Examples:
        >>> [_arch_covers(a, 90) for a in ("90-real", "86", "100-real", "90a-real", "100f", "all-major")]
        [True, True, False, True, False, True]
    """
    if arch in ("all", "all-major"):
        return True
    m = re.fullmatch(r"(\d+)([af]?)(?:-(real|virtual))?", arch)
    if m is None:
        return False
    a, special, kind = int(m[1]), m[2], m[3] or ""
    if special == "a":
        return a == cc
    same_major = a // 10 == cc // 10 and a <= cc
    if special == "f" or kind == "real":
        return same_major
    return a <= cc  # PTX (with SASS when plain): JIT-compiled for any newer GPU


def desc(t: torch.Tensor) -> tuple[int, list[int], list[int]]:
    """A 4-d tensor as the extension sees it."""
    return (t.data_ptr(), list(t.shape), list(t.stride()))


def threads() -> int:
    return max(1, torch.get_num_threads())


def stream(t: torch.Tensor) -> int:
    return torch.cuda.current_stream(t.device).cuda_stream


def call(op: str, t: torch.Tensor, *args) -> None:
    """Runs ``cpu_<op>`` or ``cuda_<op>`` for the device of ``t``; the last argument is the
    thread count on CPU and the current stream on CUDA."""
    if t.device.type == "cuda":
        with torch.cuda.device(t.device):
            getattr(_C, "cuda_" + op)(*args, DTYPE_CODES[t.dtype], stream(t))
    else:
        getattr(_C, "cpu_" + op)(*args, DTYPE_CODES[t.dtype], threads())
