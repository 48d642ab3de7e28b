"""The luma of RGB images: one definition of the ITU-R BT.601 weights for the whole package.

Pillow's ``convert("L")`` uses these weights, so a gray image fastdream gives back matches the
one Pillow would make from the same RGB pixels. Every module that turns RGB into gray (the
images of :mod:`fastdream.io`, the color ops, style transfer's colors, the VAE's gray samples)
takes them from here.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["BT601", "luma"]

#: ITU-R BT.601 luma weights of R, G and B (they sum to 1).
BT601 = (0.299, 0.587, 0.114)


def luma(rgb: Tensor) -> Tensor:
    """The BT.601 luma of RGB images: ``0.299 R + 0.587 G + 0.114 B``.

    Args:
        rgb: RGB images, channels third from last, floating point.

    Shape:
        - rgb: (..., 3, H, W), e.g. (3, H, W) or (N, 3, H, W).
        - output: (..., 1, H, W), on ``rgb``'s device, in its dtype and value range.

    Convention:
        Linear in the values (no gamma): the luma of 8-bit levels are levels, of [0, 1] values
        values in [0, 1]. A gray image (R = G = B) is its own luma.

    Examples:
        >>> luma(torch.tensor([1.0, 0.0, 0.0]).view(3, 1, 1))
        tensor([[[0.2990]]])
        >>> luma(torch.full((2, 3, 4, 5), 0.5)).shape
        torch.Size([2, 1, 4, 5])
    """
    if rgb.dim() < 3 or rgb.shape[-3] != 3:
        raise ValueError(f"rgb must be (..., 3, H, W), got shape {tuple(rgb.shape)}")
    if not rgb.is_floating_point():
        raise TypeError(f"rgb must be a floating-point tensor, got {rgb.dtype}")
    w = torch.tensor(BT601, dtype=rgb.dtype, device=rgb.device).view(3, 1, 1)
    return (rgb * w).sum(-3, keepdim=True)
