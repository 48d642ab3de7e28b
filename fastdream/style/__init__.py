"""Neural style transfer on the dream engine: any size, exact style across tiles, several styles.

Parts: ``options`` (:class:`StyleOptions`, the checked settings), ``features`` (the tapped
network, its strides and the halo exact tiles need), ``losses`` (size-independent Gram, content
and total-variation losses), ``tiles`` (exact two-pass tiling), ``regions`` (masks: a style per
region), ``engine`` (octaves and Adam), ``stylizer`` (:class:`Stylizer`: the styles and network
made once, for a picture or a video's frames). Styled videos: :func:`fastdream.style_video`.
"""

from __future__ import annotations

import torch

from fastdream import _checks, driver, io
from fastdream.style import gray, regions
from fastdream.style.options import CONTENT_LAYERS, STYLE_LAYERS, StyleOptions
from fastdream.style.pictures import load_styles
from fastdream.style.regions import SUBJECT
from fastdream.style.stylizer import Stylizer, scaled_size

__all__ = ["CONTENT_LAYERS", "STYLE_LAYERS", "SUBJECT", "StyleOptions", "Stylizer", "style_transfer"]


def style_transfer(content, style, *, masks=None, cutout_model=None, progress: bool = False, callback=None, **options):
    """Paints ``content`` in the style of ``style`` (Gatys et al.), at any size.

    Args:
        content: the picture to keep the shapes of: any image kind :func:`fastdream.dream`
            accepts (one image).
        style: one style image or a list of them (any image kind).
        masks: style by regions: one mask per style (a path, PIL image, array or tensor, HxW in
            [0, 1], resized to the content; soft edges blend), each style matched inside its own
            region only (masked Gram matrices, exact across tiles); where no mask covers, the
            content is kept (see :mod:`fastdream.style.regions`). ``"subject"`` with
            ``cutout_model``: the subject found by a U-Net in the first style, the background in
            the second.
        cutout_model: a :func:`fastdream.train_unet` checkpoint (or the U-Net), for
            ``masks="subject"``.
        style_weights: one weight per style: the target Gram matrices are their weighted mean,
            each taken at the same strength (1, 1: as much of one style as of the other, however
            much more contrast one has; :func:`fastdream.style.regions.blend`); with ``masks``, each style's strength in its region (1: as strong as a single style).
        content_weight, style_weight, tv_weight: the weights of the content loss, the style loss
            and the total variation (smoothness) loss. The losses are normalized (relative errors,
            Gram matrices as means over positions), so the same weights work at any size. The
            total variation's 4 (it was 1) keeps the optimizer's per-pixel colored grain out of
            the picture at full size and leaves the style's strokes (bench/RESULTS.md).
        size: the output's long side in pixels (default: the content's size).
        octaves, octave_scale: the transfer starts ``octaves`` levels down at ``octave_scale`` per
            level and grows to full size, carrying the image up: big outputs
            get coherent large-scale structure. Default (None): 3, fewer where the smallest
            octave's short side would be under 64 px (a small picture's face was lost to the
            strokes of a 32 px octave).
        steps, lr: Adam steps per octave and its learning rate (image in [0, 1]).
        tile_size: tiles of at most this many pixels (halo included) go through the network; the
            style stays exact across tiles (two passes). None: the whole image at once. A network
            whose layers see far (InceptionV3's halo is 288 px) gets larger tiles: each tile's
            core is at least its halo, so no more than 9 pixels go through it per pixel tiled.
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
        ``size`` on the long side. A gray content painted in a colorful style comes back in color
        (RGB, or RGBA; 3 or 4 channels of an array or tensor), unless ``preserve_colors`` or
        ``color_match`` keep it gray.

    Examples:
        >>> import numpy as np, fastdream as fd
        >>> content = (np.random.rand(64, 96, 3) * 255).astype(np.uint8)
        >>> style = (np.random.rand(64, 64, 3) * 255).astype(np.uint8)
        >>> out = fd.style_transfer(content, style, octaves=1, steps=2, seed=0)
        >>> out.shape, out.dtype
        ((64, 96, 3), dtype('uint8'))
        >>> left = np.zeros((64, 96), np.float32); left[:, :48] = 1  # a style on the left half only
        >>> out = fd.style_transfer(content, style, masks=[left], octaves=1, steps=2, seed=0)
        >>> bool((out[:, 56:] == content[:, 56:]).all())  # uncovered: the content
        True
    """
    callback = driver.check_callback(callback)
    styles = list(style) if isinstance(style, (list, tuple)) else [style]
    if not styles:
        raise ValueError("style: give at least one style image")
    o = StyleOptions.create(len(styles), **options)
    progress = _checks.boolean("progress", progress)
    loaded = io.load(content, "content", one=True)
    style01 = load_styles(styles)
    if gray.paints_in_color(loaded.gray, style01, o):  # painted in the style's colors
        loaded = io.load(gray.in_color(content, loaded), "content")
    dev = _device(o, content)
    x01 = loaded.rgb.to(dev)
    h, w = x01.shape[-2:]
    out_hw = scaled_size(h, w, o.size)
    m01 = regions.load_masks(masks, len(styles), (h, w), content=x01, cutout_model=cutout_model, device=dev)
    with Stylizer(style01, o, dev, x01) as st:
        y = st.paint(x01, out_hw, masks=m01, restore=loaded.restore_resized, progress=progress, callback=callback)
    return loaded.restore_resized(y.contiguous())


def _device(o: StyleOptions, content) -> torch.device:
    from fastdream import _checks

    return _checks.device("device", o.device, model=o.model, tensor=content)
