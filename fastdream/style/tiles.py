"""Exact tiles for style transfer: a sum over tiles that equals the sum over the whole image.

The image (a multiple of the network's largest stride) is cut into *cores* that partition it, each
a multiple of the stride; a *tile* is its core plus a halo of the features' support on every side
(clipped at the image's edges). A core's features computed on its tile are the whole image's, so
Gram sums, content losses and their gradients split over tiles exactly (to float rounding):

- pass 1, no gradients: the Gram sums of every layer over all cores (and the content features);
- the gradient of the loss with respect to each Gram matrix, once;
- pass 2: each tile's part of the loss (its cores' Gram sums against that gradient, plus its
  content terms) backpropagated, the tile's input gradient added into the image's.

Memory is one tile's forward and backward, whatever the image size.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Tile:
    """Core ``[cy0, cy1) x [cx0, cx1)`` and tile ``[ty0, ty1) x [tx0, tx1)`` in pixels."""

    cy0: int
    cy1: int
    cx0: int
    cx1: int
    ty0: int
    ty1: int
    tx0: int
    tx1: int

    def core_of(self, f: torch.Tensor, stride: int) -> torch.Tensor:
        """The core's part of a feature map ``f`` (1, C, h, w) computed on the tile, for a layer of ``stride``."""
        y0, x0 = (self.cy0 - self.ty0) // stride, (self.cx0 - self.tx0) // stride
        return f[..., y0 : y0 + (self.cy1 - self.cy0) // stride, x0 : x0 + (self.cx1 - self.cx0) // stride]

    def core_box(self, stride: int) -> tuple[slice, slice]:
        """The core in a whole-image feature map of ``stride``."""
        return slice(self.cy0 // stride, self.cy1 // stride), slice(self.cx0 // stride, self.cx1 // stride)


def _axis(length: int, core: int, halo: int, stride: int, least: int) -> list[tuple[int, int, int, int]]:
    count = max(1, math.ceil(length / core))
    units = length // stride
    edges = [stride * round(k * units / count) for k in range(count + 1)]  # even cores, stride-aligned
    out = []
    for a, b in zip(edges, edges[1:]):
        ta, tb = max(0, a - halo), min(length, b + halo)
        if tb - ta < least:  # more context than the halo never changes the core's features
            ta = max(0, min(ta, tb - least))
            tb = min(length, max(tb, ta + least))
        out.append((a, b, ta, tb))
    return out


def tiles(size: tuple[int, int], tile_size: int | None, halo: int, stride: int, min_side: int = 0) -> list[Tile]:
    """The tiles of an image of ``size`` (multiples of ``stride``): one tile when ``tile_size`` is
    None or covers the image, else cores of at most ``tile_size - 2 halo`` (at least one stride),
    each tile at least ``min_side`` (a multiple of ``stride``) each way where the image allows.
    Cores are at least the halo: a tile of ``tile_size`` with a far-seeing network's halo would
    otherwise hold a core of one stride, and the image would go through the network hundreds of
    times over (InceptionV3: 1536 tiles for 512x768 at 512 px); tiles that would each span the
    image are one tile."""
    h, w = size
    if tile_size is None or tile_size >= max(h, w):
        return [Tile(0, h, 0, w, 0, h, 0, w)]
    core = max(stride, halo, (tile_size - 2 * halo) // stride * stride)
    if core + 2 * halo >= max(h, w):  # every tile would span the image: one pass instead
        return [Tile(0, h, 0, w, 0, h, 0, w)]
    return [
        Tile(a, b, c, d, ta, tb, tc, td)
        for a, b, ta, tb in _axis(h, core, halo, stride, min_side)
        for c, d, tc, td in _axis(w, core, halo, stride, min_side)
    ]
