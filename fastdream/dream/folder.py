"""Dreaming a folder of images: resumable, one progress bar, split over torchrun ranks.

Every image under the input folder is dreamed into the output folder under the same relative name
(the format kept, or the one asked for). An output that exists is skipped, so a stopped run (or a
rank that died) is completed by running the same command again; each output is written
atomically, so no half-written file is ever taken for a finished one. Unreadable files are
reported one line each and counted; nothing else is lost.

Under ``torchrun --nproc_per_node N`` rank r takes the images r, r + N, r + 2N, ... of the sorted
list: no scheduler, and each image belongs to exactly one rank. On the CPU each rank gets its
share of the cores.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

import torch
from PIL import Image
from tqdm.auto import tqdm

from fastdream import _checks, io
from fastdream.dream.engine import run
from fastdream.dream.options import DreamOptions
from fastdream.training import distributed, list_images


@dataclass
class FolderReport:
    """What a folder dream did (on this rank): outputs written, found done, and unreadable inputs."""

    written: list[Path] = field(default_factory=list)
    skipped: list[Path] = field(default_factory=list)
    failed: list[tuple[Path, str]] = field(default_factory=list)


def _target(src: Path, root: Path, out_dir: Path, fmt: str | None) -> Path:
    rel = src.relative_to(root)
    return out_dir / (rel.with_suffix("." + fmt) if fmt else rel)


def _check(in_dir, out_dir, fmt) -> tuple[Path, Path, str | None]:
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


def dream_folder(input_dir, output_dir, *, format: str | None = None, progress: bool = False,
                 **dream_kwargs) -> FolderReport:  # fmt: skip
    """Dreams every image of ``input_dir`` (and its subfolders) into ``output_dir``.

    Args:
        input_dir: the images (any format Pillow reads; files under ``output_dir`` are left out).
        output_dir: where the dreams go, under the inputs' relative names (created if missing).
        format: the output format (``"png"``, ``"jpg"``, ...); default: each input's own.
        progress: one progress bar over all the images (on rank 0).
        **dream_kwargs: options of :func:`fastdream.dream`.

    Returns:
        A :class:`FolderReport` of this rank's images.

    Examples:
        >>> report = dream_folder("photos", "dreams", format="jpg", octaves=3, seed=0)  # doctest: +SKIP
    """
    in_dir, out_dir, fmt = _check(input_dir, output_dir, format)
    opts = DreamOptions.create(**dream_kwargs)
    files = list_images(in_dir, "input_dir", exclude=out_dir)
    if not files:
        raise ValueError(f"input_dir: no images in {in_dir} or its subfolders")
    targets = [_target(f, in_dir, out_dir, fmt) for f in files]
    device = opts.resolve_device()
    dist = distributed(device)
    if dist.enabled and device.type == "cpu":
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // dist.world))
    report = FolderReport()
    bar = tqdm(total=len(files), disable=not (progress and dist.main), desc="dream", unit="image")
    try:
        for i in range(dist.rank, len(files), dist.world):
            src, dst = files[i], targets[i]
            if dst.exists():
                report.skipped.append(dst)
            else:
                _one(src, dst, opts, report)
            bar.update(sum(t.exists() for t in targets) - bar.n if dist.enabled else 1)
    finally:
        bar.close()
    dist.barrier()
    return report


def _one(src: Path, dst: Path, opts: DreamOptions, report: FolderReport) -> None:
    try:
        image = io.load_pil(src)
    except ValueError as exc:
        print(f"dream: skipping {src}: {exc}", file=sys.stderr)
        report.failed.append((src, str(exc)))
        return
    out = run(image, opts)
    if dst.suffix.lower() in (".jpg", ".jpeg") and out.mode in ("RGBA", "LA"):
        out = out.convert("RGB")  # JPEG keeps no alpha: the dream of the picture is what counts
    dst.parent.mkdir(parents=True, exist_ok=True)
    io.save_image(out, dst)
    report.written.append(dst)
