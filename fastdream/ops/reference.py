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
    stat: Optional[torch.Tensor] = None,
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
    if stat is None:  # else the whole gradient's, given for a part of it
        flat = g.reshape(n, -1).to(torch.float64 if g.dtype == torch.float64 else torch.float32)
        if norm == "std":
            stat = flat.var(dim=1, correction=1 if flat.shape[1] > 1 else 0).sqrt()
        else:
            stat = flat.abs().mean(dim=1)
    # In float32 (float64 for float64), rounded once into the image, as the kernels do: the scale of
    # a zero gradient (step / eps) overflowed float16 to inf, and 0 * inf made the picture NaN.
    work = torch.float64 if image.dtype == torch.float64 else torch.float32
    scale = (step_size / (stat.double() + eps)).to(work).view(n, 1, 1, 1)
    update = g.to(work) * scale
    if mask is not None:
        update = update * mask.to(work)
    if image.dtype == work:
        image.add_(update)
    else:
        image.copy_(image.to(work).add_(update))
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
    interpolation: str = "bilinear",
) -> torch.Tensor:
    """Bilinear or bicubic (Catmull-Rom) resampling of ``image`` (N, C, H, W) by the affine of
    :func:`zoom_shift_matrix`.

    Convention: pixel ``(x, y)`` has its center at integer coordinates; the image spans
    ``[-0.5, W-0.5] x [-0.5, H-0.5]`` (``grid_sample(align_corners=False)``). ``reflect`` mirrors
    about those edges, ``border`` repeats the edge pixels, ``zeros`` reads 0 outside.
    The grid is built with ``affine_grid`` in the image's dtype; grid_sample's normalized float32
    coordinates are off by up to ~1e-4 px on 4096 px images (pass float64 for an exact oracle).
    """
    if image.dtype in (torch.float16, torch.bfloat16) and image.device.type == "cpu":
        # grid_sample has no half kernels on the CPU (and half coordinates overflow): in float32
        return zoom_shift(image.float(), zoom, shift, angle, padding, interpolation).to(image.dtype)
    n, c, h, w = image.shape
    m00, m01, m10, m11, bx, by = zoom_shift_matrix(h, w, zoom, shift, angle)
    if interpolation == "bicubic":
        return _catmull_rom(image, (m00, m01, m10, m11, bx, by), padding)
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
    return F.grid_sample(image, grid, mode=interpolation, padding_mode=_GRID_PADDING[padding], align_corners=False)


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


# ------------------------------------------------------------------------------------------------
# gradient shaping and colors (reference-only ops: no native kernel, see bench/RESULTS.md for cost)

_BINOMIAL = (1.0, 4.0, 6.0, 4.0, 1.0)


def _planes(x: torch.Tensor) -> torch.Tensor:
    """(N, C, H, W) as (N*C, 1, H, W) planes: one-channel convolutions run several times faster
    than grouped ones, in either memory layout."""
    n, c, h, w = x.shape
    return x.contiguous().reshape(n * c, 1, h, w)


def _unplanes(p: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    out = p.reshape(like.shape)
    return out.contiguous(memory_format=torch.channels_last) if not like.is_contiguous() else out


def _blur_down(p: torch.Tensor) -> torch.Tensor:
    """5x5 binomial blur of (P, 1, H, W) planes, then every second pixel: the next Gaussian level."""
    k = torch.tensor(_BINOMIAL, dtype=p.dtype, device=p.device) / 16.0
    pad = "reflect" if min(p.shape[-2:]) > 2 else "replicate"
    return F.conv2d(F.pad(p, (2, 2, 2, 2), mode=pad), (k[:, None] * k[None, :]).view(1, 1, 5, 5), stride=2)


def _up(p: torch.Tensor, size) -> torch.Tensor:
    return F.interpolate(p, size=size, mode="bilinear", align_corners=False)


def laplacian_normalize(grad: torch.Tensor, levels: int = 4, eps: float = 1e-8) -> torch.Tensor:
    """Each band of ``grad``'s Laplacian pyramid divided by its own RMS, summed back.

    Shape: (N, C, H, W) -> the same, in the same memory layout. The pyramid has ``levels`` bands
    (fewer when the image gets too small): ``high_i = g_i - up(g_{i+1})``,
    ``g_{i+1} = blur_down(g_i)``, the last band is the smallest ``g``. Per sample, each band is
    scaled by ``1 / sqrt(mean(band^2) + eps)``; the merge ``g_i = up(g_{i+1}) + high_i`` inverts
    the split exactly. Low frequencies, which the network's raw gradient underweights, get as much
    of the step as the fine ones (the TF DeepDream tutorial's ``lap_normalize``).
    """
    n, c = grad.shape[:2]
    g, bands = _planes(grad), []
    for _ in range(levels - 1):
        if min(g.shape[-2:]) < 4:
            break
        lo = _blur_down(g)
        bands.append(g - _up(lo, g.shape[-2:]))
        g = lo
    bands.append(g)

    def normalized(band: torch.Tensor) -> torch.Tensor:
        rms = band.reshape(n, -1).square().mean(1).add_(eps).sqrt_().repeat_interleave(c).view(n * c, 1, 1, 1)
        return band / rms

    out = normalized(bands[-1])
    for band in reversed(bands[:-1]):
        out = _up(out, band.shape[-2:]).add_(normalized(band))
    return _unplanes(out, grad)


def _gaussian_1d(sigma: float, size: int, dtype, device) -> torch.Tensor:
    radius = max(1, math.ceil(min(3 * sigma, size - 1)))  # min first: a huge sigma is no int
    x = torch.arange(-radius, radius + 1, dtype=torch.float64)
    k = torch.exp(-0.5 * (x / sigma) ** 2)
    return (k / k.sum()).to(dtype=dtype, device=device)


def gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of (N, C, H, W) with standard deviation ``sigma`` pixels, edges
    mirrored (reflect); the kernel's radius is 3 sigma, capped by the image size."""
    p = x.contiguous()
    for dim in (2, 3):
        size = p.shape[dim]
        if size < 2:
            continue
        k = _gaussian_1d(sigma, size, x.dtype, x.device).tolist()
        r = (len(k) - 1) // 2
        q = F.pad(p, (0, 0, r, r) if dim == 2 else (r, r, 0, 0), mode="reflect")
        # A sum of shifted slices: elementwise passes that vectorize, 4x faster here than a
        # one-channel convolution with a 1-d kernel.
        acc = q.narrow(dim, 0, size) * k[0]
        for i in range(1, len(k)):
            acc.add_(q.narrow(dim, i, size), alpha=k[i])
        p = acc
    return p.contiguous(memory_format=torch.channels_last) if not x.is_contiguous() else p


def smooth_gradient(grad: torch.Tensor, sigma: float) -> torch.Tensor:
    """The mean of three Gaussian blurs of ``grad``, at ``sigma`` / 2, ``sigma`` and 2 ``sigma``
    (pytorch-deepdream's cascade smoothing): smooths fine noise and keeps some mid detail."""
    blurs = [gaussian_blur(grad, s) for s in (0.5 * sigma, sigma, 2.0 * sigma)]
    return (blurs[0] + blurs[1] + blurs[2]) / 3.0


# ITU-R BT.601 (JPEG's YCbCr, full range) on RGB in [0, 1].
_Y = (0.299, 0.587, 0.114)


def _chroma_offsets(rgb: torch.Tensor) -> torch.Tensor:
    """``rgb - Y`` per channel: what YCbCr's Cb and Cr encode, as RGB offsets from the luma."""
    w = torch.tensor(_Y, dtype=rgb.dtype, device=rgb.device).view(1, 3, 1, 1)
    return rgb - (rgb * w).sum(1, keepdim=True)


def keep_chroma(out: torch.Tensor, source: torch.Tensor) -> torch.Tensor:
    """``out``'s luma (BT.601 Y) with ``source``'s chroma (Cb, Cr), both RGB (N, 3, H, W) in [0, 1].

    Convention: with ``d = source - Y(source)`` (the chroma as RGB offsets), the result is
    ``Y' + d`` where ``Y'`` is ``out``'s luma clamped per pixel to the range that keeps
    ``Y' + d`` inside [0, 1]. So the result's chroma is exactly the source's (no clamp of R, G or B
    ever changes it), and only the brightness of the dream remains.
    """
    d = _chroma_offsets(source)
    w = torch.tensor(_Y, dtype=out.dtype, device=out.device).view(1, 3, 1, 1)
    y = (out * w).sum(1, keepdim=True)
    lo = (-d).amax(1, keepdim=True)
    hi = (1 - d).amin(1, keepdim=True)
    return torch.minimum(torch.maximum(y, lo), hi) + d


#: ``out``'s color variance counts as at least this share of its largest, and at least this
#: variance (two 8-bit levels' worth), in every direction: a picture of one hue or two tones
#: (stripes, a tinted texture, a rainbow swirl) has almost none across its plane (1e-6: its 8-bit
#: rounding), and scaling that up ~300x to the source's spread made the rounding a grain over the
#: whole picture (a dithered two-tone picture matched to a cat: 14 levels of grain, 3.5 now; the
#: tester's rainbow swirl: none left). A photo's weakest direction holds 0.07-1% of its largest (skimage's ihc to
#: coffee), above both: it is matched as before (within 0.25 of a level).
FLAT_SHARE, FLAT_VARIANCE = 1e-3, (2 / 255) ** 2


def match_colors(out: torch.Tensor, source: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """``out`` with its colors' mean and covariance made the source's, per sample (the linear
    color transfer of Gatys et al. 2017: ``x -> A (x - mu_out) + mu_src`` with
    ``A = C_src^1/2 C_out^-1/2``), clamped to [0, 1]; ``out``'s variance is taken as at least
    :data:`FLAT_SHARE` of its largest and :data:`FLAT_VARIANCE` in every direction."""
    n = out.shape[0]
    res = []
    for i in range(n):
        o, s = out[i].reshape(3, -1).double(), source[i].reshape(3, -1).double()
        mo, ms = o.mean(1, keepdim=True), s.mean(1, keepdim=True)
        if min(o.shape[1], s.shape[1]) < 2:  # one pixel has no covariance: match the mean only
            a = torch.eye(3, dtype=o.dtype, device=o.device)
        else:
            co = torch.cov(o) + eps * torch.eye(3, dtype=o.dtype, device=o.device)
            cs = torch.cov(s) + eps * torch.eye(3, dtype=o.dtype, device=o.device)
            flat = max(FLAT_SHARE * float(torch.linalg.eigvalsh(co)[-1]), FLAT_VARIANCE)
            a = _sqrtm(cs) @ torch.linalg.inv(_sqrtm(co, flat))
        res.append((a @ (o - mo) + ms).to(out.dtype).reshape(out.shape[1:]))
    return torch.stack(res).clamp_(0.0, 1.0)


def _sqrtm(c: torch.Tensor, floor: float = 0.0) -> torch.Tensor:
    w, v = torch.linalg.eigh(c)
    return (v * w.clamp_min(floor).sqrt()) @ v.T


def _catmull_rom(image: torch.Tensor, affine, padding: str) -> torch.Tensor:
    """Bicubic resampling with Keys' a = -0.5 (Catmull-Rom; grid_sample's bicubic is a = -0.75,
    which boosts mid frequencies and rings when frames are resampled from frames): 4x4 taps at
    ``floor(source) - 1 .. + 2``, each padded on its own (reflected, clamped, or read as 0), as
    grid_sample pads its taps. Source coordinates and weights in float64, the sum in float32
    (float64 for float64: float16's own sums were 4x less exact than the CUDA kernel), a band of
    rows at a time (a 2048 px picture took 700 MB at once); a coordinate that is not finite reads 0,
    a far one reads what the kernels read."""
    n, c, h, w = image.shape
    work = torch.float64 if image.dtype == torch.float64 else torch.float32
    flat = image.reshape(n, c, h * w).to(work)
    xs = torch.arange(w, dtype=torch.float64, device=image.device)
    bands = []
    rows = max(1, (1 << 18) // w)
    for top in range(0, h, rows):
        ys = torch.arange(top, min(top + rows, h), dtype=torch.float64, device=image.device)[:, None]
        ix, wx = _cubic_taps(affine[0] * xs + affine[1] * ys + affine[4], w, padding, work)
        iy, wy = _cubic_taps(affine[2] * xs + affine[3] * ys + affine[5], h, padding, work)
        band = flat.new_zeros(n, c, ys.shape[0] * w)
        for j in range(4):
            for k in range(4):
                taps = flat.index_select(2, (iy[j] * w + ix[k]).reshape(-1))
                band = band.add_(taps * (wy[j] * wx[k]).reshape(1, 1, -1))
        bands.append(band)
    return torch.cat(bands, 2).reshape(n, c, h, w).to(image.dtype)


def _cubic_taps(v: torch.Tensor, size: int, padding: str, dtype):
    """The 4 tap indices (valid pixels) and weights of the source coordinates ``v`` along one axis."""
    if padding == "reflect":  # (a far coordinate moves by whole periods of two spans, as the kernels)
        period = 2.0 * size
        far = torch.fmod(v, period)
        v = torch.where(v.abs() < 1e15, v, torch.where(far < 0, far + period, far))
    else:  # (past [-3, size + 2] every tap reads the edge, or nothing)
        v = v.clamp(-3.0, size + 2.0)
    bad = ~torch.isfinite(v)  # (an infinite or NaN coordinate: 0, as the kernels)
    v = torch.where(bad, torch.zeros_like(v), v)
    f = torch.floor(v)
    t = v - f  # (weights in float64, then the working dtype, as the kernels: the outer ones cancel)
    a = -0.5
    near = lambda x: ((a + 2) * x - (a + 3)) * x * x + 1
    far_ = lambda x: ((a * x - 5 * a) * x + 8 * a) * x - 4 * a
    weights = [(x * ~bad).to(dtype) for x in (far_(t + 1), near(t), near(1 - t), far_(2 - t))]
    index = []
    for k in range(4):
        i = f.long() - 1 + k
        inside = (i >= 0) & (i < size)
        if padding == "zeros":
            weights[k] = weights[k] * inside.to(dtype)
            i = i.clamp(0, size - 1)
        elif padding == "border":
            i = i.clamp(0, size - 1)
        else:  # mirrored about -0.5 and size - 0.5: a period of two spans
            r = torch.remainder(i, 2 * size)
            i = torch.where(r >= size, 2 * size - 1 - r, r)
        index.append(i)
    return index, weights
