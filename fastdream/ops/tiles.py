"""Tiling for big images: overlapping tiles cut from the jittered image, and their blend back.

The circular jitter of DeepDream is folded into the indexing (no rolled full-size copy), and the
blend weights of the covering tiles sum to 1 at every pixel, so a gradient computed tile by tile
and blended back has no seams.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import torch

from fastdream.ops import _checks, _native, backend, reference


@dataclass(frozen=True)
class TileGrid:
    """Where the tiles of an ``H x W`` image lie and how they blend.

    ``ys`` / ``xs``: tile tops / lefts (in the rolled image); every tile is ``tile_h x tile_w``.
    ``weight_y[r]`` / ``weight_x[q]``: 1-d blend weights; at each pixel the products
    ``weight_y[r][i] * weight_x[q][j]`` of the covering tiles sum to 1.
    """

    size: tuple[int, int]
    ys: tuple[int, ...]
    xs: tuple[int, ...]
    tile_h: int
    tile_w: int
    weight_y: torch.Tensor
    weight_x: torch.Tensor

    @property
    def count(self) -> int:
        return len(self.ys) * len(self.xs)


def _axis_tile(length: int, tile: int, overlap: int) -> int:
    """The tile length actually used: the fewest tiles of at most ``tile`` that cover ``length``
    with ``overlap``, each shrunk to share the length evenly. Every pixel beyond the minimum
    coverage goes through the network for nothing (1024 px in 512 tiles: 3 x 384, not 3 x 512)."""
    if tile >= length:
        return length
    count = math.ceil((length - overlap) / (tile - overlap))
    return math.ceil((length + (count - 1) * overlap) / count)


def _axis(length: int, tile: int, overlap: int) -> tuple[list[int], torch.Tensor]:
    if tile >= length:
        return [0], torch.ones(1, length)
    count = math.ceil((length - overlap) / (tile - overlap))
    starts = [round(k * (length - tile) / (count - 1)) for k in range(count)]
    i = torch.arange(tile, dtype=torch.float64) + 0.5
    raw = []
    for k, s in enumerate(starts):
        w = torch.ones(tile, dtype=torch.float64)
        # Linear ramps across the overlap with each neighbour; none at the image border, so edge
        # pixels keep full weight. Network borders (padding) are where gradients are least
        # trustworthy, and the ramps hand those pixels to the neighbouring tile.
        if k > 0:
            w = torch.minimum(w, i / (starts[k - 1] + tile - s))
        if k < count - 1:
            w = torch.minimum(w, (tile - i) / (s + tile - starts[k + 1]))
        raw.append(w)
    total = torch.zeros(length, dtype=torch.float64)
    for s, w in zip(starts, raw):
        total[s : s + tile] += w
    weights = torch.stack([w / total[s : s + tile] for s, w in zip(starts, raw)])
    return starts, weights.float()


def tile_grid(size: Sequence[int], tile_size: int | Sequence[int], overlap: int | None = None) -> TileGrid:
    """Lays overlapping tiles of ``tile_size`` over an image of ``size = (H, W)``.

    Uses the fewest tiles of at most ``tile_size`` that cover the image with at least ``overlap``
    pixels shared by neighbours (default: 32 px, or half the tile below 64 px), shrunk to split
    the image evenly. A tile larger than the image is cut to the image: one tile, weight 1.

    Examples:
        >>> import fastdream as fd
        >>> g = fd.ops.tile_grid((300, 200), 128)
        >>> g.ys, g.xs, (g.tile_h, g.tile_w)
        ((0, 89, 178), (0, 84), (122, 116))
    """
    h, w = (int(size[0]), int(size[1]))
    th, tw = (tile_size, tile_size) if isinstance(tile_size, int) else (int(tile_size[0]), int(tile_size[1]))
    if min(h, w) < 1:
        raise ValueError(f"size must be positive, got {tuple(size)}")
    if min(th, tw) < 8:
        raise ValueError(f"tile_size must be at least 8 pixels, got {tile_size!r}")
    th, tw = min(th, h), min(tw, w)
    if overlap is None:
        # Fixed, not a fraction of the tile: what the ramp must hide is the network's reaction to
        # the tile edge, which does not grow with the tile (32 px hides it as well as 64 px and
        # sends fewer pixels through the network: bench/RESULTS.md, bench/seams.py).
        overlap = min(32, min(th, tw) // 2)
    if not 0 <= overlap < min(th, tw):
        raise ValueError(f"overlap must be in [0, tile size), got {overlap}")
    th, tw = _axis_tile(h, th, overlap), _axis_tile(w, tw, overlap)
    ys, wy = _axis(h, th, overlap)
    xs, wx = _axis(w, tw, overlap)
    return TileGrid((h, w), tuple(ys), tuple(xs), th, tw, wy, wx)


def _roll(roll: Sequence[int], size: Sequence[int]) -> tuple[int, int]:
    if not isinstance(roll, (tuple, list)) or len(roll) != 2 or not all(isinstance(v, int) for v in roll):
        raise TypeError(f"roll must be a pair of ints (dy, dx), got {roll!r}")
    return roll[0] % size[0], roll[1] % size[1]


@torch.library.custom_op("fastdream::extract_tiles", mutates_args=())
def _extract_native(
    image: torch.Tensor, ys: list[int], xs: list[int], tile_h: int, tile_w: int, roll_y: int, roll_x: int
) -> torch.Tensor:
    n, c = image.shape[:2]
    fmt = _checks.memory_format(image) or torch.contiguous_format
    out = torch.empty(n * len(ys) * len(xs), c, tile_h, tile_w, dtype=image.dtype, device=image.device)
    out = out.contiguous(memory_format=fmt)
    yt = torch.tensor(ys, dtype=torch.int64, device=image.device)
    xt = torch.tensor(xs, dtype=torch.int64, device=image.device)
    _native.call(
        "extract_tiles",
        image,
        _native.desc(image),
        _native.desc(out),
        yt.data_ptr(),
        xt.data_ptr(),
        len(ys),
        len(xs),
        roll_y,
        roll_x,
    )
    return out


@_extract_native.register_fake
def _(image, ys, xs, tile_h, tile_w, roll_y, roll_x):
    # Fake kernel for tracing: the tile batch in the image's memory format.
    fmt = _checks.memory_format(image) or torch.contiguous_format
    out = image.new_empty(image.shape[0] * len(ys) * len(xs), image.shape[1], tile_h, tile_w)
    return out.contiguous(memory_format=fmt)


@torch.library.custom_op("fastdream::blend_tiles", mutates_args=())
def _blend_native(
    tiles: torch.Tensor,
    ys: list[int],
    xs: list[int],
    weight_y: torch.Tensor,
    weight_x: torch.Tensor,
    height: int,
    width: int,
    roll_y: int,
    roll_x: int,
) -> torch.Tensor:
    n = tiles.shape[0] // (len(ys) * len(xs))
    fmt = _checks.memory_format(tiles) or torch.contiguous_format
    out = torch.empty(n, tiles.shape[1], height, width, dtype=tiles.dtype, device=tiles.device)
    out = out.contiguous(memory_format=fmt)
    yt = torch.tensor(ys, dtype=torch.int64, device=tiles.device)
    xt = torch.tensor(xs, dtype=torch.int64, device=tiles.device)
    wy = weight_y.to(device=tiles.device, dtype=torch.float32).contiguous()
    wx = weight_x.to(device=tiles.device, dtype=torch.float32).contiguous()
    _native.call(
        "blend_tiles",
        tiles,
        _native.desc(out),
        _native.desc(tiles),
        yt.data_ptr(),
        xt.data_ptr(),
        len(ys),
        len(xs),
        roll_y,
        roll_x,
        wy.data_ptr(),
        wx.data_ptr(),
    )
    return out


@_blend_native.register_fake
def _(tiles, ys, xs, weight_y, weight_x, height, width, roll_y, roll_x):
    # Fake kernel for tracing: one blended image per sample, in the tiles' memory format.
    fmt = _checks.memory_format(tiles) or torch.contiguous_format
    out = tiles.new_empty(tiles.shape[0] // (len(ys) * len(xs)), tiles.shape[1], height, width)
    return out.contiguous(memory_format=fmt)


def extract_tiles(image: torch.Tensor, grid: TileGrid, *, roll: Sequence[int] = (0, 0)) -> torch.Tensor:
    """Cuts the tiles of ``grid`` out of ``image`` rolled circularly by ``roll = (dy, dx)``.

    Shape:
        image (N, C, H, W) -> (N * grid.count, C, tile_h, tile_w); tile ``k = r * nx + q`` of
        sample ``n`` is at ``n * grid.count + k``. Output memory format follows the image's.

    Convention:
        ``rolled = torch.roll(image, roll, dims=(-2, -1))``; tile ``(r, q)`` is
        ``rolled[..., ys[r]:ys[r]+tile_h, xs[q]:xs[q]+tile_w]``. The roll is folded into the
        indexing: no rolled copy of the image is made.

    Examples:
        >>> import torch, fastdream as fd
        >>> g = fd.ops.tile_grid((64, 64), 32)
        >>> fd.ops.extract_tiles(torch.rand(2, 3, 64, 64), g, roll=(5, 7)).shape
        torch.Size([18, 3, 32, 32])
    """
    _checks.image_tensor("image", image, ranks=(4,))
    _check_grid(grid, tuple(image.shape[-2:]), "image")
    ry, rx = _roll(roll, grid.size)
    if not backend.use_native("extract_tiles", image.device, image.dtype):
        return reference.extract_tiles(image, grid.ys, grid.xs, grid.tile_h, grid.tile_w, (ry, rx))
    return _extract_native(image, list(grid.ys), list(grid.xs), grid.tile_h, grid.tile_w, ry, rx)


def blend_tiles(tiles: torch.Tensor, grid: TileGrid, *, roll: Sequence[int] = (0, 0)) -> torch.Tensor:
    """Blends per-tile values (e.g. gradients) back into one image per sample, undoing ``roll``.

    Shape:
        tiles (N * grid.count, C, tile_h, tile_w) -> (N, C, H, W), memory format of the tiles.

    Convention:
        The inverse of :func:`extract_tiles` with the same ``grid`` and ``roll``: each pixel is
        the weighted sum of the tiles covering it, with weights that sum to 1, so blending
        extracted tiles gives the image back.
    """
    _checks.image_tensor("tiles", tiles, ranks=(4,))
    if tiles.shape[0] % grid.count or tiles.shape[-2:] != (grid.tile_h, grid.tile_w):
        raise ValueError(
            f"tiles must have shape (N * {grid.count}, C, {grid.tile_h}, {grid.tile_w}) for this grid, "
            f"got {tuple(tiles.shape)}"
        )
    ry, rx = _roll(roll, grid.size)
    h, w = grid.size
    if not backend.use_native("blend_tiles", tiles.device, tiles.dtype):
        wy, wx = grid.weight_y.to(tiles.device), grid.weight_x.to(tiles.device)
        return reference.blend_tiles(tiles, grid.ys, grid.xs, wy, wx, (h, w), (ry, rx))
    return _blend_native(tiles, list(grid.ys), list(grid.xs), grid.weight_y, grid.weight_x, h, w, ry, rx)


def _check_grid(grid, size, name) -> None:
    if not isinstance(grid, TileGrid):
        raise TypeError(f"grid must be a fastdream.ops.TileGrid (from tile_grid), got {type(grid).__name__}")
    if tuple(grid.size) != tuple(size):
        raise ValueError(f"grid was made for size {grid.size} but {name} is {tuple(size)}")
