"""Checkpoints: atomic saves, ``weights_only`` loads, and the one reader every pipeline uses.

A checkpoint is a plain dict of tensors and Python values with a ``format`` (which trainer wrote
it), a ``version`` (of that layout) and a ``config``; ``torch.load(..., weights_only=True)`` reads
it, so no code from the file ever runs.
"""

from __future__ import annotations

import errno
import re
from pathlib import Path

import torch

from fastdream import _checks
from fastdream._checks import shown
from fastdream._warnings import warn
from fastdream.io import atomic_save, reason
from fastdream.io.record import CHECKPOINT_FORMATS as FORMATS  # (the formats fastdream writes)
from fastdream.training.schema import validate


def _on_cpu(obj):
    """``obj`` with every tensor moved to the CPU: a checkpoint of a GPU run loads with a plain
    ``torch.load(weights_only=True)`` on a machine without one (an optimizer's state goes back to
    its parameters' device when loaded)."""
    if isinstance(obj, torch.Tensor):
        return obj.cpu()
    if isinstance(obj, dict):
        return type(obj)((k, _on_cpu(v)) for k, v in obj.items())
    if isinstance(obj, (list, tuple)) and not hasattr(obj, "_fields"):
        return type(obj)(_on_cpu(v) for v in obj)
    return obj


def save_checkpoint(state: dict, path) -> Path:
    """Writes ``state`` with torch.save to a temporary file and renames it into place, so a run
    stopped mid-write keeps the previous checkpoint intact. A failed write (a full disk) is an
    ``OSError`` that says so; the temporary file is removed."""

    def write(tmp):
        try:
            torch.save(_on_cpu(state), tmp)
        except RuntimeError as exc:  # torch's zip writer reports a full disk as a RuntimeError
            raise OSError(errno.EIO, f"torch.save failed: {reason(exc)}") from None

    try:
        return atomic_save(write, path, suffix=".tmp")
    except OSError as exc:
        why = exc.strerror or str(exc)
        kept = "the previous checkpoint is kept" if Path(path).is_file() else "nothing was written"
        raise OSError(exc.errno, f"checkpoint: could not write {path} ({why}; is the disk full?); {kept}") from None


def load_checkpoint(path, map_location="cpu", name: str = "checkpoint") -> dict:
    """Loads a checkpoint with ``weights_only=True`` (no arbitrary code runs from the file), from a
    regular file (never a pipe) that fits in memory; its errors name it ``name``."""
    path = _checks.input_file(name, path)
    _checks.fits(f"{name}: loading {path}", 2 * path.stat().st_size)
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:
        # Only the error's type: torch's own text spans many lines and suggests weights_only=False,
        # which is exactly what must not be done with a file of unknown origin.
        raise ValueError(
            f"{name}: {path} is not a fastdream checkpoint (torch.load(weights_only=True) failed: {type(exc).__name__})"
        ) from None


def start_over(path: Path, format: str, name: str) -> None:
    """Checks what a run that starts over (``resume=False``) would replace at ``path``: nothing,
    or a checkpoint of its own kind (``format``). Anything else there (a photo given as the
    output, notes, another trainer's checkpoint) is a ``ValueError`` before any work: it was
    overwritten."""
    if not path.exists() and not path.is_symlink():
        return
    what = FORMATS[format][0]
    if path.is_dir():
        raise IsADirectoryError(f"{name}: {path} is a folder, not a {what} checkpoint; choose another {name}")
    try:
        found = load_checkpoint(path).get("format")
    except (ValueError, OSError, AttributeError):  # not a torch file, or not a dict
        found = None
    if found != format:
        kind = f"a fastdream {FORMATS[found][0]} checkpoint" if found in FORMATS else "not a fastdream checkpoint"
        raise ValueError(
            f"{name}: {path} is {kind}; starting over (resume=False) replaces only a {what} checkpoint, "
            f"so it is kept: choose another {name}"
        )


#: The names of the pictures a trainer writes after each epoch (GAN: samples; VAE: samples, recon).
EPOCH_PICTURE = re.compile(r"^(samples|recon)_epoch_(\d{3,})\.png$")


def epoch_pictures(checkpoint: Path) -> list[Path]:
    """The pictures a trainer that writes a folder made after each epoch beside its ``checkpoint``
    (:data:`EPOCH_PICTURE`, up to the epochs it records, and the next epoch's, which a run stopped
    between its pictures and its checkpoint leaves), when there is one: a run that starts over
    there replaces them (:attr:`~fastdream.training.loop.Trainer.stale`). Only those: a
    ``trip_epoch_2023.png`` of the user's, or a ``samples_epoch_009.png`` further past what the
    checkpoint trained, is not its to remove."""
    if not checkpoint.is_file():
        return []
    try:
        epochs = int(torch.load(checkpoint, map_location="cpu", weights_only=True)["epoch"])
    except Exception:  # (start_over has checked it is a checkpoint of the trainer; any reader error)
        return []
    found = [(p, EPOCH_PICTURE.match(p.name)) for p in checkpoint.parent.iterdir()]
    return sorted(p for p, m in found if m and 1 <= int(m[2]) <= epochs + 1)


def read_checkpoint(checkpoint, format: str, version: int, name: str = "checkpoint", schema=None) -> dict:
    """The checkpoint ``checkpoint`` (a path, or a dict already loaded) if it is one of ``format``
    at a ``version`` this fastdream reads, and holds what ``schema`` (a
    :class:`~fastdream.training.schema.Record`) asks for; else a ``ValueError`` that says what the
    file is, or which key is missing or wrong.

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
        state, where = load_checkpoint(path, name=name), str(path)
    what, writer = FORMATS[format]
    found = state.get("format") if isinstance(state, dict) else None
    if found != format:
        if isinstance(found, str) and found in FORMATS:
            other, other_writer = FORMATS[found]
            raise ValueError(
                f"{name}: {where} is a fastdream {other} checkpoint (written by {other_writer}), "
                f"not a {what} checkpoint (one written by {writer})"
            )
        raise ValueError(f"{name}: {where} is not a fastdream {what} checkpoint (one written by {writer})")
    stored = state.get("version", 0)
    if isinstance(stored, bool) or not isinstance(stored, int) or stored < 0:
        raise ValueError(f"{name}: {where} has no valid format version (got {shown(stored)})")
    if stored > version:
        raise ValueError(f"{name}: {where} has format version {stored}; this fastdream reads up to {version}")
    bad = non_finite(state)
    if bad is not None:
        raise ValueError(f"{name}: {where} holds NaN or infinite numbers ({bad}): the run that wrote it diverged")
    return state if schema is None else validate(state, schema, where, name)


def non_finite(obj, where: str = "") -> str | None:
    """The key path of the first floating tensor in ``obj`` (nested dicts, lists, tuples) with a
    NaN or an infinity; None when every one is finite. A diverged run's BatchNorm statistics can
    be infinite while its losses still print as numbers.

    Examples:
        >>> non_finite({"model": {"w": torch.ones(2), "bn.running_var": torch.tensor([1.0, float("inf")])}})
        'model.bn.running_var'
        >>> non_finite({"opt": [torch.zeros(3)]}) is None
        True
    """
    if isinstance(obj, torch.Tensor):
        return where if obj.is_floating_point() and not bool(torch.isfinite(obj).all()) else None
    items = obj.items() if isinstance(obj, dict) else enumerate(obj) if isinstance(obj, (list, tuple)) else ()
    for k, v in items:
        found = non_finite(v, f"{where}.{k}" if where else str(k))
        if found is not None:
            return found
    return None


def note_changes(stored: dict, wanted: dict, path, who: str) -> None:
    """One warning naming the settings a resumed run changes that it may change (a learning rate,
    the batch, the number of pictures): they hold from here on, and the checkpoint records the
    new ones, so the change is said rather than kept silent."""
    changed = {k: v for k, v in wanted.items() if k in stored and stored[k] != v}
    if changed:
        warn(f"{who}: resuming {path} with other settings from here on ({_stored_now(stored, changed)})")


def note_kept(stored: dict, wanted: dict, path, who: str) -> dict:
    """One warning naming the settings given otherwise that a resumed run keeps (its validation
    split, which must stay on pictures it never trained on; a seed its first run drew from), and
    those stored values, for the run and its record. None in ``wanted``: not given."""
    given = {k: v for k, v in wanted.items() if v is not None and k in stored and stored[k] != v}
    if given:
        said = _stored_now(stored, given)
        warn(f"{who}: resuming {path} keeps what its first run drew ({said}); resume=False starts over with them")
    return {k: stored[k] for k in given}


def _stored_now(stored: dict, given: dict) -> str:
    """``lr: stored 0.001, now 0.0005; ...``: the form of :func:`fastdream.io.settings_diff`,
    which the command line says by its options (``--lr: 0.001 before, 0.0005 now``)."""
    return "; ".join(f"{k}: stored {stored[k]!r}, now {v!r}" for k, v in given.items())


def check_architecture(stored: dict, wanted: dict, path, name: str) -> None:
    """Refuses to resume ``path`` when a setting that shapes the networks differs from this run's."""
    if not isinstance(stored, dict):
        raise ValueError(f"{name}: {path} holds no settings to resume from; pass resume=False to start over")
    for k, v in wanted.items():
        if stored.get(k) != v:
            raise ValueError(
                f"{name}: {path} was trained with {k}={stored.get(k)!r}, not {k}={v!r}; pass {k}={stored.get(k)!r} "
                f"to resume, resume=False to start over (replacing it), or another {name}"
            )
