"""The animation writer: frames to GIF or WebP (Pillow) or MP4 (imageio-ffmpeg), atomically.

Frame timing is exact on average: GIF stores delays in 1/100 s and WebP in ms, so 15 fps becomes
70, 60, 70, 70, 60, ... ms in a GIF rather than 67 ms rounded every frame (which plays at 14.3 fps).
Frames may be PIL images or paths of image files; files are opened one at a time, so a long video
made of PNGs on disk is never held in memory whole (Pillow's GIF writer keeps its own copies).
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
from PIL import Image, features

from fastdream import _checks
from fastdream._warnings import warn
from fastdream.io.atomic import atomic_save
from fastdream.io.convert import standard
from fastdream.io.formats import bare_extension

#: Animation formats by file extension.
FORMATS = {".gif": "GIF", ".webp": "WEBP", ".mp4": "MP4"}
#: GIF delays are stored in 1/100 s and browsers slow down anything under 20 ms.
GIF_MAX_FPS = 50.0
MAX_FPS = 240.0
#: A frame shown for at most 100 s (a GIF's delay field holds up to 655 s).
MIN_FPS = 0.01
#: crf ~15 for libx264: dream detail is fine, high-frequency texture that the default (crf 25)
#: visibly smears.
MP4_QUALITY = 7


def animation_format(path, name: str = "out_path") -> str:
    """``"GIF"``, ``"WEBP"`` or ``"MP4"`` for ``path``'s extension; a clear error when the extension
    is unknown or this install cannot write that format."""
    path = Path(path)
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None and bare_extension(path) in FORMATS:
        raise ValueError(f"{name}: {path} is only an extension; give the file a name, such as zoom{path.name.lower()}")
    if fmt is None:
        raise ValueError(f"{name}: unknown video extension {path.suffix!r} in {str(path)!r}; use .gif, .webp or .mp4")
    if fmt == "WEBP" and not features.check("webp"):
        raise ValueError(f"{name}: this Pillow was built without WebP support; use .gif or .mp4")
    if fmt == "MP4":
        try:
            import imageio_ffmpeg  # noqa: F401
        except ImportError:
            raise ModuleNotFoundError(
                f"{name}: writing .mp4 needs imageio-ffmpeg, which is not installed; install the extra "
                "with `pip install 'fastdream[video]'`, or write a .gif or .webp instead",
                name="imageio_ffmpeg",
            ) from None
    return fmt


def max_fps(fmt: str) -> float:
    return GIF_MAX_FPS if fmt == "GIF" else MAX_FPS


def check_fps(fps, fmt: str, name: str = "fps") -> float:
    """``fps`` as a frame rate ``fmt`` can play: in [:data:`MIN_FPS`, :func:`max_fps`].

    Examples:
        >>> check_fps(1e-300, "GIF")
        Traceback (most recent call last):
        ...
        ValueError: fps must be in [0.01, 50] for GIF output, got 1e-300
    """
    from fastdream import _checks

    fps = _checks.real(name, fps, lo=0.0)
    if not MIN_FPS <= fps <= max_fps(fmt):
        raise ValueError(f"{name} must be in [{MIN_FPS:g}, {max_fps(fmt):g}] for {fmt} output, got {fps:g}")
    return fps


def durations(n: int, fps: float, unit_ms: int) -> list[int]:
    """Per-frame display times in ms, in multiples of ``unit_ms``, whose running total follows
    ``k * 1000 / fps`` as closely as the unit allows.

    Examples:
        >>> durations(6, 15, 10)
        [70, 60, 70, 70, 60, 70]
    """
    step = 1000.0 / fps / unit_ms
    edges = [round(k * step) for k in range(n + 1)]
    return [max(1, b - a) * unit_ms for a, b in zip(edges, edges[1:])]


def _open(frame) -> Image.Image:
    if isinstance(frame, Image.Image):  # (16-bit or float gray converted by Pillow alone: white or black)
        im = standard(frame, "frames")
        return im.convert("RGB") if im.mode not in ("RGB", "L") else im
    with Image.open(frame) as im:
        return im.convert("RGB")


def _pillow(frames: Sequence, out: Path, fmt: str, fps: float, loop: int) -> None:
    first = _open(frames[0])
    mode = "L" if first.mode == "L" and all(isinstance(f, Image.Image) and f.mode == "L" for f in frames) else "RGB"
    first = first.convert(mode)
    rest = (_open(f).convert(mode) for f in frames[1:])
    unit = 10 if fmt == "GIF" else 1
    opts = dict(save_all=True, append_images=rest, duration=durations(len(frames), fps, unit), loop=loop)
    if fmt == "WEBP":
        opts.update(quality=90, method=4)
    atomic_save(lambda tmp: first.save(tmp, format=fmt, **opts), out, hold=False)  # (an encoding of minutes)


def _mp4(frames: Sequence, out: Path, fps: float, audio, audio_start: float) -> None:
    import subprocess

    import imageio_ffmpeg

    w, h = _open(frames[0]).size
    # yuv420p (what every player decodes) needs even sizes: pad odd ones by repeating the last
    # row/column rather than letting ffmpeg rescale the whole frame.
    pw, ph = w + w % 2, h + h % 2
    if (pw, ph) != (w, h):  # (the video came out a pixel larger than its frames, without a word)
        warn(
            f"{out.name}: an MP4 is even-sized: the {w}x{h} frames are {pw}x{ph} in it (the last row or column repeated)"
        )

    def video(tmp):
        gen = imageio_ffmpeg.write_frames(
            tmp,
            (pw, ph),
            fps=float(fps),
            codec="libx264",
            pix_fmt_out="yuv420p",
            quality=MP4_QUALITY,
            macro_block_size=1,
            output_params=["-movflags", "+faststart"],
        )
        gen.send(None)
        try:
            for f in frames:
                a = np.asarray(_open(f).convert("RGB"))
                if (pw, ph) != (w, h):
                    a = np.pad(a, ((0, ph - h), (0, pw - w), (0, 0)), mode="edge")
                gen.send(np.ascontiguousarray(a))
        finally:
            gen.close()

    def with_audio(tmp):
        # The frames first, then the sound track of ``audio`` (from ``audio_start`` seconds) muxed
        # in without re-encoding the video; the result as long as the shorter of the two.
        silent = Path(tmp).with_name(Path(tmp).stem + ".video.mp4")
        try:
            video(str(silent))
            cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-loglevel", "error", "-i", str(silent)]
            cmd += ["-ss", f"{audio_start:.6f}", "-i", str(audio), "-map", "0:v:0", "-map", "1:a:0?"]
            cmd += ["-c:v", "copy", "-c:a", "aac", "-shortest", "-movflags", "+faststart", "-f", "mp4", tmp]
            r = subprocess.run(cmd, capture_output=True, text=True, check=False)
            if r.returncode != 0:
                raise OSError(f"ffmpeg could not add the sound of {audio}: {r.stderr.strip()[-300:]}")
        finally:
            silent.unlink(missing_ok=True)

    atomic_save(video if audio is None else with_audio, out, hold=False)


def write_animation(frames: Iterable, path, *, fps: float = 15, loop: int = 0, audio=None, audio_start=0.0) -> Path:
    """Writes ``frames`` (PIL images or image paths, all of one size) as an animation, atomically.

    Args:
        frames: the frames, first to last.
        path: ``.gif`` / ``.webp`` (Pillow; ``loop`` times, 0 = forever) or ``.mp4`` (H.264 through
            imageio-ffmpeg, the ``fastdream[video]`` extra).
        fps: frames per second, > 0 (at most 50 for GIF).
        audio: MP4 only: a media file whose sound track is added (as AAC), from ``audio_start``
            seconds; the video is cut to the shorter of the two. A file without sound adds none.

    Returns:
        ``Path(path)``.
    """
    path = Path(path)
    fmt = animation_format(path, "path")
    if fmt != "MP4":  # (before the frames are read; Pillow's struct.error past a GIF's 16 bits)
        loop = _checks.integer("loop", loop, 0, 65535)
    frames = list(frames)
    if not frames:
        raise ValueError("frames must hold at least one frame")
    fps = check_fps(fps, fmt)
    if audio is not None and fmt != "MP4":
        raise ValueError(f"audio: only .mp4 output keeps a sound track, not {path.suffix}")
    if fmt == "MP4":
        _mp4(frames, path, fps, audio, float(audio_start))
    else:
        _pillow(frames, path, fmt, fps, loop)
    return path
