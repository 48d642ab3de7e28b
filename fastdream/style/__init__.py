"""Neural style transfer on the dream engine: any size, exact style across tiles, several styles.

Parts: ``options`` (:class:`StyleOptions`, the checked settings), ``features`` (the tapped
network, its strides and the halo exact tiles need), ``losses`` (size-independent Gram, content
and total-variation losses), ``tiles`` (exact two-pass tiling), ``engine`` (octaves and Adam).
"""

from __future__ import annotations

import torch

from fastdream import driver, io, ops
from fastdream.models.build import dream_net
from fastdream.models.taps import Frozen
from fastdream.style import engine
from fastdream.style.features import Features
from fastdream.style.options import CONTENT_LAYERS, STYLE_LAYERS, StyleOptions

__all__ = ["CONTENT_LAYERS", "STYLE_LAYERS", "StyleOptions", "style_transfer"]


def style_transfer(content, style, *, progress: bool = False, callback=None, **options):
    """Paints ``content`` in the style of ``style`` (Gatys et al.), at any size.

    Args:
        content: the picture to keep the shapes of: any image kind :func:`fastdream.dream`
            accepts (one image).
        style: one style image or a list of them (any image kind).
        style_weights: one weight per style: the target Gram matrices are their weighted mean.
        content_weight, style_weight, tv_weight: the weights of the content loss, the style loss
            and the total variation (smoothness) loss. The losses are normalized (relative errors,
            Gram matrices as means over positions), so the same weights work at any size.
        size: the output's long side in pixels (default: the content's size).
        octaves, octave_scale: the transfer starts ``octaves`` levels down at ``octave_scale`` per
            level and grows to full size, carrying the image up: big outputs
            get coherent large-scale structure.
        steps, lr: Adam steps per octave and its learning rate (image in [0, 1]).
        tile_size: tiles of at most this many pixels (halo included) go through the network; the
            style stays exact across tiles (two passes). None: the whole image at once.
        init: ``"content"`` (start from the content) or ``"noise"`` (from seeded noise).
        style_scale: the style images' long side relative to the output's, per octave (2: larger
            brush strokes).
        preserve_colors: keep the content's colors: transfer on luminance only, then the content's
            chroma (BT.601 YCbCr).
        color_match: give each style image the content's color mean and covariance first.
        model: any ``nn.Module`` (default: the embedded EfficientNet-Lite0); with it,
            ``content_layers`` and ``style_layers`` (names from ``named_modules()``).
        content_layers, style_layers: the layers of the two losses (defaults: ``CONTENT_LAYERS``,
            ``STYLE_LAYERS`` for the default model).
        seed: seeds the noise of ``init="noise"``; on the CPU a seeded run repeats bit for bit.
        device: where to run (default: the model's, else CUDA when available, else the CPU).
        progress: show a progress bar with the loss.
        callback: called after every step with a :class:`fastdream.driver.StepState` (``loss`` is
            the total loss; ``image()`` the picture so far, of the content's kind, at the
            octave's working size); returning ``False`` raises :class:`fastdream.Cancelled`.

    Returns:
        The stylized image, of the content's kind (path -> PIL image), with the content's size or
        ``size`` on the long side.

    Examples:
        >>> import numpy as np, fastdream as fd
        >>> content = (np.random.rand(64, 96, 3) * 255).astype(np.uint8)
        >>> style = (np.random.rand(64, 64, 3) * 255).astype(np.uint8)
        >>> out = fd.style_transfer(content, style, octaves=1, steps=2, seed=0)
        >>> out.shape, out.dtype
        ((64, 96, 3), dtype('uint8'))
    """
    callback = driver.check_callback(callback)
    styles = list(style) if isinstance(style, (list, tuple)) else [style]
    if not styles:
        raise ValueError("style: give at least one style image")
    o = StyleOptions.create(len(styles), **options)
    loaded = io.load(content, "content")
    if loaded.rgb.shape[0] != 1:
        raise ValueError(f"content: one image at a time, got a batch of {loaded.rgb.shape[0]}")
    style01 = [io.load(s, f"style[{i}]" if len(styles) > 1 else "style").rgb[:1] for i, s in enumerate(styles)]
    dev = _device(o, content)
    net = dream_net(o.model, o.style_layers + o.content_layers, dev)
    x01 = loaded.rgb.to(dev)
    h, w = x01.shape[-2:]
    out_hw = (h, w) if o.size is None else _scaled(h, w, o.size)
    c01, s01 = x01, [s.to(dev) for s in style01]
    if o.preserve_colors:
        c01, s01 = engine.luminance_only(x01, s01)
    elif o.color_match:
        s01 = engine.matched_colors(x01, s01)
    with Frozen(net):
        feats = Features(net, o.style_layers + o.content_layers, dev)
        job = engine.Transfer(c01, s01, o, feats, loaded.restore_resized)
        y = engine.run(job, out_hw, progress, callback)
    # From the working size (a multiple of the network's stride) to the output's.
    y = torch.nn.functional.interpolate(y, size=out_hw, mode="bilinear", align_corners=False).clamp_(0, 1)
    if o.preserve_colors:
        y = ops.keep_chroma(y, engine.resize(x01, out_hw))
    return loaded.restore_resized(y.contiguous())


def _device(o: StyleOptions, content) -> torch.device:
    from fastdream import _checks

    return _checks.device("device", o.device, model=o.model, tensor=content)


def _scaled(h: int, w: int, size: int) -> tuple[int, int]:
    k = size / max(h, w)
    return max(1, round(h * k)), max(1, round(w * k))
