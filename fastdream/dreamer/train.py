"""Training a dreamer on folders of subjects: :func:`train_dreamer`."""

from __future__ import annotations

import time
from pathlib import Path

import torch

from fastdream.dreamer import data
from fastdream.dreamer import options as O
from fastdream.dreamer.trainer import DreamerTrainer
from fastdream.models.dreamer import FORMAT, VERSION
from fastdream.training import (
    Dist,
    check_architecture,
    distributed,
    note_changes,
    note_kept,
    read_checkpoint,
    start_over,
)
from fastdream.training.distributed import launch_lock


def train_dreamer(
    images_dir,
    out_path,
    *,
    epochs: int | None = None,
    max_minutes: float | None = None,
    seed: int | None = None,
    progress: bool = False,
    image_size: int = 128,
    batch_size: int = 32,
    lr: float = 3e-3,
    backbone_lr: float = 0.1,
    weight_decay: float = 1e-4,
    tune_from: int = 10,
    keep: float = 0.0,
    val_split: float = 0.15,
    recipe: dict | None = None,
    resume: bool = True,
    skip_bad: bool = True,
    device=None,
) -> Path:
    r"""Fine-tunes EfficientNet-Lite0 on your subjects, so dreams can grow them; returns the
    checkpoint's path (load it with :func:`fastdream.models.load`, dream with ``subject=``).

    **Data.** ``images_dir`` holds one subfolder per subject, named for it (``cats/``,
    ``bricks/``), with its pictures (any size; ``.png .jpg .jpeg .bmp .gif .tif .tiff .webp .ppm
    .pgm``; nested folders are read too): at least two subjects, and at least two pictures each,
    tens to thousands. Empty subfolders and pictures outside any subfolder are skipped with a
    warning that counts them; so are unreadable files (``skip_bad=False``: a ``ValueError``
    instead). Pictures are decoded once, kept with their short side at 1.5 ``image_size``.

    **Training.** A seeded ``val_split`` of each subject's pictures is held out. Each epoch draws
    every subject equally often (small subjects repeat their pictures, large ones are sampled),
    as random crops of 25-100% of a picture, flipped, with brightness, contrast and saturation
    jittered, at ``image_size``. The pretrained network's blocks before ``tune_from`` keep their
    ImageNet weights; the later blocks learn at ``backbone_lr`` times the rate of the new output
    layer (``lr``, on a cosine down to 2% of it; AdamW), BatchNorm keeps ImageNet's statistics.
    The loss is label-smoothed cross-entropy, plus ``keep`` times the distance of the learning
    blocks' features from ImageNet's (features that stay natural dream natural pictures). After
    every epoch the held-out accuracy (overall, balanced, per subject) is measured and shown,
    the channels that respond most to each subject are measured on its pictures, and the
    checkpoint is written atomically (a stopped run resumes from the last finished epoch).
    bench/RESULTS.md ("Dream your own subjects") has what each default measured.

    **Distributed.** Under ``torchrun --nproc_per_node N`` each process trains on its share of
    every epoch with DistributedDataParallel (``batch_size`` is per process), validation is
    split between the processes, and rank 0 writes.

    Args:
        images_dir: the folder of subject folders.
        out_path: the checkpoint file (its folder is created if missing).
        epochs: total epochs (a resumed run continues up to this count). None: about 3000
            views in all (:func:`~fastdream.dreamer.options.default_epochs`: 8 for 400
            training pictures, 3 to 40).
        max_minutes: wall-time budget: training stops before an epoch that would end past it, and
            the learning-rate schedule is fitted to the epochs that fit.
        seed: seeds the split, the data order, the crops and the new layer. None: a fresh one
            (a resumed run keeps its checkpoint's).
        progress: a progress bar (loss, last val accuracy) and a summary on stderr (rank 0).
        image_size: training resolution (64 to 512).
        batch_size: views per step and process.
        lr, backbone_lr, weight_decay: AdamW's rate for the output layer, the learning blocks'
            fraction of it, and its weight decay.
        tune_from: the first block that learns (0 to 16; 16: the head only).
        keep: weight of the loss that keeps the learning blocks' features near ImageNet's.
        val_split: fraction of each subject held out, in (0, 1).
        recipe: how dreams grow a subject (see :func:`fastdream.dream.subjects.subject`): keys
            of :data:`~fastdream.dreamer.options.RECIPE` to replace (``guide``, ``texture``,
            ``channels``: dicts layer -> weight; ``channel_count``, ``logit``, ``exemplars``);
            kept in the checkpoint, with the statistics of the layers it names.
        resume: continue from ``out_path`` when it exists (same subjects, ``image_size`` and
            ``tune_from``); ``False`` starts over and replaces it.
        skip_bad: leave unreadable pictures out (counted) instead of raising.
        device: where to train (default: CUDA when available, else the CPU).

    Returns:
        ``Path(out_path)`` (on every rank).

    Raises:
        TypeError, ValueError: a bad argument, fewer than 2 subjects, a subject with fewer than 2
            readable pictures, or a checkpoint at ``out_path`` for other subjects or settings;
            all checked before anything is written.
        FileNotFoundError, NotADirectoryError: a missing folder.
        DreamerTrainingError: the loss became NaN or infinite (the last good checkpoint is kept).

    Examples:
        >>> ckpt = fastdream.train_dreamer("subjects/", "dreamer.pt", max_minutes=5)   # doctest: +SKIP
        >>> m = fastdream.models.load(ckpt)                                         # doctest: +SKIP
        >>> fastdream.dream("photo.jpg", model=m, subject="bricks")                 # doctest: +SKIP
    """
    t_start = time.monotonic()
    a = O.check_arguments(locals())
    with launch_lock(a["out_path"], "out_path"):  # one training at a time per checkpoint
        if not a["resume"]:  # only a dreamer's checkpoint is replaced, never a file given by mistake
            start_over(a["out_path"], FORMAT, "out_path")
        launch = Dist.from_env()
        root = a["images_dir"]
        subjects = data.find_subjects(root)
        data.check_subjects(subjects, root)  # before the slow decoding: the layout errors come at once
        state = (
            read_checkpoint(a["out_path"], FORMAT, VERSION, "out_path", O.RESUME)
            if a["resume"] and a["out_path"].is_file()
            else None
        )
        pictures = data.load_all(subjects, round(a["image_size"] * data.KEEP_SCALE), a["skip_bad"])
        data.check_subjects(subjects, root)
        if launch.main:
            data.warn_skipped(subjects, root)
        config = _config(a, subjects, state)
        if state is not None:
            was = state["config"].get("subjects")
            if was != config["subjects"]:  # the folder's subfolders, not an argument: said so
                raise ValueError(
                    f"out_path: {a['out_path']} was trained on the subjects {was}, and the folder now holds {config['subjects']}; "
                    "name the subject folders as before to resume, resume=False to start over (replacing it), or another out_path"
                )
            check_architecture(state["config"], {k: config[k] for k in O.ARCH_KEYS}, a["out_path"], "out_path")
            if launch.main:
                note_kept(state["config"], {"seed": a["seed"]}, a["out_path"], "train_dreamer")
            if launch.main and (config.get("epochs") is None or state["epoch"] < config["epochs"]):
                changes = {
                    k: config[k] for k in ("lr", "backbone_lr", "batch_size", "weight_decay", "keep") if k in config
                }
                note_changes(state["config"], changes, a["out_path"], "train_dreamer")
        dist = distributed(a["device"])
        if config["seed"] is None:  # rank 0's draw, for every rank
            drawn = (
                torch.randint(0, 2**31 - 1, (1,), dtype=torch.int64) if dist.main else torch.zeros(1, dtype=torch.int64)
            )
            config["seed"] = int(dist.broadcast(drawn).item())
        held = data.split(subjects, root, a["val_split"], config["seed"], state and state.get("val_files"))
        if state is not None and held == set(state.get("val_files") or ()) and launch.main:  # the split kept
            config.update(note_kept(state["config"], {"val_split": a["val_split"]}, a["out_path"], "train_dreamer"))
        train, val = [], []
        for k, files in enumerate(subjects.files):
            for i, f in enumerate(files):
                (val if f.relative_to(root).as_posix() in held else train).append((k, i))
        config.update(train=len(train), val=len(val), val_files=sorted(held), world_size=dist.world)
        if config["epochs"] is None:
            config["epochs"] = O.default_epochs(len(train))
        trainer = DreamerTrainer(pictures, train, val, a["out_path"], config, state, dist, a["device"])
        return trainer.fit(
            config["epochs"], trainer.iters, max_minutes=a["max_minutes"], t_start=t_start, progress=a["progress"]
        )


def _config(a: dict, subjects: data.Subjects, state) -> dict:
    """The run's settings and the counts of its data, as the checkpoint keeps them."""
    keys = ("epochs", "image_size", "batch_size", "lr", "backbone_lr", "weight_decay", "tune_from", "keep")
    seed = a["seed"] if state is None else state["config"]["seed"]  # a resumed run keeps its own (said)
    skipped = []
    for what, n in (("empty subject folder", len(subjects.empty)), ("loose image", len(subjects.loose))):
        if n:
            skipped.append(f"{n} {what}(s)")
    if subjects.bad:
        skipped.append(f"{len(subjects.bad)} unreadable file(s)")
    return dict(
        {k: a[k] for k in keys},
        subjects=list(subjects.names),
        counts={n: len(f) for n, f in zip(subjects.names, subjects.files)},
        images=sum(len(f) for f in subjects.files),
        seed=seed,
        val_split=a["val_split"],
        recipe=a["recipe"],
        augment="crop 25-100% area, aspect 3:4-4:3, flip, brightness/contrast/saturation +-20%",
        skipped=", ".join(skipped),
        skipped_counts=dict(empty=len(subjects.empty), loose=len(subjects.loose), bad=len(subjects.bad)),
    )
