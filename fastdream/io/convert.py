"""Conversions of float image tensors to 8-bit: levels, uint8 tensors, PIL images, sample grids.

Every pipeline that writes pixels goes through here, so the rounding is the same everywhere: a
value ``v`` in ``value_range = (lo, hi)`` becomes ``round((v - lo) * 255 / (hi - lo))``, clamped
to 0..255.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from PIL import Image

_MODES = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}


def quantize(x: torch.Tensor, value_range=(0.0, 1.0)) -> torch.Tensor:
    """The 8-bit levels of ``x`` as a float tensor (0.0 ... 255.0), on ``x``'s device.

    Examples:
        >>> quantize(torch.tensor([0.0, 0.5, 1.0]))
        tensor([  0., 128., 255.])
    """
    lo, hi = value_range
    return (x.detach().float() - lo).mul_(255.0 / (hi - lo)).round_().clamp_(0.0, 255.0)


def to_uint8(x: torch.Tensor, value_range=(0.0, 1.0)) -> torch.Tensor:
    """``x`` as a uint8 tensor of its 8-bit levels (see :func:`quantize`), on the CPU."""
    return quantize(x, value_range).to(torch.uint8).cpu()


def to_pil(x: torch.Tensor, value_range=(0.0, 1.0)):
    """A (C, H, W) tensor as a PIL image, or an (N, C, H, W) tensor as a list of them.

    Shape:
        C = 1, 2, 3, 4 give modes ``L``, ``LA``, ``RGB``, ``RGBA``.

    Examples:
        >>> to_pil(torch.zeros(3, 4, 5)).size
        (5, 4)
        >>> [im.mode for im in to_pil(torch.zeros(2, 1, 4, 4))]
        ['L', 'L']
    """
    if x.dim() == 4:
        return [to_pil(t, value_range) for t in x]
    a = to_uint8(x, value_range).permute(1, 2, 0).numpy()
    mode = _MODES[a.shape[-1]]
    return Image.fromarray(a[..., 0] if mode == "L" else np.ascontiguousarray(a), mode)


def grid(x: torch.Tensor, nrow: int = 8, pad: int = 2, value_range=(0.0, 1.0)) -> Image.Image:
    """Images (N, C, H, W) side by side, ``nrow`` per row, ``pad`` black pixels around each.

    Examples:
        >>> grid(torch.zeros(10, 3, 8, 8), nrow=4).size  # 4 columns, 3 rows of 8 px, 2 px gaps
        (42, 32)
    """
    arr = to_uint8(x, value_range).permute(0, 2, 3, 1).numpy()
    n, h, w, c = arr.shape
    rows = math.ceil(n / nrow)
    out = np.zeros((pad + rows * (h + pad), pad + nrow * (w + pad), c), np.uint8)
    for i, a in enumerate(arr):
        r, k = divmod(i, nrow)
        y, x0 = pad + r * (h + pad), pad + k * (w + pad)
        out[y : y + h, x0 : x0 + w] = a
    mode = _MODES[c]
    return Image.fromarray(out[..., 0] if mode == "L" else out, mode)


def grid_tensor(x: torch.Tensor, nrow: int = 4, pad: int = 2, value_range=(0.0, 1.0)) -> torch.Tensor:
    """:func:`grid` as a uint8 (C, H, W) tensor: small pictures to keep in a checkpoint's history.

    Examples:
        >>> grid_tensor(torch.zeros(4, 1, 8, 8), nrow=2).shape
        torch.Size([1, 22, 22])
    """
    t = torch.from_numpy(np.array(grid(x, nrow, pad, value_range)))
    return t[None] if t.dim() == 2 else t.permute(2, 0, 1).contiguous()
