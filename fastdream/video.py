"""Zoom videos: frame n+1 = dream(zoom/shift/rotate(frame n)), the classic DeepDream "infinite zoom".

The model is loaded once and the working frame stays on the dream's device from one frame to the
next; only the 8-bit copy that is written to disk crosses to the host. Every frame is saved as a
numbered PNG as soon as it is made (atomically), together with a JSON file of the settings that
decide its pixels, so a stopped run picks up where it stopped and gives the same video, byte for
byte, as a run that never stopped. The video is assembled from those PNGs at the end: GIF and
WebP with Pillow, MP4 with imageio-ffmpeg (the ``fastdream[video]`` extra).
"""
from __future__ import annotations

import hashlib
import inspect
import json
import math
import numbers
import os
import re
import secrets
from pathlib import Path

import numpy as np
import torch
from PIL import Image, features
from torch import nn
from tqdm.auto import tqdm

from fastdream import io, ops
from fastdream._checks import boolean as _bool
from fastdream._checks import integer as _int
from fastdream._checks import path as _path
from fastdream._checks import real
from fastdream.dream import DEFAULT_LAYERS, _resolve_device, default_model, dream
from fastdream.models.taps import LayerTaps

VIDEO_FORMATS = {".gif": "GIF", ".webp": "WEBP", ".mp4": "MP4"}
#: Frame ``k`` is ``frames_dir / FRAME_NAME.format(k)``; five digits keep the names sorted in a
#: file browser for any practical length (longer videos simply get longer names).
FRAME_NAME = "frame_{:05d}.png"
_FRAME_RE = re.compile(r"^frame_(\d{5,})\.png$")
#: The settings a folder of frames was made with, compared on resume.
SETTINGS_NAME = "zoom_settings.json"
#: Bump when a change in this module changes the pixels of the frames for the same settings, so
#: old frame folders are refused instead of mixed with new frames.
SETTINGS_FORMAT = 1
#: Resampling outside the image when the transform reaches past an edge (shift, rotation or
#: zoom < 1): mirroring continues the picture instead of smearing the edge pixels.
PADDING = "reflect"
#: GIF delays are stored in 1/100 s and browsers slow down anything under 20 ms.
GIF_MAX_FPS = 50.0
MAX_FPS = 240.0
#: PNG level for the frames: level 1 is ~5x faster to write than Pillow's default 6 and only
#: ~10% bigger on dream images, so saving a frame stays a negligible part of the frame time.
PNG_COMPRESS_LEVEL = 1
#: crf ~15 for libx264: dream detail is fine, high-frequency texture that the default (crf 25)
#: visibly smears.
MP4_QUALITY = 7

# The dream options that pass through ``**dream_kwargs``: everything ``dream`` takes except the
# image and its own progress bar (zoom_video shows one bar over the frames instead).
_DREAM_PARAMS = {
    name: p.default
    for name, p in inspect.signature(dream).parameters.items()
    if name not in ("image", "progress")
}


# --------------------------------------------------------------------------------------------
# Argument checks: everything is checked before anything is written.


def _check_out_path(out_path, image) -> tuple[Path, str]:
    out = _path("out_path", out_path)
    fmt = VIDEO_FORMATS.get(out.suffix.lower())
    if fmt is None:
        raise ValueError(
            f"out_path: unknown video extension {out.suffix!r} in {str(out)!r}; use .gif, .webp or .mp4"
        )
    parent = out.parent if str(out.parent) else Path(".")
    if not parent.is_dir():
        raise FileNotFoundError(f"out_path: output folder does not exist: {parent}")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise PermissionError(f"out_path: output folder is not writable: {parent}")
    if out.is_dir():
        raise IsADirectoryError(f"out_path: {out} is a folder; give a file name ending in {out.suffix}")
    if out.exists() and not os.access(out, os.W_OK):
        raise PermissionError(f"out_path: {out} exists and is not writable")
    if isinstance(image, (str, os.PathLike)) and Path(image).resolve() == out.resolve():
        raise ValueError(f"out_path: {out} is the input image; the input is never overwritten")
    if fmt == "WEBP" and not features.check("webp"):
        raise ValueError("out_path: this Pillow was built without WebP support; use .gif or .mp4")
    if fmt == "MP4":
        try:
            import imageio_ffmpeg  # noqa: F401
        except ImportError:
            raise ModuleNotFoundError(
                "out_path: writing .mp4 needs imageio-ffmpeg, which is not installed; install the extra "
                "with `pip install 'fastdream[video]'`, or write a .gif or .webp instead",
                name="imageio_ffmpeg",
            ) from None
    return out, fmt


def _check_color_drift(v):
    """None, a hue rotation in degrees per frame, or per-channel (R, G, B) gains per frame."""
    if v is None:
        return None
    if isinstance(v, (tuple, list)):
        if len(v) != 3:
            raise ValueError(f"color_drift as gains must have 3 values (R, G, B), got {len(v)}: {v!r}")
        return [real(f"color_drift[{i}]", g, lo=0.0) for i, g in enumerate(v)]
    if isinstance(v, bool) or not isinstance(v, numbers.Real):
        raise TypeError(
            f"color_drift must be None, a hue rotation in degrees per frame, or (R, G, B) gains; got {v!r}"
        )
    return real("color_drift", v)


def _color_matrix(drift) -> torch.Tensor | None:
    """The 3x3 matrix applied to RGB once per frame for ``color_drift`` (float64, on the host)."""
    if drift is None:
        return None
    if isinstance(drift, list):
        return torch.diag(torch.tensor(drift, dtype=torch.float64))
    # A rotation about the gray axis k = (1, 1, 1)/sqrt(3) (Rodrigues): grays stay gray, the mean
    # of R, G, B is kept, and the hue turns by ``drift`` degrees; repeated every frame, the
    # colors cycle smoothly through the spectrum.
    a = math.radians(drift)
    k = torch.full((3,), 1 / math.sqrt(3), dtype=torch.float64)
    kx = torch.tensor([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]], dtype=torch.float64)
    return math.cos(a) * torch.eye(3, dtype=torch.float64) + math.sin(a) * kx + (1 - math.cos(a)) * torch.outer(k, k)


def _tensor_sha256(t: torch.Tensor) -> str:
    t = t.detach().to("cpu", torch.float32).contiguous()
    h = hashlib.sha256(repr(tuple(t.shape)).encode())
    h.update(t.numpy().tobytes())
    return h.hexdigest()


def _model_fingerprint(model: nn.Module | None) -> str:
    if model is None:
        return "efficientnet_lite0 (fastdream default)"
    h = hashlib.sha256()
    for name, t in model.state_dict().items():
        h.update(name.encode())
        h.update(_tensor_sha256(t).encode() if t.is_floating_point() else repr(t.tolist()).encode())
    return f"{type(model).__module__}.{type(model).__qualname__} sha256:{h.hexdigest()}"


def _check_dream_options(kw: dict, size: tuple[int, int]) -> dict:
    """The dream options with defaults filled in and checked as ``dream`` checks them."""
    unknown = sorted(set(kw) - set(_DREAM_PARAMS))
    if unknown:
        raise TypeError(
            f"zoom_video got unknown option(s) {unknown}; dream options are: {', '.join(_DREAM_PARAMS)}"
        )
    o = {**_DREAM_PARAMS, **kw}
    o["octaves"] = _int("octaves", o["octaves"], 1)
    o["octave_scale"] = real("octave_scale", o["octave_scale"], lo=1.0)
    o["steps"] = _int("steps", o["steps"], 1)
    o["step_size"] = real("step_size", o["step_size"], lo=0.0)
    o["jitter"] = _int("jitter", o["jitter"], 0)
    if o["tile_size"] is not None:
        o["tile_size"] = _int("tile_size", o["tile_size"], 32)
    if o["tile_batch"] is not None:
        o["tile_batch"] = _int("tile_batch", o["tile_batch"], 1)
    if o["objective"] not in ("l2", "mean"):
        raise ValueError(f"objective must be 'l2' or 'mean', got {o['objective']!r}")
    if o["norm"] not in ("std", "mean_abs"):
        raise ValueError(f"norm must be 'std' or 'mean_abs', got {o['norm']!r}")
    if o["seed"] is not None:
        o["seed"] = _int("seed", o["seed"], 0)
    model = o["model"]
    if model is not None and not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if model is not None and o["layers"] is None:
        raise ValueError("layers: a custom model needs layers= (names from model.named_modules())")
    if o["layers"] is None:
        o["layers"] = list(DEFAULT_LAYERS)
    elif isinstance(o["layers"], str):
        o["layers"] = [o["layers"]]
    elif isinstance(o["layers"], (list, tuple)) and all(isinstance(n, str) for n in o["layers"]):
        o["layers"] = list(o["layers"])
    else:
        raise TypeError(f"layers must be a layer name or a list of names, got {o['layers']!r}")
    if o["mask"] is not None:
        o["mask"] = io.load_mask(o["mask"], size)
    if o["device"] is not None:
        try:
            o["device"] = torch.device(o["device"])
        except (RuntimeError, TypeError) as exc:
            raise ValueError(
                f"device must be a torch device such as 'cpu' or 'cuda', got {o['device']!r} ({exc})"
            ) from None
    return o


# --------------------------------------------------------------------------------------------
# Frames on disk.


def _frame_path(frames_dir: Path, k: int) -> Path:
    return frames_dir / FRAME_NAME.format(k)


def _frame_indices(frames_dir: Path) -> set[int]:
    if not frames_dir.is_dir():
        return set()
    return {int(m.group(1)) for m in map(_FRAME_RE.match, os.listdir(frames_dir)) if m}


def _complete_frames(indices: set[int]) -> int:
    """How many frames 0, 1, 2, ... exist without a gap. Each file is complete (written
    atomically), so this is exactly the progress of a stopped run."""
    n = 0
    while n in indices:
        n += 1
    return n


def _settings_diff(stored: dict, current: dict, prefix: str = "") -> list[str]:
    out = []
    for key in sorted(set(stored) | set(current)):
        a, b = stored.get(key, "<missing>"), current.get(key, "<missing>")
        if isinstance(a, dict) and isinstance(b, dict):
            out += _settings_diff(a, b, f"{prefix}{key}.")
        elif a != b:
            out.append(f"{prefix}{key}: stored {a!r}, now {b!r}")
    return out


def _write_json(obj, path: Path) -> None:
    text = json.dumps(obj, indent=2, sort_keys=True) + "\n"
    io.atomic_save(lambda tmp: Path(tmp).write_text(text), path, suffix=".json")


# --------------------------------------------------------------------------------------------
# One frame.


def _quantize(x: torch.Tensor) -> torch.Tensor:
    """The frame as 8-bit values (still float, on the device). The working frame is replaced by
    exactly what the PNG holds, so a resumed run, which reloads the PNG, continues from the same
    numbers as the run that wrote it: that is what makes resumed videos identical."""
    return (x * 255.0).round_().clamp_(0.0, 255.0)


def _to_pil(q: torch.Tensor) -> Image.Image:
    return Image.fromarray(q[0].to(torch.uint8).permute(1, 2, 0).cpu().numpy(), "RGB")


class _FrameMaker:
    """Makes frames from the previous frame, on one device with one loaded model.

    ``first(x)`` dreams the input into frame 0; ``next(x, k)`` makes frame ``k`` from frame
    ``k - 1``. Both take and return (1, 3, H, W) float32 in [0, 1] on ``device``, already rounded
    to 8-bit levels (see :func:`_quantize`). Shared with ``bench/``, so the benchmark times the
    same per-frame work as :func:`zoom_video`.
    """

    def __init__(self, options: dict, device: torch.device, *, zoom, shift, angle, color_drift):
        self.device = device
        self.zoom, self.shift, self.angle = zoom, tuple(shift), angle
        m = _color_matrix(color_drift)
        self.color = None if m is None else m.to(device=device, dtype=torch.float32)
        o = dict(options)
        # Load the model once here; passing it explicitly keeps dream from looking it up per frame.
        if o["model"] is None:
            o["model"] = default_model(device, o["layers"])
        self.base_seed = o.pop("seed")
        o["device"] = device
        o.pop("progress", None)
        self.options = o

    def _dream(self, x: torch.Tensor, k: int) -> torch.Tensor:
        # Seeded per frame: frame k depends only on frame k-1 and the settings, never on how
        # many frames this process made before it.
        y = dream(x, seed=self.base_seed + k, progress=False, **self.options)
        return _quantize(y).div_(255.0)

    def transform(self, x: torch.Tensor) -> torch.Tensor:
        """The move between frames: zoom/rotate/shift (native kernel), then the color drift."""
        y = ops.zoom_shift(x, zoom=self.zoom, shift=self.shift, angle=self.angle, padding=PADDING)
        if self.color is not None:
            y = torch.einsum("ij,njhw->nihw", self.color, y).contiguous()
        # Bilinear weights that sum to 1 in real numbers can give 1 + 1 ulp in float32, which
        # dream (rightly) refuses as out of [0, 1].
        return y.clamp_(0.0, 1.0)

    def first(self, x: torch.Tensor) -> torch.Tensor:
        return self._dream(x, 0)

    def next(self, x: torch.Tensor, k: int) -> torch.Tensor:
        return self._dream(self.transform(x), k)


def _save_frame(x01: torch.Tensor, path: Path) -> None:
    img = _to_pil(_quantize(x01.clone()))
    io.atomic_save(lambda tmp: img.save(tmp, format="PNG", compress_level=PNG_COMPRESS_LEVEL), path)


# --------------------------------------------------------------------------------------------
# The video.


def _durations(n: int, fps: float, unit_ms: int) -> list[int]:
    """Per-frame display times in ms, in multiples of ``unit_ms``, whose running total follows
    ``k * 1000 / fps`` as closely as the unit allows: 15 fps in a GIF (1/100 s units) becomes
    70, 60, 70, 70, 60, ... ms, which plays at exactly 15 fps on average instead of 16.7 or 14.3."""
    step = 1000.0 / fps / unit_ms
    edges = [round(k * step) for k in range(n + 1)]
    return [max(1, b - a) * unit_ms for a, b in zip(edges, edges[1:])]


def _write_video(paths: list[Path], out: Path, fmt: str, fps: float) -> None:
    def frames():
        # One frame in memory at a time where the encoder allows it (Pillow's GIF writer keeps
        # its own copies to find unchanged regions).
        for p in paths[1:]:
            with Image.open(p) as im:
                yield im.convert("RGB")

    if fmt in ("GIF", "WEBP"):
        with Image.open(paths[0]) as im:
            first = im.convert("RGB")
        unit = 10 if fmt == "GIF" else 1
        opts = dict(save_all=True, append_images=frames(), duration=_durations(len(paths), fps, unit), loop=0)
        if fmt == "WEBP":
            opts.update(quality=90, method=4)
        io.atomic_save(lambda tmp: first.save(tmp, format=fmt, **opts), out)
        return

    import imageio_ffmpeg

    with Image.open(paths[0]) as im:
        w, h = im.size
    # yuv420p (what every player decodes) needs even sizes: pad odd ones by repeating the last
    # row/column rather than letting ffmpeg rescale the whole frame.
    pw, ph = w + w % 2, h + h % 2

    def write(tmp):
        gen = imageio_ffmpeg.write_frames(
            tmp, (pw, ph), fps=float(fps), codec="libx264", pix_fmt_out="yuv420p", quality=MP4_QUALITY,
            macro_block_size=1, output_params=["-movflags", "+faststart"],
        )
        gen.send(None)
        try:
            for p in paths:
                with Image.open(p) as im:
                    a = np.asarray(im.convert("RGB"))
                if (pw, ph) != (w, h):
                    a = np.pad(a, ((0, ph - h), (0, pw - w), (0, 0)), mode="edge")
                gen.send(np.ascontiguousarray(a))
        finally:
            gen.close()

    io.atomic_save(write, out)


def zoom_video(
    image,
    out_path,
    *,
    frames: int = 60,
    zoom: float = 1.05,
    shift: tuple[float, float] = (0.0, 0.0),
    angle: float = 0.0,
    fps: float = 15,
    frames_dir=None,
    resume: bool = True,
    reverse: bool = False,
    color_drift=None,
    progress: bool = False,
    **dream_kwargs,
) -> Path:
    """Makes a DeepDream zoom video: each frame is the previous one zoomed/shifted/rotated, then dreamed.

    Frame 0 is the dreamed input (untransformed); frame ``k >= 1`` is
    ``dream(color_drift(zoom_shift(frame k-1)))`` with seed ``seed + k``. Frames are saved as
    numbered PNGs in ``frames_dir`` as they are made, and the video is assembled from them.

    Args:
        image: the first frame before dreaming: a path, PIL image, HxW(xC) numpy array (uint8, or
            float in [0, 1]) or a float tensor (C, H, W) / (1, C, H, W) in [0, 1]. The video is RGB:
            gray is expanded to RGB and an alpha channel is dropped.
        out_path: the video file, ``.gif`` or ``.webp`` (Pillow, looping forever) or ``.mp4``
            (H.264 through imageio-ffmpeg: ``pip install 'fastdream[video]'``). Written atomically.
        frames: number of frames in the video (>= 1), frame 0 included.
        zoom: scale between consecutive frames (> 1 zooms in, < 1 out).
        shift: (dx, dy) pixels the content moves per frame (positive: right, down).
        angle: degrees the content turns per frame (counter-clockwise as displayed).
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
        **dream_kwargs: options of :func:`fastdream.dream`: ``layers, model, octaves, octave_scale,
            steps, step_size, jitter, tile_size, objective, norm, mask, seed, device, tile_batch``.
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
        uninterrupted run on the same device and backend.

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
    loaded = io.load(image)
    rgb = loaded.rgb
    if rgb.shape[0] != 1:
        raise ValueError(f"image must be a single image, got a batch of {rgb.shape[0]} (shape {tuple(rgb.shape)})")
    h, w = rgb.shape[-2:]
    out, fmt = _check_out_path(out_path, image)
    frames = _int("frames", frames, 1)
    zoom = real("zoom", zoom, lo=0.0)
    if not isinstance(shift, (tuple, list)) or len(shift) != 2:
        raise TypeError(f"shift must be a pair of numbers (dx, dy) in pixels, got {shift!r}")
    shift = [real("shift[0]", shift[0]), real("shift[1]", shift[1])]
    angle = real("angle", angle)
    fps = real("fps", fps, lo=0.0)
    max_fps = GIF_MAX_FPS if fmt == "GIF" else MAX_FPS
    if fps > max_fps:
        raise ValueError(f"fps must be <= {max_fps:g} for {out.suffix} output, got {fps:g}")
    resume = _bool("resume", resume)
    reverse = _bool("reverse", reverse)
    progress = _bool("progress", progress)
    color_drift = _check_color_drift(color_drift)
    if frames_dir is None:
        frames_dir = out.with_name(f"{out.stem}_frames")
    frames_dir = _path("frames_dir", frames_dir)
    if frames_dir.exists() and not frames_dir.is_dir():
        raise NotADirectoryError(f"frames_dir: {frames_dir} exists and is not a folder")
    if frames_dir.resolve() == out.resolve():
        raise ValueError(f"frames_dir and out_path are the same path: {out}")
    opts = _check_dream_options(dream_kwargs, (h, w))

    # The device and the model, as dream resolves them; loading the model here also checks the
    # layer names before any file exists.
    device = _resolve_device(opts["device"], image, opts["model"])
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device is {device} but CUDA is not available here; pass device='cpu'")
        if device.index is None:
            # torch.device("cuda") != torch.device("cuda:0"): name the GPU, or the model's
            # parameters (on cuda:0) would not match the device below.
            device = torch.device("cuda", torch.cuda.current_device())
    net = opts["model"] if opts["model"] is not None else default_model(device, opts["layers"])
    p = next(net.parameters(), None)
    if p is not None and p.device != device:
        raise ValueError(
            f"device is {device} but the model's parameters are on {p.device}; move the model or pass device="
        )
    LayerTaps(net, opts["layers"])

    # ---- 2. What decides the pixels, and how far an earlier run got.
    def key(seed: int) -> dict:
        return {
            "format": SETTINGS_FORMAT,
            "input_sha256": _tensor_sha256(rgb),
            "size": [int(w), int(h)],
            "zoom": zoom,
            "shift": shift,
            "angle": angle,
            "padding": PADDING,
            "color_drift": color_drift,
            "seed": seed,
            "dream": {
                "model": _model_fingerprint(opts["model"]),
                "layers": opts["layers"],
                "octaves": opts["octaves"],
                "octave_scale": opts["octave_scale"],
                "steps": opts["steps"],
                "step_size": opts["step_size"],
                "jitter": opts["jitter"],
                "tile_size": opts["tile_size"],
                # Tiles per network call can change float rounding, so it is part of the key.
                "tile_batch": opts["tile_batch"],
                "objective": opts["objective"],
                "norm": opts["norm"],
                "mask_sha256": None if opts["mask"] is None else _tensor_sha256(opts["mask"]),
            },
        }

    settings_path = frames_dir / SETTINGS_NAME
    existing = _frame_indices(frames_dir)
    seed = opts["seed"]
    done = 0
    if resume:
        stored = None
        if settings_path.exists():
            try:
                stored = json.loads(settings_path.read_text())["key"]
                if not isinstance(stored, dict):
                    raise TypeError("key is not an object")
            except (ValueError, KeyError, TypeError, OSError) as exc:
                raise ValueError(
                    f"frames_dir: {settings_path} is not a readable fastdream settings file ({exc}); "
                    "pass resume=False to start over, or choose another frames_dir"
                ) from None
        elif existing:
            raise ValueError(
                f"frames_dir: {frames_dir} holds frame PNGs but no {SETTINGS_NAME}, so they cannot be checked "
                "against these settings; pass resume=False to replace them, or choose another frames_dir"
            )
        if stored is not None:
            if seed is None and isinstance(stored.get("seed"), int):
                seed = stored["seed"]  # no seed given: continue with the one the frames were made with
            diff = _settings_diff(stored, json.loads(json.dumps(key(seed if seed is not None else -1))))
            if diff:
                raise ValueError(
                    f"frames_dir: the frames in {frames_dir} were made with other settings ("
                    + "; ".join(diff)
                    + "); pass resume=False to replace them, or choose another frames_dir"
                )
            done = _complete_frames(existing)
    if seed is None:
        seed = secrets.randbelow(2**31)
    opts["seed"] = seed
    current = key(seed)

    x = None
    if 0 < done < frames:
        last = _frame_path(frames_dir, done - 1)
        prev = io.load(last).rgb
        if tuple(prev.shape[-2:]) != (h, w):
            raise ValueError(
                f"frames_dir: {last} is {prev.shape[-1]}x{prev.shape[-2]}, expected {w}x{h}; pass resume=False"
            )
        x = prev.to(device)

    # ---- 3. Make the missing frames, each saved as soon as it exists.
    frames_dir.mkdir(parents=True, exist_ok=True)
    if not resume:
        for k in sorted(existing):
            _frame_path(frames_dir, k).unlink(missing_ok=True)
    _write_json(
        {
            "key": current,
            # For people reading the folder; not compared on resume.
            "info": {"frames": frames, "fps": fps, "device": str(device), "out_path": str(out)},
        },
        settings_path,
    )
    maker = _FrameMaker(opts, device, zoom=zoom, shift=shift, angle=angle, color_drift=color_drift)
    with tqdm(total=frames, initial=min(done, frames), disable=not progress, desc="zoom", unit="frame") as bar:
        for k in range(done, frames):
            x = maker.first(rgb.to(device)) if k == 0 else maker.next(x, k)
            _save_frame(x, _frame_path(frames_dir, k))
            bar.update(1)

    # ---- 4. The video, from the PNGs (the same bytes whether or not the run was resumed).
    paths = [_frame_path(frames_dir, k) for k in range(frames)]
    if reverse:
        paths.reverse()
    _write_video(paths, out, fmt, fps)
    return out
