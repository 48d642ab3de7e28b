"""Differentiable augmentation (Zhao et al. 2020, "DiffAugment"): the same random color,
translation and cutout applied to real and generated images before the discriminator, so it
cannot memorize a small dataset, while the generator still learns the un-augmented images
(the augmentations are differentiable, and the generator's own samples are never augmented).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

POLICIES = ("color", "translation", "cutout")


def _color(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    n = x.shape[0]
    r = lambda: torch.rand(n, 1, 1, 1, generator=g, device=x.device)
    x = x + (r() - 0.5)  # brightness
    if x.shape[1] > 1:
        mean = x.mean(1, keepdim=True)
        x = (x - mean) * (r() * 2) + mean  # saturation
    mean = x.mean((1, 2, 3), keepdim=True)
    return (x - mean) * (r() + 0.5) + mean  # contrast


def _translation(x: torch.Tensor, g: torch.Generator, ratio: float = 0.125) -> torch.Tensor:
    n, _, h, w = x.shape
    sy, sx = int(h * ratio + 0.5), int(w * ratio + 0.5)
    ty = torch.randint(-sy, sy + 1, (n, 1, 1), generator=g, device=x.device)
    tx = torch.randint(-sx, sx + 1, (n, 1, 1), generator=g, device=x.device)
    yy, xx = torch.meshgrid(torch.arange(h, device=x.device), torch.arange(w, device=x.device), indexing="ij")
    gy = (yy[None] + ty + 1).clamp(0, h + 1)
    gx = (xx[None] + tx + 1).clamp(0, w + 1)
    padded = F.pad(x, (1, 1, 1, 1))  # shifted-in pixels are zeros (the images are in [-1, 1])
    idx = (gy * (w + 2) + gx).view(n, 1, -1).expand(-1, x.shape[1], -1)
    return padded.flatten(2).gather(2, idx).view_as(x)


def _cutout(x: torch.Tensor, g: torch.Generator, ratio: float = 0.5) -> torch.Tensor:
    """A square of ``ratio`` times the side, at a random center (partly outside at the edges), zeroed."""
    n, _, h, w = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    y0 = torch.randint(0, h + 1 - ch % 2, (n, 1, 1), generator=g, device=x.device) - ch // 2
    x0 = torch.randint(0, w + 1 - cw % 2, (n, 1, 1), generator=g, device=x.device) - cw // 2
    yy = torch.arange(h, device=x.device).view(1, h, 1)
    xx = torch.arange(w, device=x.device).view(1, 1, w)
    inside = (yy >= y0) & (yy < y0 + ch) & (xx >= x0) & (xx < x0 + cw)
    return x * (~inside)[:, None].to(x.dtype)


_OPS = {"color": _color, "translation": _translation, "cutout": _cutout}


def diff_augment(x: torch.Tensor, policy: tuple[str, ...], generator: torch.Generator) -> torch.Tensor:
    """``x`` (N, C, H, W) in [-1, 1] through each augmentation of ``policy`` in turn, one random
    draw per image from ``generator`` (so a seeded run repeats).

    Examples:
        >>> x = torch.zeros(2, 3, 8, 8)
        >>> diff_augment(x, ("translation", "cutout"), torch.Generator().manual_seed(0)).shape
        torch.Size([2, 3, 8, 8])
    """
    for name in policy:
        x = _OPS[name](x, generator)
    return x
