"""Dreams of huge images in bounded memory: what a step needs at full size, in the smallest type
that is exact enough, and everything else a band of rows at a time.

Kept at full size (per pixel, 3 channels): the input as it came (uint8: 3 bytes), the dreamed
detail in float16 (6 bytes: the detail is small, |d| < 1 or so in model units, where float16 is
exact to ~5e-4, a sixteenth of an 8-bit level), the gradient in bfloat16 (6 bytes: float32's range,
which the raw gradient needs, values as small as 1e-10 occur; 3 significant digits, plenty for a
direction that is normalized anyway) and the 8-bit output (3 bytes). The model input
``base + detail`` exists only for the row of tiles in the network; the blend of the tiles' gradients
is summed in float32 over a window of one tile's height and written once per pixel, its statistics
(for the std normalization) accumulated in float64 on the way; the update, the octave upsampling
and the output are computed band by band. bench/RESULTS.md has the peak memory per pixel and how
far the result is from the float32 path's.
"""

from __future__ import annotations

import dataclasses

import torch
import torch.nn.functional as F

from fastdream import _malloc, driver, io, ops
from fastdream._warnings import warn
from fastdream.dream import engine
from fastdream.dream.context import Context
from fastdream.dream.engine import TILE_BATCH_PIXELS, pyramid
from fastdream.dream.options import EMPTY_MASK, DreamOptions
from fastdream.io.pixels import Pixels
from fastdream.models.modes import Frozen

#: Images with more pixels than this (per sample) dream in low memory unless told otherwise.
LOW_MEMORY_PIXELS = 4096 * 4096
#: Pixels per band of rows in the elementwise passes (update, upsampling, output).
BAND_PIXELS = 1 << 21
#: Tile side when the caller asked for no tiling: the network never sees the whole huge image.
DEFAULT_TILE = 512
#: Storage of the full-size detail and gradient (float32 for both gives the float32 path's
#: result up to summation order: tests/test_huge.py).
DETAIL_DTYPE = torch.float16
GRAD_DTYPE = torch.bfloat16

__all__ = ["LOW_MEMORY_PIXELS", "HugeDream", "run", "unsupported", "upsample", "wanted"]


def unsupported(o: DreamOptions) -> str | None:
    """Why the low-memory path cannot dream with ``o`` (None: it can)."""
    if o.norm == "laplacian":
        return "norm='laplacian' needs the whole gradient in float32"
    if o.smooth:
        return "smooth=SIGMA needs the whole gradient in float32"
    if o.color_match:
        return "color_match needs the whole result in float32 (preserve_colors works per pixel and is supported)"
    return None


def wanted(o: DreamOptions, image) -> bool:
    """Whether ``dream`` takes the low-memory path for ``image`` with options ``o``."""
    if o.low_memory is False:
        return False
    reason = unsupported(o)
    if o.low_memory:
        if reason:
            raise ValueError(f"low_memory: {reason}; pass low_memory=False (or None) with it")
        return True
    shape = io.image_shape(image)  # (a file's header: nothing decoded)
    big = shape is not None and shape[1] * shape[2] > LOW_MEMORY_PIXELS
    if big and reason:  # (it was taken in silence, at 4-5 times the memory)
        warn(f"dream: a picture over 4096x4096 takes the float32 path, not the low-memory one: {reason}")
    return reason is None and big


def _band(width: int) -> int:
    return max(1, BAND_PIXELS // max(1, width))


def _bands(height: int, width: int, device):
    step = _band(width)
    for y0 in range(0, height, step):
        yield torch.arange(y0, min(height, y0 + step), device=device)


class _Base:
    """The octave's base image in model units, handed out by rows: the input itself at full
    size, an (8-bit, for 8-bit input) antialiased copy at the smaller octaves."""

    def __init__(self, px: Pixels, size, mean, std, device):
        self.mean, self.std, self.device = mean, std, device
        self.px = px if size == px.size else None
        if self.px is None:
            rgb = px.data[..., :3] if px.c >= 3 else px.data[..., :1].expand(-1, -1, -1, 3)
            small = F.interpolate(
                rgb.permute(0, 3, 1, 2), size=size, mode="bilinear", align_corners=False, antialias=True
            )
            self.small = small.permute(0, 2, 3, 1).contiguous()  # (N, h, w, 3), the input's dtype

    def rows(self, idx: torch.Tensor) -> torch.Tensor:
        """(N, 3, len(idx), W) float32, channels_last."""
        if self.px is not None:
            x01 = self.px.rgb(idx, self.device)
        else:
            t = self.small.index_select(1, idx.to(self.small.device)).to(self.device)
            x01 = (io.from_uint8(t) if t.dtype == torch.uint8 else t.float()).permute(0, 3, 1, 2)
        return ((x01 - self.mean) / self.std).contiguous(memory_format=torch.channels_last)


def _nchw(t: torch.Tensor) -> torch.Tensor:
    return t.permute(0, 3, 1, 2)


def _nhwc(t: torch.Tensor) -> torch.Tensor:
    return t.permute(0, 2, 3, 1)


class _Context(Context):
    """The objectives' context over the banded image: tiles come a row of tiles at a time."""

    def at_bands(self, base: _Base, detail: torch.Tensor, grid, batch: int) -> _Context:
        self.base, self.detail = base, detail
        return self.at(None, grid, batch)

    def tile_chunks(self):
        for y in self.grid.ys:
            x = _strip(self.base, self.detail, y, self.grid.tile_h, 0)
            yield from ops.extract_tiles(x, _row_grid(self.grid, 0), roll=(0, 0)).split(self.batch)


def _row_grid(grid, r: int):
    """The grid of tile row ``r`` alone, over a strip of the tiles' height."""
    return dataclasses.replace(grid, size=(grid.tile_h, grid.size[1]), ys=(0,), weight_y=grid.weight_y[r : r + 1])


def _strip(base: _Base, detail: torch.Tensor, y: int, th: int, dy: int) -> torch.Tensor:
    """Rows ``y .. y + th`` of the image rolled down by ``dy``: (N, 3, th, W) model units."""
    h = detail.shape[1]
    idx = (torch.arange(y, y + th, device=detail.device) - dy) % h
    x = base.rows(idx)
    return x.add_(_nchw(detail.index_select(1, idx)).float())


def _gradient(base, detail, grad, taps, objective, grid, roll, batch):
    """Writes the blended gradient into ``grad`` (N, H, W, 3 bfloat16); returns its per-sample
    sum, sum of squares and sum of absolute values (float64), non-finite entries counted as 0,
    and the objective's sum over the tiles."""
    n, h = detail.shape[:2]
    dy, dx = roll
    sums = [torch.zeros(n, dtype=torch.float64, device=detail.device) for _ in range(3)]

    def flush(start: int, rows: torch.Tensor) -> None:
        rows = torch.nan_to_num(rows, nan=0.0, posinf=0.0, neginf=0.0)
        flat = rows.reshape(n, -1)
        sums[0].add_(flat.sum(1, dtype=torch.float64))
        sums[1].add_(flat.square().sum(1, dtype=torch.float64))
        sums[2].add_(flat.abs().sum(1, dtype=torch.float64))
        idx = (torch.arange(start, start + rows.shape[1], device=detail.device) - dy) % h
        grad.index_copy_(1, idx, rows.to(grad.dtype))

    total = torch.zeros((), dtype=torch.float32, device=detail.device)
    window, w0 = None, 0  # float32 sums of rolled rows w0 .. w0 + tile_h, not yet final
    for r, y in enumerate(grid.ys):
        x = _strip(base, detail, y, grid.tile_h, dy)
        row = _row_grid(grid, r)
        g, value = engine.gradient(x, taps, objective, row, (0, dx), batch)
        strip, total = _nhwc(g).contiguous(), total + value
        del x, g
        if window is not None:
            done = y - w0  # rolled rows before this tile row's top get nothing more: final
            flush(w0, window[:, :done])
            rest = window[:, done:]
            strip[:, : rest.shape[1]] += rest
        window, w0 = strip, y
    flush(w0, window)
    return tuple(sums), total


def _update(base, detail, grad, stat, o: DreamOptions, clamp, mask) -> None:
    """``detail`` such that ``base + detail`` took the step (clamped), band by band: the one
    ascent step, :func:`fastdream.ops.ascent_step_`, given the whole gradient's statistic."""
    h, w = detail.shape[1:3]
    for idx in _bands(h, w, detail.device):
        rows = slice(int(idx[0]), int(idx[-1]) + 1)
        b = base.rows(idx)
        x = b + _nchw(detail[:, rows]).float()
        m = None if mask is None else io.from_uint8(mask[:, rows].to(x.device))
        ops.ascent_step_(x, _nchw(grad[:, rows]).float(), o.step_size, norm=o.norm, clamp=clamp, mask=m, stat=stat)
        detail[:, rows] = _nhwc(x - b).to(detail.dtype)


def _stat(sums, count: int, norm: str) -> torch.Tensor:
    s1, s2, sabs = sums
    if norm == "mean_abs":
        return sabs / count
    var = (s2 - s1 * s1 / count) / max(1, count - 1)
    return var.clamp_min(0).sqrt()


def upsample(detail: torch.Tensor, size) -> torch.Tensor:
    """Bilinear resize of (N, h, w, C) ``detail`` to ``size = (H, W)``, band by band, exactly as
    ``F.interpolate(..., mode="bilinear", align_corners=False)`` would (float32 inside).

    Examples:
        >>> import torch, torch.nn.functional as F
        >>> d = torch.randn(1, 7, 9, 3, generator=torch.Generator().manual_seed(0))
        >>> ref = F.interpolate(d.permute(0, 3, 1, 2), size=(10, 13), mode="bilinear", align_corners=False)
        >>> bool(torch.allclose(upsample(d, (10, 13)), ref.permute(0, 2, 3, 1), atol=1e-5))
        True
    """
    n, h, w, c = detail.shape
    big_h, big_w = size
    dev = detail.device

    def axis(out: int, inp: int):
        src = ((torch.arange(out, device=dev, dtype=torch.float64) + 0.5) * (inp / out) - 0.5).clamp_min(0)
        i0 = src.floor().long().clamp_max(inp - 1)
        return i0, (i0 + 1).clamp_max(inp - 1), (src - i0).float()

    y0, y1, wy = axis(big_h, h)
    x0, x1, wx = axis(big_w, w)
    out = _full((n, big_h, big_w, c), detail.dtype, dev)
    for idx in _bands(big_h, big_w, dev):
        a = detail.index_select(1, y0[idx]).float()
        b = detail.index_select(1, y1[idx]).float()
        rows = a.add_((b - a).mul_(wy[idx].view(1, -1, 1, 1)))
        left, right = rows.index_select(2, x0), rows.index_select(2, x1)
        out[:, idx[0] : idx[-1] + 1] = left.add_((right - left).mul_(wx.view(1, 1, -1, 1))).to(detail.dtype)
    return out


def _full(shape, dtype, device) -> torch.Tensor:
    """A full-size buffer: on the CPU in its own memory map, so it leaves when freed."""
    if device.type == "cpu":
        return _malloc.mapped_empty(shape, dtype)
    return torch.empty(shape, dtype=dtype, device=device)


def _mask_u8(mask, size) -> torch.Tensor:
    m = io.load_mask(mask, size, empty=EMPTY_MASK)[0]  # (1, H, W) float in [0, 1]
    return io.quantize(m).to(torch.uint8)


def _resize_u8(m: torch.Tensor, size) -> torch.Tensor:
    if tuple(m.shape[-2:]) == tuple(size):
        return m
    shrink = size[0] < m.shape[-2] or size[1] < m.shape[-1]
    return F.interpolate(m[None], size=size, mode="bilinear", align_corners=False, antialias=shrink)[0]


class HugeDream:
    """The low-memory dream as a :class:`fastdream.driver.Job` (see the module docstring)."""

    def __init__(self, image, o: DreamOptions):
        reason = unsupported(o)
        if reason:
            raise ValueError(f"low_memory: {reason}")
        self.o, self.px = o, Pixels.of(image)
        self.nw = nw = engine.network(image, o)
        h, w = self.px.size
        self.mask = None if o.mask is None else _mask_u8(o.mask, (h, w))
        self.sizes = pyramid(h, w, o.octaves, o.octave_scale, nw.net)
        self.budget = TILE_BATCH_PIXELS.get(nw.device.type, TILE_BATCH_PIXELS["cpu"])
        self.tile = o.tile_size if o.tile_size is not None else DEFAULT_TILE
        self.ctx = _Context(nw.net, nw.taps, nw.device, (nw.mean, nw.std), guide_side=min(self.tile, max(h, w)))
        self.detail = None

    def begin(self, octave: int, size: tuple[int, int], gen: torch.Generator) -> None:
        nw, dev = self.nw, self.nw.device
        self.size, self.base = size, _Base(self.px, size, nw.mean, nw.std, dev)
        self.mask_o = None if self.mask is None else _resize_u8(self.mask, size)
        if self.detail is None:
            self.detail = _full((self.px.n, *size, 3), DETAIL_DTYPE, dev).zero_()
        else:
            self.detail = upsample(self.detail, size)
            if self.mask_o is not None:  # no resampling bleed into masked-out pixels
                self.detail.mul_((self.mask_o > 0).to(dev)[..., None])
        self.grid = engine.tile_grid(size, self.tile, nw.net)
        self.batch = self.o.tile_batch or max(1, self.budget // (self.grid.tile_h * self.grid.tile_w))
        nw.objective.prepare(self.ctx.at_bands(self.base, self.detail, self.grid, self.batch))
        self.grad = _full((self.px.n, *size, 3), GRAD_DTYPE, dev)

    def step(self, gen: torch.Generator) -> torch.Tensor:
        dy, dx = engine.jitter(self.o, gen)
        roll = (dy % self.size[0], dx % self.size[1])
        nw, h, w = self.nw, *self.size
        sums, total = _gradient(self.base, self.detail, self.grad, nw.taps, nw.objective, self.grid, roll, self.batch)
        _update(self.base, self.detail, self.grad, _stat(sums, 3 * h * w, self.o.norm), self.o, nw.clamp, self.mask_o)
        return total / (self.px.n * self.grid.count)

    def end(self) -> None:
        del self.grad, self.base

    def picture(self):
        """The whole current picture in float32 (asked for a preview: it costs ~12 bytes a pixel)."""
        idx = torch.arange(self.size[0], device=self.detail.device)
        x01 = (self.base.rows(idx) + _nchw(self.detail).float()) * self.nw.std + self.nw.mean
        return self.px.restore_resized(x01.clamp_(0.0, 1.0))

    def result(self):
        """The dreamed image at full size, written band by band into the input's kind."""
        px, nw, dev, mask = self.px, self.nw, self.nw.device, self.mask
        h, w = px.size
        for idx in _bands(h, w, dev):
            x01 = px.rgb(idx, dev)
            out = (x01 + _nchw(self.detail[:, idx[0] : idx[-1] + 1]).float() * nw.std).clamp_(0.0, 1.0)
            if self.o.preserve_colors:
                out = ops.keep_chroma(out, x01)
            if mask is not None:
                out = torch.where(mask[:, idx[0] : idx[-1] + 1].to(dev)[:, None] > 0, out, x01)
            px.write(idx, out)
        self.detail = None
        return px.result()


@torch.no_grad()
def run(image, o: DreamOptions, *, progress: bool = False, callback=None):
    """Dreams ``image`` with the checked options ``o`` in bounded memory (see the module docstring);
    the same steps as :func:`fastdream.dream.engine.run`, the same kind of result."""
    job = HugeDream(image, o)
    with Frozen(job.nw.net):
        driver.drive(job, job.sizes, o.steps, seed=o.seed, progress=progress, callback=callback)
    return job.result()
