"""Training a VAE on a folder of images: :func:`train_vae` and its trainer on the shared loop.

The loss is the negative ELBO per image, ``reconstruction + beta * KL``, with the reconstruction
term a per-pixel binary cross-entropy between the decoder's logits and the image in [0, 1]
(summed over pixels). Why BCE: each pixel is treated as the probability of a bright pixel, which
suits the gray, mostly black-or-white images VAEs are usually trained on (digits, sketches), its
gradient does not vanish near 0 and 1 (a sigmoid + MSE's does), and with beta = 1 the loss is the
true negative ELBO of a Bernoulli decoder, so epochs and runs compare in nats. ``beta`` grows
linearly from 0 over the first ``kl_warmup`` epochs, so the decoder learns to use the latent
before the KL term pulls the posterior to the prior (no posterior collapse).
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader
from torch.utils.data.distributed import DistributedSampler

from fastdream import _checks, io
from fastdream._checks import shown, torch_seed
from fastdream._warnings import warn
from fastdream.models.dcgan import IMAGE_SIZES
from fastdream.models.vae import VAE
from fastdream.training import (
    Anything,
    Dist,
    ImageFolder,
    Int,
    Listing,
    OptimizerState,
    Record,
    Trainer,
    TrainingError,
    Weights,
    all_gray,
    check_architecture,
    check_optimizer,
    distributed,
    epoch_pictures,
    folder_batch,
    list_images,
    load_weights,
    model_fits,
    no_images,
    note_changes,
    read_checkpoint,
    readable,
    resumed,
    say_clear,
    start_over,
)
from fastdream.training.distributed import launch_lock
from fastdream.vae.sample import FORMAT, MODEL, VERSION

CHECKPOINT_NAME = "checkpoint.pt"
#: What resuming reads from a checkpoint, checked before anything is built from it.
RESUME = Record(
    {
        "config": Record({"model": Record(MODEL)}),
        "model": Weights(),
        "optimizer": OptimizerState(),
        "epoch": Int(0, 2**31),
    },
    {"history": Listing(Anything()), "val_files": Listing(Anything())},
)
GRID_SAMPLES = 64
_ARCH_KEYS = ("image_size", "channels", "latent_dim", "base_channels")

__all__ = ["CHECKPOINT_NAME", "VAETrainingError", "train_vae"]


class VAETrainingError(TrainingError):
    """Training diverged (a NaN or infinite loss) and was stopped; the last good checkpoint is kept."""


def _terms(model: VAE, x, noise) -> tuple[torch.Tensor, torch.Tensor]:
    """Reconstruction (BCE summed over pixels) and KL(q(z|x) || N(0, I)), each per image."""
    logits, mu, logvar = model(x, noise)
    rec = F.binary_cross_entropy_with_logits(logits.float(), x.float(), reduction="sum") / x.shape[0]
    kl = -0.5 * (1 + logvar - mu.square() - logvar.exp()).sum() / x.shape[0]
    return rec, kl


class VAETrainer(Trainer):
    name, error = "train_vae", VAETrainingError
    least_steps = 200
    labels = ("loss", "recon", "KL")
    epoch_shown = (("val_elbo", "val_elbo", ".1f"), ("val_mse", "val_recon_mse", ".4f"))
    keys = ("loss", "recon", "kl")

    def __init__(self, train_files, val_files, path: Path, c: dict, state, dist: Dist, dev, *, show, num_workers):
        self.c, self.path, self.dist, self.device = c, path, dist, dev
        m = c["model"]
        self.train_ds = ImageFolder(train_files, m["image_size"], m["channels"], show, False)
        self.val_ds = ImageFolder(val_files, m["image_size"], m["channels"], False, False)
        # Counted over the whole folder ("8 of 50" left the held-out out), by a run with epochs to train
        counted = self.train_ds.cache is not None and self.val_ds.cache is not None
        to_do = state is None or state["epoch"] < c["epochs"]
        if counted and dist.main and to_do:
            say_clear(self.train_ds.clear + self.val_ds.clear, len(train_files) + len(val_files))
        self.val_files = [str(f) for f in val_files]
        self.sampler = DistributedSampler(
            self.train_ds,
            num_replicas=dist.world,
            rank=dist.rank,
            shuffle=True,
            seed=torch_seed(c["seed"]),
            drop_last=True,
        )
        self.loader = DataLoader(
            self.train_ds,
            batch_size=c["batch_size"],
            sampler=self.sampler,
            drop_last=True,
            num_workers=num_workers,
            pin_memory=dev.type == "cuda",
        )
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(torch_seed(c["seed"]))
            self.model = VAE(**m).to(dev)
        self.opt = torch.optim.Adam(self.model.parameters(), lr=c["lr"])
        self.scaler = torch.amp.GradScaler(dev.type, enabled=c["amp"])
        self.fixed = torch.randn(
            GRID_SAMPLES, m["latent_dim"], generator=torch.Generator().manual_seed(torch_seed(c["seed"]))
        )
        self.start, self.history = 0, []
        if state is not None:
            with resumed(path, "out_dir"):
                load_weights(self.model, state["model"], path, "out_dir", "model weights")
                self.opt.load_state_dict(state["optimizer"])
                check_optimizer(self.opt, path, "out_dir")
                for g in self.opt.param_groups:
                    g["lr"] = c["lr"]
                self.start, self.history = int(state["epoch"]), list(state.get("history") or [])
        self.net = dist.wrap(self.model, dev)
        self.autocast = torch.autocast(dev.type, dtype=torch.float16, enabled=c["amp"])

    def batches(self, epoch):
        self.sampler.set_epoch(epoch)
        self.epoch, self.it = epoch, 0
        seed = (self.c["seed"] * 1_000_003 + epoch * 10_007 + self.dist.rank) % 2**63
        self.noise = torch.Generator(device=self.device).manual_seed(torch_seed(seed, of=self.c["seed"]))
        self.model.train()
        return self.loader

    def beta_now(self) -> float:
        warm = self.c["kl_warmup"]
        done = self.epoch + self.it / max(1, len(self.loader))
        return self.c["beta"] * (min(1.0, done / warm) if warm else 1.0)

    def step(self, batch, progress):
        x = io.from_uint8(batch.to(self.device, non_blocking=True))
        noise = torch.randn(x.shape[0], self.c["model"]["latent_dim"], device=self.device, generator=self.noise)
        self.opt.zero_grad(set_to_none=True)
        with self.autocast:
            rec, kl = _terms(self.net, x, noise)
        loss = rec + self.beta_now() * kl
        self.scaler.scale(loss).backward()
        self.scaler.step(self.opt)
        self.scaler.update()
        self.it += 1
        return torch.stack([loss.detach(), rec.detach(), kl.detach()])

    @torch.no_grad()
    def end_epoch(self, epoch, means):
        m, dist = self.model, self.dist
        m.eval()
        sums = torch.zeros(4, dtype=torch.float64)
        gen = torch.Generator().manual_seed(torch_seed(self.c["seed"]))  # the same posterior draws every epoch
        latent = self.c["model"]["latent_dim"]
        for i in range(len(self.val_ds)):
            noise = torch.randn(1, latent, generator=gen)
            if i % dist.world != dist.rank:  # each rank its share of the held-out images
                continue
            x = io.from_uint8(self.val_ds[i][None].to(self.device))
            rec, kl = _terms(m, x, noise.to(self.device))
            mse = (torch.sigmoid(m(x)[0].float()) - x).square().mean()
            sums += torch.tensor([rec.item(), kl.item(), mse.item(), 1.0], dtype=torch.float64)
        dist.sum(sums)
        n = max(sums[3].item(), 1.0)
        row = dict(val_elbo=-(sums[0] + sums[1]).item() / n, val_recon_mse=sums[2].item() / n, beta=self.beta_now())
        if dist.main:
            samples = torch.sigmoid(m.decode(self.fixed.to(self.device)).float())
            io.save_image(io.grid(samples), self.path.parent / f"samples_epoch_{epoch + 1:03d}.png")
            k = min(32, len(self.val_ds))
            x = io.from_uint8(torch.stack([self.val_ds[i] for i in range(k)]).to(self.device))
            pairs = torch.stack([x, torch.sigmoid(m(x)[0].float())], 1).flatten(0, 1)  # original, reconstruction
            # (up to 8 pairs a row: one held-out image was one pair in a 16-wide, mostly black strip)
            io.save_image(io.grid(pairs, nrow=min(16, 2 * k)), self.path.parent / f"recon_epoch_{epoch + 1:03d}.png")
            row.update(grid=io.grid_tensor(samples[:16]), recon_grid=io.grid_tensor(pairs[:16], nrow=8))
        m.train()
        return row

    def state(self, epochs_done):
        return {
            "format": FORMAT,
            "version": VERSION,
            "epoch": epochs_done,
            "config": self.c,
            "model": self.model.state_dict(),
            "optimizer": self.opt.state_dict(),
            "history": self.history,
            "val_files": self.val_files,
        }


def train_vae(
    images_dir,
    out_dir,
    *,
    image_size: int = 64,
    latent_dim: int = 128,
    beta: float = 1.0,
    kl_warmup: float = 5,
    epochs: int = 30,
    batch_size: int | None = None,
    lr: float = 1e-3,
    val_split: float = 0.1,
    channels: int | None = None,
    base_channels: int = 32,
    device=None,
    amp: bool = False,
    resume: bool = True,
    seed: int = 0,
    progress: bool = True,
    max_minutes: float | None = None,
    num_workers: int = 0,
    skip_bad: bool = False,
) -> Path:
    """Trains a VAE on a folder of images; returns the path of the checkpoint.

    Images are read as by :func:`~fastdream.train_gan` (gray folders train a 1-channel model unless
    ``channels=3``). A seeded ``val_split`` of them is held out; after every epoch the held-out ELBO
    (nats per image, beta 1) and the reconstruction MSE go into the history, a grid of samples
    (``samples_epoch_NNN.png``) and of held-out images each beside its reconstruction
    (``recon_epoch_NNN.png``) are written, and the checkpoint (``checkpoint.pt``) is replaced
    atomically, so a stopped run resumes where the last epoch ended (on the same validation images).
    Runs under torchrun with DistributedDataParallel like the other trainers.

    Args:
        images_dir, out_dir: the images; the folder for the checkpoint and grids.
        image_size: 32, 64 or 128.
        latent_dim, base_channels: the model (see :class:`~fastdream.models.VAE`).
        beta: weight of the KL term after the warm-up (1: the ELBO; more: a smoother latent space).
        kl_warmup: epochs over which beta grows from 0 (0: none).
        epochs, batch_size, lr: Adam's schedule (a resumed run continues up to ``epochs``); the
            batch is 64 by default, or all the training pictures of a smaller folder.
        val_split: fraction held out, in (0, 1).
        channels: 1 or 3; default: detected (1 for a gray folder).
        device, amp, resume, seed, progress, max_minutes, num_workers, skip_bad: as for
            :func:`~fastdream.train_gan`.

    Returns:
        ``Path`` of ``out_dir/checkpoint.pt``.

    Examples:
        >>> ckpt = train_vae("digits/", "runs/vae", image_size=32, epochs=30)  # doctest: +SKIP
        >>> images = fastdream.sample_vae(ckpt, 16, seed=0)                   # doctest: +SKIP
    """
    t_start = time.monotonic()
    a = _check_arguments(locals())
    launch = Dist.from_env()
    files = readable(list_images(a["images_dir"], "images_dir"), a["skip_bad"])
    if not files:
        raise no_images(a["images_dir"])
    with launch_lock(a["out_dir"], "out_dir"):  # one training at a time per checkpoint
        path = a["out_dir"] / CHECKPOINT_NAME
        state, stale = _earlier(path, a["resume"])
        val = _split(files, a, state, launch)
        train = [f for f in files if str(f) not in val]
        a["batch_size"] = _batch(a, len(files), len(train), bool(val), launch.world)
        model = dict(
            image_size=a["image_size"],
            channels=a["channels"] or (1 if all_gray(files) else 3),
            latent_dim=a["latent_dim"],
            base_channels=a["base_channels"],
        )
        if state is not None:
            check_architecture(state["config"]["model"], model, path, "out_dir")
        if a["amp"] and a["device"].type != "cuda":
            warn(f"train_vae: amp=True needs CUDA; training on {a['device']} in float32")
            a["amp"] = False
        dist = distributed(a["device"])
        if state is not None and dist.main and state["epoch"] < a["epochs"]:  # once; not when there is nothing to do
            note_changes(
                state["config"], {k: a[k] for k in ("lr", "batch_size", "beta", "kl_warmup")}, path, "train_vae"
            )
        c = dict(
            model=model,
            beta=a["beta"],
            kl_warmup=a["kl_warmup"],
            epochs=a["epochs"],
            batch_size=a["batch_size"],
            lr=a["lr"],
            val_split=a["val_split"],
            seed=a["seed"],
            amp=a["amp"],
            images=len(files),
            world_size=dist.world,
        )
        trainer = VAETrainer(
            train,
            [Path(v) for v in val],
            path,
            c,
            state,
            dist,
            a["device"],
            show=a["progress"] and dist.main,
            num_workers=a["num_workers"],
        )
        trainer.stale = stale
        return trainer.fit(
            a["epochs"], len(trainer.loader), max_minutes=a["max_minutes"], t_start=t_start, progress=a["progress"]
        )


def _batch(a: dict, n_files: int, n_train: int, has_val: bool, world: int) -> int:
    """The batch (:func:`~fastdream.training.folders.folder_batch` of the pictures it trains on);
    a ``ValueError`` when the folder cannot fill it."""
    batch = folder_batch(a["batch_size"], n_train, world)
    if n_train < batch * world or not has_val:
        k, v = batch * world, a["val_split"]
        first = max(2, math.ceil(k / (1 - v)) - 2) if v < 1 else 0  # (about where it is: a few tries from there)
        need = next((n for n in range(first, first + 8) if first and n - max(1, round(n * v)) >= k), None)
        lower = "" if batch <= 2 else " or lower batch_size"  # (a batch is at least 2: it said lower it at 2)
        raise ValueError(
            f"images_dir: {_count(n_files)} too few for a validation split of {v:g} and one batch of "
            f"batch_size={batch}" + (f": it needs at least {need}" if need else "") + f"; add images{lower}"
        )
    return batch


def _count(n: int) -> str:
    return "1 image is" if n == 1 else f"{n} images are"


def _earlier(path: Path, resume: bool) -> tuple[dict | None, list[Path]]:
    """(the checkpoint to resume, None when starting over; the pictures of the run a start over
    replaces). Only a VAE's checkpoint is replaced."""
    if resume:
        return (read_checkpoint(path, FORMAT, VERSION, "out_dir", RESUME) if path.is_file() else None), []
    start_over(path, FORMAT, "out_dir")
    return None, epoch_pictures(path)


def _split(files, a, state, launch) -> list[str]:
    """The held-out images: the checkpoint's when they are all still there, else a seeded draw."""
    names = [str(f) for f in files]
    if state is not None and state.get("val_files") and set(state["val_files"]) <= set(names):
        return list(state["val_files"])
    if state is not None and launch.main:
        warn("train_vae: the images changed since the checkpoint; drawing a new validation split")
    n = max(1, round(len(files) * a["val_split"])) if len(files) > 1 else 0
    order = np.random.default_rng(a["seed"]).permutation(len(files))
    return sorted(names[i] for i in order[:n])


def _check_arguments(a: dict) -> dict:
    c = _checks
    if a["image_size"] not in IMAGE_SIZES or isinstance(a["image_size"], bool):
        raise ValueError(f"image_size must be one of {IMAGE_SIZES}, got {shown(a['image_size'])}")
    if a["channels"] is not None and a["channels"] not in (1, 3):
        raise ValueError(f"channels must be None (detect), 1 or 3, got {shown(a['channels'])}")
    out_dir = c.path("out_dir", a["out_dir"])
    io.output_folder("out_dir", out_dir, [a["images_dir"]], "its checkpoint.pt and sample grids")
    out = dict(
        images_dir=c.path("images_dir", a["images_dir"]),
        out_dir=out_dir,
        image_size=int(a["image_size"]),
        channels=a["channels"],
        latent_dim=c.integer("latent_dim", a["latent_dim"], 1, cap=c.COUNT_MAX),
        base_channels=c.integer("base_channels", a["base_channels"], 1, cap=c.COUNT_MAX),
        beta=c.real("beta", a["beta"], lo=0.0, lo_open=False, cap=1e4),  # beta-VAEs go to a few hundred
        kl_warmup=c.real("kl_warmup", a["kl_warmup"], lo=0.0, lo_open=False, cap=1e6),  # epochs
        epochs=c.integer("epochs", a["epochs"], 1, cap=c.COUNT_MAX),
        batch_size=None if a["batch_size"] is None else c.integer("batch_size", a["batch_size"], 2, cap=c.COUNT_MAX),
        lr=c.real("lr", a["lr"], lo=0.0, cap=c.LR_MAX),
        val_split=c.real("val_split", a["val_split"], lo=0.0, hi=1.0),
        amp=c.boolean("amp", a["amp"]),
        resume=c.boolean("resume", a["resume"]),
        progress=c.boolean("progress", a["progress"]),
        seed=c.seed("seed", a["seed"]),
        max_minutes=None if a["max_minutes"] is None else c.real("max_minutes", a["max_minutes"], lo=0.0),
        num_workers=c.integer("num_workers", a["num_workers"], 0, cap=1024),
        skip_bad=c.boolean("skip_bad", a["skip_bad"]),
        device=c.device("device", a["device"]),
    )
    size, latent, width = out["image_size"], out["latent_dim"], out["base_channels"]
    settings = f"latent_dim={latent}, base_channels={width}"
    model_fits(settings, lambda: VAE(size, out["channels"] or 3, latent, width), copies=4)
    return out
