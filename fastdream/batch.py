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

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch
from PIL import Image
from tqdm.auto import tqdm

from fastdream import _checks, io
from fastdream.training import distributed, list_images


@dataclass
class FolderReport:
    """What a folder run did (on this rank): outputs written, found done, and unreadable inputs."""

    written: list[Path] = field(default_factory=list)
    skipped: list[Path] = field(default_factory=list)
    failed: list[tuple[Path, str]] = field(default_factory=list)

    def summary(self, verb: str, out_dir) -> str:
        failed = f", {len(self.failed)} unreadable (skipped)" if self.failed else ""
        return f"{verb} {len(self.written)} image(s) into {out_dir} ({len(self.skipped)} already done{failed})"


def check_folders(in_dir, out_dir, fmt) -> tuple[Path, Path, str | None]:
    in_dir, out_dir = _checks.path("input_dir", in_dir), _checks.path("output_dir", out_dir)
    if fmt is not None:
        fmt = str(fmt).lower().lstrip(".")
        if "." + fmt not in Image.registered_extensions():
            raise ValueError(f"format: unknown image format {fmt!r} (use png, jpg, webp, ...)")
    if out_dir.exists() and not out_dir.is_dir():
        raise NotADirectoryError(f"output_dir: {out_dir} exists and is not a folder")
    if out_dir.resolve() == in_dir.resolve():
        raise ValueError(f"output_dir: {out_dir} is the input folder; the inputs are never overwritten")
    return in_dir, out_dir, fmt


def run_folder(in_dir, out_dir, fmt: str | None, make: Callable[[Image.Image], Image.Image], *, device,
               progress: bool, name: str) -> FolderReport:  # fmt: skip
    """``make(image) -> image`` for every image of ``in_dir`` (checked first) into ``out_dir``."""
    in_dir, out_dir, fmt = check_folders(in_dir, out_dir, fmt)
    files = list_images(in_dir, "input_dir", exclude=out_dir)
    if not files:
        raise ValueError(f"input_dir: no images in {in_dir} or its subfolders")
    targets = [
        out_dir / (f.relative_to(in_dir).with_suffix("." + fmt) if fmt else f.relative_to(in_dir)) for f in files
    ]
    dist = distributed(device)
    if dist.enabled and device.type == "cpu":
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // dist.world))
    report = FolderReport()
    bar = tqdm(total=len(files), disable=not (progress and dist.main), desc=name, unit="image")
    try:
        for i in range(dist.rank, len(files), dist.world):
            if targets[i].exists():
                report.skipped.append(targets[i])
            else:
                _one(files[i], targets[i], make, report, name)
            bar.update(sum(t.exists() for t in targets) - bar.n if dist.enabled else 1)
    finally:
        bar.close()
    dist.barrier()
    return report


def _one(src: Path, dst: Path, make, report: FolderReport, name: str) -> None:
    try:
        image = io.load_pil(src)
    except ValueError as exc:
        print(f"{name}: skipping {src}: {exc}", file=sys.stderr)
        report.failed.append((src, str(exc)))
        return
    out = make(image)
    if dst.suffix.lower() in (".jpg", ".jpeg") and out.mode in ("RGBA", "LA"):
        out = out.convert("RGB")  # JPEG keeps no alpha
    dst.parent.mkdir(parents=True, exist_ok=True)
    io.save_image(out, dst)
    report.written.append(dst)
