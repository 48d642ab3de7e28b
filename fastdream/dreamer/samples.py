"""Subject folders cut from a few pictures (:func:`make_subject_folders`): for trying a dreamer
before gathering pictures of your own, for the tests and for the benchmark."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from fastdream import _checks, io
from fastdream.dreamer.data import unusable_name


def _pils(image, name: str) -> list[Image.Image]:
    """The picture, or each of an (N, C, H, W) batch's N (its first alone had been taken)."""
    return [io.to_pil(x) for x in io.load(image, name).rgb]


def _crop(im: Image.Image, rng: np.random.Generator, size: int) -> Image.Image:
    """A random square of 30-80% of the short side, turned by up to 15 degrees (cut from a
    larger square so no corner is empty), flipped half the time, resized to ``size``."""
    w, h = im.size
    side = min(w, h) * rng.uniform(0.3, 0.8)
    angle = rng.uniform(-15, 15)
    grown = side * (abs(math.cos(math.radians(angle))) + abs(math.sin(math.radians(angle))))
    if grown > min(w, h):
        angle, grown = 0.0, side
    x, y = rng.uniform(0, w - grown), rng.uniform(0, h - grown)
    part = im.crop((round(x), round(y), round(x + grown), round(y + grown)))
    if angle:
        part = part.rotate(angle, resample=Image.BICUBIC)
        m = (grown - side) / 2
        part = part.crop((round(m), round(m), round(m + side), round(m + side)))
    if rng.random() < 0.5:
        part = ImageOps.mirror(part)
    return part.resize((size, size), Image.BICUBIC, reducing_gap=3.0)


def make_subject_folders(out_dir, sources: dict, per_subject: int = 60, size: int = 192, seed: int = 0) -> Path:
    """Writes ``out_dir/NAME/NAME_0000.jpg ...``: ``per_subject`` augmented crops of each
    subject's pictures (random squares of 30-80% of the short side, turned by up to 15 degrees,
    flipped), ``size`` pixels square. A folder :func:`fastdream.train_dreamer` takes.

    Args:
        out_dir: the folder to write (created; existing files of the same names are replaced).
        sources: subject name -> a picture (any image kind ``fastdream.dream`` takes), a list
            of them, or an (N, C, H, W) tensor of N (the crops are spread over them).
        per_subject: crops per subject (>= 2).
        size: side of each crop in pixels (>= 16).
        seed: makes the crops reproducible.

    Returns:
        ``Path(out_dir)``.

    Examples:
        >>> import tempfile, numpy as np
        >>> from fastdream.data import make_subject_folders
        >>> rng = np.random.default_rng(0)
        >>> pics = {"noise": rng.integers(0, 256, (80, 90, 3), dtype=np.uint8), "flat": np.full((64, 64, 3), 128, np.uint8)}
        >>> root = make_subject_folders(tempfile.mkdtemp(), pics, per_subject=3, size=32)
        >>> sorted(p.relative_to(root).as_posix() for p in root.rglob("*.jpg"))[:2]
        ['flat/flat_0000.jpg', 'flat/flat_0001.jpg']
    """
    out = _checks.path("out_dir", out_dir)
    if not isinstance(sources, dict) or not sources:
        raise TypeError(f"sources must be a dict subject name -> picture(s), got {type(sources).__name__}")
    for name in sources:  # (a name train_dreamer then refused, or could never dream, was written)
        if not isinstance(name, str):
            raise TypeError(f"sources: a subject's name must be a string, got {_checks.shown(name)}")
        plain = name not in ("", ".", "..") and not any(c in name for c in "/\\\0")
        why = unusable_name(name) if plain else "is not a folder's name"
        if why:
            raise ValueError(f"sources: subject {name!r} {why}; name it otherwise")
        io.check_name_length("sources", out / f"{name}_0000.jpg")  # (else the system's "File name too long")
    per_subject = _checks.integer("per_subject", per_subject, 2, cap=_checks.COUNT_MAX)
    size = _checks.integer("size", size, 16, cap=1 << 14)
    _checks.fits(f"size={size}", size * size * 3 * 4)
    _checks.fits_on_disk(
        f"{len(sources)} x per_subject={per_subject} crops of {size}x{size}",
        len(sources) * per_subject * size * size * 3 / 4,
        out,
    )
    rng = np.random.default_rng(_checks.integer("seed", seed, 0))
    for name, pics in sources.items():
        if not isinstance(name, str) or not name or "/" in name or "\\" in name or name.startswith("."):
            raise ValueError(f"sources: {name!r} is not a subject name (a folder name: no slashes, not hidden)")
        pics = [
            im for p in (pics if isinstance(pics, (list, tuple)) else [pics]) for im in _pils(p, f"sources[{name!r}]")
        ]
        folder = out / name
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(per_subject):
            crop = _crop(pics[i % len(pics)], rng, size)
            io.atomic_save(
                lambda tmp, crop=crop: crop.save(tmp, format="JPEG", quality=92), folder / f"{name}_{i:04d}.jpg"
            )
    return out
