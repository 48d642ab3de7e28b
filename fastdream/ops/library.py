"""The ``torch.ops.fastdream`` library: every native kernel as a torch op, and the checks they share.

The ops are defined through the low-level :class:`torch.library.Library` API, not
``torch.library.custom_op``: the latter's wrapper imports ``torch._dynamo`` on its first call
(1.1-1.7 s in every fresh process), while an op defined here reaches its kernel straight from the
dispatcher. Tracing is the same: each op has a fake kernel (torch.compile, opcheck) and, where it
is differentiable, an autograd formula.

Every op checks its arguments itself, with ``torch._check_with``, in its kernel and its fake
kernel (one function per op serves both): a direct ``torch.ops.fastdream.*`` call is as safe as
the public wrapper, and a traced call fails at trace time, not inside a kernel.
"""

from __future__ import annotations

import math
from typing import Callable, Union

import torch

from fastdream._checks import shown
from fastdream.ops import _native

#: The one ``fastdream`` namespace. Kept alive for the process: the registrations die with it.
LIB = torch.library.Library("fastdream", "DEF")

Message = Union[str, Callable[[], str]]


def define(schema: str, kernel: Callable, fake: Callable, *, cuda: bool = True) -> str:
    """Defines ``fastdream::<name>`` from ``schema`` with ``kernel`` for CPU (and CUDA) tensors and
    ``fake`` as its fake kernel; returns the qualified name."""
    name = schema.split("(", 1)[0]
    LIB.define(schema)
    LIB.impl(name, kernel, "CPU")
    if cuda:
        LIB.impl(name, kernel, "CUDA")
    qualname = f"fastdream::{name}"
    torch.library.register_fake(qualname, fake, lib=LIB)
    return qualname


def register_autograd(qualname: str, backward: Callable, setup_context: Callable) -> None:
    """The backward formula of a functional op (see :func:`torch.library.register_autograd`)."""
    torch.library.register_autograd(qualname, backward, setup_context=setup_context, lib=LIB)


def dot(y: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """``sum(y * g)``: a backward takes ``grad(dot(y, g), x)`` for the vjp ``g^T dy/dx`` because
    ``grad(y, x, g)`` imports sympy on first use (torch's check of g's shape), ~0.5 s."""
    return (y * g).sum()


def check(cond, message: Message, error: type = ValueError) -> None:
    """Raises ``error(message)`` unless ``cond``; under tracing (a symbolic ``cond``), a guard or a
    runtime assert through ``torch._check_with``."""
    if cond is True:
        return
    if isinstance(cond, bool):
        # Eager calls stop here: torch._check_with imports sympy and torch.fx's symbolic shapes
        # on first use (0.3-0.6 s), which is what defining the ops this way saves.
        raise error(message() if callable(message) else message)
    torch._check_with(error, cond, message if callable(message) else lambda: message)


def supported_dtypes(device: torch.device) -> tuple[torch.dtype, ...]:
    """The dtypes the native kernels take on ``device``."""
    return _native.CUDA_DTYPES if device.type == "cuda" else _native.CPU_DTYPES


def check_tensor(op: str, name: str, t, *, rank: int = 4) -> None:
    """``t`` is a tensor of ``rank`` dimensions in a dtype the kernel for its device supports."""
    check(isinstance(t, torch.Tensor), lambda: f"{op}: {name} must be a tensor, got {type(t).__name__}", TypeError)
    check(t.dim() == rank, lambda: f"{op}: {name} must have {rank} dimensions, got shape {tuple(t.shape)}")
    dtypes = supported_dtypes(t.device)
    check(
        t.dtype in dtypes,
        lambda: f"{op}: {name} must be one of {', '.join(map(str, dtypes))} on {t.device.type}, got {t.dtype}",
        TypeError,
    )


def check_shape(op: str, name: str, t: torch.Tensor, shape) -> None:
    check(t.shape == tuple(shape), lambda: f"{op}: {name} must have shape {tuple(shape)}, got {tuple(t.shape)}")


def check_same_device(op: str, name: str, t: torch.Tensor, ref: torch.Tensor, ref_name: str) -> None:
    check(t.device == ref.device, lambda: f"{op}: {name} is on {t.device} but {ref_name} is on {ref.device}")


def check_finite(op: str, name: str, v: float, *, positive: bool = False, nonnegative: bool = False) -> None:
    ok = math.isfinite(v) and (not positive or v > 0) and (not nonnegative or v >= 0)
    kind = " > 0" if positive else (" >= 0" if nonnegative else "")
    check(ok, lambda: f"{op}: {name} must be a finite number{kind}, got {shown(v)}")


def check_choice(op: str, name: str, v: str, choices) -> None:
    check(v in choices, lambda: f"{op}: {name} must be one of {', '.join(choices)}, got {shown(v)}")


def check_runnable(op: str, t: torch.Tensor) -> None:
    """The compiled kernels exist for ``t``'s device (kernels only; fake kernels need none)."""
    if not _native.available():
        raise RuntimeError(f"{op}: the native module fastdream._C did not load ({_native.LOAD_ERROR})")
    if t.device.type == "cuda" and not _native.cuda_compiled():
        raise RuntimeError(f"{op}: this build of fastdream has no CUDA kernels")
