"""Dreaming a folder of images (:func:`fastdream.batch.run_folder`: resumable, one progress bar,
bad files counted, split over torchrun ranks)."""

from __future__ import annotations

import secrets
from dataclasses import replace

import torch

from fastdream import io
from fastdream.batch import FolderReport, run_folder, stored_settings
from fastdream.dream.options import EMPTY_MASK, DreamOptions
from fastdream.dream.record import dream_settings
from fastdream.training import distributed


def dream_folder(
    input_dir, output_dir, *, format: str | None = None, progress: bool = False, **dream_kwargs
) -> FolderReport:
    """Dreams every image of ``input_dir`` (and its subfolders) into ``output_dir``.

    Args:
        input_dir: the images (any format Pillow reads; files under ``output_dir`` are left out).
        output_dir: where the dreams go, under the inputs' relative names (created if missing);
            outputs already there are skipped, so the same call finishes a stopped batch (a call
            with other settings is refused: the folder keeps its settings in
            :data:`fastdream.batch.SETTINGS_NAME`).
        format: the output format (``"png"``, ``"jpg"``, ...); default: each input's own.
        progress: one progress bar over all the images (on rank 0).
        **dream_kwargs: options of :func:`fastdream.dream`. Without ``seed``, a rerun into a
            folder that recorded one finishes it with that seed; a first run draws one for the
            whole folder (the report's ``seed``, recorded with the outputs).

    Returns:
        A :class:`~fastdream.batch.FolderReport` of this rank's images.

    Examples:
        >>> report = dream_folder("photos", "dreams", format="jpg", octaves=3, seed=0)  # doctest: +SKIP
    """
    from fastdream.dream import run  # the package's dispatch; this module is part of the package

    stored = stored_settings(output_dir)
    if dream_kwargs.get("seed") is None:  # a rerun without a seed finishes with the stored one, as a video's does
        dream_kwargs["seed"] = stored.get("seed")
    opts = DreamOptions.create(**dream_kwargs)
    if opts.mask is not None:  # loaded once, at its size (each picture's dream fits it to its own)
        opts = replace(opts, mask=io.load_mask(opts.mask, None, empty=EMPTY_MASK))  # (a path failed in its record)
    device = opts.resolve_device()
    # Without a seed, one is drawn for the folder, recorded with its outputs and said: each image
    # drew its own, so no picture of the batch could be made again, and a stopped batch finished
    # later mixed two draws. (A folder begun before seeds were recorded, "seed": null, is finished
    # as it was begun.) Under torchrun every rank takes rank 0's: each read the record at its own
    # moment, and a rank that skipped the broadcast left the others waiting for ever.
    legacy = opts.seed is None and "seed" in stored
    seed = -1 if legacy else opts.seed if opts.seed is not None else secrets.randbelow(2**31)
    seed = int(distributed(device).broadcast(torch.tensor([seed], dtype=torch.int64, device=device)).item())
    opts = replace(opts, seed=None if seed < 0 else seed)
    report = run_folder(
        input_dir,
        output_dir,
        format,
        lambda image: run(image, opts),
        device=device,
        progress=progress,
        name="dream",
        settings={"dream": dream_settings(opts), "seed": opts.seed},  # a rerun with others is refused
    )
    report.seed = opts.seed
    return report
