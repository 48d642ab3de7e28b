"""Masks: where a dream or a style acts, from a picture, an array or a tensor."""

from __future__ import annotations

import os

import numpy as np
import torch
from PIL import Image

from fastdream._warnings import warn
from fastdream.io.convert import has_clear, standard
from fastdream.io.images import check_range, load_pil


def load_mask(mask, size: tuple[int, int] | None, name: str = "mask", *, empty: str | None = None) -> torch.Tensor:
    """A mask in [0, 1] of shape (1, 1, H, W) from a path, PIL image, array or tensor.

    Images and uint8 arrays are scaled by 1/255, unless they hold only 0 and 1 (a label map; one
    of other small classes, under 16, is warned of); a picture with transparency is its alpha (a
    region painted on a clear layer, a cutout), else its gray levels. A mask of another size is
    resized (bilinear), one of another shape (aspect ratio) is a ``ValueError``: it would be
    stretched; ``size`` None: the mask's own. ``empty``: a mask that is 0 everywhere is a ``ValueError`` saying this (what it
    would do), when given.
    """
    if isinstance(mask, (str, os.PathLike)):
        mask = load_pil(mask, name)
    if isinstance(mask, np.ndarray) and mask.dtype == np.uint8 and mask.ndim == 3 and mask.shape[-1] in (3, 4):
        mask = Image.fromarray(np.ascontiguousarray(mask))  # cv2.imread's mask: read as the same file's picture
    if isinstance(mask, Image.Image):
        im = standard(mask, name)
        # (np.array: writable, torch warns about sharing a read-only buffer)
        mask = np.array(im.getchannel("A") if has_clear(im) else im.convert("L"))
    if isinstance(mask, np.ndarray):
        m = torch.from_numpy(np.ascontiguousarray(mask)).float()
        if mask.dtype == np.uint8:
            if m.numel() and float(m.max()) > 1:  # (0/1 labels, seg > 0 as uint8: 1/255 did nothing)
                top = int(m.max())
                if top < 16:  # (a label map of classes 0..N: the dream barely moved, and said its step was small)
                    warn(
                        f"{name}: its values reach only {top} of 255, so it acts at {top / 255:.0%} strength; "
                        f"a label map? pass (labels == CLASS) or (labels > 0) as the {name}"
                    )
                m = m / 255.0
        elif mask.dtype != bool and not np.issubdtype(mask.dtype, np.floating):
            raise TypeError(f"{name} must be uint8, bool or float in [0, 1], got dtype {mask.dtype}")
    elif isinstance(mask, torch.Tensor):
        m = mask.detach().float().cpu()
    else:
        raise TypeError(f"{name} must be a path, PIL image, numpy array or tensor, got {type(mask).__name__}")
    while m.dim() > 2 and m.shape[0] == 1:  # (1, 1, H, W), (1, H, W): batch and channel
        m = m[0]
    if m.dim() == 3 and m.shape[-1] == 1:  # (H, W, 1)
        m = m[..., 0]
    if m.dim() != 2:
        raise ValueError(f"{name} must be a single-channel HxW mask, got shape {tuple(mask.shape)}")
    if m.numel() == 0:  # (a 0x0 mask: "0 everywhere", or a division by its width)
        raise ValueError(f"{name} is empty: a mask of {m.shape[1]}x{m.shape[0]} pixels")
    m = check_range(m, name)
    if empty is not None and not bool((m > 0).any()):
        raise ValueError(f"{name} is 0 everywhere: {empty}")
    m = m[None, None]
    (h, w), (hh, ww) = m.shape[-2:], size or m.shape[-2:]
    if abs(h * ww / w - hh) > max(0.02 * hh, ww / w):  # off by more than rounding (2%, or a mask pixel)
        raise ValueError(
            f"{name} is {w}x{h} and the picture {ww}x{hh}: a mask of another shape would be stretched; "
            f"give one of the picture's shape ({ww}x{hh}, or that scaled)"
        )
    if size is not None and tuple(m.shape[-2:]) != tuple(size):
        m = torch.nn.functional.interpolate(m, size=size, mode="bilinear", align_corners=False).clamp(0, 1)
    return m
