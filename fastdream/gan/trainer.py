"""The GAN trainer on the shared training loop: two recipes and the progress a user can see.

``recipe="stable"`` (the default), chosen for the small datasets artists have (bench/RESULTS.md,
"GAN"): a spectral-normalized discriminator without BatchNorm, the hinge loss, differentiable
augmentation of everything the discriminator sees (color, translation, cutout; on folders of
under 1000 images), and an exponential moving average of the generator's weights that makes the
samples. ``recipe="dcgan"``
is Radford et al.'s: BatchNorm in both nets, real and fake batches through the discriminator
separately, the non-saturating loss ``-log D(G(z))``.

Each epoch the history gets the mean losses, a small grid of samples (uint8) and, with
``kid_samples``, the KID of samples against training images on the embedded backbone's features.
"""

from __future__ import annotations

import copy
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.utils.data import DataLoader
from torch.utils.data.distributed import DistributedSampler

from fastdream import io, metrics
from fastdream._checks import torch_seed
from fastdream.gan.augment import diff_augment
from fastdream.gan.sample import FORMAT, VERSION
from fastdream.models.dcgan import Discriminator, Generator
from fastdream.training import Dist, ImageFolder, Trainer, TrainingError, check_optimizer, load_weights, resumed

#: Samples in each epoch's grid file (8 x 8), drawn from noise fixed for the whole run.
GRID_SAMPLES = 64
#: Samples in the grid kept in the checkpoint's history each epoch (4 x 4).
HISTORY_GRID = 16
#: A batch is a complete discriminator win when D(x) > 1 - D_WIN and D(G(z)) < D_WIN; a whole
#: epoch of them stops training (the generator then gets no useful gradient), provided the run
#: of winning batches is at least D_WIN_MIN_BATCHES long, so that an epoch of one or two batches
#: (a tiny folder) is not stopped by a passing phase.
D_WIN = 0.01
D_WIN_MIN_BATCHES = 20
#: The generator average's half-life, in images seen, ramped up as 10% of the images seen so far
#: (so the average follows quickly early on), as in StyleGAN2.
EMA_HALF_LIFE = 10_000
EMA_RAMPUP = 0.1
#: Side of the images for the per-epoch KID (small: it must cost little next to an epoch).
KID_SIZE = 64


class GANTrainingError(TrainingError):
    """Training failed (diverged or collapsed) and was stopped; the last good checkpoint is kept."""


def _bce(logits: Tensor, target: float) -> Tensor:
    # BCE on logits (log-sigmoid inside): stable, and autocast runs it in float32.
    return F.binary_cross_entropy_with_logits(logits.float(), torch.full_like(logits, target, dtype=torch.float32))


def _seed(seed: int, epoch: int, rank: int, stream: int = 0) -> int:
    # One stream per (seed, epoch, rank): a resumed run draws exactly what the uninterrupted run
    # would have, and ranks draw differently.
    return (seed * 1_000_003 + epoch * 10_007 + rank * 101 + stream) % (2**63)


class GANTrainer(Trainer):
    name, error, unit = "train_gan", GANTrainingError, "batch"
    least_steps = 200
    labels = ("loss_D", "loss_G", "D(x)", "D(G(z))")
    epoch_shown = (("KID", "kid", ".4f"),)
    keys = ("loss_d", "loss_g", "d_x", "d_g_z")
    losses = 2
    rise = None  # the two losses pull against each other: a rise is not a divergence

    def __init__(self, files, path: Path, c: dict, state, dist: Dist, device: torch.device, *, show, num_workers):
        self.c, self.path, self.dist, self.device = c, path, dist, device
        self.stable = c["recipe"] == "stable"
        self.hint = "Try a lower lr or lr_d" + (" or amp=False" if c["amp"] else "")
        to_do = state is None or state["epoch"] < c["epochs"]  # (a run with nothing to do says nothing of it)
        dataset = ImageFolder(files, c["image_size"], c["nc"], show, dist.main and to_do)
        # DistributedSampler with num_replicas=1 is a seeded shuffle: the same code path, and a data
        # order fixed by (seed, epoch) so a resumed run sees what an uninterrupted one would.
        self.sampler = DistributedSampler(
            dataset, num_replicas=dist.world, rank=dist.rank, shuffle=True, seed=torch_seed(c["seed"]), drop_last=True
        )
        self.loader = DataLoader(
            dataset,
            batch_size=c["batch_size"],
            sampler=self.sampler,
            drop_last=True,
            num_workers=num_workers,
            pin_memory=device.type == "cuda",
            persistent_workers=num_workers > 0,
        )
        with torch.random.fork_rng(devices=[]):  # seeded init without touching the caller's RNG
            torch.manual_seed(torch_seed(c["seed"]))
            self.g = Generator(c["nz"], c["ngf"], c["nc"], c["image_size"]).to(device)
            self.d = Discriminator(c["ndf"], c["nc"], c["image_size"], norm="spectral" if self.stable else "batch")
            self.d = self.d.to(device)
        self.g_ema = copy.deepcopy(self.g).eval().requires_grad_(False) if self.stable else None
        self.fixed_noise = torch.randn(
            GRID_SAMPLES, c["nz"], generator=torch.Generator().manual_seed(torch_seed(c["seed"]))
        )
        betas = (c["beta1"], 0.999)
        self.opt_g = torch.optim.Adam(self.g.parameters(), lr=c["lr"], betas=betas)
        self.opt_d = torch.optim.Adam(self.d.parameters(), lr=c["lr_d"], betas=betas)
        # One scaler per network: their losses and gradient ranges differ. With amp=False they
        # are pass-throughs.
        self.scaler_g = torch.amp.GradScaler(device.type, enabled=c["amp"])
        self.scaler_d = torch.amp.GradScaler(device.type, enabled=c["amp"])
        self.start, self.history, self.streak, self.seen = 0, [], 0, 0
        if state is not None:
            self._resume(state, betas)
        self.g_net, self.d_net = dist.wrap(self.g, device), dist.wrap(self.d, device)
        self.autocast = torch.autocast(device.type, dtype=torch.float16, enabled=c["amp"])
        self.kid_reference = None
        if c["kid_samples"] and dist.main:  # features of the real images, once
            take = dataset.cache[: c["kid_samples"]] if dataset.cache is not None else None
            if take is not None:
                self.kid_reference = metrics.features(io.from_uint8(take), size=KID_SIZE, device=device)

    def _resume(self, state: dict, betas) -> None:
        with resumed(self.path, "out_dir"):
            self._restore(state, betas)
        if tuple(self.fixed_noise.shape) != (GRID_SAMPLES, self.c["nz"]):
            raise ValueError(f"out_dir: {self.path} cannot be resumed from (its fixed_noise has another shape)")

    def _restore(self, state: dict, betas) -> None:
        load_weights(self.g, state["generator"], self.path, "out_dir", "generator")
        load_weights(self.d, state["discriminator"], self.path, "out_dir", "discriminator")
        if self.g_ema is not None and state.get("generator_ema") is not None:
            load_weights(self.g_ema, state["generator_ema"], self.path, "out_dir", "generator_ema")
        self.opt_g.load_state_dict(state["optimizer_g"])
        self.opt_d.load_state_dict(state["optimizer_d"])
        check_optimizer(self.opt_g, self.path, "out_dir")
        check_optimizer(self.opt_d, self.path, "out_dir")
        for opt, lr in ((self.opt_g, self.c["lr"]), (self.opt_d, self.c["lr_d"])):  # this call's wins
            for group in opt.param_groups:
                group["lr"], group["betas"] = lr, betas
        if self.c["amp"] and state.get("scaler_g"):
            self.scaler_g.load_state_dict(state["scaler_g"])
            self.scaler_d.load_state_dict(state["scaler_d"])
        self.fixed_noise = state["fixed_noise"]
        self.start, self.history = int(state["epoch"]), list(state.get("history", []))
        self.seen = int(state.get("images_seen", 0))

    def batches(self, epoch):
        self.sampler.set_epoch(epoch)
        self.noise = torch.Generator(device=self.device).manual_seed(
            torch_seed(_seed(self.c["seed"], epoch, self.dist.rank), of=self.c["seed"])
        )
        self.aug = torch.Generator(device=self.device).manual_seed(
            torch_seed(_seed(self.c["seed"], epoch, self.dist.rank, 1), of=self.c["seed"])
        )
        self.wins = 0
        return self.loader

    def _augment(self, x: Tensor) -> Tensor:
        return diff_augment(x, self.c["augment"], self.aug) if self.c["augment"] else x

    def _d_step(self, real: Tensor, fake: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        d, ac = self.d_net, self.autocast
        self.opt_d.zero_grad(set_to_none=True)
        if self.stable:  # hinge loss; one pass (no BatchNorm to keep real and fake apart)
            with ac:
                out = d(self._augment(torch.cat([real, fake.detach()])))
            out_real, out_fake = out[: real.shape[0]], out[real.shape[0] :]
            loss = F.relu(1 - out_real.float()).mean() + F.relu(1 + out_fake.float()).mean()
            self.scaler_d.scale(loss).backward()
        else:  # real and fake separately, so BatchNorm never mixes their statistics
            with ac:
                out_real = d(real)
                loss_real = _bce(out_real, 1.0)
            self.scaler_d.scale(loss_real).backward()
            with ac:
                out_fake = d(fake.detach())
                loss_fake = _bce(out_fake, 0.0)
            self.scaler_d.scale(loss_fake).backward()
            loss = loss_real + loss_fake
        self.scaler_d.step(self.opt_d)
        self.scaler_d.update()
        return loss.detach(), out_real.detach(), out_fake.detach()

    def _g_step(self, fake: Tensor) -> Tensor:
        # D's weight gradients are not needed here; skipping them saves a third of D's backward.
        # Under DDP every parameter must get a gradient, so they are kept.
        self.opt_g.zero_grad(set_to_none=True)
        if not self.dist.enabled:
            self.d.requires_grad_(False)
        with self.autocast:
            out = self.d_net(self._augment(fake) if self.stable else fake)
            loss = -out.float().mean() if self.stable else _bce(out, 1.0)
        self.scaler_g.scale(loss).backward()
        self.d.requires_grad_(True)
        self.scaler_g.step(self.opt_g)
        self.scaler_g.update()
        return loss.detach()

    @torch.no_grad()
    def _ema_update(self, batch: int) -> None:
        self.seen += batch * self.dist.world
        half_life = min(EMA_HALF_LIFE, max(EMA_RAMPUP * self.seen, 1.0))
        keep = 0.5 ** (batch * self.dist.world / half_life)
        torch._foreach_lerp_(list(self.g_ema.parameters()), list(self.g.parameters()), 1 - keep)
        for b_ema, b in zip(self.g_ema.buffers(), self.g.buffers()):
            b_ema.copy_(b)

    def step(self, real, progress):
        real = io.from_uint8(real.to(self.device, non_blocking=True), value_range=(-1.0, 1.0))
        z = torch.randn(real.shape[0], self.c["nz"], device=self.device, generator=self.noise)
        with self.autocast:
            fake = self.g_net(z)
        loss_d, out_real, out_fake = self._d_step(real, fake)
        loss_g = self._g_step(fake)
        if self.g_ema is not None:
            self._ema_update(real.shape[0])
        d_x, d_gz = torch.sigmoid(out_real.float()).mean(), torch.sigmoid(out_fake.float()).mean()
        return torch.stack([loss_d.float(), loss_g.float(), d_x, d_gz])

    def after_step(self, values):
        win = values["d_x"] > 1 - D_WIN and values["d_g_z"] < D_WIN
        self.wins, self.streak = self.wins + win, self.streak + 1 if win else 0

    @property
    def sampler_net(self) -> Generator:
        """What makes the samples: the average of the generator's weights, or the generator."""
        return self.g_ema if self.g_ema is not None else self.g

    @torch.no_grad()
    def end_epoch(self, epoch, means):
        if self.wins == means["iterations"] and self.streak >= D_WIN_MIN_BATCHES:
            raise GANTrainingError(
                f"train_gan: the discriminator won completely for all of epoch {epoch + 1} "
                f"(D(x) > {1 - D_WIN:g} and D(G(z)) < {D_WIN:g} on every batch, the last {self.streak} in a row): "
                f"the generator no longer learns; stopped, {self.kept(epoch)}. "
                "Try more images, a lower lr, or recipe='stable'"
            )
        if not self.dist.main:
            return {}
        g = self.sampler_net
        was = g.training
        g.eval()  # eval-mode BatchNorm: a sample does not depend on its batch
        samples = g(self.fixed_noise.to(self.device))
        g.train(was)
        io.save_image(
            io.grid(samples, value_range=(-1.0, 1.0)), self.path.parent / f"samples_epoch_{epoch + 1:03d}.png"
        )
        row = dict(grid=io.grid_tensor(samples[:HISTORY_GRID], nrow=4, value_range=(-1.0, 1.0)))
        if self.kid_reference is not None:
            row["kid"] = self._kid(g)
        return row

    def _kid(self, g: Generator) -> float:
        n = self.kid_reference.shape[0]
        z = torch.randn(
            n, self.c["nz"], generator=torch.Generator().manual_seed(torch_seed(self.c["seed"] + 1, of=self.c["seed"]))
        )
        was = g.training
        g.eval()
        fake = torch.cat([g(z[i : i + 256].to(self.device)) for i in range(0, n, 256)])
        g.train(was)
        fake = ((fake.float() + 1) / 2).clamp_(0, 1)
        return metrics.kid(
            self.kid_reference,
            metrics.features(fake, size=KID_SIZE, device=self.device),
            subsets=20,
            subset_size=min(n, 256),
        ).mean

    def state(self, epochs_done):
        state = {
            "format": FORMAT,
            "version": VERSION,
            "epoch": epochs_done,
            "config": self.c,
            "generator": self.g.state_dict(),
            "discriminator": self.d.state_dict(),
            "optimizer_g": self.opt_g.state_dict(),
            "optimizer_d": self.opt_d.state_dict(),
            "scaler_g": self.scaler_g.state_dict(),
            "scaler_d": self.scaler_d.state_dict(),
            "fixed_noise": self.fixed_noise.cpu(),
            "history": self.history,
            "images_seen": self.seen,
        }
        if self.g_ema is not None:
            state["generator_ema"] = self.g_ema.state_dict()
        return state
