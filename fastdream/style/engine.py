"""The style-transfer loop: octaves from small to full size, Adam on the image, exact tiles.

At each octave the targets are made once (the content's features, the blended Gram matrices of
the styles at this scale), then each step computes the loss and its gradient, over the whole
image in one piece or over exact tiles in two passes (:mod:`fastdream.style.tiles`), and Adam
updates the image, which is clamped to [0, 1]. The result is carried up to the next octave
(with a fresh optimizer).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from fastdream import driver, ops
from fastdream.ops.luma import luma
from fastdream.style import losses as L
from fastdream.style import regions as R
from fastdream.style.features import Features
from fastdream.style.tiles import Tile, tiles


def resize(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    shrink = size[0] < x.shape[-2] or size[1] < x.shape[-1]
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=shrink).clamp_(0, 1)


#: ``octaves=None``: up to this many octaves, as many as keep the smallest one's short side at
#: :data:`LEAST_OCTAVE_SIDE` px or more. Three octaves of a 96 px content began at 32 px, where the
#: style's strokes wiped out the face; one octave there kept it.
DEFAULT_OCTAVES, LEAST_OCTAVE_SIDE = 3, 64


def octave_count(octaves: int | None, h: int, w: int, scale: float) -> int:
    """``octaves``, or for None the default count for an ``h x w`` content.

    Examples:
        >>> [octave_count(None, s, s, 1.6) for s in (48, 96, 128, 170, 1024)], octave_count(5, 96, 96, 1.6)
        ([1, 1, 2, 3, 3], 5)
    """
    if octaves is not None:
        return octaves
    fits = 1 + max(0, math.floor(math.log(min(h, w) / LEAST_OCTAVE_SIDE) / math.log(scale))) if scale > 1 else 1
    return max(1, min(DEFAULT_OCTAVES, fits))


def octave_sizes(
    h: int, w: int, octaves: int, scale: float, stride: int, min_side: int | None = None, quiet: bool = False
) -> list[tuple[int, int]]:
    """Working sizes, smallest first, each a multiple of ``stride`` and at least ``min_side``
    (default: two strides; :attr:`Features.min_side` for the network at hand); ``quiet``: an
    octave left out is not warned about (the caller's transfer says it)."""
    min_side = 2 * stride if min_side is None else min_side
    if min(h, w) < min_side:
        raise ValueError(
            f"content: its working size {w}x{h} is below what the network needs ({min_side} px on the short "
            f"side for its stride of {stride}); give a larger content picture, or a larger size= / --size to enlarge it"
        )
    return driver.pyramid(h, w, octaves, scale, min_side=min_side, multiple=stride, name="style_transfer", quiet=quiet)


class Targets:
    """What one octave aims at: the content's features, the style regions (each a target Gram
    matrix per layer, and where it applies: :mod:`fastdream.style.regions`), and for a video frame
    the temporal target: ``(picture, valid, weight)``, the previous styled frame moved onto this
    one, the pixels where that is trustworthy (1, 1, h, w), and the term's weight."""

    def __init__(self, feats: Features, content01, regions, style_layers, content_layers, tile_size, temporal=None):
        self.feats, self.tile_size = feats, tile_size
        self.style_layers, self.content_layers = style_layers, content_layers
        self.content = assemble(feats, content01, content_layers, tile_size)
        self.content_norm = {k: float(v.double().square().sum()) for k, v in self.content.items()}
        self.regions = [r for r in regions if r.weight > 0]
        self.temporal = temporal


def style_regions(feats: Features, styles01, style_weights, style_layers, tile_size, masks=None) -> list:
    """The regions of :class:`Targets` for styles at their working size: see
    :func:`fastdream.style.regions.build` (``masks`` at the octave's size, or None)."""
    gs = [grams(feats, s, style_layers, tile_size) for s in styles01]
    return R.build(gs, style_weights, masks, feats.strides)


def _tile_feats(feats: Features, x01, t: Tile) -> dict:
    return feats(x01[..., t.ty0 : t.ty1, t.tx0 : t.tx1])


@torch.no_grad()
def grams(feats: Features, x01, layers, tile_size) -> dict:
    """The Gram matrix of each of ``layers`` over the whole image ``x01``, summed tile by tile."""
    sums, count = dict.fromkeys(layers, 0.0), dict.fromkeys(layers, 0)
    for t in tiles(tuple(x01.shape[-2:]), tile_size, feats.halo, feats.stride, feats.min_side):
        f = _tile_feats(feats, x01, t)
        for k in layers:
            core = t.core_of(f[k], feats.strides[k])
            sums[k] = sums[k] + L.gram_sum(core)
            count[k] += L.positions(core)
    return {k: sums[k] / count[k] for k in layers}


@torch.no_grad()
def style_distance(feats: Features, x01, style01, layers, mask=None, style_scale: float = 1.0) -> float:
    """How far ``x01``'s style is from ``style01``'s: the style loss (the relative Gram error,
    averaged over ``layers``) at ``x01``'s size (a multiple of the network's stride), inside
    ``mask`` ((1, 1, h, w) at that size) when given; the style at its working size for it.

    Examples:
        >>> import torch
        >>> from fastdream.style import StyleOptions, Stylizer
        >>> o, gen = StyleOptions.create(1), torch.Generator().manual_seed(0)
        >>> x, style = torch.rand(1, 3, 64, 64, generator=gen), torch.rand(1, 3, 64, 64, generator=gen)
        >>> with Stylizer([style], o, torch.device("cpu")) as st:
        ...     far, near = (style_distance(st.feats, p, style, o.style_layers) for p in (x.mul(0.5), style))
        >>> near < 1e-6 < far
        True
    """
    hw = tuple(x01.shape[-2:])
    target = grams(
        feats, resize(style01, style_size(style01, hw, style_scale, feats.stride, feats.min_side)), layers, None
    )
    region = R.build([target], (1.0,), None if mask is None else [mask], feats.strides)[0]
    f = feats(x01)
    return sum(float(_whole_style(f[k], region, k)) for k in layers) / len(layers)


@torch.no_grad()
def assemble(feats: Features, x01, layers, tile_size) -> dict:
    """The whole-image features of ``layers``, assembled from the tiles' cores."""
    h, w = x01.shape[-2:]
    out = {}
    for t in tiles((h, w), tile_size, feats.halo, feats.stride, feats.min_side):
        f = _tile_feats(feats, x01, t)
        for k in layers:
            s = feats.strides[k]
            if k not in out:
                out[k] = f[k].new_zeros(1, f[k].shape[1], h // s, w // s)
            ys, xs = t.core_box(s)
            out[k][..., ys, xs] = t.core_of(f[k], s)
    return out


def loss_and_grad(x01: torch.Tensor, tg: Targets, weights: dict) -> tuple[float, dict, torch.Tensor]:
    """The total loss at ``x01``, its parts, and its gradient w.r.t. ``x01``: in one piece when one
    tile covers the image, else in two exact passes over the tiles."""
    feats = tg.feats
    ts = tiles(tuple(x01.shape[-2:]), tg.tile_size, feats.halo, feats.stride, feats.min_side)
    ns, nc = len(tg.style_layers), len(tg.content_layers)
    sw, cw = weights["style"] / max(ns, 1), weights["content"] / max(nc, 1)
    with torch.enable_grad():
        x = x01.detach().requires_grad_(True)
        tv = L.tv_loss(x)
        (grad,) = torch.autograd.grad(weights["tv"] * tv, x) if weights["tv"] else (torch.zeros_like(x),)
    lt, tw = _temporal(x01, tg.temporal, grad)
    if len(ts) == 1:
        with torch.enable_grad():
            f = feats(x)
            ls = sum(r.weight * sum(_whole_style(f[k], r, k) for k in tg.style_layers) for r in tg.regions)
            lc = sum(L.content_loss_sum(f[k], tg.content[k], tg.content_norm[k]) for k in tg.content_layers)
            total = sw * ls + cw * lc
            (g,) = torch.autograd.grad(total, x) if torch.is_tensor(total) and total.requires_grad else (None,)
        ls, lc, total, tv = (float(v.detach()) if torch.is_tensor(v) else float(v) for v in (ls, lc, total, tv))
        parts = dict(style=ls / max(ns, 1), content=lc / max(nc, 1), tv=tv, temporal=lt)
        return total + weights["tv"] * tv + tw * lt, parts, grad if g is None else grad.add_(g)
    # pass 1: each region's Gram matrices over the whole image, and the content loss
    sums = [dict.fromkeys(tg.style_layers, 0.0) for _ in tg.regions]
    count = [dict.fromkeys(tg.style_layers, 0) for _ in tg.regions]
    lc = 0.0
    with torch.no_grad():
        for t in ts:
            f = _tile_feats(feats, x01, t)
            for k in tg.style_layers:
                s = feats.strides[k]
                core, box = t.core_of(f[k], s), t.core_box(s)
                for i, r in enumerate(tg.regions):
                    sums[i][k] = sums[i][k] + L.gram_sum(core, r.cut(k, box))
                    count[i][k] += L.mass(core, r.cut(k, box))
            lc += float(sum(_content_part(t, f, tg, k) for k in tg.content_layers))
    # the loss, d loss / d (Gram sum) per region and layer, then pass 2: each tile's part backpropagated
    ls, dsum = 0.0, []
    for r, sr, cr in zip(tg.regions, sums, count):
        gram = {k: sr[k] / cr[k] for k in tg.style_layers if cr[k] > 0}
        ls += r.weight * sum(float(L.style_loss(gram[k], r.grams[k])) for k in gram)
        dsum.append({k: sw * r.weight * L.style_loss_grad(gram[k], r.grams[k]) / cr[k] for k in gram})
    for t in ts:
        with torch.enable_grad():
            xt = x01[..., t.ty0 : t.ty1, t.tx0 : t.tx1].detach().requires_grad_(True)
            f = feats(xt)
            part = 0.0
            for r, d in zip(tg.regions, dsum):
                for k in d:
                    s = feats.strides[k]
                    part = part + (d[k] * L.gram_sum(t.core_of(f[k], s), r.cut(k, t.core_box(s)))).sum()
            part = part + cw * sum(_content_part(t, f, tg, k) for k in tg.content_layers)
            (g,) = torch.autograd.grad(part, xt)
        grad[..., t.ty0 : t.ty1, t.tx0 : t.tx1] += g
    tv = float(tv.detach())
    parts = dict(style=ls / max(ns, 1), content=lc / max(nc, 1), tv=tv, temporal=lt)
    return sw * ls + cw * lc + weights["tv"] * tv + tw * lt, parts, grad


def _whole_style(f: torch.Tensor, r, k: str):
    """A region's style loss at layer ``k`` from the whole image's features ``f`` (0 for a region
    that has no weight at this layer's resolution)."""
    m = r.cut(k)
    n = L.mass(f, m)
    return L.style_loss(L.gram_sum(f, m) / n, r.grams[k]) if n > 0 else 0.0


def _temporal(x01: torch.Tensor, temporal, grad: torch.Tensor) -> tuple[float, float]:
    """The temporal term (Ruder et al. 2016): the mean squared difference, over the valid pixels
    and the channels, from the previous styled frame moved onto this one; its gradient is added
    to ``grad``. Returns (the term, its weight)."""
    if temporal is None:
        return 0.0, 0.0
    target, valid, weight = temporal
    n = x01.shape[1] * float(valid.sum())
    if n == 0 or weight == 0:
        return 0.0, 0.0
    d = (x01 - target) * valid
    grad.add_(d, alpha=2.0 * weight / n)
    return float((d * (x01 - target)).sum()) / n, weight


def _content_part(t: Tile, f: dict, tg: Targets, k: str):
    s = tg.feats.strides[k]
    ys, xs = t.core_box(s)
    return L.content_loss_sum(t.core_of(f[k], s), tg.content[k][..., ys, xs], tg.content_norm[k])


class Transfer:
    """Style transfer as a :class:`fastdream.driver.Job`: Adam on the image at each octave.

    ``regions(hw)`` gives the style regions at an octave's working size. ``init``: start from this
    picture instead (then only the full-size octave runs: a video frame from the previous one);
    ``temporal``: the temporal target of :class:`Targets`, at the full working size.
    """

    def __init__(self, content01, regions, o, feats: Features, restore, *, init=None, temporal=None):
        self.content01, self.regions, self.o, self.feats, self.restore = content01, regions, o, feats, restore
        self.init, self.temporal = init, temporal
        self.weights = dict(style=o.style_weight, content=o.content_weight, tv=o.tv_weight)
        self.x, self.out_size = None, None

    def begin(self, octave: int, hw: tuple[int, int], gen: torch.Generator) -> None:
        o, feats = self.o, self.feats
        c = resize(self.content01, hw)
        temporal = self.temporal if self.temporal is not None and self.temporal[0].shape[-2:] == hw else None
        self.tg = Targets(feats, c, self.regions(hw), o.style_layers, o.content_layers, o.tile_size, temporal)
        if self.x is None and self.init is not None:
            self.x = resize(self.init, hw).clone()
        elif self.x is None:
            self.x = c.clone() if o.init == "content" else torch.rand(c.shape, generator=gen).to(c)
        else:
            self.x = resize(self.x.detach(), hw).contiguous()
        # A fresh Adam per octave: carrying its moments up (resized) ended higher in 2 of 3
        # measured pairs (bench/RESULTS.md, "Style transfer").
        self.x.requires_grad_(True)
        self.opt = torch.optim.Adam([self.x], lr=o.lr)

    def step(self, gen: torch.Generator) -> float:
        loss, _, g = loss_and_grad(self.x.detach(), self.tg, self.weights)
        self.x.grad = g
        self.opt.step()
        with torch.no_grad():
            self.x.clamp_(0.0, 1.0)
        return loss

    def end(self) -> None:
        del self.opt, self.tg

    def picture(self):
        """The picture so far in the output's proportions (its working size is rounded to the
        network's stride: 256x176 for a 256x170 content, whose Ctrl-C picture came out stretched)."""
        x = self.x.detach().clone()
        if self.out_size is not None:
            s = max(x.shape[-2:]) / max(self.out_size)
            hw = tuple(max(1, round(v * s)) for v in self.out_size)
            x = x if hw == tuple(x.shape[-2:]) else resize(x, hw)
        return self.restore(x)


def run(job: Transfer, size: tuple[int, int], progress: bool, callback=None) -> torch.Tensor:
    """Optimizes the image at each octave (the full-size one only when the job starts from a
    picture); returns it (1, 3, h, w) in [0, 1] at the top octave's size."""
    o = job.o
    quiet = job.init is not None  # (only the full-size octave runs: none left out to speak of)
    octaves = octave_count(o.octaves, *size, o.octave_scale)
    sizes = octave_sizes(*size, octaves, o.octave_scale, job.feats.stride, job.feats.min_side, quiet=quiet)
    if job.init is not None:
        sizes = sizes[-1:]
    job.out_size = tuple(size)
    driver.drive(job, sizes, o.steps, seed=o.seed, progress=progress, callback=callback, desc="style")
    return job.x.detach()


def style_size(style01, hw, scale: float, stride: int, min_side: int | None = None) -> tuple[int, int]:
    """A style image's working size: its long side ``scale`` times the octave's long side, each
    side a multiple of ``stride`` and at least ``min_side`` (default: two strides)."""
    sh, sw = style01.shape[-2:]
    k = scale * max(hw) / max(sh, sw)
    least = 2 * stride if min_side is None else min_side
    return max(least, stride * round(sh * k / stride)), max(least, stride * round(sw * k / stride))


def luminance_only(content01, styles01):
    """Content and styles as gray RGB (BT.601 luma), each style's luma given the content's mean and
    std: the luminance-only transfer of Gatys et al. 2017, for ``preserve_colors``."""
    cy = luma(content01)
    out = []
    for s in styles01:
        sy = luma(s)
        sy = ((sy - sy.mean()) / (sy.std() + 1e-6) * cy.std() + cy.mean()).clamp(0, 1)
        out.append(sy.expand(-1, 3, -1, -1).contiguous())
    return cy.expand(-1, 3, -1, -1).contiguous(), out


def matched_colors(content01, styles01):
    """Each style with its colors' mean and covariance made the content's (``color_match``)."""
    return [ops.match_colors(s, content01) for s in styles01]
