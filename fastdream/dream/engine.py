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

import os
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from fastdream import _checks, _malloc, driver, io, ops
from fastdream._warnings import warn
from fastdream.dream.context import Context
from fastdream.dream.options import EMPTY_MASK, DreamOptions, octave_count
from fastdream.dream.subjects import subject
from fastdream.models.build import DEFAULT_LAYERS, check_layer_names, dream_net
from fastdream.models.modes import Frozen
from fastdream.models.taps import LayerTaps, input_convention
from fastdream.objectives import Objective, describe, from_layers, parse_layers

#: The smallest octave is at least this many pixels on its short side; fewer octaves are used
#: (with a warning) rather than feeding the network an image it cannot see anything in.
MIN_OCTAVE_SIDE = 32
#: Pixels of tiles pushed through the network at once: bounds the activation memory.
TILE_BATCH_PIXELS = {"cpu": 2 * 512 * 512, "cuda": 16 * 512 * 512}


def pyramid(h: int, w: int, octaves: int | str, scale: float, net=None) -> list[tuple[int, int]]:
    """The dream's octave sizes, smallest first (:func:`fastdream.driver.pyramid`; ``"auto"``:
    :func:`~fastdream.dream.options.octave_count`); none smaller than the network takes (its
    ``min_input_side``: InceptionV3's 75 px)."""
    least = getattr(net, "min_input_side", 0)
    if min(h, w) < least:  # said here, before any work, of the picture (not of a tile or an octave)
        only = getattr(net, "only_input_side", 0)  # (resized to 256 px, the next line said "only 224")
        takes = f"only pictures of about {only}x{only} px" if only else f"at least {least} px a side"
        raise ValueError(
            f"image: the picture is {w}x{h} px and {type(net).__name__} takes {takes}; "
            "resize it, or dream it with another model"
        )
    min_side = max(MIN_OCTAVE_SIDE, least)
    count = octave_count(octaves, h, w, scale)
    # "auto" counts by the long side: a thin strip's octaves the short side cannot take were never asked for
    return driver.pyramid(h, w, count, scale, min_side=min_side, quiet=octaves == "auto")


def tile_grid(size: tuple[int, int], tile_size: int | None, net=None) -> ops.TileGrid:
    """The tiles of an octave of ``size``: ``tile_size`` (None: one tile), each at least the
    network's ``min_input_side`` where the image allows (tile_grid shrinks tiles to share the
    image evenly, so the request grows until they are)."""
    h, w = size
    least, only = getattr(net, "min_input_side", 0), getattr(net, "only_input_side", 0)
    # A model of one size: tiles overlapping by half of it, so that sides of multiples of that half
    # are cut into tiles of exactly its size (the default overlap shrinks them to share the image)
    overlap = only // 2 if only else None
    tile = tile_size if tile_size is not None else max(8, h, w)
    grid = ops.tile_grid(size, tile, overlap)
    while (grid.tile_h < min(least, h) or grid.tile_w < min(least, w)) and tile < max(h, w):
        tile += 8
        grid = ops.tile_grid(size, tile, overlap)
    if only and (grid.tile_h, grid.tile_w) != (only, only):  # (torch's "mat1 and mat2 shapes" mid-step)
        raise ValueError(
            f"model: it takes only pictures of about {only}x{only} px up to the layers dreamed (a layer of one size, such as "
            f"a Linear head); dream a layer before it, or a picture of {only}x{only} tiles: tile_size={only} "
            f"with sides that are multiples of {only // 2}, octaves=1 (here a {w}x{h} octave in {grid.tile_w}x{grid.tile_h} tiles)"
        )
    return grid


def build_objective(o: DreamOptions) -> Objective:
    """The objective of a dream: the expression given, a callable over ``layers``, the subjects'
    (:func:`fastdream.dream.subjects.subject`, plus the ``layers`` terms if any), or the sum of the
    ``layers`` specs' terms (``l2``/``mean``, or the guide match with ``guide=``)."""
    if isinstance(o.objective, Objective):
        # (its layers are the expression's: an unknown one is said of objective=, not of layers=)
        check_layer_names(o.model, o.objective.layers, "objective")
        return o.objective
    if o.subject is not None:  # the subjects' objectives, plus the layers' terms when given
        total = sum((subject(o.model, name, w) for name, w in o.subject[1:]), subject(o.model, *o.subject[0]))
        return total if o.layers is None else total + from_layers(o.layers, o.objective)
    specs = o.layers if o.layers is not None else parse_layers(list(DEFAULT_LAYERS))
    if callable(o.objective) and not isinstance(o.objective, str):
        fn = o.objective
        return Objective(
            lambda acts: _per_sample_values(fn(_Tapped(acts)), acts), [s.layer for s in specs], describe(fn)
        )
    return from_layers(specs, o.objective, guide_image=o.guide)


class _Tapped(dict):
    """The activations a callable objective reads: a layer it was not given is one line saying
    which are (it was a bare KeyError from inside the user's function)."""

    def __missing__(self, key):
        raise ValueError(
            f"objective: the callable reads {key!r}, which is not among the layers tapped for it "
            f"({', '.join(map(repr, self))}); name every layer it reads in layers="
        )


def _per_sample_values(v, acts) -> torch.Tensor:
    n = next(iter(acts.values())).shape[0]
    if not isinstance(v, torch.Tensor) or v.shape != (n,):
        got = tuple(v.shape) if isinstance(v, torch.Tensor) else type(v).__name__
        raise ValueError(
            f"objective: a callable objective must return one value per sample, a tensor of shape ({n},), got {got}"
        )
    if v.is_complex():  # (torch's "grad can be implicitly created only for real scalar outputs")
        raise ValueError(f"objective: a callable objective must return real values, got {v.dtype}")
    if not v.requires_grad:  # torch's own words: "element 0 of tensors does not require grad"
        raise ValueError(
            "objective: the callable's value does not depend on the activations (detached, .item(), "
            "or made under torch.no_grad()); a dream climbs its gradient"
        )
    if not bool(torch.isfinite(v).all()):  # a NaN step changed nothing, silently
        raise ValueError(f"objective: the callable returned {v.detach().tolist()}; it must be finite")
    return v


def gradient(x, taps: LayerTaps, objective: Objective, grid, roll, tile_batch) -> tuple[torch.Tensor, torch.Tensor]:
    """Gradient of the objective w.r.t. ``x`` (N, 3, h, w), computed tile by tile and blended,
    and the objective's sum over the tiles (a scalar tensor)."""
    tiles = ops.extract_tiles(x, grid, roll=roll)
    grads, total = [], x.new_zeros(())
    with torch.enable_grad():
        for chunk in tiles.split(tile_batch):
            t = chunk.detach().requires_grad_(True)
            acts = dict(zip(taps.layers, taps(t)))
            value = objective(acts).sum()
            (g,) = torch.autograd.grad(value, t)
            grads.append(g)
            total += value.detach()
    g = grads[0] if len(grads) == 1 else torch.cat(grads)
    return ops.blend_tiles(g, grid, roll=roll), total


def jitter(o: DreamOptions, gen: torch.Generator) -> tuple[int, int]:
    """This step's random circular shift (dy, dx), up to ``o.jitter`` pixels each way."""
    if not o.jitter:
        return (0, 0)
    r = torch.randint(-o.jitter, o.jitter + 1, (2,), generator=gen)
    return int(r[0]), int(r[1])


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


#: What a dream that changed no pixel says (a silent no-op would look like a bug in fastdream).
NOTHING_CHANGED = (
    "dream: the picture did not change: the objective's gradient was 0 everywhere (an objective that does "
    "not depend on the picture, or channels this picture leaves at 0), or every step was clipped at black or white"
)


def eight_bit(image) -> bool:
    """Whether a dream of ``image`` comes back in 8 bits (a file, an 8-bit PIL picture, a uint8
    array or tensor), where a change under half a level is lost; a float one keeps it."""
    if isinstance(image, (str, os.PathLike)):
        return True
    if isinstance(image, Image.Image):
        return image.mode not in io.DEEP_GRAY
    return getattr(image, "dtype", None) in (np.uint8, torch.uint8)


#: What a dream of an 8-bit picture that moved no pixel by half a level says: it is the input.
TOO_SMALL = (
    "dream: no pixel changed by half a level of 255 (at most {most:.2g}): step_size={step_size:g} with "
    "steps={steps} is too small to show; raise step_size or the steps"
)


#: Bytes per pixel of the float32 dream at its peak (measured with /usr/bin/time on 4096x4096:
#: 142), more with the whole gradient shaped (smooth, laplacian, color_match: 186-197), and the
#: network's activations over the whole picture without tiles (2048x2048 untiled: ~890).
FLOAT_PATH_BYTES, SHAPED_BYTES, UNTILED_BYTES = 150, 60, 800


def check_memory(shape, o: DreamOptions) -> None:
    """Refuses a float32 dream that would not fit in memory, before its work (a 12000x12000 one
    with smooth= was killed by the system at 21 GB, with no word)."""
    n, _, h, w = shape
    shaped = o.smooth or o.norm == "laplacian" or o.color_match
    per_pixel = FLOAT_PATH_BYTES + (SHAPED_BYTES if shaped else 0) + (UNTILED_BYTES if o.tile_size is None else 0)
    if o.tile_size is None:
        hint = "dream it in tiles (tile_size=512)"
    elif shaped:
        hint = "without smooth, norm='laplacian' and color_match it can take the low-memory path"
    else:
        hint = "pass low_memory=True"
    _checks.fits(f"image: a float32 dream of {n} picture(s) of {w}x{h}", n * h * w * per_pixel, hint)


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
    mean = torch.tensor(mean_, dtype=torch.float32, device=dev).view(1, 3, 1, 1)
    std = torch.tensor(std_, dtype=torch.float32, device=dev).view(1, 3, 1, 1)
    clamp = (min((0 - a) / b for a, b in zip(mean_, std_)), max((1 - a) / b for a, b in zip(mean_, std_)))
    return Network(dev, objective, net, LayerTaps(net, objective.layers), mean, std, clamp)


class Dream:
    """The float32 dream as a :class:`fastdream.driver.Job`: the whole octave image in model
    units, tiles through the network, the fused ascent step."""

    def __init__(self, image, o: DreamOptions):
        self.o = o
        self.nw = nw = network(image, o)
        shape = io.image_shape(image)
        if nw.device.type == "cpu" and shape is not None:
            check_memory((shape[0], 3, *shape[1:]), o)  # before a file is decoded
        self.loaded, self.eight_bit = io.load(image), eight_bit(image)
        self.x01 = self.loaded.rgb.to(nw.device)
        h, w = self.x01.shape[-2:]
        self.m = None if o.mask is None else io.load_mask(o.mask, (h, w), empty=EMPTY_MASK).to(nw.device)
        self.base = ((self.x01 - nw.mean) / nw.std).contiguous(memory_format=torch.channels_last)
        self.budget = TILE_BATCH_PIXELS.get(nw.device.type, TILE_BATCH_PIXELS["cpu"])
        self.ctx = Context(
            nw.net, nw.taps, nw.device, (nw.mean, nw.std), guide_side=min(o.tile_size or max(h, w), max(h, w))
        )
        self.norm = "std" if o.norm == "laplacian" else o.norm  # the Laplacian bands are normalized already
        self.sizes = pyramid(h, w, o.octaves, o.octave_scale, nw.net)
        self.detail = None

    def begin(self, octave: int, size: tuple[int, int], gen: torch.Generator) -> None:
        o = self.o
        self.base_o = base_o = resize(self.base, size)
        self.mask_o = None if self.m is None else resize(self.m, size).contiguous()
        x = base_o.clone() if self.detail is None else base_o + resize(self.detail, size)
        if self.mask_o is not None and self.detail is not None:
            x = torch.where(self.mask_o > 0, x, base_o)  # no resampling bleed into masked-out pixels
        self.x = x
        self.grid = tile_grid(size, o.tile_size, self.nw.net)
        self.batch = o.tile_batch or max(1, self.budget // (self.grid.tile_h * self.grid.tile_w))
        self.nw.objective.prepare(self.ctx.at(x, self.grid, self.batch))

    def step(self, gen: torch.Generator) -> torch.Tensor:
        nw = self.nw
        g, total = gradient(self.x, nw.taps, nw.objective, self.grid, jitter(self.o, gen), self.batch)
        g = shape_gradient(g, self.o)
        ops.ascent_step_(self.x, g, self.o.step_size, norm=self.norm, clamp=nw.clamp, mask=self.mask_o)
        return total / (self.x.shape[0] * self.grid.count)

    def end(self) -> None:
        self.detail = self.x - self.base_o
        del self.x

    def picture(self):
        x01 = (self.x * self.nw.std + self.nw.mean).clamp_(0.0, 1.0)
        return self.loaded.restore_resized(x01.contiguous())

    def result(self):
        """The dreamed image at full size, colors finished, mask applied, of the input's kind."""
        changed = bool(self.detail.any())
        if not changed:
            warn(NOTHING_CHANGED)
        out01 = finish_colors((self.x01 + self.detail * self.nw.std).clamp_(0.0, 1.0), self.x01, self.o)
        if self.m is not None:
            out01 = torch.where(self.m > 0, out01, self.x01)
        if changed and self.eight_bit:  # (the 8-bit picture it gives back may be the input)
            most = float((out01 - self.x01).abs().max())
            if most < 0.5 / 255 and not (self.m is not None and float(self.m.max()) < 0.1):  # (a faint mask: said)
                warn(TOO_SMALL.format(most=most * 255, step_size=self.o.step_size, steps=self.o.steps))
        return self.loaded.restore(out01.contiguous())


@torch.no_grad()
def run(image, o: DreamOptions, *, progress: bool = False, callback=None):
    """Dreams ``image`` with the checked options ``o`` (the float32 path of :func:`fastdream.dream`)."""
    job = Dream(image, o)
    h, w = job.sizes[-1]
    if o.smooth and o.smooth > min(h, w) / 8:  # (1000 on 192 px: a color cast, said to soften detail)
        warn(
            f"smooth={o.smooth:g} is wide for a {w}x{h} picture: blurs of up to {2 * o.smooth:g} px leave the "
            "gradient nearly one color per channel, a color cast more than softer detail"
        )
    with Frozen(job.nw.net):
        driver.drive(job, job.sizes, o.steps, seed=o.seed, progress=progress, callback=callback)
    return job.result()
