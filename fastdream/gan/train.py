r"""DCGAN training on a folder of images: :func:`train_gan` and its :class:`GANTrainer`."""

from __future__ import annotations

import numbers
import time
import warnings
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.utils.data import DataLoader
from torch.utils.data.distributed import DistributedSampler

from fastdream import _checks, io
from fastdream.gan.sample import FORMAT, VERSION, read_gan_checkpoint
from fastdream.models.dcgan import IMAGE_SIZES, Discriminator, Generator
from fastdream.training import (
    Dist,
    ImageFolder,
    Trainer,
    TrainingError,
    check_architecture,
    distributed,
    list_images,
    no_images,
)

#: File name of the checkpoint inside ``out_dir``.
CHECKPOINT_NAME = "checkpoint.pt"
#: Samples in each epoch's grid (8 x 8), drawn from noise fixed for the whole run.
GRID_SAMPLES = 64
#: A batch is a complete discriminator win when D(x) > 1 - D_WIN and D(G(z)) < D_WIN; a whole
#: epoch of them stops training (the generator then gets no useful gradient), provided the run
#: of winning batches is at least D_WIN_MIN_BATCHES long, so that an epoch of one or two batches
#: (a tiny folder) is not stopped by a passing phase: DCGAN often has a short dominant-D phase
#: early on and recovers from it.
D_WIN = 0.01
D_WIN_MIN_BATCHES = 20
# Hyperparameters that define the networks: a checkpoint only resumes with the same ones.
_ARCH_KEYS = ("image_size", "nz", "ngf", "ndf", "nc")


class GANTrainingError(TrainingError):
    """Training failed (diverged or collapsed) and was stopped; the last good checkpoint is kept."""


def _bce(logits: Tensor, target: float) -> Tensor:
    # BCE on logits (log-sigmoid inside): stable, and autocast runs it in float32.
    return F.binary_cross_entropy_with_logits(logits.float(), torch.full_like(logits, target, dtype=torch.float32))


def _noise_seed(seed: int, epoch: int, rank: int) -> int:
    # One noise stream per (seed, epoch, rank): a resumed run draws exactly the noise the
    # uninterrupted run would have, and ranks draw different noise.
    return (seed * 1_000_003 + epoch * 10_007 + rank) % (2**63)


class GANTrainer(Trainer):
    """The DCGAN recipe: Adam (lr 2e-4, beta1 0.5), real and fake batches through the
    discriminator separately, the non-saturating generator loss ``-log D(G(z))``."""

    name, error, unit = "train_gan", GANTrainingError, "batch"
    labels = ("loss_D", "loss_G", "D(x)", "D(G(z))")
    keys = ("loss_d", "loss_g", "d_x", "d_g_z")
    losses = 2

    def __init__(self, files, path: Path, c: dict, state, dist: Dist, device: torch.device, *, show, num_workers):
        self.c, self.path, self.dist, self.device = c, path, dist, device
        self.hint = "Try a lower lr" + (" or amp=False" if c["amp"] else "")
        dataset = ImageFolder(files, c["image_size"], c["nc"], show)
        # DistributedSampler with num_replicas=1 is a seeded shuffle: the same code path, and a data
        # order fixed by (seed, epoch) so a resumed run sees what an uninterrupted one would.
        self.sampler = DistributedSampler(dataset, num_replicas=dist.world, rank=dist.rank, shuffle=True,
                                          seed=c["seed"], drop_last=True)  # fmt: skip
        self.loader = DataLoader(dataset, batch_size=c["batch_size"], sampler=self.sampler, drop_last=True,
                                 num_workers=num_workers, pin_memory=device.type == "cuda",
                                 persistent_workers=num_workers > 0)  # fmt: skip
        with torch.random.fork_rng(devices=[]):  # seeded init without touching the caller's RNG
            torch.manual_seed(c["seed"])
            self.g = Generator(c["nz"], c["ngf"], c["nc"], c["image_size"]).to(device)
            self.d = Discriminator(c["ndf"], c["nc"], c["image_size"]).to(device)
        self.fixed_noise = torch.randn(GRID_SAMPLES, c["nz"], generator=torch.Generator().manual_seed(c["seed"]))
        betas = (c["beta1"], 0.999)
        self.opt_g = torch.optim.Adam(self.g.parameters(), lr=c["lr"], betas=betas)
        self.opt_d = torch.optim.Adam(self.d.parameters(), lr=c["lr"], betas=betas)
        # One scaler per network: their losses and gradient ranges differ, so each gets its own
        # scale. With amp=False they are pass-throughs.
        self.scaler_g = torch.amp.GradScaler(device.type, enabled=c["amp"])
        self.scaler_d = torch.amp.GradScaler(device.type, enabled=c["amp"])
        self.start, self.history, self.streak = 0, [], 0  # streak: batches in a row D won completely
        if state is not None:
            self._resume(state, betas)
        self.g_net, self.d_net = dist.wrap(self.g, device), dist.wrap(self.d, device)
        self.autocast = torch.autocast(device.type, dtype=torch.float16, enabled=c["amp"])

    def _resume(self, state: dict, betas) -> None:
        self.g.load_state_dict(state["generator"])
        self.d.load_state_dict(state["discriminator"])
        self.opt_g.load_state_dict(state["optimizer_g"])
        self.opt_d.load_state_dict(state["optimizer_d"])
        for opt in (self.opt_g, self.opt_d):  # this call's lr / beta1 win over the saved ones
            for group in opt.param_groups:
                group["lr"], group["betas"] = self.c["lr"], betas
        if self.c["amp"] and state.get("scaler_g"):
            self.scaler_g.load_state_dict(state["scaler_g"])
            self.scaler_d.load_state_dict(state["scaler_d"])
        self.fixed_noise = state["fixed_noise"]
        self.start, self.history = int(state["epoch"]), list(state.get("history", []))

    def batches(self, epoch):
        self.sampler.set_epoch(epoch)
        self.noise = torch.Generator(device=self.device).manual_seed(_noise_seed(self.c["seed"], epoch, self.dist.rank))
        self.wins = 0
        return self.loader

    def step(self, real, progress):
        c, g, d, ac = self.c, self.g_net, self.d_net, self.autocast
        real = real.to(self.device, non_blocking=True).float().div_(127.5).sub_(1.0)
        # Discriminator: real and fake batches go through separately (as in the DCGAN reference),
        # so BatchNorm never mixes their statistics; two backward passes also keep each DDP
        # forward paired with its backward.
        self.opt_d.zero_grad(set_to_none=True)
        with ac:
            out_real = d(real)
            loss_real = _bce(out_real, 1.0)
        self.scaler_d.scale(loss_real).backward()
        z = torch.randn(real.shape[0], c["nz"], device=self.device, generator=self.noise)
        with ac:
            fake = g(z)
            out_fake = d(fake.detach())
            loss_fake = _bce(out_fake, 0.0)
        self.scaler_d.scale(loss_fake).backward()
        self.scaler_d.step(self.opt_d)
        self.scaler_d.update()
        # Generator: the non-saturating loss -log D(G(z)) (strong gradients early on). D's weight
        # gradients are not needed here; skipping them saves a third of D's backward. Under DDP
        # every parameter must get a gradient, so they are kept.
        self.opt_g.zero_grad(set_to_none=True)
        if not self.dist.enabled:
            self.d.requires_grad_(False)
        with ac:
            loss_g = _bce(d(fake), 1.0)
        self.scaler_g.scale(loss_g).backward()
        self.d.requires_grad_(True)
        self.scaler_g.step(self.opt_g)
        self.scaler_g.update()
        d_x, d_gz = torch.sigmoid(out_real.detach().float()).mean(), torch.sigmoid(out_fake.detach().float()).mean()
        return torch.stack([(loss_real + loss_fake).detach(), loss_g.detach(), d_x, d_gz])

    def after_step(self, values):
        win = values["d_x"] > 1 - D_WIN and values["d_g_z"] < D_WIN
        self.wins, self.streak = self.wins + win, self.streak + 1 if win else 0

    def end_epoch(self, epoch, means):
        if self.wins == means["iterations"] and self.streak >= D_WIN_MIN_BATCHES:
            raise GANTrainingError(
                f"train_gan: the discriminator won completely for all of epoch {epoch + 1} "
                f"(D(x) > {1 - D_WIN:g} and D(G(z)) < {D_WIN:g} on every batch, the last {self.streak} in a row): "
                f"the generator no longer learns; stopped, {self.kept(epoch)}. "
                "Try more images, a lower lr, or a smaller ndf"
            )
        if self.dist.main:
            self.g.eval()  # eval-mode BatchNorm: a sample does not depend on its batch
            with torch.no_grad():
                grid = io.grid(self.g(self.fixed_noise.to(self.device)), value_range=(-1.0, 1.0))
            self.g.train()
            io.save_image(grid, self.path.parent / f"samples_epoch_{epoch + 1:03d}.png")
        return {}

    def state(self, epochs_done):
        return {
            "format": FORMAT, "version": VERSION, "epoch": epochs_done, "config": self.c,
            "generator": self.g.state_dict(), "discriminator": self.d.state_dict(),
            "optimizer_g": self.opt_g.state_dict(), "optimizer_d": self.opt_d.state_dict(),
            "scaler_g": self.scaler_g.state_dict(), "scaler_d": self.scaler_d.state_dict(),
            "fixed_noise": self.fixed_noise.cpu(), "history": self.history,
        }  # fmt: skip


def train_gan(
    images_dir,
    out_dir,
    *,
    image_size: int = 64,
    epochs: int = 25,
    batch_size: int = 64,
    nz: int = 100,
    lr: float = 2e-4,
    beta1: float = 0.5,
    device=None,
    amp: bool = False,
    resume: bool = True,
    seed: int = 0,
    progress: bool = True,
    ngf: int = 64,
    ndf: int = 64,
    nc: int = 3,
    max_minutes: float | None = None,
    num_workers: int = 0,
) -> Path:
    r"""Trains a DCGAN on a folder of images; returns the path of the checkpoint.

    Images are found by extension (``.png .jpg .jpeg .bmp .gif .tif .tiff .webp .ppm .pgm``)
    in ``images_dir`` and its subfolders (files under ``out_dir`` are skipped), converted to
    RGB (``nc=3``; gray is repeated, alpha dropped) or gray (``nc=1``), resized so the short
    side is ``image_size`` and center-cropped. Each epoch visits every image once (in full
    batches; the remainder is left out, reshuffled each epoch), then writes
    ``out_dir/samples_epoch_NNN.png`` (8x8 samples from fixed noise, generator in eval mode)
    and ``out_dir/checkpoint.pt`` (atomically; see :mod:`fastdream.gan`).

    Failure detection: a NaN or infinite loss, or a discriminator that wins completely on every
    batch of an epoch (D(x) > 0.99 and D(G(z)) < 0.01: the generator has collapsed or lost;
    at least 20 such batches in a row, so tiny folders are not stopped by a passing phase),
    stops training with :class:`GANTrainingError`; that epoch is not saved, so ``checkpoint.pt``
    stays the last good one.

    Distributed: started by ``torchrun --nproc_per_node N``, each process trains on its share
    of every epoch (DistributedSampler) with DistributedDataParallel (nccl on CUDA, each process
    on its ``LOCAL_RANK`` GPU; gloo on the CPU); only rank 0 writes files. ``batch_size`` is per
    process, as in PyTorch, so the effective batch is ``batch_size * N``. All processes must see
    ``out_dir`` (a shared filesystem) to resume.

    Args:
        images_dir: folder of training images (flat or nested).
        out_dir: folder for the checkpoint and sample grids (created if missing).
        image_size: side of the generated images: 32, 64 or 128.
        epochs: total epochs; a resumed run continues up to this count.
        batch_size: images per batch and process (>= 2: BatchNorm needs a batch).
        nz: latent vector size.
        lr, beta1: Adam learning rate and first-moment decay (beta2 is 0.999) for both nets.
            On resume the optimizer states are restored with these values.
        device: where to train (default: CUDA when available, else the CPU).
        amp: mixed precision (float16 autocast and gradient scaling). CUDA only: on any other
            device it is ignored with a warning and training runs in float32 (so one command
            works on both), since CPU autocast brings no speed to these convolutions.
        resume: continue from ``out_dir/checkpoint.pt`` when it exists (its network shape must
            match ``image_size``, ``nz``, ``ngf``, ``ndf``, ``nc``). ``False`` starts over and
            replaces the checkpoint.
        seed: seeds the initial weights, the fixed noise, the data order and the training noise
            (per epoch, so an interrupted and resumed CPU run matches an uninterrupted one).
        progress: show a progress bar (loss_D, loss_G, D(x), D(G(z))) on stderr (rank 0 only).
        ngf, ndf: generator / discriminator width (channels at the image end).
        nc: image channels, 3 (RGB) or 1 (gray).
        max_minutes: time budget in minutes of wall time since the call: before each epoch,
            training stops when the epoch would end past the budget (predicted from the mean
            epoch time so far). The first epoch always runs. ``None``: no budget.
        num_workers: DataLoader worker processes (0 loads in the training process; images
            that fit in memory are decoded once anyway).

    Returns:
        ``Path`` of ``out_dir/checkpoint.pt`` (on every rank).

    Raises:
        TypeError, ValueError: a bad argument (checked before anything is written), no images
            or fewer than ``batch_size`` x processes, an unreadable image, or a checkpoint in
            ``out_dir`` with another network shape.
        FileNotFoundError, NotADirectoryError: ``images_dir`` is missing or not a folder.
        GANTrainingError: training diverged or collapsed (see above).

    Examples:
        >>> ckpt = train_gan("digits/", "runs/digits", image_size=32, nc=1, epochs=50)  # doctest: +SKIP
        >>> ckpt.name                                                                      # doctest: +SKIP
        'checkpoint.pt'
    """
    t_start = time.monotonic()
    c = _check_arguments(locals())
    images_dir, out_dir, device = c.pop("images_dir"), c.pop("out_dir"), c.pop("device")
    resume, progress, num_workers = c.pop("resume"), c.pop("progress"), c.pop("num_workers")
    max_minutes = c.pop("max_minutes")
    launch = Dist.from_env()
    files = list_images(images_dir, "images_dir", exclude=out_dir)  # never train on our own grids
    if not files:
        raise no_images(images_dir)
    if len(files) < c["batch_size"] * launch.world:
        procs = f" x {launch.world} processes" if launch.enabled else ""
        raise ValueError(
            f"images_dir: {images_dir} holds {len(files)} images, too few for one batch of "
            f"batch_size={c['batch_size']}{procs}; add images or lower batch_size"
        )
    path = out_dir / CHECKPOINT_NAME
    state = None
    if resume and path.is_file():
        state = read_gan_checkpoint(path, "out_dir")
        check_architecture(state["config"], {k: c[k] for k in _ARCH_KEYS}, path, "out_dir")
    if c["amp"] and device.type != "cuda":
        warnings.warn(f"train_gan: amp=True needs CUDA; training on {device} in float32", stacklevel=2)
        c["amp"] = False
    dist = distributed(device)
    c.update(world_size=dist.world, images=len(files))
    trainer = GANTrainer(files, path, c, state, dist, device, show=progress and dist.main, num_workers=num_workers)
    return trainer.fit(c["epochs"], len(trainer.loader), max_minutes=max_minutes, t_start=t_start, progress=progress)


def _check_arguments(a: dict) -> dict:
    """Every argument of :func:`train_gan` checked (before anything is read or written)."""
    if isinstance(a["image_size"], bool) or not isinstance(a["image_size"], numbers.Integral):
        raise TypeError(f"image_size must be an integer, one of {IMAGE_SIZES}, got {a['image_size']!r}")
    if a["image_size"] not in IMAGE_SIZES:
        raise ValueError(f"image_size must be one of {IMAGE_SIZES}, got {a['image_size']}")
    out_dir = _checks.path("out_dir", a["out_dir"])
    c = dict(
        images_dir=_checks.path("images_dir", a["images_dir"]), out_dir=out_dir, image_size=int(a["image_size"]),
        nz=_checks.integer("nz", a["nz"], 1), ngf=_checks.integer("ngf", a["ngf"], 1),
        ndf=_checks.integer("ndf", a["ndf"], 1), nc=_channels(a["nc"]),
        epochs=_checks.integer("epochs", a["epochs"], 1), batch_size=_checks.integer("batch_size", a["batch_size"], 2),
        lr=_checks.real("lr", a["lr"], lo=0.0), beta1=_checks.real("beta1", a["beta1"], lo=0.0, hi=1.0, lo_open=False),
        amp=_checks.boolean("amp", a["amp"]), resume=_checks.boolean("resume", a["resume"]),
        progress=_checks.boolean("progress", a["progress"]), seed=_checks.integer("seed", a["seed"], 0),
        max_minutes=None if a["max_minutes"] is None else _checks.real("max_minutes", a["max_minutes"], lo=0.0),
        num_workers=_checks.integer("num_workers", a["num_workers"], 0),
        device=_checks.device("device", a["device"]),
    )  # fmt: skip
    if out_dir.exists() and not out_dir.is_dir():
        raise ValueError(f"out_dir: {out_dir} exists and is not a folder")
    return c


def _channels(nc) -> int:
    if isinstance(nc, bool) or not isinstance(nc, numbers.Integral):
        raise TypeError(f"nc must be an integer, 1 (gray) or 3 (RGB), got {nc!r}")
    if nc not in (1, 3):
        raise ValueError(f"nc must be 1 (gray) or 3 (RGB), got {nc}")
    return int(nc)
