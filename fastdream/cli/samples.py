"""Samples of a GAN or a VAE written into a folder (``sample-gan``, ``sample-vae``), one file as
each is made, with a record of the settings that made them: the same command after an interrupt
finishes the folder instead of being refused by the samples it kept (a seeded sample is the same
whatever ``-n`` is, so the kept ones are those the rest belong with)."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

#: The record of the settings that made a folder's samples (hidden: the folder is pictures).
RECORD = ".fastdream-samples.json"
#: The samples' file names, by index.
SAMPLE = re.compile(r"sample_(\d{4,})\.png")


def sample_path(out: Path, i: int) -> Path:
    return out / f"sample_{i:04d}.png"


def settings(args) -> dict:
    """What decides the samples (not ``-n``: more samples of a seed continue the same ones)."""
    if getattr(args, "checkpoint_sha256", None) is None:  # (once: a resume compares, then records)
        h = hashlib.sha256()
        with open(args.checkpoint, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        args.checkpoint_sha256 = h.hexdigest()
    return {
        "command": args.command,
        "checkpoint_sha256": args.checkpoint_sha256,
        "seed": args.seed,
        # (the library's default when not given: --temperature 1 spelled out is the same samples)
        "temperature": None if args.command != "sample-vae" else 1.0 if args.temperature is None else args.temperature,
        "dream": bool(args.dream),
        "dream_size": args.dream_size if args.dream else None,
        "steps": args.steps if args.dream else None,
    }


def held(out: Path) -> list[str]:
    """The names of the samples ``out`` holds."""
    return sorted(p.name for p in out.iterdir() if SAMPLE.fullmatch(p.name)) if out.is_dir() else []


def check_resume(args, out: Path, old: list[str]) -> None:
    """Samples already in ``out``: taken as this command's first ones when the folder's record
    says the same settings made them (a seed left out is the record's), else refused."""
    from fastdream import io

    if not Path(args.checkpoint).is_file():  # (the library says what is wrong with it)
        return
    try:
        stored = json.loads((out / RECORD).read_text())
    except (OSError, ValueError):
        stored = None
    if not isinstance(stored, dict) or "command" not in stored:
        raise FileExistsError(
            f"output: {out} already holds {len(old)} samples ({old[0]}, ...), which are kept; give a new or empty folder"
        )
    if args.seed is None:  # (a drawn seed is in the record: the same command finishes the folder)
        args.seed = stored.get("seed")
    if stored.get("command") == "sample-vae" and stored.get("temperature") is None:  # (recorded before as given)
        stored["temperature"] = 1.0
    if stored.get("command") != args.command:
        raise FileExistsError(
            f"output: {out} holds {len(old)} samples of {stored.get('command')}, which are kept; give a new or "
            "empty folder"
        )
    now = settings(args)
    if stored.get("dream") != now["dream"]:  # (its size and steps are the dream's: not said beside it)
        stored, now = {"dream": stored.get("dream")}, {"dream": now["dream"]}
    changed = io.settings_diff(stored, now)
    if changed:
        raise FileExistsError(
            f"output: {out} holds {len(old)} samples of other settings ({'; '.join(changed)}), which are kept; "
            "give a new or empty folder"
        )
    args.resumed = True


def write_samples(images, args, dreamed) -> int:
    """The samples into ``-o``, each written as soon as it is made (dreamed ones take seconds
    each, and an interrupt keeps those finished); those already there from an interrupted run of
    the same settings are kept, not made again; a failure removes this run's files."""
    from fastdream import io

    out = Path(args.output)
    done = set()
    for i in range(len(images)) if getattr(args, "resumed", False) else ():
        if sample_path(out, i).exists() and io.kept_whole(sample_path(out, i)):
            done.add(i)
    if len(done) == len(images):
        print(f"{out} already holds the {len(images)} samples; nothing written")
        return 0
    written: list[Path] = []
    with io.Made(out):  # a failed write leaves none of this run's files (nor the folder it made)
        record = out / RECORD
        new_record = not record.is_file()
        try:
            io.write_json(settings(args), record)
            for i, im in dreamed(images, args, done):
                written.append(io.save_image(im, sample_path(out, i)))
        except BaseException as stop:  # (a Terminated, a KeyboardInterrupt: its exit status is kept)
            if getattr(stop, "written", None) is not None:  # a sample made whole before the stop
                written.append(Path(stop.written))
                stop.written = None  # (the line says the samples, not this one file)
            if isinstance(stop, KeyboardInterrupt) and args.dream and (written or done):
                n = len(written) + len(done)
                said = "the 1 sample dreamed so far is" if n == 1 else f"the {n} samples dreamed so far are"
                args.partial = f"{said} in {out} (seed {args.seed}); run the same command to finish"
                raise  # (Made keeps a folder that holds them)
            for path in written:  # a failure, or a stop before any dream: none of this run's files
                path.unlink(missing_ok=True)
            if new_record:
                record.unlink(missing_ok=True)
            raise
    seed = f" (seed {args.seed})" if args.seed is not None else ""
    kept = f", beside the {len(done)} kept" if done else ""
    n = len(images) - len(done)
    print(f"wrote {n} image{'' if n == 1 else 's'} to {out}{kept}{seed}")
    return 0
