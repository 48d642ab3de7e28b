"""The one rule for outputs, checked before any work starts.

- The writer is chosen and tried first: an extension Pillow cannot write (``.psd``), or a format
  that cannot hold what will be made (transparency in a JPEG), is refused before the work, not
  found after it.
- No output (file, folder of frames, checkpoint) may be an input, contain one, or lie inside an
  input folder, however the paths are spelled (``./a.png``, a symbolic or hard link).
- A run that fails leaves nothing it created: :class:`Made` removes the folders it made.
"""

from __future__ import annotations

import itertools
import os
import re
import sys
import warnings
from pathlib import Path
from typing import Iterable

import numpy as np
from PIL import Image

from fastdream._checks import shown
from fastdream._warnings import FastdreamWarning
from fastdream.io.atomic import atomic_save
from fastdream.io.convert import standard
from fastdream.io.formats import bare_extension, image_format, soft_alpha


def _same(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve() or (a.exists() and b.exists() and os.path.samefile(a, b))
    except OSError:
        return False


def check_not_input(name: str, out, inputs: Iterable, *, folder: bool = False, overwrite: bool = False) -> Path:
    """``out`` (a file, or with ``folder`` a folder a run writes into) checked against every input
    path of ``inputs`` (files or folders; None and non-paths are skipped): it may not be one of
    them (unless ``overwrite``, for a file), lie inside an input folder, or (a folder) contain an
    input. Paths are compared resolved (``.``/``..``, symbolic links) and, when both exist, as
    files (hard links).

    Examples:
        >>> check_not_input("frames_dir", "clip_frames", ["./clip_frames"], folder=True)
        Traceback (most recent call last):
        ...
        ValueError: frames_dir: clip_frames is the input clip_frames; fastdream never writes into its inputs; choose another frames_dir
    """
    out = Path(out)
    o = out.resolve()
    for item in inputs:
        if not isinstance(item, (str, os.PathLike)) or not str(item):
            continue
        p = Path(item)
        r = p.resolve()
        if _same(out, p):
            if overwrite and not folder and not p.is_dir():
                continue
            what = "input folder" if p.is_dir() else "input"
            raise ValueError(
                f"{name}: {out} is the {what} {p}; fastdream never writes into its inputs; choose another {name}"
            )
        if r in o.parents and p.is_dir():
            raise ValueError(f"{name}: {out} lies inside the input folder {p}; write it outside the inputs")
        if folder and o in r.parents:
            raise ValueError(f"{name}: the folder {out} contains the input {p}; choose a folder outside the inputs")
    # (a dream-video of that folder later took the file for a last frame; a frame touched up in
    # place is one of its frames already; a folder, the video's own frames folder among them, is
    # the caller's to check: check_frames_folder)
    if not folder and not (FRAME.fullmatch(o.name) and o.is_file()):
        check_frames_folder(name, o.parent, f"{out} would go into {out.parent},")
    return out


def check_frames_folder(name: str, folder: Path, what: str | None = None) -> None:
    """A ``ValueError`` naming ``name`` when ``folder`` is a video's frames folder, which a run
    writes no pictures of its own into (a video made of the folder would take them for frames)."""
    record = frames_record(Path(folder))
    if record is not None:
        raise ValueError(
            f"{name}: {what or f'{folder} is'} a video's frames folder (it holds {record}): a video made from it "
            "would take its pictures for frames; write elsewhere"
        )


#: The settings records of the frames folders fastdream's videos keep (their modules' SETTINGS_NAME).
FRAMES_RECORDS = ("zoom_settings.json", "dream_video_settings.json", "style_video_settings.json")
FRAME = re.compile(r"frame_\d{5,}\.png")


def frames_record(folder: Path) -> str | None:
    """The name of the settings record of a video's frames folder (``zoom_settings.json`` beside
    ``frame_00000.png``...) if ``folder`` is one, else None."""
    try:
        names = set(os.listdir(folder))
    except OSError:
        return None
    if not any(FRAME.fullmatch(n) for n in names):
        return None
    return next((n for n in FRAMES_RECORDS if n in names), None)


def checkpoint_file(name: str, out, inputs: Iterable) -> Path:
    """``out`` as the file a trainer writes its checkpoint to: not one of ``inputs`` nor inside
    an input folder (:func:`check_not_input`), not a folder, and in a folder that exists or can be
    made at the first checkpoint (no file where a parent folder goes)."""
    out = check_not_input(name, out, inputs)
    if out.exists() and not out.is_file():
        raise ValueError(f"{name}: {out} exists and is not a file")
    for parent in out.parents:
        if parent.exists():
            if not parent.is_dir():
                raise ValueError(f"{name}: {parent} is a file, so {out} cannot be written")
            break
    check_writable(name, out.parent)  # (said at the first checkpoint, by the system, after an epoch)
    return out


def unused_name(path: Path, *siblings: str) -> Path:
    """``path`` if it is free, else the first free of ``dream-2.png``, ``dream-3.png``...; free
    means its ``siblings`` (suffixes: a sheet's ``.json``) are free too. Never a file's name.

    Examples:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as d:
        ...     _ = (Path(d) / "dream.png").write_bytes(b""), (Path(d) / "dream-2.json").write_bytes(b"")
        ...     unused_name(Path(d) / "dream.png").name, unused_name(Path(d) / "dream.png", ".json").name
        ('dream-2.png', 'dream-3.png')
    """
    names = itertools.chain([path], (path.with_name(f"{path.stem}-{k}{path.suffix}") for k in itertools.count(2)))
    return next(p for p in names if not p.exists() and not any(p.with_suffix(s).exists() for s in siblings))


#: Names that say "a file": a folder that does not exist yet named so is a slip (``-o out.png``
#: for a folder run, ``gan.pt`` for a trainer's folder). The formats pictures are saved in and
#: checkpoints' suffixes, not every suffix Pillow knows (``scans.pdf`` may be a folder).
FILE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".gif", ".tif", ".tiff", ".bmp", ".pt", ".pth", ".ckpt")


def output_folder(name: str, out, inputs: Iterable = (), what: str = "its pictures") -> Path:
    """``out`` as a folder a run writes ``what`` into: not a file, not one of ``inputs`` nor
    inside or around an input folder (:func:`check_not_input`), and, when it does not exist yet,
    not named as a file (``samples.png``, ``gan.pt``: a folder of that name would be made).

    Examples:
        >>> output_folder("out_dir", "gan.pt", what="its checkpoint.pt and sample grids")
        Traceback (most recent call last):
        ...
        ValueError: out_dir: gan.pt is named as a file, but it is a folder for its checkpoint.pt and sample grids; give a folder name
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"{name}: {out} exists and is not a folder")
    named = out.suffix.lower() or bare_extension(out)
    if not out.exists() and named in FILE_SUFFIXES:
        raise ValueError(f"{name}: {out} is named as a file, but it is a folder for {what}; give a folder name")
    for p in [out, *out.parents] if not out.exists() else []:
        if p.is_symlink() and not p.exists():  # (mkdir said "[Errno 17] File exists")
            raise ValueError(f"{name}: {p} is a link to nothing ({os.readlink(p)}); remove it or choose another folder")
        if p.exists():
            if not p.is_dir():  # (it was the system's "[Errno 20] Not a directory")
                raise ValueError(f"{name}: {p} is a file, not a folder: {out} cannot be made in it")
            break
    out = check_not_input(name, out, inputs, folder=True)
    check_writable(name, out)  # (training said the system's "[Errno 1] Operation not permitted")
    return out


class Made:
    """The folders a run makes for its outputs, removed again (when still empty) if the run fails:
    ``with Made(folder) as made: ...`` makes ``folder`` and its missing parents.

    Examples:
        >>> import tempfile
        >>> root = Path(tempfile.mkdtemp())
        >>> try:
        ...     with Made(root / "a" / "b"):
        ...         raise KeyboardInterrupt
        ... except KeyboardInterrupt:
        ...     pass
        >>> (root / "a").exists()
        False
    """

    def __init__(self, folder, *, make: bool = True):
        self.folder = Path(folder)
        self.new: list[Path] = []
        p = self.folder
        while not p.exists() and p != p.parent:
            self.new.append(p)
            p = p.parent
        self.make = make

    def __enter__(self) -> Made:
        if self.make:
            self.folder.mkdir(parents=True, exist_ok=True)
        return self

    def __exit__(self, kind, exc, tb) -> None:
        if kind is not None and self.make:
            self.undo()

    def undo(self) -> None:
        """Removes the folders this made that are empty, deepest first."""
        for p in self.new:
            try:
                p.rmdir()
            except OSError:
                break


def can_write_in(folder) -> bool:
    """Whether a file can be made in the existing ``folder``, tried: ``os.access`` calls a
    read-only mount writable for root, and /sys too (the work was done, then its output refused).

    Examples:
        >>> import tempfile
        >>> can_write_in(tempfile.gettempdir()), can_write_in("/proc")
        (True, False)
    """
    import tempfile

    if not os.access(folder, os.W_OK | os.X_OK):
        return False
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".fastdream-probe-"):
            return True
    except OSError:
        return False


def check_name_length(name: str, path: Path) -> None:
    """A file or folder name longer than the file system takes (255 bytes on most) refused before
    the work: the OS's own error came as a traceback, or after the work, from the temporary file.

    Examples:
        >>> check_name_length("output", Path("x" * 300 + ".png"))
        Traceback (most recent call last):
        ...
        ValueError: output: the name is 304 bytes, more than the 255 a name may have
    """
    parent = path.parent if str(path.parent) else Path(".")
    try:
        most = os.pathconf(parent, "PC_NAME_MAX") if parent.is_dir() else 255
    except (OSError, ValueError, AttributeError):
        most = 255
    if len(os.fsencode(path.name)) > most:
        raise ValueError(
            f"{name}: the name is {len(os.fsencode(path.name))} bytes, more than the {most} a name may have"
        )


def check_parent(name: str, out) -> Path:
    """The folder ``out`` goes into, which must exist (said before the work: a walk dreamed every
    frame, then failed to write them into a folder that was never there).

    Examples:
        >>> check_parent("out_path", "/no/such/folder/x.gif")
        Traceback (most recent call last):
        ...
        FileNotFoundError: out_path: the folder /no/such/folder does not exist
    """
    parent = Path(out).parent if str(Path(out).parent) else Path(".")
    if not parent.is_dir():
        existing = next((p for p in (parent, *parent.parents) if p.exists()), None)
        if existing is not None and not existing.is_dir():
            raise NotADirectoryError(f"{name}: {existing} is a file, not a folder")
        raise FileNotFoundError(f"{name}: the folder {parent} does not exist")
    return parent


def whole_picture(path: Path) -> bool:
    """Whether the picture file ``path`` reads to its end (one cut short or emptied since it was
    written: a full disk, a copy stopped half-way). A PNG's chunks are checked against their
    checksums and a JPEG's end looked for, without decoding: a 16K output would take a gigabyte;
    other formats are decoded."""
    from fastdream.io.images import opened

    try:
        with opened(path, "output") as im:
            if im.format == "JPEG":  # (Pillow's verify reads no further than the header)
                with open(path, "rb") as f:  # (near the end: an editor may append a few bytes after it)
                    f.seek(-min(4096, f.seek(0, os.SEEK_END)), os.SEEK_END)
                    return b"\xff\xd9" in f.read()
            if im.format == "PNG":
                im.verify()  # (every chunk, to the end)
            else:  # (verify checks nothing of a TIFF, a BMP, a GIF): decoded, an animation's last frame
                frames = int(getattr(im, "n_frames", 1))
                if frames > 1:
                    im.seek(frames - 1)
                im.load()
        return True
    except (OSError, ValueError, SyntaxError):
        return False


def kept_whole(path: Path, say: str = "") -> bool:
    """Whether an output a run finds already there may be kept: it reads whole
    (:func:`whole_picture`); one cut short or emptied since is said (``say``: the line's prefix,
    the run's name) and made again, not counted as done."""
    if whole_picture(path):
        return True
    print(f"{say}{path} is there but cannot be read (cut short?); making it again", file=sys.stderr)
    return False


def check_writable(name: str, path: Path) -> None:
    """A ``PermissionError`` naming ``name`` when the folder ``path`` is, or the nearest existing
    one it would be made in, cannot be written: said before the work, not by the system after it.

    Examples:
        >>> check_writable("output_dir", Path("/proc/fastdream-results"))
        Traceback (most recent call last):
        ...
        PermissionError: output_dir: the folder /proc cannot be written
    """
    existing = next((p for p in (path, *path.parents) if p.exists()), None)
    if existing is not None and existing.is_dir() and not can_write_in(existing):
        raise PermissionError(f"{name}: the folder {existing} cannot be written")


def save_image(image: Image.Image, path, **options) -> Path:
    """Saves a PIL image atomically; the format follows the file extension, checked first
    (:func:`image_format`: a format Pillow cannot write, or transparency into
    a JPEG, is a ``ValueError`` and nothing is written)."""
    if not isinstance(image, Image.Image):  # (an AttributeError deep in the save, or worse)
        raise TypeError(f"image must be a PIL image (fastdream.io.to_pil makes one of a tensor), got {shown(image)}")
    if image.mode == "I" and Path(path).suffix.lower() == ".png":  # (Pillow 12 deprecates I in PNG)
        info, image = image.info, Image.fromarray(np.clip(np.asarray(image), 0, 65535).astype(np.uint16))
        image.info.update(info)
    try:
        fmt = image_format(path, image.mode, size=image.size, soft=soft_alpha(image))
    except ValueError:
        if image.mode in ("L", "LA", "RGB", "RGBA", "P", "PA", "1"):
            raise
        # 16-bit or float gray, CMYK (a PIL image's dream comes back in its mode) into a format
        # that cannot hold it (CMYK into PNG, float into PNG, 16-bit into JPEG): in 8 bits, as read
        with warnings.catch_warnings():  # (how a float picture reads was said when it was read)
            warnings.simplefilter("ignore", FastdreamWarning)
            image = standard(image)
        image.info.pop("icc_profile", None)  # (a CMYK profile does not describe its RGB)
        fmt = image_format(path, image.mode, size=image.size, soft=soft_alpha(image))
    if fmt == "ICO":  # its own size, not the squares Pillow shrinks a picture to by default
        options.setdefault("sizes", [image.size])
    if fmt in ("JPEG", "WEBP"):  # Pillow's 75 / 80 blur the dream's fine detail (6 levels off at 75)
        options.setdefault("quality", 95)
    if image.info.get("icc_profile") and fmt in ("PNG", "JPEG", "WEBP", "TIFF"):
        options.setdefault("icc_profile", image.info["icc_profile"])
    if image.info.get("dpi") and fmt in ("PNG", "JPEG", "TIFF"):  # (the formats Pillow writes it in)
        options.setdefault("dpi", tuple(float(v) for v in image.info["dpi"]))
    exif = image.info.get("exif")
    if exif and fmt in ("PNG", "JPEG", "WEBP") and (fmt != "JPEG" or len(exif) <= 65533):  # (JPEG: 64 KB at most)
        options.setdefault("exif", exif)
    return atomic_save(lambda tmp: image.save(tmp, format=fmt, **options), path)
