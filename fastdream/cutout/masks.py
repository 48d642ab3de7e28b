"""Masks and sizes for background removal: the mask-file rule and the working size.

**Resolution.** Everything happens at a *working size*: the image scaled so its short side is
``image_size`` (the training resolution, kept in the checkpoint), with the long side capped at
``MAX_ASPECT * image_size`` (the short side then shrinks).

**Masks.** A mask file is read with its EXIF orientation applied, like its image, and made binary:

- an image with a (not fully opaque) alpha channel: the alpha channel, so a cutout PNG is its own mask;
- RGB / palette: the brightest channel of each pixel (white, red, or any color on black is foreground);
- gray (8 or 16 bit) or bilevel: the value.

A value is foreground when it is at least half the mask's scale, the scale being 1 if the
largest value in the file is at most 1 (0/1 masks), 255 if at most 255 (0/255 and 8-bit gray
masks), else 65535 (16-bit).
"""

from __future__ import annotations

import numpy as np

from fastdream import io

#: Working short side for a model that does not know its training resolution.
DEFAULT_RESOLUTION = 256
#: The long side of the working size is at most this many times the short side.
MAX_ASPECT = 4


def working_size(h: int, w: int, resolution: int) -> tuple[int, int]:
    """(height, width) of an ``h`` x ``w`` image scaled so its short side is ``resolution``, with
    the long side capped at ``MAX_ASPECT * resolution`` (aspect ratio kept, sides >= 1)."""
    scale = resolution / min(h, w)
    scale = min(scale, MAX_ASPECT * resolution / max(h, w))
    return max(1, round(h * scale)), max(1, round(w * scale))


def read_mask(path, name: str = "mask") -> np.ndarray:
    """A mask file as a bool HxW array, by the rule in the module documentation (EXIF applied)."""
    im = io.load_pil(path, name)
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        alpha = np.asarray(im.convert("RGBA").getchannel("A"))
        if alpha.min() < 255:
            return alpha >= 128
    if im.mode == "1":
        return np.asarray(im, dtype=bool)
    if im.mode in ("RGB", "RGBA", "P", "PA", "CMYK", "YCbCr", "LAB", "HSV"):
        v = np.asarray(im.convert("RGB")).max(axis=2)
    elif im.mode in ("L", "LA"):
        v = np.asarray(im.getchannel(0))
    else:  # I;16, I, F: keep the full range
        v = np.asarray(im)
        if v.ndim == 3:
            v = v.max(axis=2)
    top = float(v.max()) if v.size else 0.0
    scale = 1.0 if top <= 1 else 255.0 if top <= 255 else 65535.0
    return v >= scale / 2
