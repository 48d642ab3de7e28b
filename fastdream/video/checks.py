"""The checks every video run (zoom, coherent dream, styled video) makes before any work: the
output file, the frames folder, the frame count against memory and disk, the frame range and the
frame rate. None of them writes anything."""

from __future__ import annotations

import os
from pathlib import Path

from fastdream import _checks, io
from fastdream._warnings import warn


def check_out_path(out_path, image, others=()) -> tuple[Path, str]:
    """The video file to write and its format; every problem with it raised before any work. It
    may not be ``image`` nor any of ``others`` (the guide, the styles: files the run reads)."""
    out = _checks.path("out_path", out_path)
    if os.fspath(out_path).endswith(("/", os.sep)):  # (Path drops the slash: z.gif/ wrote a file z.gif)
        raise IsADirectoryError(
            f"out_path: {os.fspath(out_path)} ends with a slash, as a folder does; give a file name"
        )
    if out.is_dir() and not out.suffix:  # (it said "unknown video extension '' in 'clips'")
        raise IsADirectoryError(f"out_path: {out} is a folder; give a video file in it (.gif, .webp or .mp4)")
    fmt = io.animation_format(out)
    io.check_name_length("out_path", out)
    parent = io.check_parent("out_path", out)
    if not os.access(parent, os.W_OK | os.X_OK):
        raise PermissionError(f"out_path: output folder is not writable: {parent}")
    if out.is_dir():
        raise IsADirectoryError(f"out_path: {out} is a folder; give a file name ending in {out.suffix}")
    if out.exists() and not os.access(out, os.W_OK):
        raise PermissionError(f"out_path: {out} exists and is not writable")
    if isinstance(image, (str, os.PathLike)) and Path(image).resolve() == out.resolve():
        raise ValueError(f"out_path: {out} is the input image; the input is never overwritten")
    io.check_not_input("out_path", out, [image, *others])
    return out, fmt


def default_frames_dir(out: Path) -> Path:
    """Where a video's frames are kept when no ``frames_dir`` is given: ``<out stem>_frames``."""
    return out.with_name(f"{out.stem}_frames")


def check_frames_dir(frames_dir, out: Path, inputs=()) -> Path:
    """The folder of frames (default: ``<out stem>_frames`` beside ``out``): a folder, not the
    output, and not an input, inside an input folder or holding an input (:func:`fastdream.io.check_not_input`)."""
    default = frames_dir is None
    if default:
        frames_dir = default_frames_dir(out)
    frames_dir = _checks.path("frames_dir", frames_dir)
    try:  # (a long out_path's NAME_frames passed the 255 bytes: the system's "File name too long")
        io.check_name_length("frames_dir", frames_dir)
    except ValueError as exc:
        raise ValueError(
            f"{exc}" + (f" (the default for {out.name}; pass frames_dir= (--frames-dir))" if default else "")
        ) from None
    if frames_dir.exists() and not frames_dir.is_dir():
        raise NotADirectoryError(f"frames_dir: {frames_dir} exists and is not a folder")
    if frames_dir.resolve() == out.resolve():
        raise ValueError(f"frames_dir and out_path are the same path: {out}")
    if frames_dir.resolve() in out.resolve().parents:  # (a video among its frames: its rerun was refused)
        raise ValueError(f"out_path: {out} lies inside frames_dir {frames_dir}; write the video beside its frames")
    try:
        io.check_not_input("frames_dir", frames_dir, inputs, folder=True)
    except ValueError as exc:
        if not default:
            raise
        raise ValueError(f"{exc} (it is the default for {out.name}; pass frames_dir= (--frames-dir))") from None
    io.check_writable("frames_dir", frames_dir)  # (a read-only folder failed with the system's own error)
    return frames_dir


def check_frame_count(name: str, n, size: tuple[int, int], fmt: str, frames_dir: Path) -> int:
    """``n`` frames of ``size`` (height, width): within :data:`fastdream._checks.COUNT_MAX`, their
    PNGs within the disk's free space (at half their raw size, a PNG's usual share), and for GIF
    and WebP (whose writer keeps every frame) within memory."""
    n = _checks.integer(name, n, 1, cap=_checks.COUNT_MAX)
    h, w = size
    if fmt != "MP4":
        _checks.fits(f"{name}={n} frames of {w}x{h} in a {fmt} (its writer keeps every frame)", n * h * w * 4)
    _checks.fits_on_disk(f"{name}={n} frames of {w}x{h} (PNGs)", n * h * w * 1.5, frames_dir)
    return n


def frame_range(start, end, count: int) -> tuple[int, int]:
    """Frames ``[start, end)`` of ``count`` (None: from the first, to the last), checked."""
    s = 0 if start is None else _checks.integer("start", start, 0, count - 1)
    e = count if end is None else _checks.integer("end", end, 1, count)
    if e <= s:  # ("end must be in [4, 4]" said the bound, not the reason)
        raise ValueError(f"end ({e}) must be after start ({s}): the frames [start, end) would be none")
    return s, e


def check_sound(src, fmt: str, fps: float, keep_audio: bool) -> bool:
    """Whether the output keeps the input's sound: only an MP4 at the input's own rate does.
    Otherwise the sound is left out with a word (at another rate the pictures play faster or
    slower than the sound: out of step)."""
    if not (keep_audio and src.has_audio):
        return False
    if fmt != "MP4":
        warn(f"{fmt} holds no sound: the input's sound is left out (write an MP4 to keep it)")
        return False
    if abs(fps - src.fps) > 1e-3 * src.fps:
        pace = "faster" if fps > src.fps else "slower"
        warn(
            f"the input's sound is left out: at {fps:g} fps instead of the input's {src.fps:.4g} the pictures "
            f"play {pace} than the sound (keep the input's rate to keep its sound)"
        )
        return False
    return True


def check_fps(fps, src, fmt: str, out: Path) -> float:
    """The output's frame rate: ``fps``, or the input's brought into what ``fmt`` can play (with a
    warning: a GIF of 10 ms frames stored 100 fps, which no GIF player shows)."""
    if fps is not None:
        return io.check_fps(fps, fmt)
    rate = io.check_fps(src.fps, "MP4", "fps (the input's)")  # any rate a video may have
    kept = min(rate, io.max_fps(fmt))  # the lowest rate is every format's
    if kept != rate:
        warn(
            f"the input plays at {rate:g} fps and {fmt} at most {io.max_fps(fmt):g}: {out.name} plays at {kept:g} "
            "fps (pass fps= / --fps to choose)"
        )
    return kept
