r"""Training the background-removal U-Net: :func:`train_unet` and its :class:`UNetTrainer`."""

from __future__ import annotations

import math
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.utils.data import DataLoader
from torch.utils.data.distributed import DistributedSampler

from fastdream import _checks, io
from fastdream._warnings import warn
from fastdream.cutout import options as O
from fastdream.cutout import pairs as P
from fastdream.cutout.predict import FORMAT, VERSION, read_unet_checkpoint, to_device
from fastdream.models.unet import UNet
from fastdream.training import (
    PRELOAD_BYTES,
    Dist,
    Trainer,
    TrainingError,
    check_architecture,
    check_optimizer,
    distributed,
    load_weights,
    note_changes,
    resumed,
    start_over,
)
from fastdream.training.distributed import launch_lock

#: The learning rate follows a cosine from ``lr`` down to ``lr * MIN_LR_FRACTION``.
MIN_LR_FRACTION = 0.02


class UNetTrainingError(TrainingError):
    """Training diverged (a NaN or infinite loss) and was stopped; the last good checkpoint is kept."""


def loss_terms(logits: Tensor, target: Tensor) -> tuple[Tensor, Tensor]:
    """BCE-with-logits and soft Dice loss (per-image Dice, averaged), in float32."""
    logits, target = logits.float(), target.float()
    bce = F.binary_cross_entropy_with_logits(logits, target)
    p = torch.sigmoid(logits).flatten(1)
    t = target.flatten(1)
    dice = 1 - (2 * (p * t).sum(1) + 1) / (p.sum(1) + t.sum(1) + 1)
    return bce, dice.mean()


def iou_dice(prob: Tensor, target: Tensor) -> tuple[float, float]:
    """IoU and Dice of the foreground, prediction and target both cut at 0.5 (1.0 when both are empty)."""
    p, t = prob >= 0.5, target >= 0.5
    inter = (p & t).sum().item()
    ps, ts = p.sum().item(), t.sum().item()
    union = ps + ts - inter
    return (inter / union if union else 1.0), (2 * inter / (ps + ts) if ps + ts else 1.0)


def cosine_lr(base: float, progress: float) -> float:
    progress = min(max(progress, 0.0), 1.0)
    return base * (MIN_LR_FRACTION + (1 - MIN_LR_FRACTION) * 0.5 * (1 + math.cos(math.pi * progress)))


def build_model(model_args: dict, seed: int) -> UNet:
    with torch.random.fork_rng(devices=[]):  # seeded init without touching the caller's RNG
        torch.manual_seed(_checks.torch_seed(seed))
        if model_args["backbone"] is not None:
            return UNet.from_backbone(model_args["backbone"], pretrained=True)
        return UNet(3, 1, model_args["base_channels"], model_args["depth"])


class UNetTrainer(Trainer):
    """BCE + soft Dice on random crops, Adam on a cosine learning rate, validation on whole
    held-out images at the working size after every epoch."""

    name, error = "train_unet", UNetTrainingError

    def __init__(self, train_pairs, val_pairs, path, c: dict, state, dist: Dist, dev, *, cache, num_workers):
        self.c, self.path, self.dist, self.device = c, path, dist, dev
        self.hint = "Try a lower lr" + (" or amp=False" if c["amp"] else "")
        self.train_ds = P.PairDataset(train_pairs, c["image_size"], c["seed"], P.MAX_ZOOM, cache, c["augment"])
        self.val_ds = P.PairDataset(val_pairs, c["image_size"], c["seed"], 1.0, cache)
        self.val_keys = sorted(k for k, _, _ in val_pairs)
        # DistributedSampler with one replica is a seeded shuffle: one code path, and a data order
        # fixed by (seed, epoch). Without drop_last it pads with repeats so every process runs the
        # same number of steps (DDP needs that); the loader keeps the last, smaller batch.
        self.sampler = DistributedSampler(
            self.train_ds, num_replicas=dist.world, rank=dist.rank, shuffle=True, seed=_checks.torch_seed(c["seed"])
        )
        self.loader = DataLoader(
            self.train_ds,
            batch_size=c["batch_size"],
            sampler=self.sampler,
            num_workers=num_workers,
            pin_memory=dev.type == "cuda",
        )
        model = build_model(c["model_args"], c["seed"])
        # channels_last: faster convolutions on the CPU, and the tensor-core layout on CUDA.
        self.model = model.to(dev, memory_format=torch.channels_last)
        # Two groups: the pretrained encoder (its own learning-rate factor, 0 while frozen) and the rest.
        pretrained = {id(p) for p in model.pretrained_parameters()}
        groups = [
            [p for p in model.parameters() if p.requires_grad and id(p) not in pretrained],
            [p for p in model.parameters() if p.requires_grad and id(p) in pretrained],
        ]
        self.opt = torch.optim.Adam([{"params": g} for g in groups if g], lr=c["lr"])
        self.factors = [1.0, c["encoder_lr"]][: len(self.opt.param_groups)]
        self.scaler = torch.amp.GradScaler(dev.type, enabled=c["amp"])
        self.start, self.history, self.metrics = 0, [], {}
        if state is not None:
            with resumed(path, "out_path"):
                load_weights(model, state["model"], path, "out_path", "model weights")
                self.opt.load_state_dict(state["optimizer"])
                check_optimizer(self.opt, path, "out_path")
                if c["amp"] and state.get("scaler"):
                    self.scaler.load_state_dict(state["scaler"])
                self.start, self.history = int(state["epoch"]), list(state.get("history") or [])
                self.metrics = dict(state.get("metrics") or {})
        self.c = dict(
            {k: v for k, v in c.items() if k != "model_args"}, model=dict(model.config), world_size=dist.world
        )
        self.net = dist.wrap(self.model, dev)
        self.autocast = torch.autocast(dev.type, dtype=torch.float16, enabled=c["amp"])

    def batches(self, epoch):
        self.sampler.set_epoch(epoch)
        self.train_ds.epoch = epoch
        self.frozen = epoch < self.c["freeze_epochs"]
        self.net.train()
        return self.loader

    def step(self, batch, progress):
        self.lr = cosine_lr(self.c["lr"], progress)
        for i, (g, factor) in enumerate(zip(self.opt.param_groups, self.factors)):
            g["lr"] = self.lr * (0.0 if self.frozen and i == 1 else factor)
        x, y = to_device(batch[0], self.device), to_device(batch[1], self.device)
        self.opt.zero_grad(set_to_none=True)
        with self.autocast:
            logits = self.net(x)
        bce, dice = loss_terms(logits, y)
        loss = bce + dice
        self.scaler.scale(loss).backward()
        self.scaler.step(self.opt)
        self.scaler.update()
        return loss.detach().reshape(1)

    def postfix(self, values):
        shown = dict(loss=f"{values['loss']:.4f}")
        if "val_iou" in self.metrics:  # from the first validation on (nan before it read as broken)
            shown["val_iou"] = f"{self.metrics['val_iou']:.4f}"
        return shown

    def end_epoch(self, epoch, means):
        self.metrics = dict(loss=means["loss"], **self.validate())
        return dict(lr=self.lr, **self.metrics)

    @torch.no_grad()
    def validate(self) -> dict:
        """Mean val loss, IoU and Dice over the held-out images, each whole at the working size;
        the processes take every world-th image and the sums are combined."""
        model, dist = self.model, self.dist
        model.eval()
        if dist.enabled:  # every process validates with rank 0's BatchNorm statistics, the saved ones
            for b in model.buffers():
                dist.broadcast(b)
        sums = torch.zeros(4, dtype=torch.float64)
        for i in range(dist.rank, len(self.val_ds), dist.world):
            img, mask = self.val_ds.whole(i)
            x = to_device(io.from_uint8(img[None]), self.device)
            y = io.from_uint8(mask[None]).to(self.device)
            with self.autocast:
                logits = model(x)
            bce, dice = loss_terms(logits, y)
            iou, dsc = iou_dice(torch.sigmoid(logits.float()), y)
            sums += torch.tensor([(bce + dice).item(), iou, dsc, 1.0], dtype=torch.float64)
        dist.sum(sums)
        n = max(sums[3].item(), 1.0)
        return dict(val_loss=sums[0].item() / n, val_iou=sums[1].item() / n, val_dice=sums[2].item() / n)

    def state(self, epochs_done):
        return {
            "format": FORMAT,
            "version": VERSION,
            "epoch": epochs_done,
            "config": self.c,
            "model": self.model.state_dict(),
            "optimizer": self.opt.state_dict(),
            "scaler": self.scaler.state_dict(),
            "metrics": self.metrics,
            "history": self.history,
            "val_keys": self.val_keys,
        }

    def summary(self):
        c, m = self.c, self.metrics
        done = self.history[-1]["epoch"] if self.history else self.start
        skipped = ""
        if c["skipped_unpaired"] or c["skipped_bad"]:
            skipped = f"; skipped {c['skipped_unpaired']} unpaired file(s), {c['skipped_bad']} bad pair(s)"
        return (
            f"train_unet: {c['pairs']} pairs ({c['train']} train, {c['val']} val){skipped}; epoch {done}/{c['epochs']}: "
            f"loss {m.get('loss', float('nan')):.4f}, val IoU {m.get('val_iou', float('nan')):.4f}, "
            f"val Dice {m.get('val_dice', float('nan')):.4f}; checkpoint {self.path}"
        )


def _held_out(good, val_keys: set[str], cache: dict | None, a: dict, launch: Dist) -> set[str]:
    """The held-out pairs among those that decoded: when every one drawn failed to (skip_bad),
    others are held out, decoded again whole as validation sees them (training pairs are kept
    larger, for zooms)."""
    if len(good) < 2 or any(k in val_keys for k, _, _ in good):
        return val_keys
    val_keys = O.split([k for k, _, _ in good], None, a, launch)
    if cache is not None:
        cache.update({k: P.load_pair(ip, mp, a["image_size"]) for k, ip, mp in good if k in val_keys})
    return val_keys


def train_unet(
    images_dir,
    masks_dir,
    out_path,
    *,
    epochs: int | None = None,
    batch_size: int = 8,
    image_size: int = 160,
    lr: float = 1e-3,
    val_split: float = 0.1,
    device=None,
    amp: bool = False,
    resume: bool = True,
    seed: int = 0,
    progress: bool = True,
    base_channels: int = 32,
    depth: int = 4,
    backbone: str | None = "efficientnet_lite0",
    encoder_lr: float = 0.1,
    freeze_epochs: int = 0,
    augment: bool = True,
    max_minutes: float | None = None,
    num_workers: int = 0,
    skip_bad: bool = False,
) -> Path:
    r"""Trains a U-Net to predict foreground masks; returns the checkpoint's path.

    **Data.** Images (``.png .jpg .jpeg .bmp .gif .tif .tiff .webp .ppm .pgm``, in
    ``images_dir`` and its subfolders) pair with the mask of the same relative path and name
    without extension in ``masks_dir`` (``images/a/cat.jpg`` with ``masks/a/cat.png``). Files
    without a partner are skipped with a warning that names them. Masks are made binary by the rule
    in :mod:`fastdream.cutout.masks` and must have their image's size (after EXIF orientation). Every
    pair is checked before training starts: an unreadable file or a size mismatch is a
    ``ValueError`` naming the files, or, with ``skip_bad=True``, a warning and a skipped pair.
    Skipped files are counted in the summary and the checkpoint.

    **Split.** A seeded random ``val_split`` of the pairs (at least one, and at least one left for
    training) is held out; its Dice and IoU are measured after every epoch, each image whole at the
    working size (see :mod:`fastdream.cutout`), prediction and mask cut at 0.5, averaged over images.

    **Training.** Each step takes ``batch_size`` random square crops of ``image_size`` pixels,
    flipped left-right half the time, zoomed in by up to 1.5x where the image has the pixels
    for it (a crop is only ever shrunk to ``image_size``, never enlarged: enlarging blurs, and
    the model would learn blur as a cue it does not have at inference); with ``augment``, also
    turned by a small random angle and jittered in brightness, contrast, saturation and hue (the
    image only; see :mod:`fastdream.cutout.pairs`). Loss: BCE with logits + soft Dice. Adam,
    learning rate on a cosine from ``lr`` to ``lr/50`` over ``epochs`` (over the epochs that fit
    ``max_minutes`` when that is shorter); the pretrained encoder learns at ``encoder_lr`` times
    that rate, after ``freeze_epochs`` epochs without learning. bench/RESULTS.md ("Background
    removal on small datasets") has what each of these defaults measured on held-out data. After every epoch
    the checkpoint (model config, weights, optimizer state, epoch, metrics, history) is written to
    ``out_path`` atomically, so a stopped run resumes from the last finished epoch.

    **Distributed.** Started by ``torchrun --nproc_per_node N``, each process trains on its share
    of every epoch (DistributedSampler) with DistributedDataParallel (nccl on CUDA, each process on
    its ``LOCAL_RANK`` GPU; gloo on the CPU); ``batch_size`` is per process. Validation is split
    between the processes and the sums combined; only rank 0 writes.

    Args:
        images_dir: folder of training images.
        masks_dir: folder of masks (not the same folder).
        out_path: checkpoint file to write (its folder is created if missing).
        epochs: total epochs; a resumed run continues up to this count. None: chosen from the
            number of training pairs (about 9000 crops, 10 to 100 epochs:
            :func:`~fastdream.cutout.options.default_epochs`; 30 for 300 pairs).
        batch_size: crops per step and process (>= 1).
        image_size: training resolution (crop side, and short side of the working size): at
            least ``2**(depth+1)`` (and 64 for a backbone) so the deepest level is not 1x1.
        lr: Adam's learning rate at the start of the cosine.
        val_split: fraction of the pairs held out for validation, strictly between 0 and 1.
        device: where to train (default: CUDA when available, else the CPU).
        amp: float16 autocast with gradient scaling, on CUDA only. On another device it is ignored
            with a warning and training runs in float32 (the same command then works everywhere;
            CPU autocast brings these convolutions no speed).
        resume: continue from ``out_path`` when it exists (it must have the same
            ``base_channels``, ``depth``, ``backbone`` and ``image_size``); ``False`` starts over
            and replaces it.
        seed: seeds the initial weights, the split, the data order and the crops.
        progress: show a progress bar (loss, last val IoU) and a summary on stderr (rank 0 only).
        base_channels, depth: width and levels of the plain U-Net (ignored with a ``backbone``).
        backbone: ``"efficientnet_lite0"`` (default: the ImageNet-pretrained encoder, which small
            datasets need; see :meth:`UNet.from_backbone`) or ``None`` (a plain U-Net, trained
            from scratch: for thousands of images, or subjects far from photos).
        encoder_lr: the pretrained encoder's learning rate as a fraction of ``lr``.
        freeze_epochs: epochs at the start in which the pretrained encoder does not learn.
        augment: rotation and color jitter on top of the flips and scale crops.
        max_minutes: wall-time budget since the call: before each epoch, training stops when the
            epoch would end past the budget (predicted from the mean epoch time so far; the first
            epoch always runs), and from the second epoch on the learning-rate cosine is fitted
            to the epochs that fit.
            ``None``: no budget (and a schedule that depends on the epoch count only).
        num_workers: DataLoader worker processes (0 loads in the training process).
        skip_bad: skip unreadable pairs and size mismatches with a warning instead of raising.

    Returns:
        ``Path(out_path)`` (on every rank).

    Raises:
        TypeError, ValueError: a bad argument, empty folders, no pairs, fewer than 2 pairs, an
            unreadable image or mask, a size mismatch, or a checkpoint at ``out_path`` made with
            other network settings; all checked before anything is written.
        FileNotFoundError, NotADirectoryError: a missing folder.
        UNetTrainingError: the loss became NaN or infinite (the last good checkpoint is kept).

    Examples:
        >>> from fastdream.data import make_cutout_dataset                             # doctest: +SKIP
        >>> images, masks = make_cutout_dataset("synthetic", 500, size=128)             # doctest: +SKIP
        >>> ckpt = train_unet(images, masks, "unet.pt", image_size=128, epochs=10)      # doctest: +SKIP
    """
    t_start = time.monotonic()
    a = O.check_arguments(locals())
    with launch_lock(a["out_path"], "out_path"):  # one training at a time per checkpoint
        if not a["resume"]:  # only a U-Net's checkpoint is replaced, never a file given by mistake
            start_over(a["out_path"], FORMAT, "out_path")
        launch = Dist.from_env()
        found, lone_i, lone_m = P.find_pairs(a["images_dir"], a["masks_dir"])
        if (lone_i or lone_m) and launch.main:
            parts = []
            if lone_i:
                parts.append(f"{len(lone_i)} image(s) without a mask ({P.names(lone_i)})")
            if lone_m:
                parts.append(f"{len(lone_m)} mask(s) without an image ({P.names(lone_m)})")
            warn(f"train_unet: skipping {' and '.join(parts)}")
        reject = P.Rejects(a["skip_bad"])
        good, sizes = P.checked(found, reject)
        if len(good) < 2:
            O.too_few(good, a)
        state = None
        if a["resume"] and a["out_path"].is_file():
            state = read_unet_checkpoint(a["out_path"], "out_path", O.RESUME)
            check_architecture(O.arch(state["config"]), {k: a[k] for k in O.ARCH_KEYS}, a["out_path"], "out_path")
        val_keys = O.split([k for k, _, _ in good], state, a, launch)
        if a["epochs"] is None:
            a["epochs"] = O.default_epochs(len(good) - len(val_keys))
        zoom_of = lambda k: 1.0 if k in val_keys else P.MAX_ZOOM  # validation images are seen whole
        show = a["progress"] and launch.main
        cache, good = P.decoded(good, sizes, a["image_size"], zoom_of, reject, PRELOAD_BYTES, show=show)
        if reject.bad and launch.main:
            warn(f"train_unet: skipping {len(reject.bad)} bad pair(s): " + "; ".join(reject.bad[:5]))
        val_keys = _held_out(good, val_keys, cache, a, launch)
        train_pairs = [p for p in good if p[0] not in val_keys]
        val_pairs = [p for p in good if p[0] in val_keys]
        if not train_pairs or not val_pairs:
            O.too_few(good, a)
        dev = a["device"]
        if a["amp"] and dev.type != "cuda":
            if launch.main:
                warn(f"train_unet: amp=True needs CUDA; training on {dev} in float32")
            a["amp"] = False
        config = _config(a, len(good), len(train_pairs), len(val_pairs), len(lone_i) + len(lone_m), len(reject.bad))
        if state is not None and launch.main and state["epoch"] < a["epochs"]:  # said, as the other trainers do
            keys = ("lr", "batch_size", "augment", "encoder_lr", "freeze_epochs", "pairs", "seed")
            note_changes(state["config"], {k: config[k] for k in keys}, a["out_path"], "train_unet")
        dist = distributed(dev)
        trainer = UNetTrainer(
            train_pairs, val_pairs, a["out_path"], config, state, dist, dev, cache=cache, num_workers=a["num_workers"]
        )
        return trainer.fit(
            a["epochs"], len(trainer.loader), max_minutes=a["max_minutes"], t_start=t_start, progress=a["progress"]
        )


def _config(a: dict, pairs: int, train: int, val: int, unpaired: int, bad: int) -> dict:
    """What the checkpoint keeps of a run: its settings and the counts of the data it saw."""
    settings = ("image_size", "epochs", "batch_size", "lr", "val_split", "seed", "amp")
    model_args = dict(base_channels=a["base_channels"], depth=a["depth"], backbone=a["backbone"])
    return dict(
        {k: a[k] for k in settings},
        pairs=pairs,
        train=train,
        val=val,
        skipped_unpaired=unpaired,
        skipped_bad=bad,
        model_args=model_args,
        augment=a["augment"],
        encoder_lr=a["encoder_lr"],
        freeze_epochs=a["freeze_epochs"],
    )
