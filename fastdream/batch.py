"""A function over every image of a folder: resumable, one progress bar, split over torchrun ranks.

Every image under the input folder gives one output under the same relative name (the format
kept, or the one asked for). An output that exists is skipped, so a stopped run (or a rank that
died) is completed by running the same command again; outputs are written atomically, so no
half-written file is ever taken for a finished one. Unreadable files are reported one line each
and counted; nothing else is lost.

Under ``torchrun --nproc_per_node N`` rank r takes the images r, r + N, r + 2N, ... of the sorted
list: no scheduler, and each image belongs to exactly one rank. On the CPU each rank gets its
share of the cores.
"""

from __future__ import annotations

import json
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch
from PIL import Image
from tqdm.auto import tqdm

from fastdream import _checks, io
from fastdream._checks import shown
from fastdream.training import IMAGE_EXTENSIONS, distributed, list_images
from fastdream.training.distributed import launch_lock
from fastdream.training.folders import walk_files


@dataclass
class FolderReport:
    """What a folder run did (on this rank): outputs written, found done, and unreadable inputs.

    Under torchrun, ``totals`` counts them over every rank (written, already done, unreadable),
    the numbers :meth:`summary` says, and ``main`` is True on rank 0 only: the rank that says it."""

    written: list[Path] = field(default_factory=list)
    skipped: list[Path] = field(default_factory=list)
    failed: list[tuple[Path, str]] = field(default_factory=list)
    flattened: int = 0  # outputs with alpha written to a format without (JPEG): put on white
    totals: tuple[int, int, int] | None = None
    main: bool = True
    seed: int | None = None  # a dream's: the one every image was dreamed with

    def counts(self) -> tuple[int, int, int]:
        """Written, already done and unreadable: over every rank of a torchrun launch."""
        return self.totals or (len(self.written), len(self.skipped), len(self.failed))

    def summary(self, verb: str, out_dir) -> str:
        written, skipped, failed = self.counts()
        unread = f", {failed} unreadable and skipped" if failed else ""
        seed = "" if self.seed is None else f", seed {self.seed}"
        return f"{verb} {written} image(s) into {out_dir} ({skipped} already done{unread}{seed})"


def check_folders(in_dir, out_dir, fmt, mode: str = "RGB", soft: bool = True) -> tuple[Path, Path, str | None]:
    """The folders of a folder run, and the output format (``None``: each input's own) checked to
    be writable for ``mode`` pictures (``soft=False``: whose alpha is only clear or opaque, which
    GIF holds); the output folder may not be, contain or lie inside the input folder
    (:func:`fastdream.io.check_not_input`)."""
    in_dir, out_dir = _checks.path("input_dir", in_dir), _checks.path("output_dir", out_dir)
    if fmt is not None:
        if not isinstance(fmt, str) or not fmt.strip(". "):
            raise ValueError(f"format: an image format such as 'png' or 'jpg', got {shown(fmt)}")
        fmt = fmt.lower().strip().lstrip(".")
        if "." + fmt not in Image.registered_extensions():
            raise ValueError(f"format: unknown image format {fmt!r} (use png, jpg, webp, ...)")
        if Image.registered_extensions()["." + fmt] not in Image.SAVE:  # (it said "psd cannot hold RGB pictures")
            raise ValueError(f"format: Pillow reads {fmt} files but cannot write them; use {io.WRITABLE}")
        try:
            io.image_format(f"output.{fmt}", mode, "format", soft=soft)
        except ValueError:
            what = "transparency, which these pictures have" if "A" in mode else f"{mode} pictures"
            raise ValueError(f"format: {fmt} cannot hold {what}; use png or webp") from None
    io.output_folder("output_dir", out_dir, [in_dir], "the folder's results")
    io.check_frames_folder("output_dir", out_dir)  # (its results were a later video's frames)
    io.check_writable("output_dir", out_dir)  # before the work
    return in_dir, out_dir, fmt


def run_folder(
    in_dir,
    out_dir,
    fmt: str | None,
    make: Callable[[Image.Image], Image.Image],
    *,
    device,
    progress: bool,
    name: str,
    mode: str = "RGB",
    settings: dict | None = None,
    soft: bool = True,
) -> FolderReport:
    """``make(image) -> image`` for every image of ``in_dir`` (checked first) into ``out_dir``.

    ``settings`` (JSON-able: what decides the outputs' pixels) are kept beside the outputs in
    :data:`SETTINGS_NAME`; a run whose settings differ from those of the outputs already there is
    refused, naming what differs, where it would finish the folder with another look.

    Each output is looked for once by the rank that owns it, just before its image (so a run
    started beside this one never redoes a finished image); rank 0's progress bar follows the other
    ranks with :class:`_Watch`, which looks for each of their outputs until it appears, not after.
    """
    in_dir, out_dir, fmt = check_folders(in_dir, out_dir, fmt, mode, soft)
    progress = _checks.boolean("progress", progress)
    files = list_images(in_dir, "input_dir", exclude=out_dir)  # (a linked output folder inside the input)
    if not files:
        raise ValueError(f"input_dir: no images in {in_dir} or its subfolders")
    targets = [
        out_dir / (f.relative_to(in_dir).with_suffix("." + fmt) if fmt else f.relative_to(in_dir)) for f in files
    ]
    if fmt:
        _check_distinct(files, targets, fmt)
    taken = next((t for t in targets if t.is_dir()), None)  # (the work was done, then the write failed)
    if taken is not None:
        raise IsADirectoryError(f"output_dir: {taken} is a folder where an output goes; move or rename it")
    with launch_lock(out_dir, "output_dir"):  # one run at a time per folder
        if settings is not None:
            settings = _check_settings(out_dir, {"format": fmt, **settings}, targets)
        dist = distributed(device)
        if dist.enabled and device.type == "cpu":
            torch.set_num_threads(max(1, (os.cpu_count() or 1) // dist.world))
        report = FolderReport()
        if dist.main:  # a link to a picture that is gone is an unreadable file, not no file at all
            for link in _broken_links(in_dir):
                print(f"{name}: skipping {link}: a link to a file that does not exist", file=sys.stderr)
                report.failed.append((link, "a broken link"))
        bar = tqdm(total=len(files), disable=not (progress and dist.main), desc=name, unit="image")
        watch = _Watch(targets, dist.rank, dist.world) if dist.enabled and not bar.disable else None
        made = [p for p in (out_dir, *out_dir.parents) if not p.exists()]  # a run that makes nothing leaves none
        wrote_settings = False
        try:
            for done, i in enumerate(range(dist.rank, len(files), dist.world), 1):
                if targets[i].exists() and io.kept_whole(targets[i], f"{name}: "):
                    report.skipped.append(targets[i])
                else:
                    if settings is not None:  # once, before the first output: a stop leaves both
                        out_dir.mkdir(parents=True, exist_ok=True)
                        io.write_json(settings, out_dir / SETTINGS_NAME)
                        settings, wrote_settings = None, True
                    _one(files[i], targets[i], make, report, name)
                bar.update((watch.others() + done if watch else done) - bar.n)
            dist.barrier()
            bar.update(bar.total - bar.n)  # every rank is done; an unreadable file of another rank held its count back
        finally:
            bar.close()
            if made and wrote_settings and not report.written and not dist.enabled:  # (ranks: others may write)
                _undo(out_dir, made)
        if dist.enabled:  # one summary for the launch, said by rank 0, not one per rank
            mine = [len(report.written), len(report.skipped), len(report.failed)]
            report.totals = tuple(int(v) for v in dist.sum(torch.tensor(mine, device=device)).tolist())
            report.main = dist.main
        written, skipped, failed = report.counts()
        if failed and not written and not skipped:  # a run that made nothing is no success
            raise ValueError(
                f"input_dir: none of the {failed} image file(s) in {in_dir} could be read (each said above)"
            )
        return report


#: The settings of a folder run's outputs, kept in its output folder.
SETTINGS_NAME = ".fastdream-settings.json"


def stored_settings(out_dir) -> dict:
    """The settings a folder run kept in ``out_dir`` ({} when there are none, or no readable ones)."""
    try:
        stored = json.loads((Path(out_dir) / SETTINGS_NAME).read_text())
    except (OSError, ValueError, TypeError):
        return {}
    return stored if isinstance(stored, dict) else {}


def _check_settings(out_dir: Path, settings: dict, targets: list[Path]) -> dict:
    """``settings`` as the file holds them, after refusing a run whose settings differ from those
    of the outputs already in ``out_dir``, or when files there bear the outputs' names with no
    record of a run (a run writes its record before its first output): they were taken as done,
    and the record then claimed them."""
    settings = json.loads(json.dumps(settings))
    stored = stored_settings(out_dir)
    there = [t for t in targets if t.exists()]
    if there and not stored:
        named = ", ".join(str(t.relative_to(out_dir)) for t in there[:3]) + (", ..." if len(there) > 3 else "")
        raise ValueError(
            f"output_dir: {out_dir} already holds {len(there)} file(s) named as this run's results ({named}) "
            f"and no record of the run that made them ({SETTINGS_NAME}); they would be taken as done: "
            "give another output folder, or move them"
        )
    diff = io.settings_diff(stored, settings) if there else []
    if diff:
        shown = "; ".join(diff[:4]) + (f"; and {len(diff) - 4} more" if len(diff) > 4 else "")
        raise ValueError(
            f"output_dir: the images already in {out_dir} were made with other settings ({shown}); "
            "the run would finish the folder with another look: give another output folder, or delete them"
        )
    return settings


def _undo(out_dir: Path, made: list[Path]) -> None:
    """Removes the folders a run made (and its settings file) when it wrote no image: its own
    empty folders only, never a file another put there."""
    (out_dir / SETTINGS_NAME).unlink(missing_ok=True)
    for root, _dirs, _files in sorted(os.walk(out_dir), key=lambda t: -len(t[0])):
        try:
            os.rmdir(root)
        except OSError:  # not empty: someone else's file is there
            return
    for folder in made[1:]:
        try:
            folder.rmdir()
        except OSError:
            return


def _broken_links(folder: Path) -> list[Path]:
    found = walk_files(folder, recursive=True)  # (the folders list_images reads)
    return sorted(p for p in found if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_symlink() and not p.exists())


def _holds_alpha(dst: Path, image: Image.Image) -> bool:
    try:
        io.image_format(dst, image.mode, soft=io.soft_alpha(image))
    except ValueError:
        return False
    return True


def _check_distinct(files: list[Path], targets: list[Path], fmt: str) -> None:
    """Two inputs that one format gives the same output name (``a.jpg`` and ``a.png`` as png):
    refused before any work, where the second would be counted as done and never made."""
    first: dict[str, Path] = {}
    for f, t in zip(files, targets):
        key = str(t).casefold()  # one file on macOS and Windows disks, whose names ignore case
        if key in first:
            raise ValueError(f"format: {first[key]} and {f} would both be written as {t} ({fmt}); rename one of them")
        first[key] = f


class _Watch:
    """How far the other ranks are, as rank 0 sees it on disk, at one file-system lookup per output.

    Each rank works through its share of the images in order, so its finished outputs are (up to
    unreadable inputs, which make none) a prefix of its list: rank 0 keeps a position in each
    list and moves it past the outputs that exist. An output is looked for until it appears and
    never after, and each update looks once per rank for the next one: O(N) lookups in all, where
    counting every output after every image was O(N^2).
    """

    def __init__(self, targets: list[Path], rank: int, world: int):
        self.queues = [targets[r::world] for r in range(world) if r != rank]
        self.pos = [0] * len(self.queues)

    def others(self) -> int:
        """The outputs of the other ranks found so far (theirs in the last run included)."""
        for k, queue in enumerate(self.queues):
            while self.pos[k] < len(queue) and queue[self.pos[k]].exists():
                self.pos[k] += 1
        return sum(self.pos)


def _one(src: Path, dst: Path, make, report: FolderReport, name: str) -> None:
    try:
        image = io.load_pil(src, every_frame="dream-video" if name == "dream" else None, keep_mode=True)
    except ValueError as exc:
        why = re.sub(rf"^image: {re.escape(str(src))} (is )?", "", str(exc))  # (the line names the file once)
        print(f"{name}: skipping {src}: {why}", file=sys.stderr)
        report.failed.append((src, str(exc)))
        return
    out = make(image)
    if "A" in out.mode and not _holds_alpha(dst, out):  # JPEG, BMP; GIF for soft alpha
        if not report.flattened:  # said once a run, not per image
            fmt = dst.suffix.lstrip(".").upper()
            print(f"{name}: {fmt} cannot hold these images' transparency: they are put on white", file=sys.stderr)
        report.flattened += 1
        out = io.flatten(out)
    dst.parent.mkdir(parents=True, exist_ok=True)
    io.save_image(out, dst)
    report.written.append(dst)
