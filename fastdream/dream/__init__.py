"""DeepDream: gradient ascent on an image to amplify what chosen layers of a CNN respond to.

Parts: ``options`` (the checked settings, :class:`DreamOptions`, shared with the videos),
``context`` (what objectives may ask of the dream), ``engine`` (octaves, tiles, the step),
``folder`` (a folder of images, resumable, over torchrun ranks). The
default network and its dream build are in :mod:`fastdream.models.build`.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from fastdream import _checks, driver
from fastdream.dream import engine, huge
from fastdream.dream.engine import build_objective
from fastdream.dream.folder import FolderReport, dream_folder
from fastdream.dream.options import DreamOptions, marked_defaults
from fastdream.dream.presets import PRESETS
from fastdream.models.build import DEFAULT_LAYERS, default_model, variant

__all__ = [
    "DEFAULT_LAYERS",
    "DreamOptions",
    "FolderReport",
    "PRESETS",
    "build_objective",
    "default_model",
    "dream",
    "dream_folder",
    "run",
    "variant",
]


# dream()'s defaults, marked as not given, so that a preset may set what the caller left out.
_UNSET = marked_defaults()


def run(image, opts: DreamOptions, *, progress: bool = False, callback=None):
    """Dreams ``image`` with the checked options ``opts``: the low-memory path
    (:mod:`fastdream.dream.huge`) when :func:`~fastdream.dream.huge.wanted`, else the float32 one.
    The body of :func:`dream`, shared with the folders and the videos."""
    callback = driver.check_callback(callback)
    progress = _checks.boolean("progress", progress)  # "yes" was taken as True
    path = huge if huge.wanted(opts, image) else engine
    return path.run(image, opts, progress=progress, callback=callback)


def dream(
    image,
    layers: Sequence[str] | str | dict | None = _UNSET.layers,
    *,
    preset: str | None = None,
    model: nn.Module | str | None = _UNSET.model,
    octaves: int | str = _UNSET.octaves,
    octave_scale: float = _UNSET.octave_scale,
    steps: int = _UNSET.steps,
    step_size: float = _UNSET.step_size,
    jitter: int = _UNSET.jitter,
    tile_size: int | None = _UNSET.tile_size,
    objective=_UNSET.objective,
    norm: str = _UNSET.norm,
    lap_levels: int = _UNSET.lap_levels,
    smooth: float | None = _UNSET.smooth,
    guide=_UNSET.guide,
    preserve_colors: bool = _UNSET.preserve_colors,
    color_match: bool = _UNSET.color_match,
    mask=_UNSET.mask,
    seed: int | None = _UNSET.seed,
    device: str | torch.device | None = _UNSET.device,
    progress: bool = False,
    tile_batch: int | None = _UNSET.tile_batch,
    low_memory: bool | None = _UNSET.low_memory,
    subject=None,
    callback=None,
):
    """Dreams ``image``: amplifies what ``layers`` of ``model`` see in it (DeepDream).

    Args:
        image: a path, PIL image, HxW(xC) numpy array (uint8, or float in [0, 1]) or a float
            tensor (C, H, W) / (N, C, H, W) in [0, 1]. 1-4 channels; alpha passes through.
        layers: what to amplify: layer names from ``model.named_modules()``, or specs
            ``"NAME:37"`` / ``"NAME:30-40,77"`` (channels), ``"NAME:top8"`` / ``"NAME:bottom8"``
            (the channels with the largest / smallest mean activation on this image, chosen per
            octave), ``"NAME=2"`` (a weight); a list of them, or a dict spec -> weight (see
            :mod:`fastdream.objectives`). Default ``DEFAULT_LAYERS`` for the default model; for
            another, its ``dream_layers`` attribute (the named backbones have one), else required.
        preset: a name of :data:`fastdream.PRESETS` (``"subtle"``, ``"classic"``, ``"deep"``,
            ``"tutorial"``): its settings replace the defaults; every option passed explicitly
            wins over the preset's.
        model: any ``nn.Module`` (default: EfficientNet-Lite0, ImageNet weights), or a name of
            :func:`fastdream.models.names` (loaded without weights: random ones, with a warning,
            except efficientnet_lite0's own). Its input convention is read from ``input_mean`` /
            ``input_std`` attributes, else ImageNet's.
        octaves, octave_scale: pyramid levels and the size ratio between them; ``"auto"``
            (the default): as many as bring the smallest to about 256 px on its long side (3 for
            a 512 px picture, 5 for 1024 px, 7 for 2048 px), so the eyes and animal parts keep
            their size relative to the picture at any resolution.
        steps, step_size: gradient steps per octave, and the step in model-input units on the
            normalized gradient.
        jitter: random circular shift of up to this many pixels per step (0 disables).
        tile_size: tiles of at most this size go through the network (None: the whole image).
        objective: ``"l2"`` (mean of squared activations) or ``"mean"`` over the ``layers``; a
            callable ``f(acts) -> tensor (N,)`` taking a dict layer name -> activation of
            ``layers``; or a :mod:`fastdream.objectives` expression (it names its own layers).
        norm: how the gradient is normalized before the step: ``"std"`` (divided by its std),
            ``"mean_abs"`` (by its mean absolute value), or ``"laplacian"`` (each band of its
            Laplacian pyramid by its own size: smoother, larger-scale patterns).
        lap_levels: bands of the Laplacian pyramid for ``norm="laplacian"``.
        smooth: Gaussian smoothing of the gradient before the step, sigma in pixels (the mean of
            blurs at sigma/2, sigma, 2 sigma); None or 0: off.
        guide: an image (any kind ``image`` takes): the dream grows what it contains, each
            position pulled toward the guide's best-matching feature in ``layers``.
        preserve_colors: keep the input's colors exactly (YCbCr chroma), change only brightness.
        color_match: give the output the input's mean and covariance of colors instead.
        mask: optional HxW weights in [0, 1] (path, PIL, array, tensor): the image changes only
            where the mask is > 0, in proportion to it.
        seed: makes the jitter reproducible (same inputs and seed: the same output; on CPU bit for bit).
        device: where to run (default: the model's, else the tensor's, else CUDA when available).
        progress: show a progress bar over all steps.
        tile_batch: tiles per network call (default: as many as fit a fixed pixel budget).
        low_memory: dream in bounded memory (:mod:`fastdream.dream.huge`: the input kept in its
            own type, the dreamed detail in float16, the gradient in bfloat16, everything else a
            band of rows at a time; about 20 bytes per pixel for 8-bit input instead of ~150).
            None (default): on for images over 4096x4096 when the options allow it (not with
            ``norm="laplacian"``, ``smooth`` or ``color_match``, which need the whole gradient
            or image in float32).
        subject: with a dreamer as ``model`` (:func:`fastdream.train_dreamer`, loaded by
            :func:`fastdream.models.load`): the subject to grow in the image, by name, or several
            with weights (``"cat=2"``, a list of them, or a dict name -> weight); the objective
            is :func:`fastdream.dream.subjects.subject`'s, plus the ``layers`` terms if given. An
            unknown name is a ``ValueError`` listing the dreamer's subjects.
        callback: called after every step with a :class:`fastdream.driver.StepState`
            (``octave``, ``step``, ``total``, ``loss``, ``image()``: the picture so far, of the
            input's kind, at the octave's size). Returning ``False`` stops the dream within that
            step: :class:`fastdream.Cancelled` is raised, its ``image`` the picture so far.
            Ctrl-C raises ``KeyboardInterrupt`` carrying the same ``image`` and ``steps``
            (done, total).

    Returns:
        The dreamed image, of the same kind, size, channel count (and dtype/device for arrays
        and tensors) as ``image``; a path input gives a PIL image. A picture whose EXIF says it
        was taken on its side comes back upright (its width and height swapped).

    Examples:
        >>> import numpy as np, fastdream as fd
        >>> img = (np.random.rand(64, 80, 3) * 255).astype(np.uint8)
        >>> out = fd.dream(img, octaves=1, steps=2, seed=0)
        >>> out.shape, out.dtype
        ((64, 80, 3), dtype('uint8'))
        >>> out = fd.dream(img, {"_blocks.10:37": 2.0, "_blocks.5": 0.5}, octaves=1, steps=2, seed=0)

        Live previews, and a stop after a time or on a button, from the step hook:

        >>> seen = []
        >>> def show(state):
        ...     seen.append((state.octave, state.step, state.total))
        ...     # state.image() is the picture so far: display it in a notebook
        >>> out = fd.dream(img, octaves=2, steps=2, seed=0, callback=show)
        >>> seen
        [(0, 1, 4), (0, 2, 4), (1, 3, 4), (1, 4, 4)]
    """
    opts = DreamOptions.create(
        layers=layers,
        model=model,
        octaves=octaves,
        octave_scale=octave_scale,
        steps=steps,
        step_size=step_size,
        jitter=jitter,
        tile_size=tile_size,
        objective=objective,
        norm=norm,
        lap_levels=lap_levels,
        smooth=smooth,
        guide=guide,
        preserve_colors=preserve_colors,
        color_match=color_match,
        mask=mask,
        seed=seed,
        device=device,
        tile_batch=tile_batch,
        low_memory=low_memory,
        preset=preset,
        subject=subject,
    )
    return run(image, opts, progress=progress, callback=callback)
