"""The settings of :func:`~fastdream.train_unet`: their checks, the defaults that depend on the
data, the held-out split."""

from __future__ import annotations

import math

import numpy as np

from fastdream import _checks, io
from fastdream._checks import shown
from fastdream._warnings import warn
from fastdream.cutout.predict import CONFIG
from fastdream.models.unet import BACKBONES, UNet
from fastdream.training import Anything, Dist, Int, Listing, OptimizerState, Record, Weights, model_fits, note_kept

# Settings that define the network (and the resolution it works at): resume needs the same.
ARCH_KEYS = ("backbone", "image_size", "base_channels", "depth")  # the backbone first: it decides the others
#: What resuming reads from a checkpoint, checked before anything is built from it.
RESUME = Record(
    {"config": CONFIG, "model": Weights(), "optimizer": OptimizerState(), "epoch": Int(0, _checks.COUNT_MAX)},
    {"history": Listing(Anything()), "metrics": Anything(), "val_keys": Listing(Anything())},
)
#: Without ``epochs``, train for about this many crops (at least MIN_EPOCHS, at most MAX_EPOCHS
#: epochs): small folders get more passes (bench/RESULTS.md, "Background removal").
DEFAULT_CROPS = 9000
MIN_EPOCHS, MAX_EPOCHS = 10, 100


def default_epochs(n_train: int) -> int:
    """The epoch count for ``n_train`` training pairs when the user gives none.

    Examples:
        >>> default_epochs(300), default_epochs(5000)
        (30, 10)
    """
    return max(MIN_EPOCHS, min(MAX_EPOCHS, math.ceil(DEFAULT_CROPS / max(n_train, 1))))


def check_arguments(a: dict) -> dict:
    """Every argument of :func:`train_unet` checked (before anything is read or written)."""
    out_path = _checks.path("out_path", a["out_path"])
    backbone = a["backbone"]
    if backbone is not None and backbone not in BACKBONES:
        raise ValueError(f"backbone must be None (plain U-Net) or one of {BACKBONES}, got {shown(backbone)}")
    c = dict(
        images_dir=_checks.path("images_dir", a["images_dir"]),
        masks_dir=_checks.path("masks_dir", a["masks_dir"]),
        out_path=out_path,
        epochs=None if a["epochs"] is None else _checks.integer("epochs", a["epochs"], 1, cap=_checks.COUNT_MAX),
        batch_size=_checks.integer("batch_size", a["batch_size"], 1, cap=_checks.COUNT_MAX),
        backbone=backbone,
    )
    if backbone is None:
        c["base_channels"] = _checks.integer("base_channels", a["base_channels"], 1, cap=_checks.COUNT_MAX)
        c["depth"] = _checks.integer("depth", a["depth"], 1, 8)
        min_size = max(16, 2 ** (c["depth"] + 1))
    else:
        c["base_channels"], c["depth"], min_size = None, None, 64
    c["image_size"] = _checks.integer("image_size", a["image_size"], 1, cap=1 << 16)
    if c["image_size"] < min_size:
        what = f"depth={c['depth']}" if backbone is None else f"backbone={backbone!r}"
        raise ValueError(
            f"image_size must be >= {min_size} with {what} (the deepest level needs 2x2 pixels), got {c['image_size']}"
        )
    c.update(
        lr=_checks.real("lr", a["lr"], lo=0.0, cap=_checks.LR_MAX),
        val_split=_checks.real("val_split", a["val_split"], lo=0.0, hi=1.0),
        amp=_checks.boolean("amp", a["amp"]),
        resume=_checks.boolean("resume", a["resume"]),
        progress=_checks.boolean("progress", a["progress"]),
        skip_bad=_checks.boolean("skip_bad", a["skip_bad"]),
        seed=_checks.seed("seed", a["seed"]),
        num_workers=_checks.integer("num_workers", a["num_workers"], 0, cap=1024),
        augment=_checks.boolean("augment", a["augment"]),
        encoder_lr=_checks.real("encoder_lr", a["encoder_lr"], lo=0.0, lo_open=False, cap=_checks.LR_MAX),
        freeze_epochs=_checks.integer("freeze_epochs", a["freeze_epochs"], 0, cap=_checks.COUNT_MAX),
        max_minutes=None if a["max_minutes"] is None else _checks.real("max_minutes", a["max_minutes"], lo=0.0),
        device=_checks.device("device", a["device"]),
    )
    if backbone is None and c["freeze_epochs"]:  # (it trained the plain U-Net without a word)
        raise ValueError("freeze_epochs is for a pretrained encoder (backbone=...); the plain U-Net has none")
    _fits(c)
    io.checkpoint_file("out_path", out_path, [c["images_dir"], c["masks_dir"]])
    return c


def _fits(c: dict) -> None:
    """The network with its gradients and Adam's moments, and a batch of crops through it (at the
    least one full-size feature map of ``base_channels`` and its gradient), fit in memory."""
    if c["backbone"] is None:
        width, depth = c["base_channels"], c["depth"]
        model_fits(f"base_channels={width}, depth={depth}", lambda: UNet(base_channels=width, depth=depth), copies=4)
        per_pixel = width * 4 * 2
    else:
        per_pixel = 32 * 4 * 2
    _checks.fits(
        f"batch_size={c['batch_size']} crops of image_size={c['image_size']}",
        c["batch_size"] * c["image_size"] ** 2 * per_pixel,
    )


def arch(config: dict) -> dict:
    m = config["model"]
    return dict(
        base_channels=m["base_channels"] if m.get("encoder") is None else None,
        depth=m["depth"] if m.get("encoder") is None else None,
        backbone=m.get("encoder"),
        image_size=config["image_size"],
    )


def split(keys: list[str], state, a: dict, launch: Dist) -> set[str]:
    """The held-out pairs: the checkpoint's when resuming (validation stays on unseen images),
    else a seeded random ``val_split`` of them (at least one, and at least one left to train on)."""
    if state is not None and state.get("val_keys"):
        stored = list(state["val_keys"])
        if set(stored) <= set(keys) and len(stored) < len(keys):
            if launch.main:  # the split kept: its fraction too (another val_split was ignored, silently)
                note_kept(state["config"], {"val_split": a["val_split"]}, a["out_path"], "train_unet")
            a["val_split"] = state["config"].get("val_split", a["val_split"])
            return set(stored)
        if launch.main:
            warn("train_unet: the data changed since the checkpoint; drawing a new validation split")
    n_val = min(max(1, round(len(keys) * a["val_split"])), len(keys) - 1)
    perm = np.random.default_rng(a["seed"]).permutation(len(keys))
    return {keys[i] for i in perm[:n_val]}


def too_few(good, a):
    raise ValueError(
        f"images_dir: train_unet needs at least 2 image/mask pairs (one for training, one for validation); found {len(good)} "
        f"usable in {a['images_dir']} and {a['masks_dir']}"
    )
