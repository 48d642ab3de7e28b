"""Folders of training images: listing by extension, header checks, decoding, and a preload budget.

Every trainer reads its images through here, so they all accept the same files, refuse an
unreadable file before anything is written, and keep a dataset in memory when it fits in
:data:`PRELOAD_BYTES` (decoded once) instead of decoding every image every epoch.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps
from torch.utils.data import Dataset
from tqdm.auto import tqdm

from fastdream import io
from fastdream._warnings import warn
from fastdream.io import load_pil, uint8_from_pil

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm")
#: Datasets whose decoded pixels fit in this many bytes are decoded once and kept in memory (a
#: 64 px RGB image is 12 KiB: ~87k images); larger ones are decoded on each use.
PRELOAD_BYTES = 1 << 30


def list_images(folder, name: str = "images_dir", recursive: bool = True, exclude=None) -> list[Path]:
    """Image files under ``folder`` (by extension), sorted; files under ``exclude`` (a folder, e.g.
    the run's own output inside the images folder) are left out. Clear errors for missing folders."""
    folder = Path(folder)
    if not folder.exists():
        raise FileNotFoundError(f"{name}: no such folder: {folder}")
    if not folder.is_dir():
        raise NotADirectoryError(f"{name}: {folder} is not a folder")
    found = walk_files(folder, recursive)
    files = sorted(p for p in found if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file())
    if exclude is not None:
        skip = Path(exclude).resolve()
        files = [f for f in files if skip not in f.resolve().parents]
    return files


def walk_files(folder: Path, recursive: bool):
    """The files under ``folder``. Hidden files and folders are no one's pictures: a Mac's
    ``._photo.png`` beside each photo (not an image at all), a viewer's ``.thumbnails/``. Linked
    folders are followed (``ln -s ~/photos/cats subjects/cat``), each real folder once, so a link
    to a folder above it is no loop."""
    seen = set()
    for root, dirs, names in os.walk(folder, followlinks=True):
        real = os.path.realpath(root)
        dirs[:] = [] if real in seen or not recursive else sorted(d for d in dirs if not d.startswith("."))
        if real not in seen:
            seen.add(real)
            yield from (Path(root, n) for n in names if not n.startswith("."))


#: The batch of a generative trainer's folder that holds enough pictures.
BATCH_SIZE = 64


def folder_batch(batch_size: int | None, pictures: int, world: int = 1) -> int:
    """``batch_size`` as given, else :data:`BATCH_SIZE` or all a smaller folder's ``pictures``
    hold per process (8 pictures were "too few for one batch of 64", though the GAN's recipe is
    for small folders). The trainer says when the folder cannot fill it.

    Examples:
        >>> folder_batch(None, 1000), folder_batch(None, 8), folder_batch(None, 8, world=2), folder_batch(16, 8)
        (64, 8, 4, 16)
    """
    return batch_size if batch_size is not None else min(BATCH_SIZE, max(2, pictures // world))


def no_images(folder, name: str = "images_dir") -> ValueError:
    return ValueError(
        f"{name}: no images found in {folder} or its subfolders (looked for {' '.join(IMAGE_EXTENSIONS)})"
    )


def header_size(path: Path, name: str = "image") -> tuple[int, int]:
    """(width, height) after EXIF orientation, from the header only (:func:`fastdream.io.opened`:
    a regular file whose size passes the limits); ValueError if unreadable. An unreadable EXIF
    block counts as no orientation, as when the image is loaded."""
    with io.opened(path, name) as im:
        w, h = im.size
        # A PNG's EXIF may sit after the pixels, and reading it decodes them: only an EXIF
        # block seen in the header counts here (the full decode checks the size again).
        lazy = im.format == "PNG" and "exif" not in im.info
        try:
            orientation = 1 if lazy else im.getexif().get(0x0112, 1)
        except Exception:  # a corrupt EXIF block: any error type
            orientation = 1
    return (h, w) if orientation in (5, 6, 7, 8) else (w, h)


def readable(files: list[Path], skip_bad: bool, name: str = "images_dir") -> list[Path]:
    """``files`` whose headers Pillow reads. An unreadable one (a text file, an empty download)
    is a ``ValueError`` that says how to leave it out, or with ``skip_bad`` one warning naming
    them all, and they are left out; with ``skip_bad`` each is decoded whole, so that a file cut
    short after its header is left out too (else it stopped the run when decoded)."""
    good, bad = [], []
    for f in files:
        try:
            load_pil(f, name) if skip_bad else header_size(f, name)
        except (ValueError, OSError) as exc:
            if not skip_bad:
                raise ValueError(f"{exc} (pass skip_bad=True to leave such files out)") from None
            bad.append(f)
        else:
            good.append(f)
    if bad:
        shown = ", ".join(p.name for p in bad[:5]) + (", ..." if len(bad) > 5 else "")
        warn(f"{name}: skipping {len(bad)} unreadable file(s) ({shown})")
    return good


def load_square(path: Path, size: int, channels: int) -> torch.Tensor:
    """Decoded, converted to gray (1) or RGB (3), transparency put on white, short side resized
    to ``size``, center-cropped: uint8 (channels, size, size)."""
    return square(load_pil(path, "images_dir"), size, channels)


def square(im: Image.Image, size: int, channels: int) -> torch.Tensor:
    """:func:`load_square` of a decoded picture (8-bit: 16-bit scaled, palette/CMYK expanded)."""
    im = io.flatten(im).convert("L" if channels == 1 else "RGB")  # not the junk under clear pixels
    return uint8_from_pil(ImageOps.fit(im, (size, size), Image.BICUBIC, centering=(0.5, 0.5)))


def is_gray(path: Path) -> bool:
    """Whether an image holds no color: a gray mode, or RGB whose channels are equal everywhere."""
    im = load_pil(path)
    if im.mode in ("1", "L", "LA", "I", "I;16", "F"):
        return True
    if im.mode == "P":
        im = im.convert("RGB")
    if im.mode not in ("RGB", "RGBA"):
        return False
    a = np.asarray(im)[..., :3].astype(np.int16)
    return bool(np.abs(a - a[..., :1]).max() <= 2)  # JPEG noise on a gray photo stays within 2 levels


def all_gray(files, sample: int = 200) -> bool:
    """Whether a folder's images hold no color, judged on up to ``sample`` of them spread over it:
    a gray folder trains a 1-channel model (a third of the work, and no invented colors)."""
    step = max(1, len(files) // sample)
    return all(is_gray(f) for f in files[::step])


def say_clear(clear: int, n: int) -> None:
    """Says how many of a folder's ``n`` pictures had their transparency put on white (if any)."""
    if clear:
        warn(f"images_dir: the transparency of {clear} of {n} images is put on white")


class ImageFolder(Dataset):
    """Square training images as uint8 (channels, size, size) tensors; decoded once when they fit
    in :data:`PRELOAD_BYTES`, else checked (headers) now and decoded on each use."""

    def __init__(self, files: list[Path], size: int, channels: int, show_progress: bool = False, say: bool = True):
        self.files, self.size, self.channels = files, size, channels
        self.cache, self.clear = None, 0  # (clear: how many had transparency, put on white)
        if len(files) * channels * size * size <= PRELOAD_BYTES:
            # Decoding everything now also surfaces an unreadable file before anything is written.
            it = tqdm(files, desc="loading images", leave=False, disable=not show_progress or len(files) < 500)
            squares, seen = [], 0
            for p in it:
                im = load_pil(p, "images_dir")
                seen += io.has_clear(im)
                squares.append(square(im, size, channels))
            self.cache, self.clear = torch.stack(squares), seen
            if say:  # (rank 0 of a torchrun says it)
                say_clear(seen, len(files))
        else:
            for p in files:
                header_size(p, "images_dir")

    def __len__(self):
        return len(self.files)

    def __getitem__(self, i):
        return self.cache[i] if self.cache is not None else load_square(self.files[i], self.size, self.channels)
