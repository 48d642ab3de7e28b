"""A gray content painted in a colorful style comes back in color.

A dream gives a gray picture back gray (it dreams shapes). A style transfer of a gray photo (a
scan, a black-and-white print) with a colorful painting is asked for that painting's colors: given
back gray, the result looked like the photo with a texture, the colors thrown away. It stays gray
with ``preserve_colors`` (the content's colors, gray), ``color_match`` (the styles take the
content's gray) or styles that are gray themselves.
"""

from __future__ import annotations

import numpy as np
import torch

from fastdream import io

#: A style has colors when at least 1% of its pixels have R, G and B more than 4 levels apart (one
#: tinted pixel, or a JPEG's chroma noise on a gray scan, is no painting's color).
GRAY_SPREAD, COLOR_SHARE = 4 / 255, 0.01


def paints_in_color(gray: bool, styles01, o) -> bool:
    """Whether a gray content (``gray``) is painted in color: not with ``preserve_colors`` or
    ``color_match`` (options ``o``), and only by a style that has colors."""
    return gray and not (o.preserve_colors or o.color_match) and colorful(styles01)


def colorful(styles01) -> bool:
    """Whether any style (1, 3, H, W) in [0, 1] has colors (:data:`COLOR_SHARE` of its pixels)."""
    return any(float((s.amax(1) - s.amin(1) > GRAY_SPREAD).float().mean()) >= COLOR_SHARE for s in styles01)


def in_color(content, loaded):
    """``content`` (of any kind ``io.load`` reads, loaded as ``loaded``) as a color picture of the
    same kind: a PIL image (a path too) in RGB or RGBA, an (H, W, 3 or 4) array of its dtype, a
    (3 or 4, H, W) / (N, ...) tensor of its dtype and device; alpha kept."""
    x = loaded.rgb if loaded.alpha is None else torch.cat([loaded.rgb, loaded.alpha], 1)
    if isinstance(content, torch.Tensor):
        y = x.to(device=content.device, dtype=content.dtype)
        batched = content if content.dim() == 4 else content[None]
        if loaded.alpha is not None:
            y[:, -1] = batched[:, -1].detach()  # (its own alpha, not through float32)
        if io.is_channels_last(batched):
            y = y.contiguous(memory_format=torch.channels_last)
        return y if content.dim() == 4 else y[0]
    if isinstance(content, np.ndarray):
        a = x[0].permute(1, 2, 0)
        y = io.to_uint8(a).numpy() if content.dtype == np.uint8 else a.numpy().astype(content.dtype)
        if loaded.alpha is not None and content.ndim == 3:
            y[..., -1] = content[..., -1]  # (its own alpha, not through float32)
        return y
    return io.to_pil(x[0])  # a path or a PIL image: 8 bits a channel (a 16-bit gray scan too)
