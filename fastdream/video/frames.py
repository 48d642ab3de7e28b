"""Frames on disk and the settings that made them: what lets a stopped video resume exactly.

Every frame is saved as a numbered PNG as soon as it is made (atomically), together with a JSON
file of the settings that decide its pixels. A re-run compares the settings, refuses other ones
(saying which differ) and continues after the last complete frame.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path

import torch
from torch import nn

from fastdream import io

#: Frame ``k`` is ``frames_dir / FRAME_NAME.format(k)``; five digits keep the names sorted in a
#: file browser for any practical length (longer videos simply get longer names).
FRAME_NAME = "frame_{:05d}.png"
_FRAME_RE = re.compile(r"^frame_(\d{5,})\.png$")
#: PNG level for the frames: level 1 writes several times faster than Pillow's default 6 for a
#: file only slightly bigger, so saving a frame stays a negligible part of the frame time.
PNG_COMPRESS_LEVEL = 1


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


def settings_diff(stored: dict, current: dict, prefix: str = "") -> list[str]:
    """The settings that differ, as ``"name: stored X, now Y"`` (nested keys joined by dots)."""
    out = []
    for key in sorted(set(stored) | set(current)):
        a, b = stored.get(key, "<missing>"), current.get(key, "<missing>")
        if isinstance(a, dict) and isinstance(b, dict):
            out += settings_diff(a, b, f"{prefix}{key}.")
        elif a != b:
            out.append(f"{prefix}{key}: stored {a!r}, now {b!r}")
    return out


def tensor_sha256(t: torch.Tensor) -> str:
    t = t.detach().to("cpu", torch.float32).contiguous()
    h = hashlib.sha256(repr(tuple(t.shape)).encode())
    h.update(t.numpy().tobytes())
    return h.hexdigest()


def model_fingerprint(model: nn.Module | None) -> str:
    if model is None:
        return "efficientnet_lite0 (fastdream default)"
    h = hashlib.sha256()
    for name, t in model.state_dict().items():
        h.update(name.encode())
        h.update(tensor_sha256(t).encode() if t.is_floating_point() else repr(t.tolist()).encode())
    return f"{type(model).__module__}.{type(model).__qualname__} sha256:{h.hexdigest()}"


def stored_key(frames_dir: Path, settings_name: str) -> dict | None:
    """The settings key of an earlier run in ``frames_dir`` (None when there was none); a clear
    error for an unreadable settings file, or frames without one (nothing to check them against)."""
    settings_path = frames_dir / settings_name
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
        return stored
    if frame_indices(frames_dir):
        raise ValueError(
            f"frames_dir: {frames_dir} holds frame PNGs but no {settings_name}, so they cannot be checked "
            "against these settings; pass resume=False to replace them, or choose another frames_dir"
        )
    return None


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
