"""Checkpoints: atomic saves, ``weights_only`` loads, and the one reader every pipeline uses.

A checkpoint is a plain dict of tensors and Python values with a ``format`` (which trainer wrote
it), a ``version`` (of that layout) and a ``config``; ``torch.load(..., weights_only=True)`` reads
it, so no code from the file ever runs.
"""

from __future__ import annotations

from pathlib import Path

import torch

from fastdream import _checks
from fastdream.io import atomic_save

#: The formats fastdream writes: what they hold and the function that writes them (for messages).
FORMATS = {
    "fastdream.dcgan": ("GAN", "train_gan"),
    "fastdream.unet": ("U-Net", "train_unet"),
    "fastdream.vae": ("VAE", "train_vae"),
}


def save_checkpoint(state: dict, path) -> Path:
    """Writes ``state`` with torch.save to a temporary file and renames it into place, so a run
    stopped mid-write keeps the previous checkpoint intact."""
    return atomic_save(lambda tmp: torch.save(state, tmp), path, suffix=".tmp")


def load_checkpoint(path, map_location="cpu") -> dict:
    """Loads a checkpoint with ``weights_only=True`` (no arbitrary code runs from the file)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint: no such file: {path}")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:
        # Only the error's type: torch's own text spans many lines and suggests weights_only=False,
        # which is exactly what must not be done with a file of unknown origin.
        raise ValueError(
            f"checkpoint: {path} is not a fastdream checkpoint (torch.load(weights_only=True) failed: {type(exc).__name__})"
        ) from None


def read_checkpoint(checkpoint, format: str, version: int, name: str = "checkpoint") -> dict:
    """The checkpoint ``checkpoint`` (a path, or a dict already loaded) if it is one of ``format``
    at a ``version`` this fastdream reads; else a ``ValueError`` that says what the file is.

    Examples:
        >>> read_checkpoint({"format": "fastdream.dcgan", "version": 1}, "fastdream.vae", 1)
        Traceback (most recent call last):
        ...
        ValueError: checkpoint: the given dict is a fastdream GAN checkpoint (written by train_gan), not a VAE checkpoint (one written by train_vae)
    """
    if isinstance(checkpoint, dict):
        state, where = checkpoint, "the given dict"
    else:
        path = _checks.path(name, checkpoint)
        state, where = load_checkpoint(path), str(path)
    what, writer = FORMATS[format]
    found = state.get("format") if isinstance(state, dict) else None
    if found != format:
        if found in FORMATS:
            other, other_writer = FORMATS[found]
            raise ValueError(
                f"{name}: {where} is a fastdream {other} checkpoint (written by {other_writer}), "
                f"not a {what} checkpoint (one written by {writer})"
            )
        raise ValueError(f"{name}: {where} is not a fastdream {what} checkpoint (one written by {writer})")
    if state.get("version", 0) > version:
        raise ValueError(f"{name}: {where} has format version {state['version']}; this fastdream reads up to {version}")
    return state


def check_architecture(stored: dict, wanted: dict, path, name: str) -> None:
    """Refuses to resume ``path`` when a setting that shapes the networks differs from this run's."""
    for k, v in wanted.items():
        if stored.get(k) != v:
            raise ValueError(
                f"{name}: {path} was trained with {k}={stored.get(k)!r}, not {k}={v!r}; pass {k}={stored.get(k)!r} "
                f"to resume, resume=False to start over (replacing it), or another {name}"
            )
