"""Frames on disk and the settings that made them: what lets a stopped video resume exactly.

Every frame is saved as a numbered PNG as soon as it is made (atomically), together with a JSON
file of the settings that decide its pixels. A re-run compares the settings, refuses other ones
(saying which differ) and continues after the last complete frame.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import secrets
import shutil
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from fastdream import _checks, driver, io
from fastdream.dream import DreamOptions
from fastdream.dream.options import EMPTY_MASK
from fastdream.io.record import settings_diff
from fastdream.training.distributed import launch_lock

#: Frame ``k`` is ``frames_dir / FRAME_NAME.format(k)``; five digits keep the names sorted in a
#: file browser for any practical length (longer videos simply get longer names).
FRAME_NAME = "frame_{:05d}.png"
_FRAME_RE = re.compile(r"^frame_(\d{5,})\.png$")
#: PNG level for the frames: level 1 writes several times faster than Pillow's default 6 for a
#: file only slightly bigger, so saving a frame stays a negligible part of the frame time.
PNG_COMPRESS_LEVEL = 1


@contextlib.contextmanager
def writing(out: Path, frames_dir: Path):
    """Holds the locks of a video's output and frames folder (:func:`fastdream.io.output_lock`)
    while it is made: two runs into one frames folder mixed frames of two settings, and both said
    they had succeeded. Under torchrun rank 0 holds them for the ranks."""
    with launch_lock(out, "out_path"), launch_lock(frames_dir, "frames_dir"):
        yield


def frame_path(frames_dir: Path, k: int) -> Path:
    return frames_dir / FRAME_NAME.format(k)


def frame_indices(frames_dir: Path) -> set[int]:
    if not frames_dir.is_dir():
        return set()
    return {int(m.group(1)) for m in map(_FRAME_RE.match, os.listdir(frames_dir)) if m}


def complete_frames(indices: set[int]) -> int:
    """How many frames 0, 1, 2, ... exist without a gap. Each file is complete (written
    atomically), so this is exactly the progress of a stopped run."""
    n = 0
    while n in indices:
        n += 1
    return n


def _settings(frames_dir: Path, settings_name: str) -> dict:
    """The settings file of an earlier run, read and checked; a clear error when unreadable."""
    settings_path = frames_dir / settings_name
    try:
        settings = json.loads(_checks.input_file("frames_dir", settings_path).read_text())
        if not isinstance(settings, dict) or not isinstance(settings.get("key"), dict):
            raise TypeError("its key is not an object")
    except (ValueError, KeyError, TypeError, OSError) as exc:
        raise ValueError(
            f"frames_dir: {settings_path} is not a readable fastdream settings file ({io.reason(exc)}); "
            "remove it, or choose another frames_dir"
        ) from None
    return settings


def stored_key(frames_dir: Path, settings_name: str) -> dict | None:
    """The settings key of an earlier run in ``frames_dir`` (None when there was none); a clear
    error for an unreadable settings file, or frames without one (nothing to check them against)."""
    if (frames_dir / settings_name).exists():
        return _settings(frames_dir, settings_name)["key"]
    not_ours(frames_dir, settings_name)
    return None


def owned_frames(frames_dir: Path, settings_name: str) -> list[Path]:
    """The frame files of ``frames_dir`` that fastdream wrote: those its settings file accounts
    for (frames ``0 .. written - 1``). Frames without a settings file are not fastdream's (frames
    extracted with ``ffmpeg -i x.mp4 frame_%05d.png`` look the same): a ``ValueError``, so that
    ``resume=False`` never deletes a user's own frames."""
    if not (frames_dir / settings_name).exists():
        not_ours(frames_dir, settings_name)
        return []
    info = _settings(frames_dir, settings_name).get("info")
    info = info if isinstance(info, dict) else {}
    counts = [v for v in (info.get("written"), info.get("frames")) if isinstance(v, int) and not isinstance(v, bool)]
    written = max(counts, default=0)
    return [frame_path(frames_dir, k) for k in sorted(frame_indices(frames_dir)) if k < written]


def not_ours(frames_dir: Path, settings_name: str) -> None:
    """Refuses a folder that holds frame files but no settings file of ours."""
    if frame_indices(frames_dir):
        other = sorted(p.name for p in frames_dir.glob("*_settings.json") if p.name != settings_name)
        if other:  # another of the video commands made them: one folder of frames serves one video
            raise ValueError(
                f"frames_dir: {frames_dir} holds the frames of another kind of video ({other[0]}); choose another "
                "frames_dir (--frames-dir), or another output name (the default folder is named after it)"
            )
        raise ValueError(
            f"frames_dir: {frames_dir} holds frame PNGs but no {settings_name}, so fastdream did not make them "
            "and will neither use nor delete them; choose another frames_dir"
        )


def refuse_changes(stored: dict, current: dict, frames_dir: Path) -> None:
    diff = settings_diff(stored, json.loads(json.dumps(current)))
    if diff:
        raise ValueError(
            f"frames_dir: the frames in {frames_dir} were made with other settings ("
            + "; ".join(diff)
            + "); pass resume=False to replace them, or choose another frames_dir"
        )


def save_frame(x01: torch.Tensor, path: Path) -> None:
    """A (1, 3, H, W) frame in [0, 1] as an 8-bit PNG, atomically."""
    img = io.to_pil(x01[0])
    io.atomic_save(lambda tmp: img.save(tmp, format="PNG", compress_level=PNG_COMPRESS_LEVEL), path)


def dream_options(kw: dict, size: tuple[int, int], caller: str) -> DreamOptions:
    """The dream options of a video, checked as ``dream`` checks them; the mask loaded once."""
    try:
        opts = DreamOptions.create(**kw)
    except TypeError as exc:
        if "unknown option" in str(exc):
            raise TypeError(f"{caller} got {exc}") from None
        raise
    return opts if opts.mask is None else opts.replace(mask=io.load_mask(opts.mask, size, empty=EMPTY_MASK))


def resume_state(
    frames_dir: Path, settings_name: str, key, seed: int | None, resume: bool, dist=None, device="cpu", older=None
) -> tuple[int, int]:
    """(the seed, how many frames are already made) for a run that writes ``frames_dir``.

    ``key(seed)`` gives the settings that decide the pixels. With ``resume``, an earlier run's
    settings must be the same (else a ``ValueError`` names what differs); without a seed of its
    own the run continues with the earlier one's; a run with no earlier frames draws a seed. The
    settings of a run killed before its first frame count for nothing (there is nothing to keep).
    Under torchrun (``dist``), every rank takes rank 0's seed, broadcast on ``device``. ``older``:
    the values of settings that frames made by an older fastdream did not record.
    """
    if dist is None or dist.main:
        _put_back(frames_dir)  # (a run killed before its first frame left the earlier ones aside)
    done, stored = 0, stored_key(frames_dir, settings_name) if resume else None
    if not resume and frames_dir.is_dir():
        owned_frames(frames_dir, settings_name)  # a user's own frames: refused before any work
    if stored is not None and not frame_indices(frames_dir):
        stored = None  # a run killed before its first frame: its settings hold back no frame
    if stored is not None:
        stored = {**(older or {}), **stored}
        if seed is None and isinstance(stored.get("seed"), int):
            seed = stored["seed"]  # no seed given: continue with the one the frames were made with
        refuse_changes(stored, key(seed if seed is not None else -1), frames_dir)
        done = complete_frames(frame_indices(frames_dir))
    seed = secrets.randbelow(2**31) if seed is None else seed
    if dist is not None and dist.enabled:  # rank 0's seed for every rank (each drew its own when none was given)
        seed = int(dist.broadcast(torch.tensor([seed], dtype=torch.int64, device=device)).item())
    return seed, done


def fingerprint(src) -> str:
    """A hash of an input video's bytes (files streamed; a folder: its frames' names and bytes)."""
    h = hashlib.sha256()
    for path in src.files if src.files is not None else [src.path]:
        h.update(path.name.encode())
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()


def to01(frame: np.ndarray, device) -> torch.Tensor:
    """An RGB uint8 frame (H, W, 3) as (1, 3, H, W) float32 in [0, 1] on ``device``."""
    # np.array copies: frames may be read-only
    return io.from_uint8(torch.from_numpy(np.array(frame)).permute(2, 0, 1)[None].to(device))


#: What :func:`start_frames_dir` made, by folder: undone by :func:`undo_if_empty` when a run
#: fails before its first frame.
_STARTED: dict[Path, tuple[io.Made, Path]] = {}


def start_frames_dir(frames_dir: Path, settings_name: str, key: dict, info: dict, resume: bool) -> None:
    """Makes ``frames_dir``, drops the frames an earlier run made there unless resuming (only
    those: :func:`owned_frames`), and writes the settings file (on rank 0 only), which counts
    the frames this run and the earlier ones may have written."""
    owned = owned_frames(frames_dir, settings_name) if frames_dir.is_dir() else []
    made = io.Made(frames_dir).__enter__()
    _STARTED[frames_dir.resolve()] = made, frames_dir / settings_name
    written = info.get("frames", 0)
    if owned:
        before = _settings(frames_dir, settings_name).get("info") or {}
        written = max([written] + [v for k, v in before.items() if k in ("written", "frames") and type(v) is int])
    if not resume and owned:  # set aside, not deleted, until this run has a frame of its own
        aside = frames_dir / REPLACED
        shutil.rmtree(aside, ignore_errors=True)
        aside.mkdir()
        for path in [*owned, frames_dir / settings_name]:
            if path.exists():
                os.replace(path, aside / path.name)
    io.write_json({"key": key, "info": {**info, "written": written}}, frames_dir / settings_name)


#: Where ``resume=False`` sets an earlier run's frames aside until the new run has one.
REPLACED = ".replaced"


@contextlib.contextmanager
def undo_if_empty(frames_dir: Path):
    """Around the making of frames: a run that fails (or is stopped) before any frame exists in
    ``frames_dir`` takes away the settings file and the folder :func:`start_frames_dir` made, and
    puts back the frames of an earlier run that ``resume=False`` set aside (a stop in the first
    seconds of a ``--no-resume`` lost a whole finished set); frames already made are kept for a
    re-run to resume, and then the earlier run's are gone."""
    started = _STARTED.pop(frames_dir.resolve(), None)
    try:
        yield
    except BaseException:
        if started is not None and not frame_indices(frames_dir):
            made, settings = started
            with io.signals_held():  # (a second Ctrl-C must not stop the frames half put back)
                settings.unlink(missing_ok=True)
                _put_back(frames_dir)
            made.undo()
        raise
    finally:
        if started is not None:  # (the rank that set them aside: the others' runs never did)
            shutil.rmtree(frames_dir / REPLACED, ignore_errors=True)


def _put_back(frames_dir: Path) -> None:
    """The earlier run's frames and settings that ``resume=False`` set aside, put back where the
    folder holds no frame of its own."""
    aside = frames_dir / REPLACED
    if aside.is_dir() and not frame_indices(frames_dir):
        for path in aside.iterdir():
            os.replace(path, frames_dir / path.name)
        shutil.rmtree(aside, ignore_errors=True)


def make_frames(
    src,
    frames_dir: Path,
    span: tuple[int, int],
    make,
    keep,
    *,
    dist,
    independent: bool,
    progress: bool,
    callback=None,
    desc: str = "video",
    steps_of=None,
) -> None:
    """Makes the missing frames of ``span`` (input frames ``[s, e)``) in order, or, ``independent``,
    this rank's share of them, each saved as made.

    ``make(frame, hook)`` gives output frame (H, W, 3 uint8) from input ``frame``; ``keep(out,
    frame)`` hands a resumed run the last finished frame, as its PNG holds it. ``hook`` is
    ``callback`` for that frame (:func:`fastdream.driver.for_frame`); ``steps_of(i)``, when frames
    take different numbers of steps, says how many output frame ``i`` takes.
    """
    s, e = span
    have = frame_indices(frames_dir)
    done = len(have) if independent else complete_frames(have)
    if independent:
        todo = [i for i in range(e - s) if i % dist.world == dist.rank and i not in have]
    else:
        todo = list(range(done, e - s))
    todo_set = set(todo)
    total = None if steps_of is None else sum(steps_of(i) for i in todo)
    made, before = 0, 0
    bar = tqdm(total=e - s, initial=min(done, e - s), disable=not (progress and dist.main), desc=desc, unit="frame")
    with undo_if_empty(frames_dir), _closing(bar):
        for i, frame in enumerate(src.frames(s, e)):
            if not independent and i == done - 1:  # the previous finished frame, as the PNG holds it
                keep(np.asarray(io.load_pil(frame_path(frames_dir, i)).convert("RGB")), frame)
            if i not in todo_set:
                continue
            hook = driver.for_frame(callback, i, made, len(todo), before=before, total=total, of=e - s)
            save_frame(to01(make(frame, hook), "cpu"), frame_path(frames_dir, i))
            made, before = made + 1, before + (steps_of(i) if steps_of is not None else 0)
            bar.update(len(frame_indices(frames_dir)) - bar.n if dist.enabled else 1)


@contextlib.contextmanager
def _closing(bar):
    try:
        yield bar
    finally:
        bar.close()


def write_video(src, frames_dir: Path, count: int, out: Path, fps: float, start: int, keep_audio: bool):
    """The ``count`` frames of ``frames_dir`` as the video ``out``, with the input's sound from
    frame ``start`` when ``keep_audio`` (:func:`fastdream.video.checks.check_sound`: an MP4 at the
    input's rate, from an input with sound), written atomically."""
    audio = src.path if keep_audio else None
    frames = [frame_path(frames_dir, k) for k in range(count)]
    io.write_animation(frames, out, fps=fps, audio=audio, audio_start=start / src.fps)
