"""Which image formats can write what: the writer chosen and tried before any work (an
extension Pillow cannot write, a format that cannot hold the picture's mode, transparency or size)."""

from __future__ import annotations

import functools
import io as _bytes
from pathlib import Path

import numpy as np
from PIL import Image

#: What to suggest when a format cannot be written or cannot hold the picture.
WRITABLE = ".png, .jpg, .webp, .tif or .bmp"


#: The longest side each format can store (Pillow's writers fail or shrink past it).
MAX_SIDE = {"JPEG": 65500, "WEBP": 16383, "GIF": 65535, "TGA": 65535, "AVIF": 65536, "ICO": 256, "BMP": 2**31 - 1}


def image_format(
    path, mode: str = "RGB", name: str = "output", size: tuple[int, int] | None = None, *, soft: bool = True
) -> str:
    """The Pillow format that writes ``path`` (by its extension), once a small image of ``mode`` has
    been written in it: unknown extensions, formats Pillow only reads, formats that cannot hold
    ``mode`` (transparency into JPEG, soft transparency into GIF) and, given the picture's ``size``
    (width, height), formats that cannot store that size (:data:`MAX_SIDE`) are a ``ValueError``
    before any work. ``soft=False``: the picture's alpha is only fully clear or opaque
    (:func:`soft_alpha`), which GIF holds.

    Examples:
        >>> image_format("out.PNG", "RGBA")
        'PNG'
        >>> image_format("out.jpg", "RGBA")
        Traceback (most recent call last):
        ...
        ValueError: output: out.jpg is a JPEG, which cannot hold transparency (alpha); use .png or .webp
    """
    path = Path(path)
    ext = path.suffix.lower()
    if not ext and bare_extension(path) in Image.registered_extensions():
        raise ValueError(f"{name}: {path} is only an extension; give the file a name, such as dream{path.name.lower()}")
    if not ext:
        raise ValueError(f"{name}: {path} has no extension to choose an image format by; use {WRITABLE}")
    fmt = Image.registered_extensions().get(ext)
    if fmt is None:
        raise ValueError(f"{name}: unknown image extension {ext!r} in {str(path)!r}; use {WRITABLE}")
    if fmt not in Image.SAVE:
        raise ValueError(f"{name}: Pillow reads {ext} files but cannot write them; use {WRITABLE}")
    a = "an" if fmt[0] in "AEIOU" else "a"
    held = _holds(fmt, mode)
    if held == "hard" and soft:
        raise ValueError(
            f"{name}: {path} is {a} {fmt}, which cannot hold soft transparency (only fully clear or opaque pixels: "
            "the picture's alpha would be lost); use .png or .webp"
        )
    if not held:
        if "A" in mode:
            raise ValueError(f"{name}: {path} is {a} {fmt}, which cannot hold transparency (alpha); use .png or .webp")
        raise ValueError(f"{name}: {path} is {a} {fmt}, which cannot hold a {mode} image; use {WRITABLE}")
    if size is not None and max(size) > MAX_SIDE.get(fmt, 2**31 - 1):
        raise ValueError(
            f"{name}: {path} is {a} {fmt}, which stores at most {MAX_SIDE[fmt]} pixels a side, and the picture is "
            f"{size[0]}x{size[1]}; use .png or .tif"
        )
    return fmt


def bare_extension(path: Path) -> str:
    """The extension a name is made of alone (``-o .png``: the file's name left out; Python reads
    it as a hidden file's name with no suffix), lowercased; '' for any other name.

    Examples:
        >>> bare_extension(Path("out/.PNG")), bare_extension(Path("a.png")), bare_extension(Path(".x.png"))
        ('.png', '', '')
    """
    name = path.name
    return name.lower() if name.startswith(".") and not path.suffix and "." not in name[1:] else ""


def soft_alpha(image: Image.Image) -> bool:
    """Whether ``image`` has alpha between fully clear and fully opaque (which GIF cannot hold).

    Examples:
        >>> soft_alpha(Image.new("RGBA", (2, 2), (0, 0, 0, 128))), soft_alpha(Image.new("LA", (2, 2), (0, 255)))
        (True, False)
    """
    if "A" not in image.mode:
        return False
    return sum(image.getchannel("A").histogram()[1:255]) > 0


def keeps_soft_alpha(path) -> bool:
    """Whether the format of ``path`` (by its extension) keeps alpha between clear and opaque."""
    fmt = Image.registered_extensions().get(Path(path).suffix.lower())
    return fmt is not None and _holds(fmt, "RGBA") is True


#: A level past 8 bits for each deep mode: a format holds the mode when this comes back. Pillow's
#: WebP and GIF writers took 16-bit gray through a conversion that clips at 255 (a picture all
#: white) and float through one that clips at 1 (all black), and said nothing.
_DEEP_LEVEL = {"I;16": 40000, "I;16B": 40000, "I;16L": 40000, "I": 40000, "F": 0.3}


@functools.cache
def _holds(fmt: str, mode: str) -> bool | str:
    """Whether ``fmt`` writes a ``mode`` image and gives its transparency (or its levels past 8
    bits) back: True, False, or ``"hard"`` when only fully clear and fully opaque pixels come back
    (GIF). Once per format."""
    im = Image.new(mode, (16, 16))  # ICO has no size under 16
    if mode in _DEEP_LEVEL:
        im.putpixel((2, 2), _DEEP_LEVEL[mode])
    if "A" in mode:
        im.putpixel((0, 0), (0,) * (len(mode) - 1) + (0,))
        im.putpixel((1, 0), (100,) * (len(mode) - 1) + (128,))
        im.putpixel((1, 1), (255,) * len(mode))
    buf = _bytes.BytesIO()
    try:
        im.save(buf, format=fmt)
        if mode in _DEEP_LEVEL:
            buf.seek(0)
            with Image.open(buf) as opened:
                back = opened.getpixel((2, 2)) if opened.mode in _DEEP_LEVEL else None
            return isinstance(back, (int, float)) and abs(back - _DEEP_LEVEL[mode]) < 1e-6
        if "A" not in mode:
            return True
        buf.seek(0)
        with Image.open(buf) as opened:
            alpha = np.asarray(opened.convert("RGBA"))[..., 3].astype(int)
        if not (alpha[0, 0] == 0 and alpha[1, 1] == 255):
            return False
        return True if abs(alpha[0, 1] - 128) <= 8 else "hard"
    except Exception:  # any writer's refusal, whatever its type
        return False


def flatten(im: Image.Image, color=(255, 255, 255)) -> Image.Image:
    """``im`` without its alpha: composited on ``color`` (RGB, 0-255), for formats that keep none.

    Examples:
        >>> flatten(Image.new("RGBA", (1, 1), (0, 0, 0, 0))).getpixel((0, 0))
        (255, 255, 255)
    """
    if "A" not in im.mode and "transparency" not in im.info:
        return im
    base = Image.new("RGBA", im.size, (*color[:3], 255))
    flat = Image.alpha_composite(base, im.convert("RGBA")).convert("RGB")
    return flat.convert("L") if im.mode in ("LA", "La") else flat
