"""Dreaming an existing video with temporal coherence: the dream moves with the scene.

Frame k's dream starts from the current frame blended with the previous *dreamed* frame, moved by
the optical flow between the two input frames (:mod:`fastdream.video.flow`); pixels the flow
cannot trace (occluded, uncovered) start from the current frame alone. Frames are written as they
are made, with the settings that decide them, so a re-run resumes (:mod:`fastdream.video.frames`);
the output keeps the input's frame rate and, for MP4, its sound.

Frames dreamed independently (``flow=False, blend=0``) can be split over torchrun ranks.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import torch

from fastdream import _checks, driver, io
from fastdream.dream import build_objective, run
from fastdream.dream.record import dream_settings
from fastdream.models.build import dream_net
from fastdream.models.taps import LayerTaps
from fastdream.ops.luma import luma
from fastdream.training import distributed
from fastdream.video import checks as C
from fastdream.video import frames as F
from fastdream.video.source import check_frames, open_source

SETTINGS_NAME = "dream_video_settings.json"
SETTINGS_FORMAT = 1
# 2, for a masked video blended with the last dreamed frame: outside the mask each frame starts
# from its input (it started from the blend, and the dream crept over the mask's edge). Unmasked
# videos make the same frames as before, and resume them.
MASKED_FORMAT = 2
#: The dream of each frame, unless told otherwise: each frame starts from the last one's dream
#: (with blend > 0), so a short dream per frame builds up; explicit options win.
DREAM_DEFAULTS = {"octaves": 2, "steps": 5}


class _Coherent:
    """Makes each frame from the current input frame and the previous dreamed one."""

    def __init__(self, opts, device, blend: float, flow: bool, size: tuple[int, int], gray: bool = False):
        self.flow, self.gray = None, gray
        if flow and blend > 0:  # frames the flow cannot follow: refused before the network is built
            from fastdream.video.flow import Flow

            self.flow = Flow(size)
        objective = build_objective(opts)
        model = dream_net(opts.model, objective.layers, device)
        LayerTaps(model, objective.layers)  # unknown layers: an error before any frame is made
        self.opts = dataclasses.replace(opts, model=model, layers=None, objective=objective, guide=None, device=device)
        self.device, self.blend = device, blend
        self.prev = None  # (the previous dreamed frame, the previous input frame)

    def start(self, frame: np.ndarray) -> torch.Tensor:
        """What frame k's dream starts from, given the current input ``frame`` (H, W, 3 uint8):
        (1, 3, H, W) in [0, 1] on the host."""
        current = F.to01(frame, "cpu")
        if self.blend == 0 or self.prev is None:
            return current
        prev_dream, prev = self.prev
        if self.flow is not None:
            moved, valid = self.flow.carry(prev_dream, prev, frame)
        else:
            moved, valid = prev_dream, np.ones(frame.shape[:2], np.float32)
        w = torch.from_numpy(np.ascontiguousarray(self.blend * valid, dtype=np.float32))[None, None]
        if self.opts.mask is not None:  # outside the mask each frame is its input, as a picture's is
            w = w * self.opts.mask.to("cpu", torch.float32)
        return current.mul_(1 - w).add_(F.to01(moved, "cpu").mul_(w))

    def dream(self, frame: np.ndarray, callback=None) -> np.ndarray:
        x = self.start(frame).to(self.device)
        y = run(x.clamp_(0, 1), self.opts, callback=callback)
        if self.gray:
            y = luma(y).expand_as(y)
        out = io.quantize(y)[0].permute(1, 2, 0).to(torch.uint8).cpu().numpy()
        self.prev = (out, frame)
        return out

    def keep(self, out: np.ndarray, frame: np.ndarray) -> None:
        """Resuming: the last finished frame (as its PNG holds it) and its input frame."""
        self.prev = (out, frame)


def dream_video(
    input,
    out_path,
    *,
    blend: float = 0.5,
    flow: bool = True,
    frames_dir=None,
    resume: bool = True,
    start: int | None = None,
    end: int | None = None,
    fps: float | None = None,
    keep_audio: bool = True,
    progress: bool = False,
    callback=None,
    preset: str | None = None,
    **dream_kwargs,
) -> Path:
    """Dreams every frame of a video, coherently from one frame to the next.

    Args:
        input: an MP4 (or another container ffmpeg reads; the ``video`` extra), a GIF or WebP, or a
            folder of frames (in the order of the numbers in their names; hidden files left out).
            A GIF, WebP or folder whose frames are all gray gives a gray video, as a gray picture
            gives a gray result.
        out_path: the output video, ``.mp4``, ``.gif`` or ``.webp`` (written atomically).
        blend: how much of the previous dreamed frame each frame starts from, in [0, 1] (0: every
            frame dreamed on its own).
        flow: move the previous dreamed frame along the optical flow first (OpenCV's DIS flow,
            the ``video`` extra), so the dream follows the scene instead of smearing; occluded
            pixels take the current frame.
        frames_dir: folder for the frame PNGs and their settings (default: ``<out_stem>_frames``).
        resume: continue after the last finished frame made with the same settings (others are
            refused, naming what differs); ``False`` starts over.
        start, end: dream frames ``[start, end)`` of the input only (default: all).
        fps: the output's frame rate (default: the input's).
        keep_audio: for MP4 output from an input with sound, keep the sound (from ``start``); at
            another rate than the input's (``fps``) it is left out, with a warning.
        progress: show a progress bar over the frames (rank 0).
        callback: the step hook of :func:`fastdream.dream`, after every step of every frame's
            dream (``frame`` / ``frames`` say which; ``step`` / ``total`` count over the frames this
            call makes); returning ``False`` raises :class:`fastdream.Cancelled`, and the frames
            already saved are kept for a re-run to resume.
        preset: a name of :data:`fastdream.PRESETS`: its look (layers, step size, objective,
            model...) for every frame; explicit options win over it, and each frame's
            ``octaves`` and ``steps`` stay :data:`DREAM_DEFAULTS` unless given.
        **dream_kwargs: options of :func:`fastdream.dream` (every frame uses the same seed, so the
            jitter does not flicker); ``octaves`` and ``steps`` default to :data:`DREAM_DEFAULTS`
            (2 x 5).

    Returns:
        ``out_path`` as a :class:`pathlib.Path`.

    Examples:
        >>> fd.dream_video("clip.mp4", "dreamed.mp4", octaves=2, steps=5, seed=0)  # doctest: +SKIP
        PosixPath('dreamed.mp4')
    """
    src = open_source(input)
    out, fmt = C.check_out_path(out_path, input, [dream_kwargs.get("guide")])
    blend = _checks.real("blend", blend, lo=0.0, hi=1.0, lo_open=False, hi_open=False)
    flow, resume = _checks.boolean("flow", flow), _checks.boolean("resume", resume)
    keep_audio, progress = _checks.boolean("keep_audio", keep_audio), _checks.boolean("progress", progress)
    s, e = C.frame_range(start, end, src.count)
    fps = C.check_fps(fps, src, fmt, out)
    keep_audio = C.check_sound(src, fmt, fps, keep_audio)
    frames_dir = C.check_frames_dir(frames_dir, out, [input])
    C.check_frame_count("end - start", e - s, src.size[::-1], fmt, frames_dir)
    w, h = src.size
    callback = driver.check_callback(callback)
    gray = check_frames(src, s, e)
    # The preset gives the look; the length of each frame's dream stays DREAM_DEFAULTS' unless given.
    opts = F.dream_options({**DREAM_DEFAULTS, **dream_kwargs, "preset": preset}, (h, w), "dream_video")
    device = opts.resolve_device()
    independent = blend == 0

    def key(seed: int) -> dict:
        return {
            "format": MASKED_FORMAT if opts.mask is not None and not independent else SETTINGS_FORMAT,
            "input_sha256": digest,
            "size": [w, h],
            "start": s,
            "blend": blend,
            "flow": flow and not independent,
            "seed": seed,
            "dream": dream_settings(opts),
            **({"gray": True} if gray else {}),
        }

    with F.writing(out, frames_dir):  # (one run at a time per output and frames folder)
        digest = F.fingerprint(src)
        dist = distributed(device)
        seed, _ = F.resume_state(frames_dir, SETTINGS_NAME, key, opts.seed, resume, dist, device)
        if dist.enabled and not independent:
            raise ValueError(
                "dream_video: frames that start from the previous dreamed frame (blend > 0) are made one "
                "after another; run in one process, or pass blend=0 to split the frames over the ranks"
            )
        maker = _Coherent(dataclasses.replace(opts, seed=seed), device, blend, flow, src.size, gray)
        if dist.main:
            info = {"frames": e - s, "fps": fps, "device": str(device), "out_path": str(out)}
            F.start_frames_dir(frames_dir, SETTINGS_NAME, key(seed), info, resume)
        dist.barrier()
        F.make_frames(
            src,
            frames_dir,
            (s, e),
            maker.dream,
            maker.keep,
            dist=dist,
            independent=independent,
            progress=progress,
            callback=callback,
            desc="dream-video",
        )
        dist.barrier()
        if dist.main:
            F.write_video(src, frames_dir, e - s, out, fps, s, keep_audio)
        dist.barrier()
        return out
