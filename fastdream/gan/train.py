r"""Training a GAN on a folder of images: :func:`train_gan` (the trainer is in ``trainer.py``)."""

from __future__ import annotations

import numbers
import time
from pathlib import Path

from fastdream import _checks, io
from fastdream._checks import shown
from fastdream._warnings import warn
from fastdream.gan.augment import POLICIES
from fastdream.gan.sample import CONFIG, FORMAT, read_gan_checkpoint
from fastdream.gan.trainer import GANTrainer, GANTrainingError
from fastdream.models.dcgan import IMAGE_SIZES
from fastdream.training import (
    Anything,
    Dist,
    Int,
    Listing,
    OptimizerState,
    Record,
    Tensor,
    Weights,
    all_gray,
    check_architecture,
    distributed,
    epoch_pictures,
    folder_batch,
    list_images,
    no_images,
    note_changes,
    readable,
    start_over,
)
from fastdream.training.distributed import launch_lock

#: File name of the checkpoint inside ``out_dir``.
CHECKPOINT_NAME = "checkpoint.pt"
RECIPES = ("stable", "dcgan")
#: The stable recipe augments (color, translation, cutout) folders of fewer images than this: on
#: 300 digits augmentation lowered the KID after 100 epochs (0.54 vs 0.59), on 1497 it raised it
#: after 25 (0.47 vs 0.30; bench/RESULTS.md, "GAN").
AUGMENT_BELOW = 1000
# Hyperparameters that define the networks: a checkpoint only resumes with the same ones.
_ARCH_KEYS = ("image_size", "nz", "ngf", "ndf", "nc", "recipe")
#: What resuming reads from a checkpoint, checked before anything is built from it.
RESUME = Record(
    {
        "config": Record({**CONFIG, "ndf": Int(1, _checks.COUNT_MAX)}),
        "generator": Weights(),
        "discriminator": Weights(),
        "optimizer_g": OptimizerState(),
        "optimizer_d": OptimizerState(),
        "fixed_noise": Tensor(2),
        "epoch": Int(0, _checks.COUNT_MAX),
    },
    {"generator_ema": Weights(), "history": Listing(Anything()), "images_seen": Int(0, 2**62)},
)

__all__ = ["CHECKPOINT_NAME", "RECIPES", "GANTrainingError", "train_gan"]


def train_gan(
    images_dir,
    out_dir,
    *,
    image_size: int = 64,
    epochs: int = 25,
    batch_size: int | None = None,
    nz: int = 100,
    lr: float = 2e-4,
    lr_d: float | None = None,
    beta1: float = 0.5,
    recipe: str = "stable",
    augment=None,
    device=None,
    amp: bool = False,
    resume: bool = True,
    seed: int = 0,
    progress: bool = True,
    ngf: int = 64,
    ndf: int = 64,
    nc: int | None = None,
    kid_samples: int = 256,
    max_minutes: float | None = None,
    num_workers: int = 0,
    skip_bad: bool = False,
) -> Path:
    r"""Trains a GAN on a folder of images; returns the path of the checkpoint.

    Images are found by extension (``.png .jpg .jpeg .bmp .gif .tif .tiff .webp .ppm .pgm``)
    in ``images_dir`` and its subfolders (``out_dir`` may not lie inside it), converted to
    gray (``nc=1``) or RGB (``nc=3``; gray is repeated, alpha dropped), resized so the short side
    is ``image_size`` and center-cropped. Each epoch visits every image once (in full batches;
    the remainder is left out, reshuffled each epoch), then writes ``out_dir/samples_epoch_NNN.png``
    (8x8 samples from fixed noise) and ``out_dir/checkpoint.pt`` (atomically; see
    :mod:`fastdream.gan`). The checkpoint's history holds each epoch's mean losses, a 4x4 grid of
    samples and the KID of ``kid_samples`` samples against as many training images.

    The recipe (see :mod:`fastdream.gan.trainer`): ``"stable"`` (the default: a spectral-normalized
    discriminator, hinge loss, differentiable augmentation, samples from an average of the
    generator's weights; it trains on a few hundred images) or ``"dcgan"`` (the classic DCGAN).

    Failure detection: a NaN or infinite loss, or a discriminator that wins completely on every
    batch of an epoch (D(x) > 0.99 and D(G(z)) < 0.01; at least 20 such batches in a row, so tiny
    folders are not stopped by a passing phase), stops training with :class:`GANTrainingError`;
    that epoch is not saved, so ``checkpoint.pt`` stays the last good one.

    Distributed: started by ``torchrun --nproc_per_node N``, each process trains on its share of
    every epoch with DistributedDataParallel (nccl on CUDA, each process on its ``LOCAL_RANK``
    GPU; gloo on the CPU); only rank 0 writes files. ``batch_size`` is per process, so the
    effective batch is ``batch_size * N``. All processes must see ``out_dir`` to resume.

    Args:
        images_dir: folder of training images (flat or nested).
        out_dir: folder for the checkpoint and sample grids (created if missing).
        image_size: side of the generated images: 32, 64 or 128.
        epochs: total epochs; a resumed run continues up to this count.
        batch_size: images per batch and process (>= 2; default: 64, or as many as a smaller
            folder holds per process: 8 pictures train in batches of 8, not "too few for 64").
        nz: latent vector size.
        lr, lr_d, beta1: Adam learning rates of the generator and the discriminator (``lr_d``
            defaults to ``lr``) and first-moment decay (beta2 is 0.999). On resume the optimizer
            states are restored with these values.
        recipe: ``"stable"`` or ``"dcgan"``.
        augment: the differentiable augmentations, a subset of ``("color", "translation",
            "cutout")`` (default: all three for ``"stable"`` on folders of fewer than 1000 images,
            where they help; none otherwise).
        device: where to train (default: CUDA when available, else the CPU).
        amp: mixed precision (float16 autocast and gradient scaling), CUDA only: elsewhere it is
            ignored with a warning and training runs in float32.
        resume: continue from ``out_dir/checkpoint.pt`` when it exists (its networks must match
            ``image_size``, ``nz``, ``ngf``, ``ndf``, ``nc`` and ``recipe``). ``False`` starts over.
        seed: seeds the initial weights, the fixed noise, the data order, the training noise and
            the augmentations (per epoch, so an interrupted and resumed CPU run matches an
            uninterrupted one).
        progress: show a progress bar (loss_D, loss_G, D(x), D(G(z))) on stderr (rank 0 only).
        ngf, ndf: generator / discriminator width (channels at the image end).
        nc: image channels, 1 (gray) or 3 (RGB); default: 1 when the folder holds only gray images
            (looked at in up to 200 of them), else 3.
        kid_samples: samples (and training images) for the KID after each epoch; 0: none.
        max_minutes: time budget in minutes of wall time since the call: before each epoch,
            training stops when the epoch would end past the budget. The first epoch always runs.
        num_workers: DataLoader worker processes (0 loads in the training process; images
            that fit in memory are decoded once anyway).
        skip_bad: leave files Pillow cannot read (a text file, an empty download) out of the
            folder, with one warning naming them; default: such a file is an error, before
            anything is written.

    Returns:
        ``Path`` of ``out_dir/checkpoint.pt`` (on every rank).

    Raises:
        TypeError, ValueError: a bad argument (checked before anything is written), no images
            or fewer than ``batch_size`` x processes, an unreadable image, or a checkpoint in
            ``out_dir`` with other networks.
        FileNotFoundError, NotADirectoryError: ``images_dir`` is missing or not a folder.
        GANTrainingError: training diverged or collapsed (see above).

    Examples:
        >>> ckpt = train_gan("digits/", "runs/digits", image_size=32, epochs=50)  # doctest: +SKIP
        >>> ckpt.name                                                              # doctest: +SKIP
        'checkpoint.pt'
    """
    t_start = time.monotonic()
    c = _check_arguments(locals())
    images_dir, out_dir, device = c.pop("images_dir"), c.pop("out_dir"), c.pop("device")
    resume, progress, num_workers = c.pop("resume"), c.pop("progress"), c.pop("num_workers")
    max_minutes, skip_bad = c.pop("max_minutes"), c.pop("skip_bad")
    launch = Dist.from_env()
    files = readable(list_images(images_dir, "images_dir"), skip_bad)
    if not files:
        raise no_images(images_dir)
    c["batch_size"] = folder_batch(c["batch_size"], len(files), launch.world)
    if len(files) < c["batch_size"] * launch.world:
        procs = f" x {launch.world} processes" if launch.enabled else ""
        raise ValueError(
            f"images_dir: {images_dir} holds {len(files)} image{'s' * (len(files) != 1)}, too few for one batch of "
            f"batch_size={c['batch_size']}{procs}; add images"
            + (" or lower batch_size" if c["batch_size"] > 2 else " (a batch is at least 2)")
        )
    if c["nc"] is None:
        c["nc"] = 1 if all_gray(files) else 3
    if c["augment"] is None:
        c["augment"] = list(POLICIES) if c["recipe"] == "stable" and len(files) < AUGMENT_BELOW else []
    with launch_lock(out_dir, "out_dir"):  # one training at a time per checkpoint
        path = out_dir / CHECKPOINT_NAME
        state, stale = None, []
        if not resume:  # only a GAN's checkpoint is replaced; the grids of its run go with it
            start_over(path, FORMAT, "out_dir")
            stale = epoch_pictures(path)
        if resume and path.is_file():
            state = read_gan_checkpoint(path, "out_dir", RESUME)
            stored = dict(state["config"], recipe=state["config"].get("recipe", "dcgan"))
            check_architecture(stored, {k: c[k] for k in _ARCH_KEYS}, path, "out_dir")
        if c["amp"] and device.type != "cuda":
            warn(f"train_gan: amp=True needs CUDA; training on {device} in float32")
            c["amp"] = False
        dist = distributed(device)
        c.update(world_size=dist.world, images=len(files))
        if state is not None and dist.main and state["epoch"] < c["epochs"]:  # (nothing to do: nothing changes)
            note_changes(
                state["config"],
                {k: c[k] for k in ("lr", "lr_d", "beta1", "batch_size", "images", "seed")},
                path,
                "train_gan",
            )
        trainer = GANTrainer(files, path, c, state, dist, device, show=progress and dist.main, num_workers=num_workers)
        trainer.stale = stale
        return trainer.fit(
            c["epochs"], len(trainer.loader), max_minutes=max_minutes, t_start=t_start, progress=progress
        )


def _check_arguments(a: dict) -> dict:
    """Every argument of :func:`train_gan` checked (before anything is read or written)."""
    if isinstance(a["image_size"], bool) or not isinstance(a["image_size"], numbers.Integral):
        raise TypeError(f"image_size must be an integer, one of {IMAGE_SIZES}, got {shown(a['image_size'])}")
    if a["image_size"] not in IMAGE_SIZES:
        raise ValueError(f"image_size must be one of {IMAGE_SIZES}, got {a['image_size']}")
    recipe = _checks.choice("recipe", a["recipe"], RECIPES)
    out_dir = _checks.path("out_dir", a["out_dir"])
    lr = _checks.real("lr", a["lr"], lo=0.0, cap=_checks.LR_MAX)
    c = dict(
        images_dir=_checks.path("images_dir", a["images_dir"]),
        out_dir=out_dir,
        image_size=int(a["image_size"]),
        nz=_checks.integer("nz", a["nz"], 1, cap=_checks.COUNT_MAX),
        ngf=_checks.integer("ngf", a["ngf"], 1, cap=_checks.COUNT_MAX),
        ndf=_checks.integer("ndf", a["ndf"], 1, cap=_checks.COUNT_MAX),
        nc=None if a["nc"] is None else _channels(a["nc"]),
        epochs=_checks.integer("epochs", a["epochs"], 1, cap=_checks.COUNT_MAX),
        batch_size=None
        if a["batch_size"] is None
        else _checks.integer("batch_size", a["batch_size"], 2, cap=_checks.COUNT_MAX),
        lr=lr,
        lr_d=lr if a["lr_d"] is None else _checks.real("lr_d", a["lr_d"], lo=0.0, cap=_checks.LR_MAX),
        beta1=_checks.real("beta1", a["beta1"], lo=0.0, hi=1.0, lo_open=False),
        recipe=recipe,
        augment=_augment(a["augment"]),
        kid_samples=_checks.integer("kid_samples", a["kid_samples"], 0, cap=_checks.COUNT_MAX),
        amp=_checks.boolean("amp", a["amp"]),
        resume=_checks.boolean("resume", a["resume"]),
        progress=_checks.boolean("progress", a["progress"]),
        seed=_checks.seed("seed", a["seed"]),
        max_minutes=None if a["max_minutes"] is None else _checks.real("max_minutes", a["max_minutes"], lo=0.0),
        num_workers=_checks.integer("num_workers", a["num_workers"], 0, cap=1024),
        device=_checks.device("device", a["device"]),
        skip_bad=_checks.boolean("skip_bad", a["skip_bad"]),
    )
    _fits(c)
    if c["kid_samples"] == 1:
        raise ValueError("kid_samples must be 0 (no KID) or >= 2, got 1")
    io.output_folder("out_dir", out_dir, [c["images_dir"]], "its checkpoint.pt and sample grids")
    return c


def _fits(c: dict) -> None:
    """The networks (with their gradients and Adam's moments) fit in memory, for the widest
    channel count (3) when it is left to the folder."""
    from fastdream.models.dcgan import Discriminator, Generator
    from fastdream.training import model_fits

    nc, size = c["nc"] or 3, c["image_size"]
    model_fits(f"nz={c['nz']}, ngf={c['ngf']}", lambda: Generator(c["nz"], c["ngf"], nc, size), copies=4)
    model_fits(f"ndf={c['ndf']}", lambda: Discriminator(c["ndf"], nc, size), copies=4)


def _augment(augment) -> list[str] | None:
    if augment is None:
        return None  # decided by the folder's size
    names = [augment] if isinstance(augment, str) else augment
    if not isinstance(names, (list, tuple)) or any(n not in POLICIES for n in names):
        raise ValueError(f"augment must be a subset of {POLICIES}, got {shown(augment)}")
    return list(dict.fromkeys(names))


def _channels(nc) -> int:
    if isinstance(nc, bool) or not isinstance(nc, numbers.Integral):
        raise TypeError(f"nc must be an integer, 1 (gray) or 3 (RGB), got {shown(nc)}")
    if nc not in (1, 3):
        raise ValueError(f"nc must be 1 (gray) or 3 (RGB), got {nc}")
    return int(nc)
