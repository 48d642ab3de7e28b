"""Images in and out: any input kind to a float tensor, and back to the same kind.

Accepted inputs: a path, a PIL image, an HxW or HxWxC numpy array (uint8, or float
in [0, 1]), or a torch tensor (C, H, W) / (N, C, H, W) float in [0, 1]. Channels: 1 (gray),
2 (gray + alpha), 3 (RGB), 4 (RGBA). The model always sees RGB; alpha is kept aside untouched and
gray is converted back with the ITU-R BT.601 luma weights that Pillow uses
(:func:`fastdream.ops.luma.luma`).
"""

from __future__ import annotations

import os
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from fastdream import _checks
from fastdream._warnings import warn
from fastdream.io.convert import (
    DEEP_GRAY,
    back_to_mode,
    deep_back,
    deep_float,
    deep_gray,
    from_uint8,
    standard,
    to_uint8,
)
from fastdream.io.profile import returned_profile, with_profile
from fastdream.ops.luma import luma

#: The bundled sample photo: the public-domain astronaut portrait from scikit-image.
SAMPLE_IMAGE = Path(__file__).parent.parent / "assets" / "astronaut.jpg"
#: Images with more pixels than this are refused on load (a header can claim any size: a file
#: of a few bytes may ask for a 10-gigapixel buffer). Far above Pillow's own 179-megapixel guard,
#: which would refuse the 16K (268-megapixel) prints fastdream is meant to dream.
MAX_PIXELS = 1 << 30


_KEEP = object()  # restore(): keep the input's own alpha
#: Bytes per pixel of an image as float32 RGB + alpha, with the copies on the way in and out.
_FLOAT_BYTES = 40


@dataclass
class Loaded:
    """An input image as fastdream works on it.

    ``rgb``: (N, 3, H, W) float32 in [0, 1]; ``alpha``: (N, 1, H, W) or None;
    ``restore(rgb)`` gives the result back in the input's kind, channels, dtype and device.
    """

    rgb: torch.Tensor
    alpha: torch.Tensor | None
    restore: Callable[..., object]
    #: The input is gray (its result is made gray again: ``rgb``'s three channels are equal).
    gray: bool = False

    def restore_resized(self, rgb: torch.Tensor):
        """``restore`` for a result of another size than the input: the alpha channel (if any)
        is resized to it (bilinear)."""
        if self.alpha is None or tuple(self.alpha.shape[-2:]) == tuple(rgb.shape[-2:]):
            return self.restore(rgb)
        a = torch.nn.functional.interpolate(self.alpha, size=rgb.shape[-2:], mode="bilinear", align_corners=False)
        return self.restore(rgb, a.clamp_(0, 1))


#: Bytes per pixel Pillow keeps for a decoded image of each mode (3 and 4 bands take 4 bytes).
_DECODED_BYTES = {"1": 1, "L": 1, "P": 1, "I;16": 2, "I;16L": 2, "I;16B": 2, "I;16N": 2, "I": 4, "F": 4}


def check_pixels(
    name: str, where, size: tuple[int, int], mode: str = "RGBA", bytes_per_pixel: float = 0, *, decoded: bool = False
) -> None:
    """Refuses an image of ``size`` (width, height) before it is decoded: none of its sides 0, at
    most :data:`MAX_PIXELS` pixels, and its decoding (``mode``; none when already ``decoded``) plus
    ``bytes_per_pixel`` of work within the memory this machine has (:func:`fastdream._checks.fits`)."""
    w, h = size
    if w < 1 or h < 1:
        raise ValueError(f"{name}: {where} is {w}x{h} pixels: an image needs at least one pixel")
    if w * h > MAX_PIXELS:
        raise ValueError(
            f"{name}: {where} claims more than the {MAX_PIXELS / 1e6:.0f} megapixels fastdream opens ({w}x{h}, "
            f"{w * h / 1e6:.0f} megapixels); such files are usually broken or malicious"
        )
    per_pixel = bytes_per_pixel + (0 if decoded else _DECODED_BYTES.get(mode, 4) + 4 + (16 if mode in DEEP_GRAY else 0))
    _checks.fits(f"{name}: {where} ({w}x{h} pixels)", w * h * per_pixel)


@contextmanager
def opened(path, name: str = "image") -> Iterator[Image.Image]:
    """The image file ``path`` opened, its header read and nothing decoded, after the checks that
    hold before decoding: a regular file (:func:`fastdream._checks.input_file`: never a pipe that
    waits for ever) that Pillow recognizes, whose size passes :func:`check_pixels`. Pillow's
    errors become a ``ValueError`` naming the file; the caller's own errors pass unchanged."""
    p = _checks.input_file(name, path)
    if p.stat().st_size == 0:  # (it was "not an image Pillow can read": true, but not why)
        raise ValueError(f"{name}: {p} is empty (0 bytes)")
    guard = Image.MAX_IMAGE_PIXELS
    try:
        Image.MAX_IMAGE_PIXELS = None  # check_pixels replaces Pillow's guard (179 MP: too low for 16K prints)
        im = Image.open(p)
    except UnidentifiedImageError:
        raise ValueError(f"{name}: {p} is not an image Pillow can read") from None
    except Exception as exc:  # a header Pillow's parser chokes on: any error type
        raise ValueError(f"{name}: {p} could not be read ({reason(exc)})") from None
    finally:
        Image.MAX_IMAGE_PIXELS = guard
    with im:
        try:
            check_pixels(name, p, im.size, im.mode)
        except Exception as exc:
            if isinstance(exc, ValueError):
                raise
            raise ValueError(f"{name}: {p} could not be read ({reason(exc)})") from None
        yield im


def reason(exc: BaseException) -> str:
    """An exception as a short clause for a one-line message: its type, and the first line of its text."""
    text = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def upright(im: Image.Image, where) -> Image.Image:
    """``im`` turned as its EXIF orientation says; an unreadable EXIF block is ignored with a
    warning (the pixels are fine; only their orientation is unknown)."""
    why = None
    try:
        with warnings.catch_warnings(record=True) as said:  # Pillow's own warnings name no file
            warnings.simplefilter("always")
            out = ImageOps.exif_transpose(im)
        why = str(said[0].message) if said else None
    except Exception as exc:
        why, out = reason(exc), im
    if why is not None:
        warn(f"{where}: its EXIF block is damaged ({why}); the orientation may be ignored")
    return out


#: The command that works on every frame of a multi-frame picture given as ``name``.
EVERY_FRAME = {"image": "dream-video", "input": "dream-video", "content": "style-video"}


def load_pil(path, name: str = "image", *, every_frame: str | None = "", keep_mode: bool = False) -> Image.Image:
    """An image file as a PIL image in an 8-bit mode (:func:`~fastdream.io.convert.standard`: ``L``,
    ``LA``, ``RGB`` or ``RGBA``; 16-bit scaled, transparency kept), EXIF orientation applied.

    Everything is checked before decoding (:func:`opened`): a missing file, a folder, a pipe or
    device, a file that is not an image, a header claiming more than :data:`MAX_PIXELS` pixels or
    more memory than the machine has; a truncated or corrupt file is a ``ValueError`` naming it.
    A multi-frame file says its first frame is used, and which command takes every frame
    (``every_frame``; by default the one :data:`EVERY_FRAME` gives ``name``; None: none).
    ``keep_mode``: CMYK, and 16-bit, 32-bit and float gray without transparency, come back in their
    own mode (as :func:`load` reads a PIL image of them: given back in that mode, gray at full depth).
    """
    every_frame = EVERY_FRAME.get(name) if every_frame == "" else every_frame
    with opened(path, name) as im:
        where = path
        frames = frame_count(im)
        if frames > 1:
            warn(
                f"{name}: {where} has {frames} frames; the first is used"
                + (f" ({every_frame} works on every frame)" if every_frame else "")
            )
        try:
            im.load()
        except MemoryError:
            raise ValueError(f"{name}: {where} does not fit in memory once decoded") from None
        except Exception as exc:  # truncated or corrupt pixel data: any error type from the decoders
            raise ValueError(f"{name}: {where} could not be read ({reason(exc)})") from None
        im = upright(im, f"{name}: {where}")
        if keep_mode and (im.mode == "CMYK" or deep_gray(im)):
            return im
        return standard(im, name)


def frame_count(im: Image.Image) -> int:
    """The frames of an opened animation or multi-page file (1 for a still; counting an animated
    one seeks every frame)."""
    return getattr(im, "n_frames", 1) if getattr(im, "is_animated", False) else 1


def decoded(im: Image.Image, name: str = "image") -> Image.Image:
    """A PIL image given as it is, its pixels read: a closed or truncated one is a ``ValueError``
    (it was a bare AssertionError, after a false warning about its EXIF block)."""
    try:
        im.load()
    except Exception as exc:  # Pillow's decoders: any error type
        closed = getattr(im, "_im", True) is None and getattr(im, "fp", True) is None
        why = "it was closed before its pixels were read" if closed else reason(exc)
        raise ValueError(f"{name}: the PIL image could not be read ({why})") from None
    return im


def check_size(name: str, h: int, w: int, n: int = 1) -> None:
    """Refuses an empty array or tensor image, and one whose float copies would not fit in memory."""
    if h < 1 or w < 1 or n < 1:
        raise ValueError(f"{name} is empty: {n} image(s) of {w}x{h} pixels; an image needs at least one pixel")
    _checks.fits(f"{name}: {n} image(s) of {w}x{h} pixels", n * h * w * _FLOAT_BYTES)


def _split(t: torch.Tensor, name: str) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(N, C, H, W) float -> RGB and alpha."""
    c = t.shape[1]
    if c == 1:
        return t.expand(-1, 3, -1, -1), None
    if c == 2:
        return t[:, :1].expand(-1, 3, -1, -1), t[:, 1:]
    if c == 3:
        return t, None
    if c == 4:
        return t[:, :3], t[:, 3:]
    hint = ""
    if t.shape[2] <= 4:  # an array's (H, W, C) read from a (C, H, W) one
        hint = "; it looks like channels first: a numpy image is H x W x C (arr.transpose(1, 2, 0))"
    elif t.shape[3] <= 4:  # a tensor's (C, H, W) read from an (H, W, C) one
        hint = "; it looks like channels last: a tensor image is (C, H, W) (t.permute(2, 0, 1))"
    raise ValueError(f"{name} must have 1, 2, 3 or 4 channels, got {c}{hint}")


def _merge(rgb: torch.Tensor, alpha: torch.Tensor | None, channels: int) -> torch.Tensor:
    """RGB (+ alpha) back to the input's channel count."""
    if channels in (1, 2):
        rgb = luma(rgb)
    return rgb if alpha is None else torch.cat([rgb, alpha.to(rgb)], 1)


def _from_pil(im: Image.Image, name: str = "image") -> Loaded:
    check_pixels(name, "the image", im.size, im.mode, _FLOAT_BYTES, decoded=True)
    if deep_gray(im):
        return _from_deep(im, name)  # 16-bit, 32-bit and float gray: at their depth, given back in their mode
    kept, back = returned_profile(im), back_to_mode(im)  # (CMYK: worked on as RGB, given back as CMYK)
    im = standard(im, name)
    mode = im.mode
    arr = np.asarray(im)
    loaded = _from_numpy(arr, name)

    def restore(rgb, alpha=_KEEP):
        return with_profile(back(Image.fromarray(loaded.restore(rgb, alpha), mode)), kept)

    return Loaded(loaded.rgb, loaded.alpha, restore, loaded.gray)


def _from_deep(im: Image.Image, name: str = "image") -> Loaded:
    mode, a = im.mode, np.asarray(im)
    x, white = deep_float(a, mode, name)
    loaded = _from_numpy(x, name)

    kept = returned_profile(im)

    def restore(rgb, alpha=_KEEP):
        return with_profile(Image.fromarray(deep_back(loaded.restore(rgb, alpha), mode, white)), kept)

    return Loaded(loaded.rgb, loaded.alpha, restore, gray=True)


def _from_numpy(arr: np.ndarray, name: str) -> Loaded:
    if arr.ndim not in (2, 3):
        raise ValueError(f"{name} as a numpy array must be HxW or HxWxC, got shape {arr.shape}")
    dtype, shape = arr.dtype, arr.shape
    check_size(name, shape[0], shape[1])
    if dtype == np.uint8:
        t = from_uint8(torch.from_numpy(np.array(arr, copy=True)))
    elif np.issubdtype(dtype, np.floating):
        t = torch.from_numpy(np.ascontiguousarray(arr, dtype=np.float32))
        t = check_range(t, name)
    else:
        raise TypeError(f"{name} as a numpy array must be uint8 or float in [0, 1], got dtype {dtype}")
    t = t[None, None] if arr.ndim == 2 else t.permute(2, 0, 1)[None]
    channels = t.shape[1]
    rgb, alpha = _split(t, name)

    def restore(out, a=_KEEP):
        x = _merge(out, alpha if a is _KEEP else a, channels)[0].permute(1, 2, 0).cpu()
        x = x[..., 0] if len(shape) == 2 else x
        # C order, as the input was: a view of the channel planes broke OpenCV and ndarray.resize
        y = np.ascontiguousarray(to_uint8(x).numpy() if dtype == np.uint8 else x.numpy().astype(dtype))
        if a is _KEEP and alpha is not None and dtype != np.uint8:
            y[..., -1] = arr[..., -1]  # the input's own alpha, not its float32 copy
        return y

    return Loaded(rgb.contiguous(), alpha, restore, gray=channels in (1, 2))


def _from_tensor(t: torch.Tensor, name: str) -> Loaded:
    if not t.is_floating_point():
        raise TypeError(f"{name} as a tensor must be float in [0, 1], got {t.dtype}")
    if t.dim() not in (3, 4):
        raise ValueError(f"{name} as a tensor must be (C, H, W) or (N, C, H, W), got shape {tuple(t.shape)}")
    batched, device, dtype = t.dim() == 4, t.device, t.dtype
    layout = torch.channels_last if batched and is_channels_last(t) else torch.contiguous_format
    check_size(name, t.shape[-2], t.shape[-1], t.shape[0] if batched else 1)
    x = (t if batched else t[None]).detach().float()
    x = check_range(x, name)
    channels = x.shape[1]
    rgb, alpha = _split(x, name)

    def restore(out, a=_KEEP):
        y = _merge(out, alpha if a is _KEEP else a, channels).to(device=device, dtype=dtype)
        if a is _KEEP and alpha is not None and dtype != torch.float32:
            y[:, -1:] = (t if batched else t[None])[:, -1:].detach()  # the input's own alpha
        y = y.contiguous(memory_format=layout)
        return y if batched else y[0]

    return Loaded(rgb.contiguous(), alpha, restore, gray=channels in (1, 2))


def is_channels_last(t: torch.Tensor) -> bool:
    """Whether an (N, C, H, W) tensor is laid out channels last (and not also plainly contiguous,
    as a tensor of one channel or one pixel is both)."""
    return t.is_contiguous(memory_format=torch.channels_last) and not t.is_contiguous()


# Resampling and color conversions overshoot [0, 1] by a rounding error (bilinear weights sum
# to 1 only up to float precision); such values are clamped, real out-of-range input is refused.
_RANGE_SLACK = 1e-5


def check_range(t: torch.Tensor, name: str) -> torch.Tensor:
    """Returns ``t`` clamped to [0, 1] (a new tensor), after refusing real out-of-range values
    (beyond a rounding error) and non-finite ones with a ``ValueError`` naming ``name``.

    Examples:
        >>> check_range(torch.tensor([0.5, 1.0 + 1e-7]), "image")
        tensor([0.5000, 1.0000])
    """
    if t.is_meta:
        raise ValueError(f"{name}: a tensor on the meta device has no values; give one with its data")
    if t.layout != torch.strided:  # (a sparse or quantized tensor reached torch's own NotImplementedError)
        raise TypeError(
            f"{name} must be a dense tensor, got a {str(t.layout).replace('torch.', '')} one; pass {name}.to_dense()"
        )
    if t.numel() and (not torch.isfinite(t).all() or t.min() < -_RANGE_SLACK or t.max() > 1 + _RANGE_SLACK):
        bad = int((~torch.isfinite(t)).sum())
        finite = t[torch.isfinite(t)]
        if not finite.numel():
            raise ValueError(
                f"{name} values must be finite and in [0, 1] for float input, got only NaN or infinite ones"
            )
        lo, hi = float(finite.min()), float(finite.max())
        which = f"{bad} value(s) NaN or infinite, the others in" if bad else "got range"
        raise ValueError(f"{name} values must be finite and in [0, 1] for float input, {which} [{lo:.3g}, {hi:.3g}]")
    return t.clamp(0.0, 1.0)


def image_shape(image, name: str = "image") -> tuple[int, int, int] | None:
    """(N, H, W) of an image of any kind without decoding it (a file's from its header, through
    :func:`opened`'s checks); None for what is no image (:func:`load` says why).

    Examples:
        >>> image_shape(np.zeros((4, 6, 3), np.uint8)), image_shape(torch.zeros(2, 3, 5, 7))
        ((1, 4, 6), (2, 5, 7))
    """
    if isinstance(image, (str, os.PathLike)):
        with opened(image, name) as im:
            return 1, im.height, im.width
    if isinstance(image, Image.Image):
        return 1, image.height, image.width
    if isinstance(image, np.ndarray) and image.ndim >= 2:
        return 1, int(image.shape[0]), int(image.shape[1])
    if isinstance(image, torch.Tensor) and image.dim() >= 2:
        return (int(image.shape[0]) if image.dim() == 4 else 1), int(image.shape[-2]), int(image.shape[-1])
    return None


def load(image, name: str = "image", *, one: bool = False) -> Loaded:
    """Turns any accepted image kind into a :class:`Loaded`; with ``one``, an (N, C, H, W) tensor
    of N > 1 is refused (where one picture is painted, a batch's first alone was taken silently)."""
    if isinstance(image, (str, os.PathLike)):
        return _from_pil(load_pil(image, name, keep_mode=True), name)  # (a 16-bit file came back 8-bit, CMYK RGB)
    if isinstance(image, Image.Image):
        return _from_pil(upright(decoded(image, name), name), name)
    if isinstance(image, np.ndarray):
        return _from_numpy(image, name)
    if not isinstance(image, torch.Tensor):
        raise TypeError(f"{name} must be a path, PIL image, numpy array or torch tensor, got {type(image).__name__}")
    loaded = _from_tensor(image, name)
    if one and loaded.rgb.shape[0] > 1:
        raise ValueError(f"{name}: one image at a time, got a batch of {loaded.rgb.shape[0]}")
    return loaded
