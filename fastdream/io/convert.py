"""Conversions between float image tensors and 8-bit pixels: levels, uint8 tensors, PIL images,
sample grids, and back.

Every pipeline that reads or writes pixels goes through here, so the rounding is the same
everywhere: a value ``v`` in ``value_range = (lo, hi)`` becomes ``round((v - lo) * 255 / (hi - lo))``,
clamped to 0..255, and a level ``k`` becomes ``k / 255 * (hi - lo) + lo`` (:func:`from_uint8`,
exact for every level: ``to_uint8(from_uint8(k)) == k``).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from PIL import Image

from fastdream import _checks
from fastdream._checks import shown
from fastdream._warnings import warn

#: The PIL mode of an 8-bit image by its channel count.
MODES = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}


def quantize(x: torch.Tensor, value_range=(0.0, 1.0)) -> torch.Tensor:
    """The 8-bit levels of ``x`` as a float tensor (0.0 ... 255.0), on ``x``'s device.

    Examples:
        >>> quantize(torch.tensor([0.0, 0.5, 1.0]))
        tensor([  0., 128., 255.])
    """
    lo, hi = _value_range(value_range)
    return (x.detach().float() - lo).mul_(255.0 / (hi - lo)).round_().clamp_(0.0, 255.0)


def _scalar(x):
    if isinstance(x, torch.Tensor) and x.numel() == 1 and not x.dtype.is_complex:
        return float(x.item())
    if isinstance(x, np.ndarray) and x.size == 1:
        return x.item()
    return x


def _value_range(v) -> tuple[float, float]:
    """``(lo, hi)``: two finite numbers, ``lo < hi`` ((1, 1) divided by zero, (0, nan) gave zeros)."""
    if isinstance(v, (tuple, list)):  # (one-number tensors and arrays, as (t.min(), t.max()) gives them)
        v = tuple(_scalar(x) for x in v)
    lo, hi = _checks.pair("value_range", v)
    if not lo < hi:
        raise ValueError(f"value_range must be (lo, hi) with lo < hi, got {shown(v)}")
    return lo, hi


def to_uint8(x: torch.Tensor, value_range=(0.0, 1.0)) -> torch.Tensor:
    """``x`` as a uint8 tensor of its 8-bit levels (see :func:`quantize`), on the CPU."""
    return quantize(x, value_range).to(torch.uint8).cpu()


def from_uint8(x: torch.Tensor, value_range=(0.0, 1.0)) -> torch.Tensor:
    """8-bit levels (a uint8 tensor, any shape) as float32 values in ``value_range``, on ``x``'s
    device: the inverse of :func:`to_uint8`.

    Examples:
        >>> from_uint8(torch.tensor([0, 51, 255], dtype=torch.uint8))
        tensor([0.0000, 0.2000, 1.0000])
        >>> from_uint8(torch.tensor([0, 255], dtype=torch.uint8), value_range=(-1.0, 1.0))
        tensor([-1.,  1.])
    """
    if x.dtype != torch.uint8:
        raise TypeError(f"from_uint8 takes a uint8 tensor of 8-bit levels, got {x.dtype}")
    lo, hi = value_range
    # A division rather than a product with 1/255: k / 255 is the float nearest to the value.
    y = x.float().div_(255.0 / (hi - lo))
    return y.add_(lo) if lo else y


#: Modes of one gray channel deeper than 8 bits: 16-bit (Pillow's ``I;16`` family), 32-bit integer
#: (``I``, which Pillow gives 16-bit PGM files) and 32-bit float (``F``).
DEEP_GRAY = ("I;16", "I;16L", "I;16B", "I;16N", "I", "F")


def deep_gray(im: Image.Image) -> bool:
    """Whether ``im`` is 16-bit, 32-bit or float gray without a transparent value: read at its full
    depth and given back in its mode (:func:`deep_float`, :func:`back_to_mode`)."""
    return im.mode in DEEP_GRAY and im.info.get("transparency") is None


def standard(im: Image.Image, name: str = "image") -> Image.Image:
    """``im`` in one of the 8-bit modes fastdream works in (``L``, ``LA``, ``RGB``, ``RGBA``), with
    nothing lost that 8 bits can hold: 16-bit and 32-bit gray scaled to 8 bits (not clipped, which
    turns a 16-bit photo white), transparency kept as alpha (palette, color key, ``PA``, ``La``,
    ``RGBa``), CMYK, YCbCr, LAB and HSV as RGB, bilevel as gray. Other modes are a ``ValueError``.
    ``name``: what the picture is, for a message (``mask``, ``style``...).

    Examples:
        >>> im = Image.fromarray(np.array([[0, 32896, 65535]], np.uint16))  # 16-bit gray
        >>> im.mode, standard(im).mode, np.asarray(standard(im)).tolist()
        ('I;16', 'L', [[0, 128, 255]])
        >>> p = Image.new("P", (2, 1)); p.info["transparency"] = 0
        >>> standard(p).mode
        'RGBA'
    """
    mode, key = im.mode, im.info.get("transparency")
    if mode in ("L", "RGB") and key is not None:  # a color key: that value is transparent
        return im.convert("LA" if mode == "L" else "RGBA")
    if mode in MODES.values():
        return im
    if mode in DEEP_GRAY:
        a = np.asarray(im)
        gray = Image.fromarray(_levels(a, mode, name), "L")
        # (its dpi and profile, as convert keeps them)
        gray.info.update((k, v) for k, v in im.info.items() if k != "transparency")
        if isinstance(key, int) and mode != "F":
            gray.putalpha(Image.fromarray(np.where(a == key, 0, 255).astype(np.uint8), "L"))
        return gray
    if mode in ("P", "PA"):
        return im.convert("RGBA" if mode == "PA" or _palette_alpha(im) else "RGB")
    if mode in ("La", "RGBa"):
        return im.convert(mode.upper())
    if mode in ("1", "CMYK", "YCbCr", "LAB", "HSV", "RGBX"):
        return im.convert("L" if mode == "1" else "RGB")
    raise ValueError(f"{name}: Pillow mode {mode!r} is not supported (fastdream reads gray, RGB, CMYK, palette...)")


def has_clear(image: Image.Image) -> bool:
    """Whether ``image`` has pixels that are not fully opaque (its alpha below 255 somewhere).

    Examples:
        >>> has_clear(Image.new("RGBA", (2, 2), (0, 0, 0, 255))), has_clear(Image.new("LA", (2, 2), (0, 254)))
        (False, True)
    """
    return "A" in image.mode and sum(image.getchannel("A").histogram()[:255]) > 0


def standard_mode(im: Image.Image) -> str:
    """The mode :func:`standard` gives ``im``, read from its header (nothing is decoded).

    Examples:
        >>> standard_mode(Image.new("I;16", (1, 1))), standard_mode(Image.new("PA", (1, 1)))
        ('L', 'RGBA')
    """
    mode, key = im.mode, im.info.get("transparency")
    if mode in ("L", "RGB"):
        return mode + ("A" if key is not None else "")
    if mode in MODES.values():
        return mode
    if mode in DEEP_GRAY:
        return "LA" if isinstance(key, int) and mode != "F" else "L"
    if mode in ("P", "PA"):
        return "RGBA" if mode == "PA" or _palette_alpha(im) else "RGB"
    if mode in ("La", "RGBa"):
        return mode.upper()
    return "L" if mode == "1" else "RGB"


def _palette_alpha(im: Image.Image) -> bool:
    """Whether palette picture ``im`` holds transparency: a color key, or a palette of RGBA colors
    (``quantize()`` of an RGBA picture: read as RGB, its clear part came out opaque).

    Examples:
        >>> clear, opaque = (Image.new("RGBA", (2, 1), (9, 9, 9, a)).quantize() for a in (0, 255))
        >>> _palette_alpha(clear), _palette_alpha(opaque), _palette_alpha(Image.new("P", (2, 1)))
        (True, False, False)
    """
    if im.info.get("transparency") is not None:
        return True
    if im.palette is None or im.palette.mode != "RGBA":
        return False
    # The entries the picture uses (an opaque one stays RGB; unused entries are often clear). Such
    # a palette is made in memory (quantize()); a file's says its clear entries in "transparency".
    colors, alpha = im.getcolors(256) or [], (im.getpalette("RGBA") or [])[3::4]
    used = [i for _, i in colors if isinstance(i, int) and i < len(alpha)]  # (a P picture's colors: indices)
    return any(alpha[i] < 255 for i in used)


def _levels(a: np.ndarray, mode: str, name: str = "image") -> np.ndarray:
    """8-bit levels of a deep gray array: 16-bit values over 65535; float over 1 when they lie in
    [0, 1], else over 255 as Pillow's own conversion reads them; 32-bit ``I`` by what it holds:
    8-bit values (``convert("I")`` of a gray picture) as they are, 16-bit ones over 65535, wider
    ones over their largest (clipping them turned the picture white).

    Examples:
        >>> _levels(np.array([[0, 128, 255]], np.int32), "I").tolist(), _levels(np.array([[0, 50000, 100000]]), "I").tolist()
        ([[0, 128, 255]], [[0, 128, 255]])
    """
    white = deep_white(a, mode, name=name)
    if mode == "F":
        a = np.nan_to_num(a.astype(np.float64), nan=0.0, posinf=white, neginf=0.0)
        return np.clip(np.rint(a * (255.0 / white)), 0, 255).astype(np.uint8)
    a = np.clip(a.astype(np.int64), 0, white)
    if white == 255:
        return a.astype(np.uint8)
    return ((a * 255 + white // 2) // white).astype(np.uint8)  # 16-bit: round(v / 257), exact for 8-bit values


def deep_white(a: np.ndarray, mode: str, quiet: bool = False, name: str = "image"):
    """The value a deep gray array's white is (:func:`_levels`, :func:`deep_float`): 65535 for
    16-bit; for float (``F``) 1 when every value lies in [0, 1], 255 when they reach past 1 but not
    past 255 (Pillow's own reading), else its largest (HDR or measured data: clipping at 255 turned
    most of it white); for 32-bit ``I`` 255 when it holds 8-bit values, its largest when wider than
    16 bits, else 65535. Unless ``quiet``, what reads as black without being so is said (as
    ``name``): a float picture just over 1 (up to 2), values below 0, NaN.

    Examples:
        >>> deep_white(np.array([[0.0, 0.5]], np.float32), "F"), deep_white(np.array([[0, 300]]), "I")
        (1.0, 65535)
        >>> float(deep_white(np.array([[0.0, 1020.0]], np.float32), "F"))
        1020.0
    """
    if not quiet:  # (said wherever the picture comes from: a path, a PIL image)
        _say_black(a, name)
    if mode == "F":
        finite = a[np.isfinite(a)]
        if not finite.size or (finite.min() >= 0 and finite.max() <= 1):
            return 1.0
        if finite.max() <= 2 and not quiet:
            warn(
                f"{name}: a float ('F') picture with values up to {float(finite.max()):.3g} is read as 0-255 levels "
                "(Pillow's reading), so it is nearly black; clip it to [0, 1] to have it read as [0, 1]"
            )
        return 255.0 if finite.max() <= 255 else float(finite.max())
    top = int(a.max()) if a.size else 0
    if mode == "I" and top <= 255:
        return 255
    return top if mode == "I" and top > 65535 else 65535


def _say_black(a: np.ndarray, name: str) -> None:
    """Warns of the values of a deep gray picture that are read as black (NaN, and those below 0)
    or as white without being so (+inf: it said nothing of them)."""
    nan = int(np.isnan(a).sum()) if a.dtype.kind == "f" else 0
    low = float(np.nanmin(a)) if a.size > nan else 0.0
    said = ([f"{nan} NaN pixel(s)"] if nan else []) + ([f"values below 0 (down to {low:.3g})"] if low < 0 else [])
    said = [f"{' and '.join(said)}, read as black"] if said else []
    inf = int(np.isposinf(a).sum()) if a.dtype.kind == "f" else 0
    said += [f"{inf} infinite pixel(s), read as white"] if inf else []
    if said:
        warn(f"{name}: {'; '.join(said)}")


def deep_float(a: np.ndarray, mode: str, name: str = "image") -> tuple[np.ndarray, float]:
    """A deep gray array as float32 in [0, 1] at its full depth, and its white (:func:`deep_white`),
    to give a result back in the same mode with :func:`deep_back`.

    Examples:
        >>> x, white = deep_float(np.array([[0, 32768, 65535]], np.uint16), "I;16")
        >>> white, deep_back(x, "I;16", white).tolist()
        (65535, [[0, 32768, 65535]])
    """
    white = deep_white(a, mode, name=name)
    x = np.nan_to_num(a.astype(np.float64), nan=0.0, posinf=white, neginf=0.0) / white
    return np.clip(x, 0.0, 1.0).astype(np.float32), white


def deep_back(x: np.ndarray, mode: str, white) -> np.ndarray:
    """:func:`deep_float`'s inverse: float in [0, 1] to the values of ``mode`` (``uint16`` for the
    16-bit modes, ``int32`` for ``I``, ``float32`` for ``F``)."""
    if mode == "F":
        return (x.astype(np.float64) * white).astype(np.float32)
    y = np.rint(x.astype(np.float64) * white)
    return y.astype(np.int32 if mode == "I" else np.uint16)


def uint8_from_pil(im: Image.Image, mode: str | None = None) -> torch.Tensor:
    """The pixels of a PIL image as a uint8 (C, H, W) tensor (a copy, ours to modify), after
    ``im.convert(mode)`` when ``mode`` is given (``"L"``, ``"LA"``, ``"RGB"`` or ``"RGBA"``).

    Examples:
        >>> uint8_from_pil(Image.new("RGB", (5, 4), (255, 0, 0))).shape
        torch.Size([3, 4, 5])
        >>> uint8_from_pil(Image.new("RGBA", (2, 2)), "L").shape  # alpha dropped, gray
        torch.Size([1, 2, 2])
    """
    if mode is not None and im.mode != mode:
        im = im.convert(mode)
    if im.mode not in MODES.values():
        raise ValueError(f"image: 8-bit pixels need mode L, LA, RGB or RGBA, got {shown(im.mode)}; pass mode=")
    a = np.array(im, dtype=np.uint8)  # np.array copies: torch may write to it
    t = torch.from_numpy(a)
    return t[None] if t.dim() == 2 else t.permute(2, 0, 1).contiguous()


def from_pil(im: Image.Image, mode: str | None = None, value_range=(0.0, 1.0)) -> torch.Tensor:
    """A PIL image as a float32 (C, H, W) tensor in ``value_range`` (:func:`uint8_from_pil`, then
    :func:`from_uint8`): the inverse of :func:`to_pil`.

    Examples:
        >>> from_pil(Image.new("L", (3, 2), 255))
        tensor([[[1., 1., 1.],
                 [1., 1., 1.]]])
    """
    return from_uint8(uint8_from_pil(im, mode), value_range)


def to_pil(x: torch.Tensor, value_range=(0.0, 1.0)):
    """A (C, H, W) tensor as a PIL image, or an (N, C, H, W) tensor as a list of them.

    Shape:
        C = 1, 2, 3, 4 give modes ``L``, ``LA``, ``RGB``, ``RGBA``.

    Examples:
        >>> to_pil(torch.zeros(3, 4, 5)).size
        (5, 4)
        >>> [im.mode for im in to_pil(torch.zeros(2, 1, 4, 4))]
        ['L', 'L']
    """
    if not isinstance(x, torch.Tensor) or x.dim() not in (3, 4) or x.shape[-3] not in MODES:
        raise ValueError(f"x must be a (C, H, W) or (N, C, H, W) tensor of 1 to 4 channels, got {shown(x)}")
    if x.dim() == 4:
        return [to_pil(t, value_range) for t in x]
    a = to_uint8(x, value_range).permute(1, 2, 0).numpy()
    mode = MODES[a.shape[-1]]
    return Image.fromarray(a[..., 0] if mode == "L" else np.ascontiguousarray(a), mode)


def grid(x: torch.Tensor, nrow: int = 8, pad: int = 2, value_range=(0.0, 1.0)) -> Image.Image:
    """Images (N, C, H, W) side by side, ``nrow`` per row, ``pad`` black pixels around each.

    Examples:
        >>> grid(torch.zeros(10, 3, 8, 8), nrow=4).size  # 4 columns, 3 rows of 8 px, 2 px gaps
        (42, 32)
    """
    if not isinstance(x, torch.Tensor) or x.dim() != 4:
        raise ValueError(f"x must be an (N, C, H, W) tensor, got {shown(x)}")
    nrow, pad = _checks.integer("nrow", nrow, 1, cap=1 << 16), _checks.integer("pad", pad, 0, cap=1 << 10)
    arr = to_uint8(x, value_range).permute(0, 2, 3, 1).numpy()
    n, h, w, c = arr.shape
    rows = math.ceil(n / nrow)
    out = np.zeros((pad + rows * (h + pad), pad + nrow * (w + pad), c), np.uint8)
    for i, a in enumerate(arr):
        r, k = divmod(i, nrow)
        y, x0 = pad + r * (h + pad), pad + k * (w + pad)
        out[y : y + h, x0 : x0 + w] = a
    mode = MODES[c]
    return Image.fromarray(out[..., 0] if mode == "L" else out, mode)


def grid_tensor(x: torch.Tensor, nrow: int = 4, pad: int = 2, value_range=(0.0, 1.0)) -> torch.Tensor:
    """:func:`grid` as a uint8 (C, H, W) tensor: small pictures to keep in a checkpoint's history.

    Examples:
        >>> grid_tensor(torch.zeros(4, 1, 8, 8), nrow=2).shape
        torch.Size([1, 22, 22])
    """
    t = torch.from_numpy(np.array(grid(x, nrow, pad, value_range)))
    return t[None] if t.dim() == 2 else t.permute(2, 0, 1).contiguous()


def back_to_mode(image: Image.Image):
    """How an 8-bit result of :func:`standard`'s mode goes back to ``image``'s own: CMYK by
    Pillow's conversion; 16-bit, 32-bit and float gray at their scale (:func:`deep_back`); any
    other mode as it is (palette and bilevel pictures come back RGB or gray: those modes cannot
    hold a dream; a dream dithered back to two levels was the input again).

    Examples:
        >>> back_to_mode(Image.new("CMYK", (1, 1)))(Image.new("RGB", (1, 1))).mode
        'CMYK'
        >>> back_to_mode(Image.new("I;16", (1, 1)))(Image.new("L", (1, 1), 255)).getpixel((0, 0))
        65535
    """
    mode = image.mode
    if mode == "CMYK":
        return lambda out: out.convert("CMYK")
    if not deep_gray(image):
        return lambda out: out
    white = deep_white(np.asarray(image), mode, quiet=True)  # (said as the picture is read)
    return lambda out: Image.fromarray(deep_back(np.asarray(out, np.float32) / 255.0, mode, white))
