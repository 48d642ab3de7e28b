"""Gradient shaping for the dream: Laplacian-pyramid normalization and cascade smoothing.

Both run on the whole blended gradient (after the tiles are blended, before the step), so they
cannot make seams. ``laplacian_normalize`` has a CPU kernel (as PyTorch ops it cost over 10% of a
dream step; bench/RESULTS.md, "Creative controls"); on a GPU it runs as PyTorch ops.
``smooth_gradient`` is PyTorch only.
"""

from __future__ import annotations

import torch

from fastdream.ops import _checks, _native, backend, library, reference

EPS = 1e-8


OP = "fastdream::laplacian_normalize"


def _check(grad, levels, eps) -> None:
    """The op's own checks (its kernel and fake kernel). Any strides are fine: the kernel reads and
    writes through them."""
    library.check_tensor(OP, "grad", grad)
    library.check(1 <= levels <= 12, lambda: f"{OP}: levels must be in [1, 12], got {levels}")
    library.check_finite(OP, "eps", eps, nonnegative=True)


def _kernel(grad, levels, eps):
    _check(grad, levels, eps)
    library.check_runnable(OP, grad)
    out = torch.empty_like(grad)
    _native.call("laplacian_normalize", grad, _native.desc(grad), _native.desc(out), levels, eps)
    return out


def _fake(grad, levels, eps):
    # Lets torch.compile and opcheck trace the op without running it: the output has the
    # gradient's shape, dtype and memory format.
    _check(grad, levels, eps)
    return torch.empty_like(grad)


def _setup_context(ctx, inputs, output) -> None:
    grad, levels, eps = inputs
    ctx.save_for_backward(grad)
    ctx.levels, ctx.eps = levels, eps


def _backward(ctx, g):
    # The vjp of the reference, which defines the op (the per-band RMS makes it non-linear, so the
    # input is kept). The reference is PyTorch ops, so this backward is itself differentiable.
    (x,) = ctx.saved_tensors
    create_graph = torch.is_grad_enabled()
    with torch.enable_grad():
        # For a double backward the vjp must hang on the input's own graph; else a detached copy.
        x = x if create_graph else x.detach().requires_grad_()
        y = reference.laplacian_normalize(x, ctx.levels, ctx.eps)
        (gx,) = torch.autograd.grad(library.dot(y, g), x, create_graph=create_graph)
    return gx, None, None


# CPU only: on a GPU the public op runs the reference (fast there); a direct call on a CUDA tensor
# gets the dispatcher's "no kernel for CUDA" error.
library.define("laplacian_normalize(Tensor grad, SymInt levels, float eps) -> Tensor", _kernel, _fake, cuda=False)
library.register_autograd(OP, _backward, _setup_context)


def laplacian_normalize(grad: torch.Tensor, levels: int = 4) -> torch.Tensor:
    """``grad`` split into a Laplacian pyramid of ``levels`` bands, each band divided by its own
    RMS (per sample), and summed back: smoother, lower-frequency dreams.

    Shape:
        (N, C, H, W) or (C, H, W) -> the same (a new tensor).

    Examples:
        >>> import torch, fastdream as fd
        >>> g = torch.randn(2, 3, 40, 56)
        >>> fd.ops.laplacian_normalize(g, levels=3).shape
        torch.Size([2, 3, 40, 56])
    """
    _checks.image_tensor("grad", grad)
    levels = _checks.integer("levels", levels, 1, 12)
    if grad.numel() == 0:  # no bands to normalize
        return grad.clone()
    if grad.dim() == 3:
        return laplacian_normalize(grad[None], levels)[0]
    if not backend.use_native("laplacian_normalize", grad.device, grad.dtype):
        return reference.laplacian_normalize(grad, levels, EPS)
    return torch.ops.fastdream.laplacian_normalize(grad, levels, EPS)


def smooth_gradient(grad: torch.Tensor, sigma: float) -> torch.Tensor:
    """The mean of Gaussian blurs of ``grad`` at ``sigma / 2``, ``sigma`` and ``2 sigma`` pixels.

    Shape:
        (N, C, H, W) or (C, H, W) -> the same (a new tensor).

    Examples:
        >>> import torch, fastdream as fd
        >>> g = torch.zeros(1, 1, 31, 31); g[..., 15, 15] = 1  # an impulse spreads, its sum stays
        >>> s = fd.ops.smooth_gradient(g, 1.0)
        >>> round(float(s.sum()), 4), bool(s[..., 15, 15] < 0.5)
        (1.0, True)
    """
    _checks.image_tensor("grad", grad)
    sigma = _checks.number("sigma", sigma, positive=True)
    if grad.numel() == 0:  # nothing to blur (and no convolution takes an empty plane)
        return grad.clone()
    if grad.dim() == 3:
        return smooth_gradient(grad[None], sigma)[0]
    return reference.smooth_gradient(grad, sigma)
