"""Zoom videos: frame n+1 = dream(zoom/shift/rotate(frame n)), the classic DeepDream "infinite zoom".

Every frame is saved as a numbered PNG as soon as it is made, with the settings that decide its
pixels (:mod:`fastdream.video.frames`), so a stopped run picks up where it stopped and gives the
same video, byte for byte on the CPU, as a run that never stopped (on a GPU, cuDNN's algorithms
need not repeat to the bit). The video is assembled from those PNGs at
the end by the shared animation writer (:func:`fastdream.io.write_animation`).
"""

from __future__ import annotations

from pathlib import Path

import torch
from tqdm.auto import tqdm

from fastdream import _checks, driver, io
from fastdream._checks import shown
from fastdream._warnings import warn
from fastdream.dream.record import dream_settings
from fastdream.io.record import tensor_sha256
from fastdream.ops.luma import luma
from fastdream.ops.zoom_shift import INTERPOLATIONS, PADDINGS
from fastdream.video import checks as C
from fastdream.video import frames as F
from fastdream.video.maker import FrameMaker, check_color_drift

#: The settings a folder of frames was made with, compared on resume.
SETTINGS_NAME = "zoom_settings.json"
#: The dream of each frame, unless told otherwise: short, since every frame is dreamed on top of
#: the last one's dream (the detail builds up over the frames); explicit options win.
DREAM_DEFAULTS = {"octaves": 1, "steps": 5}
#: Bump when a change in this module changes the pixels of the frames for the same settings, so
#: old frame folders are refused instead of mixed with new frames.
SETTINGS_FORMAT = 2


def zoom_video(
    image,
    out_path,
    *,
    frames: int = 60,
    zoom: float = 1.05,
    shift: tuple[float, float] = (0.0, 0.0),
    angle: float = 0.0,
    padding: str = "reflect",
    interpolation: str = "bicubic",
    fps: float = 15,
    frames_dir=None,
    resume: bool = True,
    reverse: bool = False,
    color_drift=None,
    progress: bool = False,
    callback=None,
    preset: str | None = None,
    **dream_kwargs,
) -> Path:
    """Makes a DeepDream zoom video: each frame is the previous one zoomed/shifted/rotated, then dreamed.

    Frame 0 is the dreamed input (untransformed); frame ``k >= 1`` is
    ``dream(color_drift(zoom_shift(frame k-1)))`` with seed ``seed + k``. Frames are saved as
    numbered PNGs in ``frames_dir`` as they are made, and the video is assembled from them.

    Args:
        image: the first frame before dreaming: a path, PIL image, HxW(xC) numpy array (uint8, or
            float in [0, 1]) or a float tensor (C, H, W) / (1, C, H, W) in [0, 1]. The video is RGB:
            a gray picture's frames are gray (each dream made gray, as ``fd.dream`` makes a gray
            picture's), and transparency is put on white.
        out_path: the video file, ``.gif`` or ``.webp`` (Pillow, looping forever) or ``.mp4``
            (H.264 through imageio-ffmpeg: ``pip install 'fastdream[video]'``). Written atomically.
        frames: number of frames in the video (>= 1), frame 0 included.
        zoom: scale between consecutive frames (> 1 zooms in, < 1 out).
        shift: (dx, dy) pixels the content moves per frame (positive: right, down).
        angle: degrees the content turns per frame (counter-clockwise as displayed).
        padding: what shows where the move uncovers the picture's edges (a zoom out, a shift or a
            turn): ``reflect`` mirrors the picture, ``border`` repeats its edge pixels, ``zeros``
            brings in black (the frames then grow a dark border for the dream to work on).
        interpolation: how each frame is resampled from the last: ``bicubic`` keeps the picture
            sharp over many frames, and rings no edge; ``bilinear`` (the classic notebooks')
            softens it a little more with every frame (after ten 1.03x frames a photo keeps a
            tenth of the fine detail one resampling leaves it, bicubic about half).
        fps: frames per second of the video (<= 50 for GIF, whose delays are in 1/100 s; a rate
            that is not a whole number of 1/100 s alternates delays so the average is exact).
        frames_dir: folder for the frame PNGs and their settings (default: ``<out_stem>_frames``
            beside ``out_path``).
        resume: continue after the last complete frame found in ``frames_dir`` when it was made
            with the same settings (else: a ``ValueError`` saying which settings differ). With
            ``resume=False`` the frames there are deleted and made again.
        reverse: play the frames last to first: a zoom out of the dream into the (dreamed) input.
            Only the video's order changes; the frames and the settings are the same.
        color_drift: ``None``; a number: the hue turns by that many degrees per frame (a rotation
            of RGB about the gray axis, grays stay gray); or ``(r, g, b)``: per-channel gains
            applied once per frame, so they compound (e.g. ``(1.01, 1.0, 0.99)`` warms slowly).
            Applied after the zoom, before the dream; frame 0 has none.
        progress: show a progress bar over the frames.
        callback: the step hook of :func:`fastdream.dream`, called after every step of every
            frame's dream; the state's ``frame`` / ``frames`` say which frame, and ``step`` /
            ``total`` count over all the frames this call makes. Returning ``False`` raises
            :class:`fastdream.Cancelled`; the frames already saved are kept (a re-run resumes).
        preset: a name of :data:`fastdream.PRESETS`: its look (layers, step size, objective,
            model...) for every frame; explicit options win over it, and each frame's
            ``octaves`` and ``steps`` stay :data:`DREAM_DEFAULTS` unless given.
        **dream_kwargs: every option of :func:`fastdream.dream`: ``layers, model, octaves,
            octave_scale, steps, step_size, jitter, tile_size, objective, norm, lap_levels, smooth,
            guide, preserve_colors, color_match, mask, subject, seed, device, tile_batch,
            low_memory``; ``octaves`` and ``steps`` default to :data:`DREAM_DEFAULTS` (1 x 5: each frame builds
            on the last one's dream).
            Without ``seed`` a random one is drawn and stored with the frames, so a resumed run
            still reproduces them.

    Returns:
        ``out_path`` as a :class:`pathlib.Path`.

    Shape:
        Every frame has the input's H x W; the working frame is (1, 3, H, W) float32 on the
        dream's device (``device``, else the model's, else a tensor input's, else CUDA when
        available) for the whole run.

    Convention:
        ``frames_dir`` holds ``frame_00000.png``, ``frame_00001.png``, ... and ``zoom_settings.json``
        with everything that decides the pixels (a hash of the input, zoom, shift, angle,
        color_drift, the dream options, a fingerprint of a custom model, the seed). ``frames``,
        ``fps``, ``reverse`` and ``out_path`` are not among them: a finished folder can be made
        into another video, or extended with a larger ``frames``, without dreaming again. The
        working frame is rounded to 8-bit levels after each dream, exactly as the PNG stores it,
        so a resumed run (which reloads the last PNG) gives frames and a video identical to an
        uninterrupted run on the CPU with the same backend (on a GPU, close: cuDNN's algorithms
        need not repeat to the bit).

    Raises:
        TypeError, ValueError: a bad argument (naming it, the value and what is accepted), or
            ``frames_dir`` made with other settings; raised before anything is written.
        FileNotFoundError, PermissionError: the output folder is missing or not writable.
        ModuleNotFoundError: ``.mp4`` without imageio-ffmpeg installed.

    Examples:
        >>> import fastdream as fd
        >>> fd.zoom_video("cat.jpg", "cat.gif", frames=30, zoom=1.04, steps=5, octaves=2, seed=0)  # doctest: +SKIP
        PosixPath('cat.gif')
        >>> # Stopped half way? The same call continues from cat_frames/ and gives the same video.
        >>> fd.zoom_video("cat.jpg", "cat_out.mp4", frames=30, zoom=1.04, steps=5, octaves=2,
        ...               seed=0, frames_dir="cat_frames", reverse=True)  # doctest: +SKIP
    """
    # ---- 1. Check everything; nothing is written until all of it passes.
    loaded = io.load(image, one=True)
    rgb, gray = _on_white(loaded), loaded.gray  # a gray picture's video stays gray, as its dream does
    h, w = rgb.shape[-2:]
    out, fmt = C.check_out_path(out_path, image, [dream_kwargs.get("guide")])
    move = _move(zoom, shift, angle, padding, interpolation)
    fps = io.check_fps(fps, fmt)
    resume, reverse = _checks.boolean("resume", resume), _checks.boolean("reverse", reverse)
    progress = _checks.boolean("progress", progress)
    move["color_drift"] = check_color_drift(color_drift)
    frames_dir = C.check_frames_dir(frames_dir, out, [image])
    frames = C.check_frame_count("frames", frames, (h, w), fmt, frames_dir)
    callback = driver.check_callback(callback)
    # The preset gives the look; the length of each frame's dream stays DREAM_DEFAULTS' unless given.
    opts = F.dream_options({**DREAM_DEFAULTS, **dream_kwargs, "preset": preset}, (h, w), "zoom_video")
    device = opts.resolve_device(image)

    with F.writing(out, frames_dir):  # (one run at a time per output and frames folder)
        # ---- 2. What decides the pixels, and how far an earlier run got.
        def key(seed: int) -> dict:
            return {
                "format": SETTINGS_FORMAT,
                "input_sha256": tensor_sha256(rgb),
                "size": [int(w), int(h)],
                **move,
                "seed": seed,
                "dream": dream_settings(opts),
                **({"gray": True} if gray else {}),
            }

        # Frames made before bicubic resampling recorded none: they were bilinear.
        older = {"interpolation": "bilinear"}
        seed, done = F.resume_state(frames_dir, SETTINGS_NAME, key, opts.seed, resume, older=older)
        maker = FrameMaker(opts.replace(seed=seed), device, **move)  # loads the model, checks the layers
        x = _last_frame(frames_dir, done, (h, w), device) if 0 < done < frames else None

        # ---- 3. Make the missing frames, each saved as soon as it exists.
        info = {"frames": frames, "fps": fps, "device": str(device), "out_path": str(out)}  # for readers; not compared
        F.start_frames_dir(frames_dir, SETTINGS_NAME, key(seed), info, resume)  # drops only frames it made
        bar = tqdm(total=frames, initial=min(done, frames), disable=not progress, desc="zoom", unit="frame")
        with F.undo_if_empty(frames_dir), bar:  # failed before a frame exists: nothing is left behind
            for k in range(done, frames):
                hook = driver.for_frame(callback, k, k - done, frames - done, of=frames)
                x = maker.first(rgb.to(device), hook) if k == 0 else maker.next(x, k, hook)
                if gray:
                    x = luma(x).expand_as(x).contiguous()
                F.save_frame(x, F.frame_path(frames_dir, k))
                bar.update(1)

        # ---- 4. The video, from the PNGs (the same bytes whether or not the run was resumed).
        paths = [F.frame_path(frames_dir, k) for k in range(frames)]
        return io.write_animation(paths[::-1] if reverse else paths, out, fps=fps)


def _on_white(loaded):
    """The picture's RGB; one with transparency put on white, as a video holds none (and the
    colors under its clear pixels are often junk)."""
    if loaded.alpha is None or not bool((loaded.alpha < 1).any()):
        return loaded.rgb
    warn("zoom_video: the picture's transparency is put on white (a video holds none)")
    return loaded.rgb * loaded.alpha + (1 - loaded.alpha)


def _last_frame(frames_dir: Path, done: int, size: tuple[int, int], device) -> torch.Tensor:
    """The last frame a stopped run saved, which the next frame is made from."""
    last, (h, w) = F.frame_path(frames_dir, done - 1), size
    prev = io.load(last).rgb
    if tuple(prev.shape[-2:]) != (h, w):
        raise ValueError(
            f"frames_dir: {last} is {prev.shape[-1]}x{prev.shape[-2]}, expected {w}x{h}; pass resume=False"
        )
    return prev.to(device)


def _move(zoom, shift, angle, padding, interpolation) -> dict:
    _checks.choice("padding", padding, PADDINGS)
    _checks.choice("interpolation", interpolation, INTERPOLATIONS)
    return dict(
        zoom=_checks.real("zoom", zoom, lo=MIN_ZOOM, hi=1 / MIN_ZOOM, lo_open=False, hi_open=False),
        shift=_shift(shift),
        angle=_checks.real("angle", angle, lo=-180.0, hi=180.0, lo_open=False, hi_open=False),
        padding=padding,
        interpolation=interpolation,
    )


#: A frame's move: zoom in [1/2, 2] (past it a frame keeps almost nothing of the last, or fills
#: it with the border), a turn of at most half a circle, a shift of at most MAX_SHIFT pixels.
MIN_ZOOM, MAX_SHIFT = 0.5, 4096.0


def _shift(shift) -> list[float]:
    if not isinstance(shift, (tuple, list)) or len(shift) != 2:
        raise TypeError(f"shift must be a pair of numbers (dx, dy) in pixels, got {shown(shift)}")
    return [
        _checks.real(f"shift[{i}]", v, lo=-MAX_SHIFT, hi=MAX_SHIFT, lo_open=False, hi_open=False)
        for i, v in enumerate(shift)
    ]
