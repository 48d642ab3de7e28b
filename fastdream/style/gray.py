"""A gray content painted in a colorful style comes back in color.

A dream gives a gray picture back gray (it dreams shapes). A style transfer of a gray photo (a
scan, a black-and-white print) with a colorful painting is asked for that painting's colors: given
back gray, the result looked like the photo with a texture, the colors thrown away. It stays gray
with ``preserve_colors`` (the content's colors, gray) or styles that are gray themselves.
"""

from __future__ import annotations

import numpy as np
import torch

from fastdream import io

#: How far apart a pixel's R, G and B may be in a style that counts as gray (two 8-bit levels).
GRAY_SPREAD = 2 / 255


def colorful(styles01) -> bool:
    """Whether any style (1, 3, H, W) in [0, 1] has colors: a pixel whose channels differ."""
    return any(bool((s.amax(1) - s.amin(1) > GRAY_SPREAD).any()) for s in styles01)


def in_color(content, loaded):
    """``content`` (of any kind ``io.load`` reads, loaded as ``loaded``) as a color picture of the
    same kind: a PIL image (a path too) in RGB or RGBA, an (H, W, 3 or 4) array of its dtype, a
    (3 or 4, H, W) / (N, ...) tensor of its dtype and device; alpha kept."""
    x = loaded.rgb if loaded.alpha is None else torch.cat([loaded.rgb, loaded.alpha], 1)
    if isinstance(content, torch.Tensor):
        y = x.to(device=content.device, dtype=content.dtype)
        return y if content.dim() == 4 else y[0]
    if isinstance(content, np.ndarray):
        a = x[0].permute(1, 2, 0)
        return io.to_uint8(a).numpy() if content.dtype == np.uint8 else a.numpy().astype(content.dtype)
    return io.to_pil(x[0])  # a path or a PIL image: 8 bits a channel (a 16-bit gray scan too)
