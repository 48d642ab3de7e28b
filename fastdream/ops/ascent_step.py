"""``ascent_step_``: the fused DeepDream update (normalize the gradient, step, mask, clamp)."""

from __future__ import annotations

import math
from typing import Optional

import torch

from fastdream._checks import shown
from fastdream.ops import _checks, _native, backend, library, reference

OP = "fastdream::ascent_step_"
#: Added to the gradient's statistic before dividing by it: a zero gradient takes no step.
EPS = 1e-8


def _check(image, grad, mask, step_size, norm, clamp, clamp_min, clamp_max, eps) -> None:
    """The op's own checks (its kernel and fake kernel): what the kernel assumes, never a crash.

    The kernel walks image, grad and mask with one linear index, so image and grad must be dense
    in the same layout (NCHW, or channels_last; the kernel takes the first that fits) and the mask
    a contiguous (N or 1, 1, H, W) tensor of the image's dtype.
    """
    library.check_tensor(OP, "image", image)
    library.check_tensor(OP, "grad", grad)
    library.check(
        grad.shape == image.shape, lambda: f"{OP}: grad has shape {tuple(grad.shape)}, image {tuple(image.shape)}"
    )
    library.check_same_device(OP, "grad", grad, image, "image")
    library.check(
        grad.dtype == image.dtype, lambda: f"{OP}: grad is {grad.dtype} but image is {image.dtype}", TypeError
    )
    nchw = image.is_contiguous()
    dense = nchw or image.is_contiguous(memory_format=torch.channels_last)
    library.check(dense, lambda: f"{OP}: image must be dense NCHW or channels_last, got strides {image.stride()}")
    same = grad.is_contiguous() if nchw else grad.is_contiguous(memory_format=torch.channels_last)
    library.check(
        same, lambda: f"{OP}: grad must have the memory layout of image (strides {image.stride()}), got {grad.stride()}"
    )
    if mask is not None:
        library.check_tensor(OP, "mask", mask)
        n, _, h, w = image.shape
        shape_ok = mask.shape[1] == 1 and mask.shape[-2:] == image.shape[-2:] and mask.shape[0] in (1, n)
        library.check(
            shape_ok,
            lambda: f"{OP}: mask must have shape (N or 1, 1, H, W) = ({n} or 1, 1, {h}, {w}), got {tuple(mask.shape)}",
        )
        library.check_same_device(OP, "mask", mask, image, "image")
        library.check(
            mask.dtype == image.dtype, lambda: f"{OP}: mask is {mask.dtype} but image is {image.dtype}", TypeError
        )
        library.check(mask.is_contiguous(), lambda: f"{OP}: mask must be contiguous, got strides {mask.stride()}")
    library.check_choice(OP, "norm", norm, tuple(_native.NORM_CODES))
    library.check_finite(OP, "step_size", step_size)
    library.check_finite(OP, "eps", eps, nonnegative=True)
    if clamp:
        ok = math.isfinite(clamp_min) and math.isfinite(clamp_max) and clamp_min <= clamp_max
        library.check(ok, lambda: f"{OP}: clamp_min <= clamp_max must be finite, got {shown(clamp_min)}, {clamp_max!r}")


def _kernel(image, grad, mask, step_size, norm, clamp, clamp_min, clamp_max, eps) -> None:
    _check(image, grad, mask, step_size, norm, clamp, clamp_min, clamp_max, eps)
    library.check_runnable(OP, image)
    mask_stride_n = 0 if mask is None or mask.shape[0] == 1 else mask.shape[-2] * mask.shape[-1]
    # The CUDA kernel sums each sample's moments into this (zeroed, from torch's allocator, so
    # nothing is left behind when a launch fails); the CPU kernel keeps its partial sums itself.
    scratch = torch.zeros(3 * image.shape[0], dtype=torch.float64, device=image.device) if image.is_cuda else None
    _native.call(
        "ascent_step",
        image,
        _native.desc(image),
        grad.data_ptr(),
        0 if mask is None else mask.data_ptr(),
        mask_stride_n,
        not image.is_contiguous(),
        step_size,
        eps,
        clamp,
        clamp_min,
        clamp_max,
        _native.NORM_CODES[norm],
        0 if scratch is None else scratch.data_ptr(),
    )


def _fake(image, grad, mask, step_size, norm, clamp, clamp_min, clamp_max, eps) -> None:
    # Lets torch.compile and opcheck trace the op without running it: it only mutates image, so
    # there is no output to describe, but the checks still run at trace time.
    _check(image, grad, mask, step_size, norm, clamp, clamp_min, clamp_max, eps)


# In place, so no autograd formula (torch refuses one for a mutating op): the public wrapper
# refuses an image that requires grad.
library.define(
    "ascent_step_(Tensor(a!) image, Tensor grad, Tensor? mask, float step_size, str norm, bool clamp, "
    "float clamp_min, float clamp_max, float eps) -> ()",
    _kernel,
    _fake,
)


def _canonical_mask(mask, image: torch.Tensor) -> torch.Tensor:
    """Returns the mask as a contiguous (N or 1, 1, H, W) tensor of the image's dtype."""
    if not isinstance(mask, torch.Tensor):
        raise TypeError(f"mask must be a torch.Tensor or None, got {type(mask).__name__}")
    n, _, h, w = image.shape
    m = mask
    if m.dim() == 2:
        m = m[None, None]
    elif m.dim() == 3:
        m = m[:, None]
    if m.dim() != 4 or m.shape[1] != 1 or m.shape[-2:] != (h, w) or m.shape[0] not in (1, n):
        raise ValueError(
            f"mask must have shape (H, W), (N or 1, H, W) or (N or 1, 1, H, W) with H, W = {h}, {w} "
            f"and N = {n}, got {tuple(mask.shape)}"
        )
    if not (m.is_floating_point() or m.dtype == torch.bool):
        raise TypeError(f"mask must be a float or bool tensor, got {mask.dtype}")
    _checks.same_device("mask", m, image)
    return m.to(image.dtype).contiguous()


def ascent_step_(
    image: torch.Tensor,
    grad: torch.Tensor,
    step_size: float,
    *,
    norm: str = "std",
    clamp: Optional[tuple[float, float]] = (-1.0, 1.0),
    mask: Optional[torch.Tensor] = None,
    eps: float = EPS,
    stat: Optional[torch.Tensor] = None,
) -> torch.Tensor:
    """The DeepDream update, fused: ``image += step_size * g / (stat(g) + eps) [* mask]``, clamped.

    In place; returns ``image``. ``stat`` is taken per sample over (C, H, W): the unbiased
    standard deviation (``norm="std"``) or the mean absolute value (``norm="mean_abs"``).
    When the step is applied a part at a time (a band of rows of a huge image), pass the whole
    gradient's statistic as ``stat`` (N,): the part is then stepped exactly as it would be in
    one call over the whole image.

    Shape:
        image, grad: (N, C, H, W) or (C, H, W), same shape. mask: (H, W), (N or 1, H, W) or
        (N or 1, 1, H, W), broadcast over channels.

    Convention:
        NCHW and channels_last tensors are updated without copies (grad is brought to the image's
        layout if it differs); other strides are made dense first and copied back. Non-finite
        gradient entries count as 0, so a NaN or Inf from the network never reaches the image;
        a NaN already in the image stays NaN. ``clamp=None`` skips the clamp.

    Examples:
        >>> import torch, fastdream as fd
        >>> x = torch.zeros(1, 3, 4, 4); g = torch.randn(1, 3, 4, 4)
        >>> fd.ops.ascent_step_(x, g, 0.1) is x
        True
    """
    _checks.image_tensor("image", image)
    if not isinstance(grad, torch.Tensor):
        raise TypeError(f"grad must be a torch.Tensor, got {type(grad).__name__}")
    if not grad.is_floating_point():
        raise TypeError(f"grad must be a floating-point tensor, got {grad.dtype}")
    if grad.shape != image.shape:
        raise ValueError(f"grad must have the shape of image {tuple(image.shape)}, got {tuple(grad.shape)}")
    _checks.same_device("grad", grad, image)
    step_size = _checks.number("step_size", step_size)
    _checks.choice("norm", norm, ("std", "mean_abs"))
    eps = _checks.number("eps", eps, nonnegative=True)
    if clamp is not None:
        lo, hi = _checks.pair("clamp", clamp)
        if lo > hi:
            raise ValueError(f"clamp must be (min, max) with min <= max, got {shown(clamp)}")
        clamp = (lo, hi)
    if image.dim() == 3:
        m = None if mask is None else (mask[None] if mask.dim() == 3 else mask)
        ascent_step_(image[None], grad[None], step_size, norm=norm, clamp=clamp, mask=m, eps=eps, stat=stat)
        return image
    if stat is not None:
        if not isinstance(stat, torch.Tensor) or stat.shape != (image.shape[0],) or not stat.is_floating_point():
            got = tuple(stat.shape) if isinstance(stat, torch.Tensor) else type(stat).__name__
            raise ValueError(f"stat must be a float tensor of shape ({image.shape[0]},), one per sample; got {got}")
        _checks.same_device("stat", stat, image)
    if image.requires_grad and torch.is_grad_enabled():
        raise ValueError("image requires grad; call ascent_step_ under torch.no_grad() or pass image.detach()")
    m = None if mask is None else _canonical_mask(mask, image)
    if image.numel() == 0:  # no pixels: no statistic and nothing to step
        return image

    # A given statistic skips the reduction, the kernel's first pass: what is left is elementwise.
    if stat is not None or not backend.use_native("ascent_step_", image.device, image.dtype):
        return reference.ascent_step_(image, grad, step_size, norm, clamp, m, eps, stat=stat)

    fmt = _checks.memory_format(image)
    work = image if fmt is not None else image.contiguous()
    fmt = fmt or torch.contiguous_format
    g = grad.to(image.dtype)
    if g.stride() != work.stride():
        g = g.contiguous(memory_format=fmt)
    lo, hi = clamp if clamp is not None else (0.0, 0.0)
    torch.ops.fastdream.ascent_step_(work, g, m, step_size, norm, clamp is not None, lo, hi, eps)
    if work is not image:
        image.copy_(work)
    return image
