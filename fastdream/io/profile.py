"""What a picture's result keeps of its file's record: its color profile, its print size (the
resolution, scaled when the result has another size: a 300 dpi scan prints at its size again) and
its camera's EXIF record (without the orientation: a result is upright)."""

from __future__ import annotations

from PIL import Image


def color_profile(im: Image.Image) -> bytes | None:
    """The picture's ICC color profile, where the result keeps its mode (a CMYK profile does not
    describe the RGB a CMYK picture becomes)."""
    return im.info.get("icc_profile") if im.mode in ("L", "LA", "RGB", "RGBA") else None


def returned_profile(im: Image.Image) -> dict:
    """What a dream of ``im`` given back in its own mode keeps of its file's record: the color
    profile (:func:`color_profile`'s, and a CMYK picture's own: it comes back CMYK,
    :func:`~fastdream.io.convert.back_to_mode`), the print resolution (``dpi``) and the EXIF
    record (:func:`_exif`), for :func:`with_profile`. A dream keeps the size, so a 300 dpi scan prints at its size again."""
    icc = im.info.get("icc_profile") if im.mode == "CMYK" else color_profile(im)
    dpi = im.info.get("dpi")
    kept = (("icc_profile", icc), ("dpi", dpi), ("size", im.size if dpi else None), ("exif", _exif(im)))
    return {k: v for k, v in kept if v}


#: EXIF tags a result does not keep: the orientation (a result is upright) and the pixel size.
_STALE = (0x0112,)
_STALE_IN_EXIF_IFD = (0xA002, 0xA003)


def _exif(im: Image.Image) -> bytes | None:
    """The camera's record (make, model, date, exposure, GPS...) for the result, without the tags
    that describe the input's pixels; None when there is none, or it cannot be read."""
    if "exif" not in im.info:
        return None
    try:
        exif = im.getexif()
        for tag in _STALE:
            exif.pop(tag, None)
        ifd = exif.get_ifd(0x8769)
        for tag in _STALE_IN_EXIF_IFD:
            ifd.pop(tag, None)
        return exif.tobytes() if len(exif) else None
    except Exception:  # a broken EXIF block: the picture is still the user's; only the record goes
        return None


def with_profile(im: Image.Image, kept: dict) -> Image.Image:
    """``im`` carrying what :func:`returned_profile` kept of the input, for :func:`save_image`
    to write: the color profile (its colors are the input's numbers: without the profile a
    wide-gamut photo would show shifted) and the print resolution, scaled by the result's size
    against the input's (a style at 4x the size prints at the scan's size, not 4x it).

    Examples:
        >>> scan = Image.new("RGB", (60, 40)); scan.info["dpi"] = (300, 300)
        >>> with_profile(Image.new("RGB", (240, 160)), returned_profile(scan)).info["dpi"]
        (1200.0, 1200.0)
    """
    im.info.update({k: v for k, v in kept.items() if k != "size"})
    if "dpi" in kept and "size" in kept and im.size != kept["size"]:
        (x, y), (w, h) = kept["dpi"], kept["size"]
        im.info["dpi"] = (float(x) * im.width / w, float(y) * im.height / h)
    return im
