r"""DCGAN: training on a folder of images, sampling, and latent walks.

:func:`train_gan` trains a :class:`~fastdream.models.dcgan.Generator` /
:class:`~fastdream.models.dcgan.Discriminator` pair with the DCGAN recipe (Adam, lr 2e-4,
beta1 0.5, batches of real and fake images through the discriminator separately, the
non-saturating generator loss ``-log D(G(z))``). After every epoch it writes a grid of samples
from a fixed noise batch (``samples_epoch_NNN.png``) and one checkpoint (``checkpoint.pt``,
replaced atomically), so a stopped run resumes where the last epoch ended. Under ``torchrun``
it trains with DistributedDataParallel, one process per GPU (nccl) or several on the CPU (gloo).

:func:`sample_gan` and :func:`latent_walk` turn a checkpoint into PIL images;
:func:`save_animation` writes a walk as a GIF or WebP.

Checkpoint layout (a plain dict, loadable with ``torch.load(..., weights_only=True)``)::

    format "fastdream.dcgan", version 1, epoch (completed epochs),
    config {image_size, nz, ngf, ndf, nc, batch_size, lr, beta1, seed, amp, world_size, images},
    generator, discriminator (state dicts), optimizer_g, optimizer_d, scaler_g, scaler_d,
    fixed_noise (64, nz), history [{epoch, loss_d, loss_g, d_x, d_g_z, iterations, seconds}]

Examples:
    >>> import fastdream as fd                                                 # doctest: +SKIP
    >>> ckpt = fd.train_gan("faces/", "runs/faces", image_size=64, epochs=25)  # doctest: +SKIP
    >>> images = fd.sample_gan(ckpt, 16, seed=0)                               # doctest: +SKIP
"""
from __future__ import annotations

import math
import numbers
import os
import sys
import time
import warnings
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from PIL import Image, ImageOps, UnidentifiedImageError
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset
from torch.utils.data.distributed import DistributedSampler
from tqdm.auto import tqdm

from fastdream._checks import boolean as _bool
from fastdream._checks import device as _check_device
from fastdream._checks import integer as _int
from fastdream._checks import path as _path
from fastdream._checks import real as _real
from fastdream.io import atomic_save, load_pil, save_image
from fastdream.models.dcgan import IMAGE_SIZES, Discriminator, Generator
from fastdream.training import (
    IMAGE_EXTENSIONS,
    distributed,
    list_images,
    load_checkpoint,
    resolve_device,
    save_checkpoint,
)

__all__ = [
    "train_gan",
    "sample_gan",
    "latent_walk",
    "slerp",
    "save_animation",
    "GANTrainingError",
    "CHECKPOINT_NAME",
]

#: File name of the checkpoint inside ``out_dir``.
CHECKPOINT_NAME = "checkpoint.pt"
FORMAT, VERSION = "fastdream.dcgan", 1
#: Samples in each epoch's grid (8 x 8), drawn from noise fixed for the whole run.
GRID_SAMPLES = 64
#: A batch is a complete discriminator win when D(x) > 1 - D_WIN and D(G(z)) < D_WIN; a whole
#: epoch of them stops training (the generator then gets no useful gradient), provided the run
#: of winning batches is at least D_WIN_MIN_BATCHES long, so that an epoch of one or two batches
#: (a tiny folder) is not stopped by a passing phase: DCGAN often has a short dominant-D phase
#: early on and recovers from it.
D_WIN = 0.01
D_WIN_MIN_BATCHES = 20
#: Folders whose decoded images fit in this many bytes are decoded once and kept in memory
#: (a 64 px RGB image is 12 KiB: ~87k images); larger ones are decoded on each use.
PRELOAD_BYTES = 1 << 30
# Hyperparameters that define the networks: a checkpoint only resumes with the same ones.
_ARCH_KEYS = ("image_size", "nz", "ngf", "ndf", "nc")


class GANTrainingError(RuntimeError):
    """Training failed (diverged or collapsed) and was stopped; the last good checkpoint is kept."""


# --------------------------------------------------------------------------------------------
# argument checks


def _device(device) -> torch.device:
    return resolve_device(_check_device("device", device))


# --------------------------------------------------------------------------------------------
# data


def _load_image(path: Path, size: int, nc: int) -> Tensor:
    """Decoded, converted to gray/RGB, short side resized to ``size``, center-cropped: uint8 (nc, S, S)."""
    im = load_pil(path)
    im = im.convert("L" if nc == 1 else "RGB")  # alpha dropped, palette/CMYK/gray expanded
    im = ImageOps.fit(im, (size, size), Image.BICUBIC, centering=(0.5, 0.5))
    arr = np.array(im, dtype=np.uint8, copy=True)
    arr = arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1)
    return torch.from_numpy(np.ascontiguousarray(arr))


class _ImageFolder(Dataset):
    """The training images as uint8 (nc, S, S) tensors; decoded once when they fit in memory."""

    def __init__(self, files: list[Path], size: int, nc: int, show_progress: bool):
        self.files, self.size, self.nc = files, size, nc
        self.cache = None
        if len(files) * nc * size * size <= PRELOAD_BYTES:
            # Decoding everything now also surfaces an unreadable file before anything is written.
            it = tqdm(files, desc="loading images", leave=False, disable=not show_progress or len(files) < 500)
            self.cache = torch.stack([_load_image(p, size, nc) for p in it])
        else:
            for p in files:  # headers only: cheap, and the same early error for a bad file
                try:
                    with Image.open(p) as im:
                        im.size
                except (UnidentifiedImageError, OSError) as exc:
                    raise ValueError(f"images_dir: {p} is not an image Pillow can read ({exc})") from None

    def __len__(self):
        return len(self.files)

    def __getitem__(self, i):
        return self.cache[i] if self.cache is not None else _load_image(self.files[i], self.size, self.nc)


# --------------------------------------------------------------------------------------------
# images out


def _to_uint8(x: Tensor) -> np.ndarray:
    """Generator output (N, C, H, W) in [-1, 1] -> uint8 (N, H, W, C)."""
    x = ((x.detach().float().cpu() + 1) * 127.5).round_().clamp_(0, 255).to(torch.uint8)
    return x.permute(0, 2, 3, 1).numpy()


def _to_pil(x: Tensor) -> list[Image.Image]:
    arr = _to_uint8(x)
    return [Image.fromarray(a[..., 0], "L") if a.shape[-1] == 1 else Image.fromarray(a, "RGB") for a in arr]


def _grid(x: Tensor, nrow: int = 8, pad: int = 2) -> Image.Image:
    """Samples side by side, ``nrow`` per row, ``pad`` black pixels between them."""
    arr = _to_uint8(x)
    n, h, w, c = arr.shape
    rows = math.ceil(n / nrow)
    out = np.zeros((pad + rows * (h + pad), pad + nrow * (w + pad), c), np.uint8)
    for i, a in enumerate(arr):
        r, k = divmod(i, nrow)
        y, x0 = pad + r * (h + pad), pad + k * (w + pad)
        out[y : y + h, x0 : x0 + w] = a
    return Image.fromarray(out[..., 0], "L") if c == 1 else Image.fromarray(out, "RGB")


# --------------------------------------------------------------------------------------------
# training


def _bce(logits: Tensor, target: float) -> Tensor:
    # BCE on logits (log-sigmoid inside): stable, and autocast runs it in float32.
    return F.binary_cross_entropy_with_logits(logits.float(), torch.full_like(logits, target, dtype=torch.float32))


def _noise_seed(seed: int, epoch: int, rank: int) -> int:
    # One noise stream per (seed, epoch, rank): a resumed run draws exactly the noise the
    # uninterrupted run would have, and ranks draw different noise.
    return (seed * 1_000_003 + epoch * 10_007 + rank) % (2**63)


def _unwrap(m: nn.Module) -> nn.Module:
    return m.module if isinstance(m, nn.parallel.DistributedDataParallel) else m


def _read_checkpoint(checkpoint, name: str = "checkpoint") -> dict:
    if isinstance(checkpoint, dict):
        state, where = checkpoint, "the given dict"
    else:
        path = _path(name, checkpoint)
        state, where = load_checkpoint(path), str(path)
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise ValueError(f"{name}: {where} is not a fastdream GAN checkpoint (one written by train_gan)")
    if state.get("version", 0) > VERSION:
        raise ValueError(f"{name}: {where} has format version {state['version']}; this fastdream reads up to {VERSION}")
    return state


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
    and ``out_dir/checkpoint.pt`` (atomically; see the module documentation).

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
    # ---- every argument is checked before anything is written
    images_dir = _path("images_dir", images_dir)
    out_dir = _path("out_dir", out_dir)
    if isinstance(image_size, bool) or not isinstance(image_size, numbers.Integral):
        raise TypeError(f"image_size must be an integer, one of {IMAGE_SIZES}, got {image_size!r}")
    if image_size not in IMAGE_SIZES:
        raise ValueError(f"image_size must be one of {IMAGE_SIZES}, got {image_size}")
    image_size = int(image_size)
    epochs = _int("epochs", epochs, 1)
    batch_size = _int("batch_size", batch_size, 2)
    nz, ngf, ndf = _int("nz", nz, 1), _int("ngf", ngf, 1), _int("ndf", ndf, 1)
    if isinstance(nc, bool) or not isinstance(nc, numbers.Integral):
        raise TypeError(f"nc must be an integer, 1 (gray) or 3 (RGB), got {nc!r}")
    if nc not in (1, 3):
        raise ValueError(f"nc must be 1 (gray) or 3 (RGB), got {nc}")
    nc = int(nc)
    lr = _real("lr", lr, lo=0.0)
    beta1 = _real("beta1", beta1, lo=0.0, hi=1.0, lo_open=False)
    amp, resume, progress = _bool("amp", amp), _bool("resume", resume), _bool("progress", progress)
    seed = _int("seed", seed, 0)
    if max_minutes is not None:
        max_minutes = _real("max_minutes", max_minutes, lo=0.0)
    num_workers = _int("num_workers", num_workers, 0)
    device = _device(device)
    if out_dir.exists() and not out_dir.is_dir():
        raise ValueError(f"out_dir: {out_dir} exists and is not a folder")
    world = int(os.environ.get("WORLD_SIZE", "1"))

    files = list_images(images_dir, "images_dir")
    out_abs = out_dir.resolve()
    files = [f for f in files if out_abs not in f.resolve().parents]  # never train on our own grids
    if not files:
        raise ValueError(
            f"images_dir: no images found in {images_dir} or its subfolders (looked for {' '.join(IMAGE_EXTENSIONS)})"
        )
    if len(files) < batch_size * world:
        procs = f" x {world} processes" if world > 1 else ""
        raise ValueError(
            f"images_dir: {images_dir} holds {len(files)} images, too few for one batch of batch_size={batch_size}"
            f"{procs}; add images or lower batch_size"
        )

    ckpt_path = out_dir / CHECKPOINT_NAME
    config = dict(image_size=image_size, nz=nz, ngf=ngf, ndf=ndf, nc=nc)
    state = None
    if resume and ckpt_path.is_file():
        state = _read_checkpoint(ckpt_path, "out_dir")
        for k in _ARCH_KEYS:
            if state["config"].get(k) != config[k]:
                raise ValueError(
                    f"out_dir: {ckpt_path} was trained with {k}={state['config'].get(k)}, not {k}={config[k]}; "
                    f"pass {k}={state['config'].get(k)} to resume, resume=False to start over (replacing it), "
                    f"or another out_dir"
                )

    if amp and device.type != "cuda":
        warnings.warn(f"train_gan: amp=True needs CUDA; training on {device} in float32", stacklevel=2)
        amp = False

    with distributed(device) as rank:
        return _train(
            files, out_dir, ckpt_path, state, rank, device,
            dict(config, batch_size=batch_size, lr=lr, beta1=beta1, seed=seed, amp=amp, world_size=rank.world,
                 images=len(files)),
            epochs=epochs, progress=progress, max_minutes=max_minutes, num_workers=num_workers, t_start=t_start,
        )  # fmt: skip


def _train(files, out_dir, ckpt_path, state, rank, device, config, *, epochs, progress, max_minutes,
           num_workers, t_start) -> Path:  # fmt: skip
    c = config
    show = progress and rank.main
    dataset = _ImageFolder(files, c["image_size"], c["nc"], show)
    # DistributedSampler with num_replicas=1 is a seeded shuffle: the same code path, and a data
    # order fixed by (seed, epoch) so a resumed run sees what an uninterrupted one would.
    sampler = DistributedSampler(dataset, num_replicas=rank.world, rank=rank.rank, shuffle=True, seed=c["seed"],
                                 drop_last=True)  # fmt: skip
    loader = DataLoader(dataset, batch_size=c["batch_size"], sampler=sampler, drop_last=True,
                        num_workers=num_workers, pin_memory=device.type == "cuda",
                        persistent_workers=num_workers > 0)  # fmt: skip
    iters = len(loader)

    with torch.random.fork_rng(devices=[]):  # seeded init without touching the caller's RNG
        torch.manual_seed(c["seed"])
        G = Generator(c["nz"], c["ngf"], c["nc"], c["image_size"])
        D = Discriminator(c["ndf"], c["nc"], c["image_size"])
    fixed_noise = torch.randn(GRID_SAMPLES, c["nz"], generator=torch.Generator().manual_seed(c["seed"]))
    G, D = G.to(device), D.to(device)
    betas = (c["beta1"], 0.999)
    opt_g = torch.optim.Adam(G.parameters(), lr=c["lr"], betas=betas)
    opt_d = torch.optim.Adam(D.parameters(), lr=c["lr"], betas=betas)
    # One scaler per network: their losses and gradient ranges differ, so each gets its own
    # scale. With amp=False they are pass-throughs.
    scaler_g = torch.amp.GradScaler(device.type, enabled=c["amp"])
    scaler_d = torch.amp.GradScaler(device.type, enabled=c["amp"])
    start, history = 0, []
    if state is not None:
        G.load_state_dict(state["generator"])
        D.load_state_dict(state["discriminator"])
        opt_g.load_state_dict(state["optimizer_g"])
        opt_d.load_state_dict(state["optimizer_d"])
        for opt in (opt_g, opt_d):  # this call's lr / beta1 win over the saved ones
            for group in opt.param_groups:
                group["lr"], group["betas"] = c["lr"], betas
        if c["amp"] and state.get("scaler_g"):
            scaler_g.load_state_dict(state["scaler_g"])
            scaler_d.load_state_dict(state["scaler_d"])
        fixed_noise = state["fixed_noise"]
        start, history = int(state["epoch"]), list(state.get("history", []))
    if start >= epochs:
        if show:
            print(f"train_gan: {ckpt_path} already has {start} epochs (epochs={epochs}); nothing to do", file=sys.stderr)
        return ckpt_path

    if rank.main:
        out_dir.mkdir(parents=True, exist_ok=True)
    g_raw, d_raw = G, D
    if rank.enabled:
        ids = [device.index] if device.type == "cuda" else None
        G = nn.parallel.DistributedDataParallel(G, device_ids=ids)
        D = nn.parallel.DistributedDataParallel(D, device_ids=ids)

    def good_checkpoint_note(epoch_done: int) -> str:
        if epoch_done > 0 and ckpt_path.is_file():
            return f"the last good checkpoint ({ckpt_path}, epoch {epoch_done}) is kept"
        return "no checkpoint was written"

    autocast = torch.autocast(device.type, dtype=torch.float16, enabled=c["amp"])
    epoch_times: list[float] = []
    streak = 0  # consecutive batches the discriminator won completely
    bar = tqdm(total=(epochs - start) * iters, disable=not show, unit="it", dynamic_ncols=True)
    try:
        for epoch in range(start, epochs):
            if max_minutes is not None and epoch_times:
                elapsed = time.monotonic() - t_start
                stop = torch.tensor(float(elapsed + np.mean(epoch_times) > max_minutes * 60))
                if rank.enabled:  # all ranks must agree, or the others would wait forever
                    dist.all_reduce(stop, op=dist.ReduceOp.MAX)
                if stop.item():
                    if show:
                        bar.write(f"train_gan: time budget of {max_minutes:g} min reached after epoch {epoch}")
                    break
            t_epoch = time.monotonic()
            bar.set_description(f"epoch {epoch + 1}/{epochs}")
            sampler.set_epoch(epoch)
            gen = torch.Generator(device=device).manual_seed(_noise_seed(c["seed"], epoch, rank.rank))
            sums, wins = np.zeros(4), 0
            for it, real in enumerate(loader):
                real = real.to(device, non_blocking=True).float().div_(127.5).sub_(1.0)
                b = real.shape[0]

                # Discriminator: real and fake batches go through separately (as in the DCGAN
                # reference), so BatchNorm never mixes their statistics; two backward passes
                # also keep each DDP forward paired with its backward.
                opt_d.zero_grad(set_to_none=True)
                with autocast:
                    out_real = D(real)
                    loss_real = _bce(out_real, 1.0)
                scaler_d.scale(loss_real).backward()
                z = torch.randn(b, c["nz"], device=device, generator=gen)
                with autocast:
                    fake = G(z)
                    out_fake = D(fake.detach())
                    loss_fake = _bce(out_fake, 0.0)
                scaler_d.scale(loss_fake).backward()
                scaler_d.step(opt_d)
                scaler_d.update()

                # Generator: the non-saturating loss -log D(G(z)) (strong gradients early on).
                # D's weight gradients are not needed here; skipping them saves a third of D's
                # backward. Under DDP every parameter must get a gradient, so they are kept.
                opt_g.zero_grad(set_to_none=True)
                if not rank.enabled:
                    d_raw.requires_grad_(False)
                with autocast:
                    out_g = D(fake)
                    loss_g = _bce(out_g, 1.0)
                scaler_g.scale(loss_g).backward()
                if not rank.enabled:
                    d_raw.requires_grad_(True)
                scaler_g.step(opt_g)
                scaler_g.update()

                stats = torch.stack([
                    (loss_real + loss_fake).detach(), loss_g.detach(),
                    torch.sigmoid(out_real.detach().float()).mean(), torch.sigmoid(out_fake.detach().float()).mean(),
                ]).double()  # fmt: skip
                if rank.enabled:  # global numbers; a NaN anywhere is then seen by every rank
                    dist.all_reduce(stats)
                    stats /= rank.world
                loss_d, loss_gv, d_x, d_gz = stats.tolist()
                if not all(map(math.isfinite, (loss_d, loss_gv))):
                    raise GANTrainingError(
                        f"train_gan: training diverged at epoch {epoch + 1}, batch {it + 1}: loss_D={loss_d}, "
                        f"loss_G={loss_gv}; stopped, {good_checkpoint_note(epoch)}. Try a lower lr"
                        + (" or amp=False" if c["amp"] else "")
                    )
                win = d_x > 1 - D_WIN and d_gz < D_WIN
                wins, streak = wins + win, streak + 1 if win else 0
                sums += (loss_d, loss_gv, d_x, d_gz)
                bar.update(1)
                bar.set_postfix(loss_D=f"{loss_d:.3f}", loss_G=f"{loss_gv:.3f}", **{"D(x)": f"{d_x:.3f}",
                                "D(G(z))": f"{d_gz:.3f}"}, refresh=False)  # fmt: skip

            if wins == iters and streak >= D_WIN_MIN_BATCHES:
                raise GANTrainingError(
                    f"train_gan: the discriminator won completely for all of epoch {epoch + 1} "
                    f"(D(x) > {1 - D_WIN:g} and D(G(z)) < {D_WIN:g} on every batch, the last {streak} in a row): "
                    f"the generator no longer learns; "
                    f"stopped, {good_checkpoint_note(epoch)}. Try more images, a lower lr, or a smaller ndf"
                )
            means = sums / iters
            if rank.main:
                g_raw.eval()  # eval-mode BatchNorm: a sample does not depend on its batch
                with torch.no_grad():
                    grid = _grid(g_raw(fixed_noise.to(device)))
                g_raw.train()
                save_image(grid, out_dir / f"samples_epoch_{epoch + 1:03d}.png")
                history.append(dict(epoch=epoch + 1, loss_d=float(means[0]), loss_g=float(means[1]),
                                    d_x=float(means[2]), d_g_z=float(means[3]), iterations=iters,
                                    seconds=time.monotonic() - t_epoch))  # fmt: skip
                save_checkpoint(
                    {
                        "format": FORMAT, "version": VERSION, "epoch": epoch + 1, "config": dict(c, epochs=epochs),
                        "generator": g_raw.state_dict(), "discriminator": d_raw.state_dict(),
                        "optimizer_g": opt_g.state_dict(), "optimizer_d": opt_d.state_dict(),
                        "scaler_g": scaler_g.state_dict(), "scaler_d": scaler_d.state_dict(),
                        "fixed_noise": fixed_noise.cpu(), "history": history,
                    },
                    ckpt_path,
                )  # fmt: skip
            epoch_times.append(time.monotonic() - t_epoch)
    finally:
        bar.close()
    if rank.enabled:
        dist.barrier()  # the checkpoint exists when any rank returns
    return ckpt_path


# --------------------------------------------------------------------------------------------
# using a trained generator


def _generator(state: dict, device: torch.device) -> Generator:
    c = state["config"]
    g = Generator(c["nz"], c["ngf"], c["nc"], c["image_size"])
    g.load_state_dict(state["generator"])
    return g.to(device).eval()


def _latent_generator(seed) -> torch.Generator:
    gen = torch.Generator()
    if seed is None:
        gen.seed()  # fresh, non-deterministic
    else:
        gen.manual_seed(_int("seed", seed, 0))
    return gen


@torch.no_grad()
def _generate(g: Generator, z: Tensor, device: torch.device, batch_size: int) -> list[Image.Image]:
    out = []
    for i in range(0, z.shape[0], batch_size):
        out += _to_pil(g(z[i : i + batch_size].to(device)))
    return out


def sample_gan(checkpoint, n: int, *, seed: int | None = None, device=None, batch_size: int = 256) -> list[Image.Image]:
    r"""Draws ``n`` images from the generator of a :func:`train_gan` checkpoint.

    The latent vectors are drawn on the CPU from :math:`\mathcal{N}(0, I)`, so a seed gives the
    same latents on any device, and the first ``k`` of ``n`` are those of ``n=k``; the generator
    runs in eval mode (each image is independent of the others in its batch).

    Args:
        checkpoint: path of a checkpoint written by :func:`train_gan` (or the loaded dict).
        n: number of images (>= 1).
        seed: seed of the latent vectors (``None``: different images each call).
        device: where the generator runs (default: CUDA when available, else the CPU).
        batch_size: images per forward pass.

    Returns:
        ``n`` PIL images of ``image_size`` x ``image_size`` pixels, mode ``"RGB"`` (or ``"L"``
        for a gray model).

    Examples:
        >>> images = sample_gan("runs/digits/checkpoint.pt", 16, seed=0)  # doctest: +SKIP
        >>> images[0].size                                                 # doctest: +SKIP
        (32, 32)
    """
    n = _int("n", n, 1)
    batch_size = _int("batch_size", batch_size, 1)
    gen = _latent_generator(seed)
    device = _device(device)
    state = _read_checkpoint(checkpoint)
    # One row at a time: the first k latents of a seed are the same whatever n is.
    z = torch.stack([torch.randn(state["config"]["nz"], generator=gen) for _ in range(n)])
    return _generate(_generator(state, device), z, device, batch_size)


def slerp(a: Tensor, b: Tensor, t: float | Tensor) -> Tensor:
    r"""Spherical linear interpolation between latent vectors (White, 2016).

    Gaussian latents of high dimension live near a sphere of radius :math:`\sqrt{nz}`; a
    straight line between two of them passes through low-norm points the generator rarely saw
    in training, while the great-circle path keeps a typical norm. Falls back to linear
    interpolation for (nearly) parallel vectors.

    Args:
        a, b: :math:`(..., nz)` tensors.
        t: position in :math:`[0, 1]` (0 gives ``a``, 1 gives ``b``), a float or a tensor
            broadcastable to :math:`(..., 1)`.

    Shape:
        - Input: :math:`(..., nz)` for ``a`` and ``b``.
        - Output: :math:`(..., nz)`.

    Examples:
        >>> a, b = torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0])
        >>> slerp(a, b, 0.5)
        tensor([0.7071, 0.7071])
    """
    t = torch.as_tensor(t, dtype=a.dtype, device=a.device)
    if t.dim() == 0:
        t = t.reshape(1)
    au = a / a.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    bu = b / b.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    omega = torch.arccos((au * bu).sum(-1, keepdim=True).clamp(-1.0, 1.0))
    so = torch.sin(omega)
    near = so.abs() < 1e-6
    safe = torch.where(near, torch.ones_like(so), so)
    sph = torch.sin((1 - t) * omega) / safe * a + torch.sin(t * omega) / safe * b
    return torch.where(near, (1 - t) * a + t * b, sph)


def latent_walk(checkpoint, frames: int, *, seed: int | None = None, points: int = 4, device=None,
                batch_size: int = 256) -> list[Image.Image]:  # fmt: skip
    r"""Frames of a closed walk through the generator's latent space.

    ``points`` random latent vectors are visited in turn along great circles (:func:`slerp`),
    and the walk returns to the first one, so the frames loop seamlessly (e.g. as a GIF with
    :func:`save_animation`). Frame 0 is the first point; frames are evenly spaced in the
    interpolation parameter.

    Args:
        checkpoint: path of a :func:`train_gan` checkpoint (or the loaded dict).
        frames: number of frames (>= 2).
        seed: seed of the latent points (``None``: a different walk each call).
        points: latent points visited (>= 2).
        device, batch_size: as for :func:`sample_gan`.

    Returns:
        ``frames`` PIL images.

    Examples:
        >>> frames = latent_walk("runs/digits/checkpoint.pt", 60, seed=0)  # doctest: +SKIP
        >>> save_animation(frames, "walk.gif", fps=15)                     # doctest: +SKIP
    """
    frames = _int("frames", frames, 2)
    points = _int("points", points, 2)
    batch_size = _int("batch_size", batch_size, 1)
    gen = _latent_generator(seed)
    device = _device(device)
    state = _read_checkpoint(checkpoint)
    keys = torch.randn(points, state["config"]["nz"], generator=gen, dtype=torch.float64)
    pos = torch.arange(frames, dtype=torch.float64) * points / frames
    i = pos.floor().long()
    u = (pos - i)[:, None]
    z = slerp(keys[i], keys[(i + 1) % points], u).float()
    return _generate(_generator(state, device), z, device, batch_size)


def save_animation(frames: Sequence[Image.Image], path, *, fps: float = 15, loop: int = 0) -> Path:
    """Writes frames as an animated GIF or WebP (by extension), atomically.

    Args:
        frames: PIL images of one size (at least 1).
        path: output file, ``.gif`` or ``.webp``; its folder must exist.
        fps: frames per second (> 0).
        loop: times to play (0: forever).

    Returns:
        ``Path(path)``.
    """
    path = _path("path", path)
    if isinstance(frames, Image.Image) or not isinstance(frames, Sequence) or not frames:
        raise ValueError("frames must be a non-empty list of PIL images")
    for i, f in enumerate(frames):
        if not isinstance(f, Image.Image):
            raise TypeError(f"frames[{i}] must be a PIL image, got {type(f).__name__}")
    if len({f.size for f in frames}) > 1:
        raise ValueError(f"frames must all have one size, got {sorted({f.size for f in frames})}")
    fps = _real("fps", fps, lo=0.0)
    loop = _int("loop", loop, 0)
    fmt = {".gif": "GIF", ".webp": "WEBP"}.get(path.suffix.lower())
    if fmt is None:
        raise ValueError(f"path: {path} must end in .gif or .webp, got {path.suffix!r}")
    duration = max(int(round(1000 / fps)), 1)
    first, rest = frames[0], list(frames[1:])
    return atomic_save(
        lambda tmp: first.save(tmp, format=fmt, save_all=True, append_images=rest, duration=duration, loop=loop),
        path,
    )
