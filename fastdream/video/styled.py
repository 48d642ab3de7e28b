"""Styling an existing video without flicker (Ruder et al. 2016): the style moves with the scene.

The first frame is painted like a picture (the octaves of :func:`fastdream.style_transfer`). Each
later frame starts from the previous *styled* frame moved by the optical flow between the two
input frames (:mod:`fastdream.video.flow`; pixels the flow cannot trace, occluded or uncovered,
start from the current frame), and is optimized at full size only, with a temporal term: the
mean squared difference from that moved frame over the pixels the flow traces. Frames are saved as
they are made, with the settings that decide them, so a re-run resumes
(:mod:`fastdream.video.frames`); the output keeps the input's frame rate and, for MP4, its sound.
``flow=False`` styles every frame on its own (those frames may be split over torchrun ranks).

Frames are worked on at their size padded (mirrored) to a multiple of the network's stride, never
resampled, so a style carried from frame to frame is not blurred on the way.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as TF
from PIL import Image

from fastdream import _checks, driver, io
from fastdream.io.record import model_fingerprint, tensor_sha256
from fastdream.ops.luma import luma
from fastdream.style import regions
from fastdream.style.engine import octave_count, octave_sizes
from fastdream.style.gray import paints_in_color
from fastdream.style.options import MAX, StyleOptions
from fastdream.style.pictures import load_styles
from fastdream.style.stylizer import Stylizer, scaled_size
from fastdream.training import distributed
from fastdream.video import checks as C
from fastdream.video import frames as F
from fastdream.video.source import check_frames, open_source

SETTINGS_NAME = "style_video_settings.json"
# 2: later frames' entering picture gets a pass at the smallest octave (frames of 1 are not mixed in).
SETTINGS_FORMAT = 2
#: Each frame's style transfer, unless told otherwise: the first frame runs these octaves (as a
#: still picture would, with fewer steps), each later one its full-size octave only, starting from
#: the last: the style builds up over the frames. Explicit options win.
STYLE_DEFAULTS = {"octaves": 2, "steps": 40}
#: The temporal term's weight against content 1 and style 3 (bench/RESULTS.md, "Styled videos").
TEMPORAL_WEIGHT = 100.0
#: A later frame whose untraced pixels (new picture entering) are at least this share of it gives
#: them a pass at the smallest octave first (:meth:`_Painter._uncovered`).
NEW_SHARE = 0.005
_RESAMPLE = Image.LANCZOS  # frames resized for size=


def _pad(x: torch.Tensor, hw: tuple[int, int], mode: str = "reflect") -> torch.Tensor:
    """``x`` padded at the bottom and right to ``hw`` (mirrored; replicated where a side is too
    short to mirror; ``mode="constant"``: zeros)."""
    ph, pw = hw[0] - x.shape[-2], hw[1] - x.shape[-1]
    if ph == 0 and pw == 0:
        return x
    if mode == "reflect" and (ph >= x.shape[-2] or pw >= x.shape[-1]):
        mode = "replicate"
    return TF.pad(x, (0, pw, 0, ph), mode=mode)


class _Painter:
    """Paints each frame from the current input frame and, with the flow, the previous styled one."""

    def __init__(self, st: Stylizer, hw, flow: bool, temporal_weight: float, masks, cutout, device, gray=False):
        self.st, self.hw, self.device, self.gray = st, hw, device, gray
        stride, least = st.feats.stride, st.feats.min_side
        if min(hw) < least:  # as a still's transfer refuses it (the padding to the stride let 40x30 through)
            raise ValueError(
                f"input: the frames' working size {hw[1]}x{hw[0]} is below what the network needs ({least} px on "
                "the short side); give larger frames, or a larger size= / --size to enlarge them"
            )
        self.work = (stride * math.ceil(hw[0] / stride), stride * math.ceil(hw[1] / stride))
        o = st.o
        # (an octave the frames cannot take: said by the first frame's transfer)
        self.sizes = octave_sizes(*self.work, o.octaves, o.octave_scale, stride, st.feats.min_side, quiet=True)
        self.first_steps = len(self.sizes) * o.steps
        self.masks, self.cutout, self.temporal_weight = masks, cutout, temporal_weight
        self.prev = None  # (the previous styled frame, its input frame)
        self.flow = None
        if flow:
            from fastdream.video.flow import Flow

            self.flow = Flow((hw[1], hw[0]))  # frames too small for the flow: refused before any frame

    def steps_of(self, i: int) -> int:
        return self.first_steps if self.flow is None or i == 0 else self.st.o.steps

    def sized(self, frame: np.ndarray) -> np.ndarray:
        if frame.shape[:2] == tuple(self.hw):
            return frame
        return np.asarray(Image.fromarray(frame).resize(self.hw[::-1], _RESAMPLE))

    def _masks(self, c01: torch.Tensor):
        m = self.masks if self.cutout is None else regions.subject_masks(c01, self.cutout, self.device)
        return None if m is None else [_pad(x, self.work, "replicate") for x in m]

    def _start(self, frame: np.ndarray, c01: torch.Tensor):
        """(init, temporal) of a frame that starts from the previous one moved by the flow, or (None, None)."""
        if self.flow is None or self.prev is None:
            return None, None
        moved, valid = self.flow.carry(*self.prev, frame)
        m01 = F.to01(moved, self.device)
        v = torch.from_numpy(np.ascontiguousarray(valid, dtype=np.float32))[None, None].to(self.device)
        init = _pad(self.st.working(v * m01 + (1 - v) * c01), self.work)
        target = _pad(self.st.working(m01), self.work)
        return init, (target, _pad(v, self.work, "constant"), self.temporal_weight)

    def _uncovered(self, c01: torch.Tensor, init: torch.Tensor, temporal, callback=None) -> torch.Tensor:
        """``init`` with the pixels the flow does not trace (new picture entering the frame) taken
        from a pass at the first frame's smallest octave: they only got the full-size octave, so a
        pan's new strips stayed half as styled as the first frame, and the temporal term then held
        them so (bench/RESULTS.md, "Styled videos"). ``callback`` hears each of its steps, so a
        stop is not kept waiting; they count as none of the frame's (whether the pass runs is known
        only once the flow is), and show the frame as it starts."""
        target, valid, weight = temporal
        # (over the frame: the padding to the network's stride is untraced too, and would count)
        if float((1 - valid[..., : self.hw[0], : self.hw[1]]).mean()) < NEW_SHARE:
            return init
        small = self.sizes[0]
        if small == self.work:  # one octave: no smaller pass to take them from
            return init
        down = lambda t: TF.interpolate(t, size=small, mode="bilinear", align_corners=False, antialias=True)
        hook = None
        if callback is not None:
            shown = lambda: self._picture(init)
            hook = lambda state: callback(dataclasses.replace(state, step=0, octave_step=0, _picture=shown))
        y = self.st.paint(
            _pad(c01, self.work),
            small,
            masks=self._masks(c01),
            init=init,
            temporal=(down(target), down(valid), weight),
            callback=hook,
        )
        up = TF.interpolate(y, size=self.work, mode="bilinear", align_corners=False)
        return valid * init + (1 - valid) * up

    def paint(self, frame: np.ndarray, callback=None) -> np.ndarray:
        frame = self.sized(frame)
        c01 = F.to01(frame, self.device)
        init, temporal = self._start(frame, c01)
        if init is not None:
            init = self._uncovered(c01, init, temporal, callback)
        y = self.st.paint(
            _pad(c01, self.work),
            self.work,
            masks=self._masks(c01),
            init=init,
            temporal=temporal,
            restore=self._picture,
            callback=callback,
        )
        out = self._picture(y)
        if self.flow is not None:
            self.prev = (out, frame)
        return out

    def _picture(self, y: torch.Tensor) -> np.ndarray:
        """A working picture as an RGB uint8 frame (cut to the frame at the full working size)."""
        if tuple(y.shape[-2:]) == self.work:
            y = y[..., : self.hw[0], : self.hw[1]]
        if self.gray:  # a gray video's frames, as a gray picture's style is
            y = luma(y).expand_as(y)
        return io.quantize(y)[0].permute(1, 2, 0).to(torch.uint8).cpu().numpy()

    def keep(self, out: np.ndarray, frame: np.ndarray) -> None:
        """Resuming: the last finished frame (as its PNG holds it) and its input frame."""
        if self.flow is not None:
            self.prev = (out, self.sized(frame))


def _temporal_weight(weight, flow: bool) -> float:
    tw = _checks.real("temporal_weight", weight, lo=0.0, lo_open=False, cap=MAX["weight"])
    if not flow and tw != TEMPORAL_WEIGHT:  # accepted, it changed nothing
        raise ValueError(
            "temporal_weight: the temporal term follows the motion, so it changes nothing with flow=False (--no-flow); "
            "leave it out, or let the flow run"
        )
    return tw


def style_video(
    video_or_frames,
    style_or_styles,
    out_path,
    *,
    flow: bool = True,
    temporal_weight: float = TEMPORAL_WEIGHT,
    frames_dir=None,
    resume: bool = True,
    start: int | None = None,
    end: int | None = None,
    fps: float | None = None,
    keep_audio: bool = True,
    progress: bool = False,
    callback=None,
    **style_options,
) -> Path:
    """Styles every frame of a video, coherently from one frame to the next (Ruder et al. 2016).

    Args:
        video_or_frames: an MP4 (or another container ffmpeg reads; the ``video`` extra), a GIF or
            WebP, or a folder of frames (in the order of the numbers in their names; hidden files left out).
            A GIF, WebP or folder whose frames are all gray gives a gray video with gray styles or
            ``preserve_colors``, as a gray picture gives a gray result; a colorful style paints
            it in color.
        style_or_styles: one style image or a list of them (any image kind).
        out_path: the output video, ``.mp4``, ``.gif`` or ``.webp`` (written atomically).
        flow: start each frame from the previous styled frame moved along the optical flow
            (OpenCV's DIS flow, the ``video`` extra), with the temporal term; ``False``: every
            frame styled on its own, from its content (it flickers).
        temporal_weight: the weight of the temporal term (the mean squared difference from the
            moved previous frame, over the pixels the flow traces), against the content's 1.
        frames_dir: folder for the frame PNGs and their settings (default: ``<out_stem>_frames``).
        resume: continue after the last finished frame made with the same settings (others are
            refused, naming what differs); ``False`` starts over.
        start, end: style frames ``[start, end)`` of the input only (default: all).
        fps: the output's frame rate (default: the input's).
        keep_audio: for MP4 output from an input with sound, keep the sound (from ``start``); at
            another rate than the input's (``fps``) it is left out, with a warning.
        progress: show a progress bar over the frames.
        callback: the step hook of :func:`fastdream.style_transfer`, after every step of every
            frame (``frame`` / ``frames`` say which; ``step`` / ``total`` count over the frames
            this call makes; ``image()`` is the frame so far, an RGB PIL image); returning ``False`` raises
            :class:`fastdream.Cancelled`, and the frames already saved are kept for a re-run.
        **style_options: options of :func:`fastdream.style_transfer`, ``masks`` and
            ``cutout_model`` included (static masks apply to every frame; ``masks="subject"``
            finds the subject in each frame); ``size`` resizes the frames (long side). Every
            frame uses the same seed; ``octaves`` and ``steps`` default to
            :data:`STYLE_DEFAULTS` (2 x 40 for the first frame, 40 steps for each later one).

    Returns:
        ``out_path`` as a :class:`pathlib.Path`.

    Shape:
        Frames (H, W) in, frames (H, W) out (or ``size`` on the long side), worked on padded to
        multiples of the network's stride (16 for the default backbone).

    Examples:
        >>> fd.style_video("clip.mp4", "starry.jpg", "styled.mp4", seed=0)  # doctest: +SKIP
        PosixPath('styled.mp4')
        >>> import tempfile, numpy as np, fastdream as fd
        >>> from pathlib import Path
        >>> from PIL import Image
        >>> root = Path(tempfile.mkdtemp())
        >>> (root / "in").mkdir()
        >>> stripes = (np.indices((48, 64)).sum(0) % 16 * 16).astype(np.uint8)
        >>> for k in range(3):  # a pattern moving 2 px a frame
        ...     Image.fromarray(np.roll(stripes, 2 * k, 1)).convert("RGB").save(root / "in" / f"{k}.png")
        >>> style = (np.random.default_rng(0).random((64, 64, 3)) * 255).astype(np.uint8)
        >>> out = fd.style_video(root / "in", style, root / "out.gif", octaves=1, steps=2, seed=0)
        >>> out.name, sorted(p.name for p in (root / "out_frames").glob("*.png"))
        ('out.gif', ['frame_00000.png', 'frame_00001.png', 'frame_00002.png'])
    """
    src = open_source(video_or_frames)
    styles = style_or_styles if isinstance(style_or_styles, (list, tuple)) else [style_or_styles]
    out, fmt = C.check_out_path(out_path, video_or_frames, styles)
    flow, resume = _checks.boolean("flow", flow), _checks.boolean("resume", resume)
    keep_audio, progress = _checks.boolean("keep_audio", keep_audio), _checks.boolean("progress", progress)
    tw = _temporal_weight(temporal_weight, flow)
    s, e = C.frame_range(start, end, src.count)
    fps = C.check_fps(fps, src, fmt, out)
    keep_audio = C.check_sound(src, fmt, fps, keep_audio)
    frames_dir = C.check_frames_dir(frames_dir, out, [video_or_frames])
    masks, cutout = style_options.pop("masks", None), style_options.pop("cutout_model", None)
    style01, callback = _styles(style_or_styles), driver.check_callback(callback)
    o = _options(len(style01), style_options)
    gray = check_frames(src, s, e) and not paints_in_color(True, style01, o)  # (a colorful style paints it)
    hw = scaled_size(src.size[1], src.size[0], o.size)
    # The octaves counted once, from the frames' size (as a still's), and recorded as a number:
    # None (the default's "as many as fit") stored beside older folders' 3 refused their resume.
    o = dataclasses.replace(o, octaves=octave_count(o.octaves, *hw, o.octave_scale))
    C.check_frame_count("end - start", e - s, hw, fmt, frames_dir)
    device = _checks.device("device", o.device, model=o.model)
    masks, cutout, masks_key = _masks(masks, cutout, len(style01), hw, device)
    dist = _launch(device, flow)
    settings = {  # what decides the pixels, compared on resume (with the seed)
        "format": SETTINGS_FORMAT,
        "input_sha256": F.fingerprint(src),
        "size": [hw[1], hw[0]],
        "start": s,
        "flow": flow,
        "temporal_weight": tw if flow else None,
        "masks": masks_key,
        "style": _settings(o, style01, masked=masks_key is not None),
        "gray": gray,  # (older folders recorded it only when true: their absence is False)
    }
    with F.writing(out, frames_dir):  # (one run at a time per output and frames folder)
        seed, _ = F.resume_state(
            frames_dir, SETTINGS_NAME, lambda v: dict(settings, seed=v), o.seed, resume, dist, device, {"gray": False}
        )
        o = dataclasses.replace(o, seed=seed)
        first = F.to01(_frame(src, s, hw), device) if o.preserve_colors or o.color_match else None
        with Stylizer(style01, o, device, first) as st:
            painter = _Painter(st, hw, flow, tw, masks, cutout, device, gray)
            if dist.main:
                info = {"frames": e - s, "fps": fps, "device": str(device), "out_path": str(out)}
                F.start_frames_dir(frames_dir, SETTINGS_NAME, dict(settings, seed=seed), info, resume)
            dist.barrier()
            F.make_frames(
                src,
                frames_dir,
                (s, e),
                painter.paint,
                painter.keep,
                dist=dist,
                independent=not flow,
                progress=progress,
                callback=callback,
                desc="style-video",
                steps_of=painter.steps_of,
            )
        dist.barrier()
        if dist.main:
            F.write_video(src, frames_dir, e - s, out, fps, s, keep_audio)
        dist.barrier()
        return out


def _launch(device, flow: bool):
    """This process's place in its launch; frames that start from the previous one are one process's."""
    dist = distributed(device)
    if dist.enabled and flow:
        raise ValueError(
            "style_video: frames that start from the previous styled frame (flow=True) are made one after "
            "another; run in one process, or pass flow=False to split the frames over the ranks"
        )
    return dist


def _styles(style_or_styles) -> list[torch.Tensor]:
    styles = list(style_or_styles) if isinstance(style_or_styles, (list, tuple)) else [style_or_styles]
    if not styles:
        raise ValueError("style_or_styles: give at least one style image")
    return load_styles(styles)


def _options(n_styles: int, kw: dict) -> StyleOptions:
    return StyleOptions.create(n_styles, **{**STYLE_DEFAULTS, **kw})


def _frame(src, index: int, hw) -> np.ndarray:
    """Input frame ``index`` at ``hw``: the picture the styles' colors are adjusted to."""
    frames = src.frames(index, index + 1)
    try:
        for frame in frames:
            return frame if frame.shape[:2] == hw else np.asarray(Image.fromarray(frame).resize(hw[::-1], _RESAMPLE))
    finally:
        frames.close()
    raise ValueError(f"start: the input has no frame {index}")


def _masks(masks, cutout, n_styles: int, hw, device):
    """(static masks at ``hw``, the U-Net that finds each frame's subject, what the settings record)."""
    if not (isinstance(masks, str) and masks == regions.SUBJECT):
        loaded = regions.load_masks(masks, n_styles, hw, cutout_model=cutout, device=device)
        return loaded, None, None if loaded is None else [tensor_sha256(m) for m in loaded]
    regions.check_subject(n_styles, cutout)
    cutout = regions.subject_model(cutout, device)
    return None, cutout, {"subject": model_fingerprint(cutout)}


def _settings(o: StyleOptions, styles01, masked: bool = False) -> dict:
    """What of the style options decides the pixels, as JSON-able values for the settings file."""
    skip = ("model", "device", "seed")
    out = {f.name: getattr(o, f.name) for f in dataclasses.fields(o) if f.name not in skip}
    # Frames painted since the styles' even blend or color matching's floor (twelfth session) are
    # not mixed with older ones of the same settings: those keys refuse the older folders' resume.
    changed = {"blend": "even"} if len(styles01) > 1 and not masked else {}
    changed |= {"color_match_floor": True} if o.color_match else {}
    return {
        **out,
        "model": model_fingerprint(o.model),
        "styles_sha256": [tensor_sha256(s) for s in styles01],
        **changed,
    }
