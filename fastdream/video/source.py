"""Input videos as sequences of frames: MP4 (and other ffmpeg formats) through imageio-ffmpeg,
GIF and WebP through Pillow, or a folder of frames (in the order of the numbers in their names).

A :class:`Source` gives the frame count, the frame rate and the size up front, so everything is
checked before a frame is dreamed, and frames one at a time (never the whole video in memory).
Frames come as a video holds them: at one constant rate (a phone's variable-rate MP4 is read as
ffmpeg makes it constant, its sound in step) and opaque (transparency is put on white).
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np
from PIL import Image, ImageSequence

from fastdream import _checks, io
from fastdream._warnings import warn
from fastdream.training import IMAGE_EXTENSIONS, header_size, list_images, walk_files

#: Containers read through ffmpeg (imageio-ffmpeg, the ``video`` extra).
FFMPEG_EXTENSIONS = (".mp4", ".mov", ".m4v", ".mkv", ".avi", ".webm")
#: Animated image formats read through Pillow.
ANIMATED_EXTENSIONS = (".gif", ".webp")
#: Frame rate of a folder of frames (it has none of its own).
FOLDER_FPS = 24.0


@dataclass
class Source:
    """An input video: ``count`` frames of ``size`` (width, height) at ``fps``; ``frames()`` yields
    them as RGB uint8 arrays (H, W, 3), first to last."""

    path: Path
    kind: str  # "ffmpeg", "animated" or "folder"
    count: int
    fps: float
    size: tuple[int, int]
    files: list[Path] | None = None
    has_audio: bool = False
    #: the folder frames with transparency that frames() has read (put on white)
    clear: list[str] = field(default_factory=list)

    def frames(self, start: int = 0, end: int | None = None) -> Iterator[np.ndarray]:
        """Frames ``[start, end)`` (default: all), first to last. Frames outside are not decoded
        (a folder's, an animation's) or only read past (a video's): a broken frame after ``end``
        or before ``start`` is no error."""
        end = self.count if end is None else min(end, self.count)
        if self.kind == "folder":
            for f in (self.files or [])[start:end]:
                im = io.load_pil(f, "input")
                if io.has_clear(io.standard(im)):
                    self.clear.append(f.name)
                frame = np.asarray(_opaque(im))
                if frame.shape[:2] != self.size[::-1]:
                    w, h = self.size
                    raise ValueError(f"input: {f} is {frame.shape[1]}x{frame.shape[0]}, not {w}x{h} as the first frame")
                yield frame
        elif self.kind == "animated":
            with io.opened(self.path, "input") as im:
                for k in range(start, end):
                    yield _frame(im, k, self.path)
        else:
            import imageio_ffmpeg

            gen = imageio_ffmpeg.read_frames(str(self.path), pix_fmt="rgb24", output_params=CONSTANT_RATE)
            pipes = None
            try:
                w, h = next(gen)["size"]
                pipes = _pipes(gen)  # (while the reader runs: its process is gone once it ends)
                for k in range(end):
                    buf = next(gen, None)
                    if buf is None:
                        raise ValueError(
                            f"input: {self.path} ended after {k} of the {self.count} frames it was counted to hold"
                        )
                    if k >= start:
                        yield np.frombuffer(buf, np.uint8).reshape(h, w, 3)
            finally:
                _close(gen, pipes)


def check_frames(src: Source, start: int, end: int) -> bool:
    """Decodes frames ``[start, end)`` of a folder or an animation once before any work, so that a
    broken one is said before hours of dreaming, not when its turn comes (no video was written
    then). A video file's frames are read by ffmpeg only as they are worked on (reading a long one
    twice would cost minutes); its frame count is checked up front.

    Returns whether every frame is gray (a folder's or an animation's; a video file's are taken as
    color): its video is made gray, as the dream of a gray picture is."""
    if src.kind == "ffmpeg":
        return False
    gray, src.clear[:] = True, []
    for f in src.frames(start, end):
        gray = gray and bool((f[..., 0] == f[..., 1]).all() and (f[..., 1] == f[..., 2]).all())
    if src.clear:  # (the first frame's was said; one of the others, washed out, was not)
        some = ", ".join(src.clear[:3]) + (", ..." if len(src.clear) > 3 else "")
        warn(
            f"input: the transparency of {len(src.clear)} of {min(end, src.count) - start} frames ({some}) is put on white (a video holds none)"
        )
    return gray


def _pipes(gen) -> list:
    """ffmpeg's stdin and stdout of an imageio-ffmpeg frame reader, while it runs."""
    process = gen.gi_frame.f_locals.get("process") if gen.gi_frame is not None else None
    return [getattr(process, "stdin", None), getattr(process, "stdout", None)]


def _close(gen, pipes=None) -> None:
    """Closes an imageio-ffmpeg frame reader and ffmpeg's pipes: the reader closes them only when
    ffmpeg still runs, so a short video's (done before the reader) stayed open, each an
    "unclosed file" warning (which the web app showed as notes)."""
    pipes = _pipes(gen) if pipes is None else pipes
    gen.close()
    for pipe in pipes:
        if pipe is not None and not pipe.closed:
            pipe.close()


def _frame(im: Image.Image, k: int, path: Path) -> np.ndarray:
    """Frame ``k`` of an animation as RGB; a frame that cannot be decoded is a ``ValueError``."""
    try:
        im.seek(k)
        return np.asarray(_opaque(im))
    except Exception as exc:  # any decoder's error type
        raise ValueError(f"input: frame {k} of {path} could not be read ({io.reason(exc)})") from None


def _opaque(im: Image.Image) -> Image.Image:
    """A frame as RGB, its transparency put on white (a video holds none; the colors under clear
    pixels are junk, or black in a GIF)."""
    return io.flatten(io.standard(im)).convert("RGB")


def _warn_if_clear(im: Image.Image, path: Path) -> None:
    """Says, before any work, that the first frame's transparency will be put on white."""
    if io.has_clear(io.standard(im)):
        warn(f"input: the transparency of {path.name} is put on white (a video holds none)")


def _rotated_note(record: logging.LogRecord) -> bool:
    # imageio-ffmpeg says that a phone's rotated video is read at its upright size (as it should
    # be), on stderr with no name: not the user's business.
    return "different from the source frame size" not in record.getMessage()


logging.getLogger("imageio_ffmpeg").addFilter(_rotated_note)

#: ffmpeg's output options for reading frames: one constant rate (the one its count uses).
CONSTANT_RATE = ["-fps_mode", "cfr"]


def _count(path: Path) -> tuple[int, float]:
    """(frames, seconds) of the first video stream as :meth:`Source.frames` reads it: decoded at
    one constant rate, as ffmpeg's rawvideo pipe gives them (imageio-ffmpeg's own count takes the
    frames as stored, fewer than that pipe gives for a variable-rate video)."""
    import imageio_ffmpeg

    cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-nostdin", "-i", str(path), "-map", "0:v:0", "-vf", "null"]
    run = subprocess.run([*cmd, *CONSTANT_RATE, "-f", "null", "-"], capture_output=True, check=True)
    found = re.findall(rb"frame=\s*(\d+).*?time=\s*(-?[\d:.]+)", run.stderr)
    if not found:
        raise RuntimeError("ffmpeg did not report the frames it decoded")
    frames, stamp = found[-1]
    secs = sum(float(part) * 60**k for k, part in enumerate(reversed(stamp.decode().split(":"))))
    return int(frames), abs(secs)


def _ffmpeg(path: Path) -> Source:
    try:
        import imageio_ffmpeg
    except ImportError:
        raise ModuleNotFoundError(
            f"input: reading {path.suffix} needs imageio-ffmpeg, which is not installed; install the extra with "
            "`pip install 'fastdream[video]'`, or give a GIF, a WebP or a folder of frames",
            name="imageio_ffmpeg",
        ) from None
    try:
        gen = imageio_ffmpeg.read_frames(str(path), pix_fmt="rgb24")
        meta = next(gen)
        _close(gen)
        count, secs = _count(path)
    except Exception as exc:  # ffmpeg's and imageio's errors, any type
        raise ValueError(f"input: {path} is not a video ffmpeg can read ({io.reason(exc)})") from None
    if count < 1 or not meta.get("size"):
        raise ValueError(f"input: {path} holds no video frames")
    io.check_pixels("input", path, tuple(meta["size"]), "RGB")  # before a frame is decoded
    fps = float(meta.get("fps") or FOLDER_FPS)
    if secs > 0 and abs(count - fps * secs) > max(2.0, 0.01 * count):
        # A variable rate: its mean rate is not the one ffmpeg repeats frames at to make it constant.
        fps = count / secs
        warn(
            f"input: {path.name} has a variable frame rate; it is read at a constant {fps:.4g} fps ({count} "
            "frames; a frame the video holds longer is repeated), so its timing and sound stay as they were"
        )
    return Source(path, "ffmpeg", int(count), fps, tuple(meta["size"]), has_audio=bool(meta.get("audio_codec")))


def _animated(path: Path) -> Source:
    with io.opened(path, "input") as im:  # a regular file, a size that fits: checked before decoding
        try:
            count, size = getattr(im, "n_frames", 1), im.size
            durations = []
            for frame in ImageSequence.Iterator(im):
                if im.format == "WEBP":  # it sets a frame's duration when decoding it (a GIF's: seeking)
                    frame.load()
                durations.append(frame.info.get("duration", 0) or 0)
            im.seek(0)
            _warn_if_clear(im, path)
        except Exception as exc:  # a truncated or corrupt animation: any decoder's error type
            raise ValueError(f"input: {path} is not an animation Pillow can read ({io.reason(exc)})") from None
    mean_ms = sum(durations) / len(durations) if durations else 0
    if durations and max(durations) > 1.1 * min(durations):
        warn(
            f"input: the frames of {path.name} last from {min(durations)} to {max(durations)} ms; the video "
            f"shows each for the mean, {mean_ms:.0f} ms (its length stays)"
        )
    return Source(path, "animated", count, 1000.0 / mean_ms if mean_ms > 0 else 10.0, size)


def frame_order(path: Path) -> list:
    """The sort key of a frame's file: its name, numbers compared as numbers (``2.png`` before
    ``10.png``), case aside.

    Examples:
        >>> sorted(["10.png", "2.png", "1.png"], key=lambda n: frame_order(Path(n)))
        ['1.png', '2.png', '10.png']
    """
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", path.name)]


#: Files a system leaves in picture folders: not worth a word (nor a video's own settings, when
#: its frames folder is read: ``zoom_settings.json``).
_SYSTEM_FILES = {"thumbs.db", "desktop.ini"}


def _folder(path: Path) -> Source:
    # The training folders' listing: images by extension, hidden files left out (a Mac's ._x.png).
    files = sorted(list_images(path, "input", recursive=False), key=frame_order)
    if not files:
        raise ValueError(f"input: the folder {path} holds no images (looked for {' '.join(IMAGE_EXTENSIONS)})")
    listed = set(files)
    others = sorted(
        p.name
        for p in walk_files(path, recursive=False)  # (hidden files left out, as the frames' listing does)
        if p not in listed and p.name.lower() not in _SYSTEM_FILES and not p.name.endswith("_settings.json")
    )
    if others:  # (a frame misnamed frame_7.PNG.txt was left out of the video without a word)
        warn(f"input: {len(others)} file(s) in {path} are not pictures and are left out ({', '.join(others[:3])})")
    size = header_size(files[0], "input")  # every frame's header: one size, each within the limits
    for f in files[1:]:
        if header_size(f, "input") != size:
            raise ValueError(
                f"input: the frames in {path} differ in size ({files[0].name} is {size[0]}x{size[1]}, "
                f"{f.name} is {header_size(f, 'input')[0]}x{header_size(f, 'input')[1]}); a video has one size"
            )
    return Source(path, "folder", len(files), FOLDER_FPS, size, files=files)  # (check_frames says transparency)


def frame_size(path) -> tuple[int, int]:
    """The (width, height) of a video's frames from its header, no frame decoded: for a caller's
    own limit before :func:`open_source` (which decodes an MP4 whole to count its frames). The
    errors of :func:`open_source` for what it cannot read.

    Examples:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as d:
        ...     frames = [Image.new("RGB", (48, 32), (40 * k, 0, 0)) for k in range(3)]
        ...     frames[0].save(f"{d}/clip.gif", save_all=True, append_images=frames[1:])
        ...     frame_size(f"{d}/clip.gif")
        (48, 32)
    """
    p = Path(path)
    if p.is_file() and p.suffix.lower() in FFMPEG_EXTENSIONS:
        try:
            import imageio_ffmpeg

            gen = imageio_ffmpeg.read_frames(str(p), pix_fmt="rgb24")
            size = next(gen).get("size")
            _close(gen)
            if size:
                return tuple(size)
        except Exception:  # (open_source says what is wrong, in its words)
            pass
    elif p.is_file() and p.suffix.lower() in ANIMATED_EXTENSIONS:
        with io.opened(p, "input") as im:
            return im.size
    return open_source(p).size


def open_source(path) -> Source:
    """The video at ``path``; clear errors for missing files, unknown extensions, unreadable videos."""
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"input must be the path of a video or of a folder of frames, got {_checks.shown(path)}")
    path = _checks.path("input", path)  # ('' was the current folder: its pictures dreamed, the video written in it)
    if not path.exists():
        raise FileNotFoundError(f"input: no such file or folder: {path}")
    if path.is_dir():
        return _folder(path)
    _checks.input_file("input", path)  # never a pipe (ffmpeg would wait on it for ever) or a device
    ext = path.suffix.lower()
    if ext in FFMPEG_EXTENSIONS:
        return _ffmpeg(path)
    if ext in ANIMATED_EXTENSIONS:
        return _animated(path)
    known = " ".join(FFMPEG_EXTENSIONS + ANIMATED_EXTENSIONS)
    raise ValueError(
        f"input: unknown video extension {ext!r} in {str(path)!r}; use one of {known}, or a folder of frames"
    )
