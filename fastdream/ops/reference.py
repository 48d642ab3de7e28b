"""Pure-PyTorch reference of every op: the semantics, the CPU fallback and the test oracle.

These functions take already-checked arguments in their canonical form (4-d tensors); the public
wrappers in :mod:`fastdream.ops` check inputs and pick this path or the native kernels.
"""

from __future__ import annotations

import math
from typing import Optional, Sequence

import torch
import torch.nn.functional as F

_GRID_PADDING = {"zeros": "zeros", "border": "border", "reflect": "reflection"}


def ascent_step_(
    image: torch.Tensor,
    grad: torch.Tensor,
    step_size: float,
    norm: str = "std",
    clamp: Optional[tuple[float, float]] = (-1.0, 1.0),
    mask: Optional[torch.Tensor] = None,
    eps: float = 1e-8,
) -> torch.Tensor:
    """``image += step_size * grad / (stat(grad) + eps) [* mask]``, then clamp; in place.

    Shape:
        image, grad: (N, C, H, W); mask: (N or 1, 1, H, W) or None.

    Convention:
        ``stat`` is computed per sample over (C, H, W): the unbiased standard deviation for
        ``norm="std"`` (0 for a single element), the mean absolute value for ``"mean_abs"``.
        Non-finite gradient entries (NaN, +-Inf) count as 0, in the statistic and in the step, so
        they never reach the image. A NaN already in the image stays NaN (as ``torch.clamp``).
    """
    n = image.shape[0]
    g = torch.where(torch.isfinite(grad), grad, torch.zeros((), dtype=grad.dtype, device=grad.device))
    flat = g.reshape(n, -1).to(torch.float64 if g.dtype == torch.float64 else torch.float32)
    if norm == "std":
        stat = flat.var(dim=1, correction=1 if flat.shape[1] > 1 else 0).sqrt()
    else:
        stat = flat.abs().mean(dim=1)
    scale = (step_size / (stat.double() + eps)).to(image.dtype).view(n, 1, 1, 1)
    update = g.to(image.dtype) * scale
    if mask is not None:
        update = update * mask.to(image.dtype)
    image.add_(update)
    if clamp is not None:
        image.clamp_(clamp[0], clamp[1])
    return image


def zoom_shift_matrix(height: int, width: int, zoom: float, shift: Sequence[float], angle: float):
    """The inverse map of :func:`zoom_shift` in pixel coordinates: ``source = M @ out + b``.

    The forward transform scales by ``zoom`` and rotates by ``angle`` degrees (counter-clockwise
    as displayed, y pointing down) about the center ``((W-1)/2, (H-1)/2)``, then translates by
    ``shift = (dx, dy)``. Returns ``(m00, m01, m10, m11, bx, by)`` as Python floats.
    """
    a = math.radians(angle)
    cos, sin = math.cos(a), math.sin(a)
    # M = R(angle)^T / zoom, with R = [[cos, sin], [-sin, cos]] in y-down screen coordinates.
    m00, m01, m10, m11 = cos / zoom, -sin / zoom, sin / zoom, cos / zoom
    cx, cy = (width - 1) / 2.0, (height - 1) / 2.0
    px, py = cx + shift[0], cy + shift[1]
    bx = cx - (m00 * px + m01 * py)
    by = cy - (m10 * px + m11 * py)
    return m00, m01, m10, m11, bx, by


def zoom_shift(
    image: torch.Tensor,
    zoom: float = 1.0,
    shift: Sequence[float] = (0.0, 0.0),
    angle: float = 0.0,
    padding: str = "reflect",
) -> torch.Tensor:
    """Bilinear resampling of ``image`` (N, C, H, W) by the affine of :func:`zoom_shift_matrix`.

    Convention: pixel ``(x, y)`` has its center at integer coordinates; the image spans
    ``[-0.5, W-0.5] x [-0.5, H-0.5]`` (``grid_sample(align_corners=False)``). ``reflect`` mirrors
    about those edges, ``border`` repeats the edge pixels, ``zeros`` reads 0 outside.
    The grid is built with ``affine_grid`` in the image's dtype; grid_sample's normalized float32
    coordinates are off by up to ~1e-4 px on 4096 px images (pass float64 for an exact oracle).
    """
    n, c, h, w = image.shape
    m00, m01, m10, m11, bx, by = zoom_shift_matrix(h, w, zoom, shift, angle)
    # Pixel coordinates relative to the center are D @ normalized, with D = diag(W/2, H/2).
    cx, cy = (w - 1) / 2.0, (h - 1) / 2.0
    dx, dy = w / 2.0, h / 2.0
    # source - c = M (out - c) + (M c + b - c); in normalized units divide rows by D.
    tx = (m00 * cx + m01 * cy + bx - cx) / dx
    ty = (m10 * cx + m11 * cy + by - cy) / dy
    theta = torch.tensor(
        [[m00, m01 * dy / dx, tx], [m10 * dx / dy, m11, ty]], dtype=image.dtype, device=image.device
    ).expand(n, 2, 3)
    grid = F.affine_grid(theta, [n, c, h, w], align_corners=False)
    return F.grid_sample(image, grid, mode="bilinear", padding_mode=_GRID_PADDING[padding], align_corners=False)


def extract_tiles(
    image: torch.Tensor, ys: Sequence[int], xs: Sequence[int], tile_h: int, tile_w: int, roll: Sequence[int] = (0, 0)
) -> torch.Tensor:
    """Tiles of the circularly rolled image (``torch.roll(image, roll, dims=(-2, -1))``).

    Shape: image (N, C, H, W) -> (N * len(ys) * len(xs), C, tile_h, tile_w), tile ``k = r * nx + q``
    of sample ``n`` at index ``n * ny * nx + k``, its top-left corner at ``(ys[r], xs[q])``.
    """
    rolled = torch.roll(image, shifts=(int(roll[0]), int(roll[1])), dims=(-2, -1))
    tiles = [rolled[:, :, y : y + tile_h, x : x + tile_w] for y in ys for x in xs]
    n, c = image.shape[:2]
    return torch.stack(tiles, dim=1).reshape(n * len(tiles), c, tile_h, tile_w)


def blend_tiles(
    tiles: torch.Tensor,
    ys: Sequence[int],
    xs: Sequence[int],
    weight_y: torch.Tensor,
    weight_x: torch.Tensor,
    size: Sequence[int],
    roll: Sequence[int] = (0, 0),
) -> torch.Tensor:
    """The inverse of :func:`extract_tiles`: weighted sum of the tiles, then the roll undone.

    Shape: tiles (N * ny * nx, C, th, tw); weight_y (ny, th); weight_x (nx, tw) -> (N, C, H, W).
    Tile ``(r, q)`` is weighted by ``weight_y[r, i] * weight_x[q, j]``; where the weights of the
    covering tiles sum to 1 (as :func:`fastdream.ops.tile_grid` makes them), blend inverts extract.
    """
    ny, nx = len(ys), len(xs)
    th, tw = tiles.shape[-2:]
    c = tiles.shape[1]
    n = tiles.shape[0] // (ny * nx)
    h, w = int(size[0]), int(size[1])
    t = tiles.reshape(n, ny * nx, c, th, tw)
    out = torch.zeros(n, c, h, w, dtype=tiles.dtype, device=tiles.device)
    for r, y in enumerate(ys):
        for q, x in enumerate(xs):
            wgt = (weight_y[r][:, None] * weight_x[q][None, :]).to(tiles.dtype)
            out[:, :, y : y + th, x : x + tw] += t[:, r * nx + q] * wgt
    return torch.roll(out, shifts=(-int(roll[0]), -int(roll[1])), dims=(-2, -1))
