"""DeepDream: gradient ascent on an image to amplify what chosen layers of a CNN respond to.

Per step: a random circular jitter, a forward pass to the deepest chosen layer only, objective =
mean of squares (``l2``) or mean (``mean``) of the chosen activations, the gradient w.r.t. the
image, then :func:`fastdream.ops.ascent_step_` (normalize + step + clamp, fused). Octaves dream
from a small copy of the image up to full size, carrying the dreamed detail up each time. Big
images are cut into overlapping tiles, batched through the network, and their gradients blended
back with weights that sum to 1 before the step normalizes them over the whole image: no seams,
and memory bounded by the tile batch.
"""
from __future__ import annotations

import re
import warnings
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from fastdream import _malloc, io, ops
from fastdream._checks import integer as _int
from fastdream._checks import real
from fastdream.models.efficientnet_lite import efficientnet_lite0, fuse_batchnorm
from fastdream.models.fused import fuse_for_dream
from fastdream.models.taps import LayerTaps, input_convention

#: Layers of the default backbone: block 5 (textures, eyes) and block 10 (animal parts), the pair
#: that gives the classic look on EfficientNet-Lite0 (see shared reference: dream-target-chelsea).
DEFAULT_LAYERS = ("_blocks.5", "_blocks.10")
#: The smallest octave is at least this many pixels on its short side; fewer octaves are used
#: (with a warning) rather than feeding the network an image it cannot see anything in.
MIN_OCTAVE_SIDE = 32
#: Pixels of tiles pushed through the network at once: bounds the activation memory.
TILE_BATCH_PIXELS = {"cpu": 2 * 512 * 512, "cuda": 16 * 512 * 512}

_default_models: dict[tuple[str, str], nn.Module] = {}
_BLOCK_OUTPUT = re.compile(r"_blocks\.\d+")


def _variant(layers: Sequence[str] | None) -> str:
    """Which build of the default backbone gives the asked-for layers' true activations fastest.

    ``fused`` (BN folded, ReLU6 inside the conv) keeps only block outputs; ``folded`` (BN folded
    into the convs) keeps everything except the raw conv outputs, which it shifts by the folded
    affine; ``plain`` is the network as trained.
    """
    names = DEFAULT_LAYERS if layers is None else ([layers] if isinstance(layers, str) else list(layers))
    if all(_BLOCK_OUTPUT.fullmatch(n) for n in names):
        return "fused"
    if not any(n.endswith(("_conv", "_conv_stem", "_conv_head")) for n in names):
        return "folded"
    return "plain"


def default_model(device: str | torch.device = "cpu", layers: Sequence[str] | None = None) -> nn.Module:
    """The default backbone on ``device`` (pretrained EfficientNet-Lite0, channels_last, cached),
    built for dreaming ``layers`` (default: ``DEFAULT_LAYERS``) as fast as their activations allow:
    for block outputs, BN folded and ReLU6 fused into the convs (fwd+bwd to block 10 at 512x341
    on 2 CPU cores: 44 ms, vs 50 ms BN-folded and 62 ms as trained, all channels_last;
    ``bench/backbone_ab.py``); see ``_variant``. Layer names are
    those of :func:`~fastdream.models.efficientnet_lite0` either way."""
    device = torch.device(device)
    variant = _variant(layers)
    key = (str(device), variant)
    if key not in _default_models:
        model = efficientnet_lite0(pretrained=True)
        if variant == "fused":
            model = fuse_for_dream(model)
        elif variant == "folded":
            model = fuse_batchnorm(model)
        _default_models[key] = model.to(device=device, memory_format=torch.channels_last).eval()
    return _default_models[key]


def _pyramid(h: int, w: int, octaves: int, scale: float) -> list[tuple[int, int]]:
    """Octave sizes, smallest first; drops octaves whose short side would be under MIN_OCTAVE_SIDE."""
    sizes = [(max(1, round(h / scale**i)), max(1, round(w / scale**i))) for i in range(octaves)]
    keep = [s for i, s in enumerate(sizes) if i == 0 or min(s) >= MIN_OCTAVE_SIDE]
    if len(keep) < octaves:
        warnings.warn(
            f"dream: {octaves} octaves at scale {scale} would shrink the {w}x{h} image below {MIN_OCTAVE_SIDE} px; "
            f"using {len(keep)} octave(s)",
            UserWarning,
            stacklevel=3,
        )
    return keep[::-1]


def _objective(acts: list[torch.Tensor], kind: str) -> torch.Tensor:
    """Sum over layers of each sample's mean (of squares); summed over the batch so every tile
    and image gets the gradient of its own objective."""
    total = 0.0
    for a in acts:
        if isinstance(a, (tuple, list)):
            a = a[0]
        a = a.float()
        v = a * a if kind == "l2" else a
        # mean over dims, not flatten(1).mean(1): flattening a channels_last activation copies
        # it, and its gradient then reaches the network in the slow NCHW layout.
        total = total + v.mean(dim=tuple(range(1, v.dim()))).sum()
    return total


class _Frozen:
    """Eval mode and no parameter gradients for the duration of a dream, then restored."""

    def __init__(self, model: nn.Module):
        self.model = model

    def __enter__(self):
        self.training = self.model.training
        self.grads = [p for p in self.model.parameters() if p.requires_grad]
        self.model.eval()
        for p in self.grads:
            p.requires_grad_(False)

    def __exit__(self, *exc):
        self.model.train(self.training)
        for p in self.grads:
            p.requires_grad_(True)


def _gradient(x, taps, objective, grid, roll, tile_batch):
    """Gradient of the objective w.r.t. ``x`` (N, 3, h, w), computed tile by tile."""
    tiles = ops.extract_tiles(x, grid, roll=roll)
    grads = []
    with torch.enable_grad():
        for chunk in tiles.split(tile_batch):
            t = chunk.detach().requires_grad_(True)
            (g,) = torch.autograd.grad(_objective(taps(t), objective), t)
            grads.append(g)
    g = grads[0] if len(grads) == 1 else torch.cat(grads)
    return ops.blend_tiles(g, grid, roll=roll)


def _resize(t: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    if tuple(t.shape[-2:]) == tuple(size):
        return t
    shrink = size[0] < t.shape[-2] or size[1] < t.shape[-1]
    out = F.interpolate(t, size=size, mode="bilinear", align_corners=False, antialias=shrink)
    return out.contiguous(memory_format=torch.channels_last)


def _resolve_device(device, image, model) -> torch.device:
    dev = _pick_device(device, image, model)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device is {dev} but CUDA is not available to torch {torch.__version__}; use device='cpu'")
    if dev.type == "cuda" and dev.index is None:  # "cuda" means the current GPU: name it, so
        dev = torch.device("cuda", torch.cuda.current_device())  # it compares equal to cuda:0
    return dev


def _pick_device(device, image, model) -> torch.device:
    if device is not None:
        return torch.device(device)
    if model is not None:
        p = next(model.parameters(), None)
        if p is not None:
            return p.device
    if isinstance(image, torch.Tensor):
        return image.device
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


@torch.no_grad()
def dream(
    image,
    layers: Sequence[str] | str | None = None,
    *,
    model: nn.Module | None = None,
    octaves: int = 4,
    octave_scale: float = 1.4,
    steps: int = 10,
    step_size: float = 0.01,
    jitter: int = 32,
    tile_size: int | None = 512,
    objective: str = "l2",
    norm: str = "std",
    mask=None,
    seed: int | None = None,
    device: str | torch.device | None = None,
    progress: bool = False,
    tile_batch: int | None = None,
):
    """Dreams ``image``: amplifies what ``layers`` of ``model`` see in it (DeepDream).

    Args:
        image: a path, PIL image, HxW(xC) numpy array (uint8, or float in [0, 1]) or a float
            tensor (C, H, W) / (N, C, H, W) in [0, 1]. 1-4 channels; alpha passes through.
        layers: names from ``model.named_modules()``; default ``DEFAULT_LAYERS`` for the
            default model (required for a custom model).
        model: any ``nn.Module`` (default: EfficientNet-Lite0, ImageNet weights). Its input
            convention is read from ``input_mean`` / ``input_std`` attributes, else ImageNet's.
        octaves, octave_scale: pyramid levels and the size ratio between them.
        steps, step_size: gradient steps per octave, and the step in model-input units on the
            gradient divided by its std (``norm="std"``) or mean |g| (``norm="mean_abs"``).
        jitter: random circular shift of up to this many pixels per step (0 disables).
        tile_size: tiles of at most this size go through the network (None: the whole image).
        objective: ``"l2"`` (mean of squared activations) or ``"mean"``.
        mask: optional HxW weights in [0, 1] (path, PIL, array, tensor): the image changes only
            where the mask is > 0, in proportion to it.
        seed: makes the jitter reproducible (same inputs and seed: the same output; on CPU bit for bit).
        device: where to run (default: the model's, else the tensor's, else CUDA when available).
        progress: show a progress bar over all steps.
        tile_batch: tiles per network call (default: as many as fit a fixed pixel budget).

    Returns:
        The dreamed image, of the same kind, size, channel count (and dtype/device for arrays
        and tensors) as ``image``; a path input gives a PIL image.

    Examples:
        >>> import numpy as np, fastdream as fd
        >>> img = (np.random.rand(64, 80, 3) * 255).astype(np.uint8)
        >>> out = fd.dream(img, octaves=1, steps=2, seed=0)
        >>> out.shape, out.dtype
        ((64, 80, 3), dtype('uint8'))
    """
    octaves = _int("octaves", octaves, 1)
    octave_scale = real("octave_scale", octave_scale, lo=1.0)
    steps = _int("steps", steps, 1)
    step_size = real("step_size", step_size, lo=0.0)
    jitter = _int("jitter", jitter, 0)
    if tile_size is not None:
        tile_size = _int("tile_size", tile_size, 32)
    if tile_batch is not None:
        tile_batch = _int("tile_batch", tile_batch, 1)
    if objective not in ("l2", "mean"):
        raise ValueError(f"objective must be 'l2' or 'mean', got {objective!r}")
    if norm not in ("std", "mean_abs"):
        raise ValueError(f"norm must be 'std' or 'mean_abs', got {norm!r}")
    if seed is not None:
        seed = _int("seed", seed, 0)
    if model is not None and not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if model is not None and layers is None:
        raise ValueError("layers: a custom model needs layers= (names from model.named_modules())")

    loaded = io.load(image)
    dev = _resolve_device(device, image, model)
    if dev.type == "cpu":
        _malloc.tune()
    net = model if model is not None else default_model(dev, layers)
    p = next(net.parameters(), None)
    if p is not None and p.device != dev:
        raise ValueError(f"device is {dev} but the model's parameters are on {p.device}; move the model or pass device=")
    taps = LayerTaps(net, DEFAULT_LAYERS if layers is None else layers)

    x01 = loaded.rgb.to(dev)
    n, _, h, w = x01.shape
    m = None if mask is None else io.load_mask(mask, (h, w)).to(dev)
    mean_, std_ = input_convention(net)
    mean = torch.tensor(mean_, device=dev).view(1, 3, 1, 1)
    std = torch.tensor(std_, device=dev).view(1, 3, 1, 1)
    lo = min((0 - a) / b for a, b in zip(mean_, std_))
    hi = max((1 - a) / b for a, b in zip(mean_, std_))
    base = ((x01 - mean) / std).contiguous(memory_format=torch.channels_last)

    sizes = _pyramid(h, w, octaves, octave_scale)
    gen = torch.Generator().manual_seed(seed if seed is not None else int(torch.seed() % 2**63))
    budget = TILE_BATCH_PIXELS.get(dev.type, TILE_BATCH_PIXELS["cpu"])
    detail = None
    bar = tqdm(total=len(sizes) * steps, disable=not progress, desc="dream", unit="step", leave=False)
    try:
        with _Frozen(net):
            for size in sizes:
                base_o = _resize(base, size)
                mask_o = None if m is None else _resize(m, size).contiguous()
                x = base_o.clone() if detail is None else base_o + _resize(detail, size)
                if mask_o is not None and detail is not None:
                    x = torch.where(mask_o > 0, x, base_o)  # no resampling bleed into masked-out pixels
                grid = ops.tile_grid(size, tile_size if tile_size is not None else max(size))
                batch = tile_batch or max(1, budget // (grid.tile_h * grid.tile_w))
                for _ in range(steps):
                    roll = (0, 0)
                    if jitter:
                        r = torch.randint(-jitter, jitter + 1, (2,), generator=gen)
                        roll = (int(r[0]), int(r[1]))
                    g = _gradient(x, taps, objective, grid, roll, batch)
                    ops.ascent_step_(x, g, step_size, norm=norm, clamp=(lo, hi), mask=mask_o)
                    bar.update(1)
                detail = x - base_o
                del x, g
    finally:
        bar.close()
    out01 = (x01 + detail * std).clamp_(0.0, 1.0)
    if m is not None:
        out01 = torch.where(m > 0, out01, x01)
    return loaded.restore(out01.contiguous())
