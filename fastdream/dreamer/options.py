"""The settings of :func:`~fastdream.train_dreamer`: their checks, the recipe's defaults (measured:
bench/RESULTS.md, "Dream your own subjects") and the epoch count that depends on the data."""

from __future__ import annotations

import math
import re

from fastdream import _checks, io
from fastdream._checks import shown
from fastdream.dreamer.network import BLOCKS
from fastdream.objectives import check_weight
from fastdream.training import Anything, Int, Listing, OptimizerState, Record, Weights

_BLOCK = re.compile(r"_blocks\.\d+")

#: Without ``epochs``, train for about this many augmented views (at least MIN_EPOCHS, at most
#: MAX_EPOCHS epochs): a small folder gets more passes over its pictures.
DEFAULT_VIEWS = 3000
MIN_EPOCHS, MAX_EPOCHS = 3, 40
#: Settings that shape the network and what it was trained for: resume needs the same.
ARCH_KEYS = ("subjects", "image_size", "tune_from")
#: What resuming reads from a checkpoint, checked before anything is built from it.
RESUME = Record(
    {
        "config": Record(
            {
                "subjects": Listing(Anything()),
                "image_size": Int(1, 1 << 16),
                "tune_from": Int(0, BLOCKS),
                "seed": Int(0, 2**63 - 1),
            }
        ),
        "model": Weights(),
        "optimizer": OptimizerState(),
        "epoch": Int(0, _checks.COUNT_MAX),
    },
    {"history": Listing(Anything()), "metrics": Record({}), "stats": Record({}), "val_files": Listing(Anything())},
)
#: How a dream grows a subject (:func:`fastdream.dream.subjects.subject`): layer -> weight of each
#: term. ``guide``: the subject's feature vectors (its parts); ``texture``: its Gram matrices (its
#: colors and patterns); ``channels``: its most specific channels (``channel_count`` of them);
#: ``logit``: its output. ``exemplars``: feature vectors kept per subject and guide layer.
RECIPE = dict(
    guide={"_blocks.5": 5.0},
    texture={"_blocks.1": 2.0, "_blocks.3": 2.0, "_blocks.5": 2.0},
    channels={},
    channel_count=16,
    logit=0.0,
    exemplars=1024,
)
#: The dream a subject dream starts from (options given explicitly win): a subject needs more
#: steps than a plain dream to grow, and the Laplacian normalization keeps it smooth.
DREAM_SETTINGS = dict(octaves=4, steps=30, step_size=0.02, norm="laplacian")


def default_epochs(n_train: int) -> int:
    """The epoch count for ``n_train`` training pictures when the user gives none.

    Examples:
        >>> default_epochs(100), default_epochs(400), default_epochs(10_000)
        (30, 8, 3)
    """
    return max(MIN_EPOCHS, min(MAX_EPOCHS, math.ceil(DEFAULT_VIEWS / max(n_train, 1))))


def check_arguments(a: dict) -> dict:
    """Every argument of :func:`train_dreamer` checked (before anything is read or written)."""
    c = _checks
    out_path = io.checkpoint_file("out_path", c.path("out_path", a["out_path"]), [a["images_dir"]])
    return dict(
        images_dir=c.path("images_dir", a["images_dir"]),
        out_path=out_path,
        epochs=None if a["epochs"] is None else c.integer("epochs", a["epochs"], 1),
        max_minutes=None if a["max_minutes"] is None else c.real("max_minutes", a["max_minutes"], lo=0.0),
        seed=None if a["seed"] is None else c.integer("seed", a["seed"], 0, 2**63 - 1),
        progress=c.boolean("progress", a["progress"]),
        image_size=c.integer("image_size", a["image_size"], 64, 512),
        batch_size=c.integer("batch_size", a["batch_size"], 1),
        lr=c.real("lr", a["lr"], lo=0.0, cap=c.LR_MAX),
        backbone_lr=c.real("backbone_lr", a["backbone_lr"], lo=0.0, lo_open=False, cap=c.LR_MAX),
        weight_decay=c.real("weight_decay", a["weight_decay"], lo=0.0, lo_open=False),
        tune_from=c.integer("tune_from", a["tune_from"], 0, BLOCKS),
        keep=c.real("keep", a["keep"], lo=0.0, lo_open=False, cap=1e4),
        val_split=c.real("val_split", a["val_split"], lo=0.0, hi=1.0),
        recipe=_recipe(a["recipe"]),
        resume=c.boolean("resume", a["resume"]),
        skip_bad=c.boolean("skip_bad", a["skip_bad"]),
        device=c.device("device", a["device"]),
    )


def _recipe(recipe) -> dict:
    """The dream recipe: :data:`RECIPE` with the keys given replaced, checked."""
    if recipe is None:
        return {k: dict(v) if isinstance(v, dict) else v for k, v in RECIPE.items()}
    if not isinstance(recipe, dict) or set(recipe) - set(RECIPE):
        raise ValueError(f"recipe must be a dict with keys among {sorted(RECIPE)}, got {shown(recipe)}")
    r = {**RECIPE, **recipe}
    for term in ("guide", "texture", "channels"):
        if not isinstance(r[term], dict):
            raise ValueError(f"recipe: {term} must be a dict layer -> weight, got {shown(r[term])}")
        for layer in r[term]:
            if not isinstance(layer, str) or not _BLOCK.fullmatch(layer) or int(layer.split(".")[1]) >= BLOCKS:
                raise ValueError(
                    f"recipe: {term} layers must be block outputs _blocks.0 to _blocks.{BLOCKS - 1}, got {shown(layer)}"
                )
        # plain floats: a numpy number would make the checkpoint one torch.load(weights_only) refuses
        r[term] = {layer: check_weight(f"{term}[{layer!r}]", w, "recipe") for layer, w in r[term].items()}
    r["channel_count"] = _checks.integer("recipe: channel_count", r["channel_count"], 1)
    r["logit"] = check_weight("logit", r["logit"], "recipe")
    r["exemplars"] = _checks.integer("recipe: exemplars", r["exemplars"], 1, 1 << 16)
    if not any(r[t] for t in ("guide", "texture", "channels")) and not r["logit"]:
        raise ValueError("recipe: every weight is 0, so dreams would grow nothing; give one term a weight")
    return r


def stat_layers(recipe: dict) -> list[str]:
    """The layers whose statistics the checkpoint keeps: those the recipe names, shallowest first."""
    names = {*recipe["guide"], *recipe["texture"], *recipe["channels"]}
    return sorted(names, key=lambda n: int(n.split(".")[1]))
