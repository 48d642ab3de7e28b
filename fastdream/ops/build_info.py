"""What the compiled kernels of this install contain: the public face of the native module's
build facts, for :func:`fastdream.info` and ``fastdream info``.

Everything is read when asked, from :mod:`fastdream.ops._native` (which loads ``fastdream._C``),
so a module that failed to load reads as absent, with the reason.
"""

from __future__ import annotations

from fastdream.ops import _native

__all__ = ["cuda_architectures", "cuda_compiled", "cuda_covers", "cuda_runtime_version", "load_error", "native_cpu"]


def native_cpu() -> bool:
    """Whether the compiled module loaded (it always holds the CPU kernels).

    Examples:
        >>> isinstance(native_cpu(), bool)
        True
    """
    return _native.available()


def load_error() -> str | None:
    """Why the compiled module did not load (None when it did)."""
    return _native.LOAD_ERROR


def cuda_compiled() -> bool:
    """Whether the compiled module holds CUDA kernels (whether or not a GPU is present)."""
    return _native.cuda_compiled()


def cuda_architectures() -> list[str]:
    """The CUDA architectures the kernels were compiled for, as given to CMake (empty without CUDA)."""
    return _native.cuda_architectures()


def cuda_covers(capability: tuple[int, int]) -> bool:
    """Whether the compiled CUDA kernels run on a GPU of compute capability ``capability``."""
    return _native.cuda_covers(capability)


def cuda_runtime_version() -> int | None:
    """The version of the CUDA runtime linked into the kernels (e.g. 13000), None without CUDA."""
    if not _native.cuda_compiled():
        return None
    # _native imported it already (cuda_compiled() says so); this import only names it.
    from fastdream import _C  # type: ignore[attr-defined]

    return int(_C.cuda_runtime_version())
