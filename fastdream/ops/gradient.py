"""Gradient shaping for the dream: Laplacian-pyramid normalization and cascade smoothing.

Both run on the whole blended gradient (after the tiles are blended, before the step), so they
cannot make seams. ``laplacian_normalize`` has a CPU kernel (as PyTorch ops it cost over 10% of a
dream step; bench/RESULTS.md, "Creative controls"); on a GPU it runs as PyTorch ops.
``smooth_gradient`` is PyTorch only.
"""

from __future__ import annotations

import torch

from fastdream.ops import _checks, _native, backend, reference

EPS = 1e-8


# The CPU kernel as a torch.library op (see ascent_step.py for why).
@torch.library.custom_op("fastdream::laplacian_normalize", mutates_args=())
def _laplacian_native(grad: torch.Tensor, levels: int, eps: float) -> torch.Tensor:
    out = torch.empty_like(grad)
    _native.call("laplacian_normalize", grad, _native.desc(grad), _native.desc(out), levels, eps)
    return out


@_laplacian_native.register_fake
def _(grad, levels, eps):
    # Fake kernel for tracing: the output has the gradient's shape, dtype and memory format.
    return torch.empty_like(grad)


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
    if grad.dim() == 3:
        return laplacian_normalize(grad[None], levels)[0]
    if not backend.use_native("laplacian_normalize", grad.device, grad.dtype):
        return reference.laplacian_normalize(grad, levels, EPS)
    return _laplacian_native(grad, levels, EPS)


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
    if grad.dim() == 3:
        return smooth_gradient(grad[None], sigma)[0]
    return reference.smooth_gradient(grad, sigma)
