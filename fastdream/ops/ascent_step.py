"""``ascent_step_``: the fused DeepDream update (normalize the gradient, step, mask, clamp)."""

from __future__ import annotations

from typing import Optional

import torch

from fastdream.ops import _checks, _native, backend, reference


# The native kernel as a torch.library op, so torch.compile and opcheck see one opaque, in-place
# op instead of tracing into ctypes-like pointer passing (which they cannot follow).
@torch.library.custom_op("fastdream::ascent_step_", mutates_args=("image",))
def _ascent_step_native(
    image: torch.Tensor,
    grad: torch.Tensor,
    mask: Optional[torch.Tensor],
    step_size: float,
    norm: str,
    clamp: bool,
    clamp_min: float,
    clamp_max: float,
    eps: float,
) -> None:
    channels_last = not image.is_contiguous()
    mask_stride_n = 0 if mask is None or mask.shape[0] == 1 else mask.shape[-2] * mask.shape[-1]
    _native.call(
        "ascent_step",
        image,
        _native.desc(image),
        grad.data_ptr(),
        0 if mask is None else mask.data_ptr(),
        mask_stride_n,
        channels_last,
        step_size,
        eps,
        clamp,
        clamp_min,
        clamp_max,
        _native.NORM_CODES[norm],
    )


@_ascent_step_native.register_fake
def _(image, grad, mask, step_size, norm, clamp, clamp_min, clamp_max, eps):
    # Fake (meta) kernel: lets torch.compile trace shapes without running the op; it only
    # mutates ``image``, so there is no output to describe.
    return None


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
    eps: float = 1e-8,
) -> torch.Tensor:
    """The DeepDream update, fused: ``image += step_size * g / (stat(g) + eps) [* mask]``, clamped.

    In place; returns ``image``. ``stat`` is taken per sample over (C, H, W): the unbiased
    standard deviation (``norm="std"``) or the mean absolute value (``norm="mean_abs"``).

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
            raise ValueError(f"clamp must be (min, max) with min <= max, got {clamp!r}")
        clamp = (lo, hi)
    if image.dim() == 3:
        m = None if mask is None else (mask[None] if mask.dim() == 3 else mask)
        ascent_step_(image[None], grad[None], step_size, norm=norm, clamp=clamp, mask=m, eps=eps)
        return image
    if image.requires_grad and torch.is_grad_enabled():
        raise ValueError("image requires grad; call ascent_step_ under torch.no_grad() or pass image.detach()")
    m = None if mask is None else _canonical_mask(mask, image)

    if not backend.use_native("ascent_step_", image.device, image.dtype):
        return reference.ascent_step_(image, grad, step_size, norm, clamp, m, eps)

    fmt = _checks.memory_format(image)
    work = image if fmt is not None else image.contiguous()
    fmt = fmt or torch.contiguous_format
    g = grad.to(image.dtype)
    if g.stride() != work.stride():
        g = g.contiguous(memory_format=fmt)
    lo, hi = clamp if clamp is not None else (0.0, 0.0)
    _ascent_step_native(work, g, m, step_size, norm, clamp is not None, lo, hi, eps)
    if work is not image:
        image.copy_(work)
    return image
