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

from fastdream._checks import shown
from fastdream.ops import _checks, _native, backend, library, reference, tiles_autograd


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
        return [0], torch.ones(1, length, dtype=torch.float32)
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


#: The longest side a grid is laid over: far past any image fastdream opens (2**30 pixels in all),
#: and short of sizes whose per-axis tile lists alone would exhaust memory or time.
MAX_SIDE = 1 << 20


def tile_grid(size: Sequence[int], tile_size: int | Sequence[int], overlap: int | None = None) -> TileGrid:
    """Lays overlapping tiles of ``tile_size`` over an image of ``size = (H, W)``.

    Uses the fewest tiles of at most ``tile_size`` that cover the image with at least ``overlap``
    pixels shared by neighbours (default: 64 px, or a quarter of a tile under 256 px), shrunk to split
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
    if max(h, w) > MAX_SIDE:
        raise ValueError(f"size must be at most {MAX_SIDE} pixels a side, got {tuple(size)}")
    if min(th, tw) < 8:
        raise ValueError(f"tile_size must be at least 8 pixels, got {shown(tile_size)}")
    th, tw = min(th, h), min(tw, w)
    if overlap is None:
        # Fixed, not a fraction of the tile: what the ramp must hide is the network's reaction to
        # the tile edge, which does not grow with the tile. 32 px left faint lines in dark areas
        # of a 2048 px dream that 64 px does not (bench/seams_local.py; figures in bench/RESULTS.md).
        # Small tiles (asked for to save memory) keep a quarter of their side: half of it sent
        # each pixel through the network twice.
        overlap = min(64, min(th, tw) // 4)
    if not 0 <= overlap < min(th, tw):
        raise ValueError(f"overlap must be in [0, tile size), got {overlap}")
    th, tw = _axis_tile(h, th, overlap), _axis_tile(w, tw, overlap)
    ys, wy = _axis(h, th, overlap)
    xs, wx = _axis(w, tw, overlap)
    return TileGrid((h, w), tuple(ys), tuple(xs), th, tw, wy, wx)


def _roll(roll: Sequence[int], size: Sequence[int]) -> tuple[int, int]:
    if not isinstance(roll, (tuple, list)) or len(roll) != 2 or not all(isinstance(v, int) for v in roll):
        raise TypeError(f"roll must be a pair of ints (dy, dx), got {shown(roll)}")
    return int(roll[0] % size[0]), int(roll[1] % size[1])


EXTRACT = "fastdream::extract_tiles"
BLEND = "fastdream::blend_tiles"


def _check_layout(op: str, ys, xs, tile_h, tile_w, height, width) -> None:
    """Every tile lies inside the (rolled) ``height x width`` image: what both kernels index by."""
    library.check(len(ys) >= 1 and len(xs) >= 1, lambda: f"{op}: ys and xs must not be empty, got {ys}, {xs}")
    library.check(1 <= tile_h <= height, lambda: f"{op}: tile_h must be in [1, H] = [1, {height}], got {tile_h}")
    library.check(1 <= tile_w <= width, lambda: f"{op}: tile_w must be in [1, W] = [1, {width}], got {tile_w}")
    for name, starts, hi in (("ys", ys, height - tile_h), ("xs", xs, width - tile_w)):
        for i, v in enumerate(starts):
            message = f"{op}: {name}[{i}] = {v} puts a tile outside the image; must be in [0, {hi}]"
            library.check(
                0 <= v <= hi,
                message,
            )


def _check_extract(image, ys, xs, tile_h, tile_w) -> None:
    library.check_tensor(EXTRACT, "image", image)
    _check_layout(EXTRACT, ys, xs, tile_h, tile_w, image.shape[-2], image.shape[-1])


def _check_blend(tiles, ys, xs, weight_y, weight_x, height, width) -> None:
    library.check_tensor(BLEND, "tiles", tiles)
    th, tw = tiles.shape[-2], tiles.shape[-1]
    _check_layout(BLEND, ys, xs, th, tw, height, width)
    count = len(ys) * len(xs)
    library.check(tiles.shape[0] % count == 0, lambda: f"{BLEND}: tiles.shape[0] = {tiles.shape[0]} is not N * {count}")
    for name, w, shape in (("weight_y", weight_y, (len(ys), th)), ("weight_x", weight_x, (len(xs), tw))):
        library.check_tensor(BLEND, name, w, rank=2)
        library.check_shape(BLEND, name, w, shape)
        library.check_same_device(BLEND, name, w, tiles, "tiles")


def _out_like(t: torch.Tensor, shape) -> torch.Tensor:
    """A new tensor of ``shape`` in ``t``'s dtype, device and dense memory format."""
    fmt = _checks.memory_format(t) or torch.contiguous_format
    return t.new_empty(shape).contiguous(memory_format=fmt)


def _offsets(values, device) -> torch.Tensor:
    return _to_device(torch.tensor([int(v) for v in values], dtype=torch.int64), device)


def _to_device(t: torch.Tensor, device) -> torch.Tensor:
    """``t`` on ``device``; from the CPU to a GPU pinned and non-blocking: a copy from pageable
    memory makes the host wait for the stream to drain, so every tile op would stall the queue."""
    if device.type != "cuda" or t.device.type != "cpu":
        return t.to(device)
    return t.pin_memory().to(device, non_blocking=True)


def _extract_kernel(image, ys, xs, tile_h, tile_w, roll_y, roll_x):
    _check_extract(image, ys, xs, tile_h, tile_w)
    library.check_runnable(EXTRACT, image)
    n, c, h, w = image.shape
    out = _out_like(image, (n * len(ys) * len(xs), c, tile_h, tile_w))
    yt, xt = _offsets(ys, image.device), _offsets(xs, image.device)
    _native.call(
        "extract_tiles",
        image,
        _native.desc(image),
        _native.desc(out),
        yt.data_ptr(),
        xt.data_ptr(),
        len(ys),
        len(xs),
        roll_y % h,
        roll_x % w,
    )
    return out


def _extract_fake(image, ys, xs, tile_h, tile_w, roll_y, roll_x):
    # Lets torch.compile and opcheck trace the op without running it: the tile batch, in the
    # image's memory format.
    _check_extract(image, ys, xs, tile_h, tile_w)
    return _out_like(image, (image.shape[0] * len(ys) * len(xs), image.shape[1], tile_h, tile_w))


def _blend_kernel(tiles, ys, xs, weight_y, weight_x, height, width, roll_y, roll_x):
    _check_blend(tiles, ys, xs, weight_y, weight_x, height, width)
    library.check_runnable(BLEND, tiles)
    out = _out_like(tiles, (tiles.shape[0] // (len(ys) * len(xs)), tiles.shape[1], height, width))
    yt, xt = _offsets(ys, tiles.device), _offsets(xs, tiles.device)
    wy = weight_y.to(torch.float32).contiguous()
    wx = weight_x.to(torch.float32).contiguous()
    _native.call(
        "blend_tiles",
        tiles,
        _native.desc(out),
        _native.desc(tiles),
        yt.data_ptr(),
        xt.data_ptr(),
        len(ys),
        len(xs),
        roll_y % height,
        roll_x % width,
        wy.data_ptr(),
        wx.data_ptr(),
    )
    return out


def _blend_fake(tiles, ys, xs, weight_y, weight_x, height, width, roll_y, roll_x):
    # Lets torch.compile and opcheck trace the op without running it: one blended image per
    # sample, in the tiles' memory format.
    _check_blend(tiles, ys, xs, weight_y, weight_x, height, width)
    return _out_like(tiles, (tiles.shape[0] // (len(ys) * len(xs)), tiles.shape[1], height, width))


library.define(
    "extract_tiles(Tensor image, SymInt[] ys, SymInt[] xs, SymInt tile_h, SymInt tile_w, SymInt roll_y, "
    "SymInt roll_x) -> Tensor",
    _extract_kernel,
    _extract_fake,
)
library.define(
    "blend_tiles(Tensor tiles, SymInt[] ys, SymInt[] xs, Tensor weight_y, Tensor weight_x, SymInt height, "
    "SymInt width, SymInt roll_y, SymInt roll_x) -> Tensor",
    _blend_kernel,
    _blend_fake,
)
tiles_autograd.register(EXTRACT, BLEND)


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
        torch.Size([18, 3, 27, 27])
    """
    _checks.image_tensor("image", image, ranks=(4,))
    _check_grid(grid, tuple(image.shape[-2:]), "image")
    ry, rx = _roll(roll, grid.size)
    if not backend.use_native("extract_tiles", image.device, image.dtype):
        return reference.extract_tiles(image, grid.ys, grid.xs, grid.tile_h, grid.tile_w, (ry, rx))
    return torch.ops.fastdream.extract_tiles(
        image, _ints(grid.ys), _ints(grid.xs), int(grid.tile_h), int(grid.tile_w), ry, rx
    )


def blend_tiles(tiles: torch.Tensor, grid: TileGrid, *, roll: Sequence[int] = (0, 0)) -> torch.Tensor:
    """Blends per-tile values (e.g. gradients) back into one image per sample, undoing ``roll``.

    Shape:
        tiles (N * grid.count, C, tile_h, tile_w) -> (N, C, H, W), memory format of the tiles.

    Convention:
        The inverse of :func:`extract_tiles` with the same ``grid`` and ``roll``: each pixel is
        the weighted sum of the tiles covering it, with weights that sum to 1, so blending
        extracted tiles gives the image back.

    Examples:
        >>> import torch, fastdream as fd
        >>> g = fd.ops.tile_grid((64, 64), 32)
        >>> x = torch.rand(2, 3, 64, 64)
        >>> y = fd.ops.blend_tiles(fd.ops.extract_tiles(x, g, roll=(5, 7)), g, roll=(5, 7))
        >>> torch.allclose(x, y, atol=1e-6)
        True
    """
    _checks.image_tensor("tiles", tiles, ranks=(4,))
    _check_grid(grid)
    if tiles.shape[0] % grid.count or tiles.shape[-2:] != (grid.tile_h, grid.tile_w):
        raise ValueError(
            f"tiles must have shape (N * {grid.count}, C, {grid.tile_h}, {grid.tile_w}) for this grid, "
            f"got {tuple(tiles.shape)}"
        )
    ry, rx = _roll(roll, grid.size)
    h, w = _ints(grid.size)
    # float32 as the kernels take them (a hand-built grid may hold other float types); to a GPU
    # pinned and non-blocking, as the offsets: a pageable copy would stall the stream every call.
    wy, wx = (_to_device(t.to(torch.float32), tiles.device) for t in (grid.weight_y, grid.weight_x))
    if not backend.use_native("blend_tiles", tiles.device, tiles.dtype):
        return reference.blend_tiles(tiles, grid.ys, grid.xs, wy, wx, (h, w), (ry, rx))
    return torch.ops.fastdream.blend_tiles(tiles, _ints(grid.ys), _ints(grid.xs), wy, wx, h, w, ry, rx)


def _ints(values) -> list[int]:
    return [int(v) for v in values]


def _check_grid(grid, size=None, name="image") -> None:
    """A grid, from :func:`tile_grid` or built by hand, whose tiles all lie inside its image (of
    ``size``, when given) and whose weights match its tiles."""
    if not isinstance(grid, TileGrid):
        raise TypeError(f"grid must be a fastdream.ops.TileGrid (from tile_grid), got {type(grid).__name__}")

    if not isinstance(grid.size, (tuple, list)) or len(grid.size) != 2:
        raise TypeError(f"grid.size must be a pair (H, W), got {shown(grid.size)}")
    _checks.integer("grid.size[0]", grid.size[0], 1)
    _checks.integer("grid.size[1]", grid.size[1], 1)
    h, w = grid.size
    if size is not None and tuple(grid.size) != tuple(size):
        raise ValueError(f"grid was made for size {tuple(grid.size)} but {name} is {tuple(size)}")
    # Every tile inside the image: the kernels index by these without bounds checks of their own.
    _checks.integer("grid.tile_h", grid.tile_h, 1, h)
    _checks.integer("grid.tile_w", grid.tile_w, 1, w)
    for field, starts, hi, weights, tile in (
        ("ys", grid.ys, h - grid.tile_h, grid.weight_y, grid.tile_h),
        ("xs", grid.xs, w - grid.tile_w, grid.weight_x, grid.tile_w),
    ):
        if not isinstance(starts, (tuple, list)) or not starts:
            raise TypeError(f"grid.{field} must be a non-empty tuple of ints, got {shown(starts)}")
        for i, v in enumerate(starts):
            _checks.integer(f"grid.{field}[{i}]", v, 0, hi)
        wname = "weight_y" if field == "ys" else "weight_x"
        if not isinstance(weights, torch.Tensor) or not weights.is_floating_point():
            raise TypeError(f"grid.{wname} must be a floating-point tensor, got {shown(weights)}")
        if tuple(weights.shape) != (len(starts), tile):
            raise ValueError(
                f"grid.{wname} must have shape (len(grid.{field}), tile) = {(len(starts), tile)}, "
                f"got {tuple(weights.shape)}"
            )
