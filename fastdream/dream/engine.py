"""The dream loop: octaves, tiles, the gradient and the fused ascent step.

Per step: a random circular jitter, a forward pass to the deepest tapped layer only, the objective,
the gradient w.r.t. the image, optional shaping of the whole gradient (Laplacian normalization,
smoothing), then :func:`fastdream.ops.ascent_step_` (normalize + step + clamp, fused). Octaves
dream from a small copy of the image up to full size, carrying the dreamed detail up each time.
Big images are cut into overlapping tiles, batched through the network, and their gradients
blended back with weights that sum to 1 before anything looks at the whole gradient: no seams,
and memory bounded by the tile batch.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from fastdream import _malloc, io, ops
from fastdream.dream.context import Context
from fastdream.dream.options import DreamOptions
from fastdream.models.build import DEFAULT_LAYERS, dream_net
from fastdream.models.taps import Frozen, LayerTaps, input_convention
from fastdream.objectives import Objective, describe, from_layers, parse_layers

#: The smallest octave is at least this many pixels on its short side; fewer octaves are used
#: (with a warning) rather than feeding the network an image it cannot see anything in.
MIN_OCTAVE_SIDE = 32
#: Pixels of tiles pushed through the network at once: bounds the activation memory.
TILE_BATCH_PIXELS = {"cpu": 2 * 512 * 512, "cuda": 16 * 512 * 512}


def pyramid(h: int, w: int, octaves: int, scale: float) -> list[tuple[int, int]]:
    """Octave sizes, smallest first; drops octaves whose short side would be under MIN_OCTAVE_SIDE."""
    sizes = [(max(1, round(h / scale**i)), max(1, round(w / scale**i))) for i in range(octaves)]
    keep = [s for i, s in enumerate(sizes) if i == 0 or min(s) >= MIN_OCTAVE_SIDE]
    if len(keep) < octaves:
        warnings.warn(
            f"dream: {octaves} octaves at scale {scale} would shrink the {w}x{h} image below {MIN_OCTAVE_SIDE} px; "
            f"using {len(keep)} octave(s)",
            UserWarning,
            stacklevel=4,
        )
    return keep[::-1]


def build_objective(o: DreamOptions) -> Objective:
    """The objective of a dream: the expression given, a callable over ``layers``, or the sum
    of the ``layers`` specs' terms (``l2``/``mean``, or the guide match with ``guide=``)."""
    if isinstance(o.objective, Objective):
        return o.objective
    specs = o.layers if o.layers is not None else parse_layers(list(DEFAULT_LAYERS))
    if callable(o.objective) and not isinstance(o.objective, str):
        fn = o.objective
        return Objective(lambda acts: _per_sample_values(fn(acts), acts), [s.layer for s in specs], describe(fn))
    return from_layers(specs, o.objective, guide_image=o.guide)


def _per_sample_values(v, acts) -> torch.Tensor:
    n = next(iter(acts.values())).shape[0]
    if not isinstance(v, torch.Tensor) or v.shape != (n,):
        got = tuple(v.shape) if isinstance(v, torch.Tensor) else type(v).__name__
        raise ValueError(
            f"objective: a callable objective must return one value per sample, a tensor of shape ({n},), got {got}"
        )
    return v


def gradient(x, taps: LayerTaps, objective: Objective, grid, roll, tile_batch):
    """Gradient of the objective w.r.t. ``x`` (N, 3, h, w), computed tile by tile and blended."""
    tiles = ops.extract_tiles(x, grid, roll=roll)
    grads = []
    with torch.enable_grad():
        for chunk in tiles.split(tile_batch):
            t = chunk.detach().requires_grad_(True)
            acts = dict(zip(taps.layers, taps(t)))
            (g,) = torch.autograd.grad(objective(acts).sum(), t)
            grads.append(g)
    g = grads[0] if len(grads) == 1 else torch.cat(grads)
    return ops.blend_tiles(g, grid, roll=roll)


def shape_gradient(g: torch.Tensor, o: DreamOptions) -> torch.Tensor:
    """The whole blended gradient smoothed and/or Laplacian-normalized, as the options ask."""
    if o.smooth:
        g = ops.smooth_gradient(g, o.smooth)
    if o.norm == "laplacian":
        g = ops.laplacian_normalize(g, o.lap_levels)
    return g


def resize(t: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    if tuple(t.shape[-2:]) == tuple(size):
        return t
    shrink = size[0] < t.shape[-2] or size[1] < t.shape[-1]
    out = F.interpolate(t, size=size, mode="bilinear", align_corners=False, antialias=shrink)
    return out.contiguous(memory_format=torch.channels_last)


def finish_colors(out01: torch.Tensor, x01: torch.Tensor, o: DreamOptions) -> torch.Tensor:
    if o.preserve_colors:
        return ops.keep_chroma(out01, x01)
    if o.color_match:
        return ops.match_colors(out01, x01)
    return out01


@dataclass
class Network:
    """What a dream runs on: the device, the objective, the built network and its taps, and the
    input convention (``mean``/``std`` as (1, 3, 1, 1) tensors, ``clamp``: [0, 1] in model units)."""

    device: torch.device
    objective: Objective
    net: torch.nn.Module
    taps: LayerTaps
    mean: torch.Tensor
    std: torch.Tensor
    clamp: tuple[float, float]


def network(image, o: DreamOptions) -> Network:
    """The :class:`Network` of a dream of ``image`` with options ``o`` (also the low-memory path's)."""
    dev = o.resolve_device(image)
    if dev.type == "cpu":
        _malloc.tune()
    objective = build_objective(o)
    net = dream_net(o.model, objective.layers, dev)
    mean_, std_ = input_convention(net)
    mean = torch.tensor(mean_, device=dev).view(1, 3, 1, 1)
    std = torch.tensor(std_, device=dev).view(1, 3, 1, 1)
    clamp = (min((0 - a) / b for a, b in zip(mean_, std_)), max((1 - a) / b for a, b in zip(mean_, std_)))
    return Network(dev, objective, net, LayerTaps(net, objective.layers), mean, std, clamp)


@torch.no_grad()
def run(image, o: DreamOptions, *, progress: bool = False):
    """Dreams ``image`` with the checked options ``o``: the body of :func:`fastdream.dream`."""
    loaded = io.load(image)
    nw = network(image, o)
    dev, objective, net, taps, mean, std = nw.device, nw.objective, nw.net, nw.taps, nw.mean, nw.std
    lo, hi = nw.clamp

    x01 = loaded.rgb.to(dev)
    n, _, h, w = x01.shape
    m = None if o.mask is None else io.load_mask(o.mask, (h, w)).to(dev)
    base = ((x01 - mean) / std).contiguous(memory_format=torch.channels_last)

    sizes = pyramid(h, w, o.octaves, o.octave_scale)
    gen = torch.Generator().manual_seed(o.seed if o.seed is not None else int(torch.seed() % 2**63))
    budget = TILE_BATCH_PIXELS.get(dev.type, TILE_BATCH_PIXELS["cpu"])
    ctx = Context(net, taps, dev, (mean, std), guide_side=min(o.tile_size or max(h, w), max(h, w)))
    norm = "std" if o.norm == "laplacian" else o.norm  # the Laplacian bands are normalized already
    detail = None
    bar = tqdm(total=len(sizes) * o.steps, disable=not progress, desc="dream", unit="step", leave=False)
    try:
        with Frozen(net):
            for size in sizes:
                base_o = resize(base, size)
                mask_o = None if m is None else resize(m, size).contiguous()
                x = base_o.clone() if detail is None else base_o + resize(detail, size)
                if mask_o is not None and detail is not None:
                    x = torch.where(mask_o > 0, x, base_o)  # no resampling bleed into masked-out pixels
                grid = ops.tile_grid(size, o.tile_size if o.tile_size is not None else max(size))
                batch = o.tile_batch or max(1, budget // (grid.tile_h * grid.tile_w))
                objective.prepare(ctx.at(x, grid, batch))
                for _ in range(o.steps):
                    roll = (0, 0)
                    if o.jitter:
                        r = torch.randint(-o.jitter, o.jitter + 1, (2,), generator=gen)
                        roll = (int(r[0]), int(r[1]))
                    g = shape_gradient(gradient(x, taps, objective, grid, roll, batch), o)
                    ops.ascent_step_(x, g, o.step_size, norm=norm, clamp=(lo, hi), mask=mask_o)
                    bar.update(1)
                detail = x - base_o
                del x, g
    finally:
        bar.close()
    out01 = finish_colors((x01 + detail * std).clamp_(0.0, 1.0), x01, o)
    if m is not None:
        out01 = torch.where(m > 0, out01, x01)
    return loaded.restore(out01.contiguous())
