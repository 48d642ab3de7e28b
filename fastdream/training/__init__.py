"""The shared trainer: torchrun/DDP, checkpoints, image folders and the epoch loop.

A trainer (``fastdream.gan``, ``fastdream.cutout``, ``fastdream.vae``) is its models plus a
:class:`Trainer` subclass with a ``step()``; everything else is here and behaves the same for all.
"""

from fastdream.training.checkpoint import (
    FORMATS,
    check_architecture,
    epoch_pictures,
    load_checkpoint,
    note_changes,
    read_checkpoint,
    save_checkpoint,
    start_over,
)
from fastdream.training.distributed import Dist, distributed, unwrap
from fastdream.training.folders import (
    IMAGE_EXTENSIONS,
    PRELOAD_BYTES,
    ImageFolder,
    all_gray,
    header_size,
    is_gray,
    list_images,
    load_square,
    no_images,
    readable,
)
from fastdream.training.loop import Trainer, TrainingError
from fastdream.training.schema import (
    Anything,
    Choice,
    Int,
    Listing,
    Maybe,
    OptimizerState,
    Real,
    Record,
    Tensor,
    Weights,
    check_optimizer,
    load_weights,
    model_fits,
    resumed,
)

__all__ = [
    "FORMATS",
    "Anything",
    "Choice",
    "Int",
    "Listing",
    "Maybe",
    "OptimizerState",
    "Real",
    "Record",
    "Tensor",
    "Weights",
    "load_weights",
    "model_fits",
    "IMAGE_EXTENSIONS",
    "PRELOAD_BYTES",
    "Dist",
    "ImageFolder",
    "Trainer",
    "TrainingError",
    "all_gray",
    "check_architecture",
    "note_changes",
    "check_optimizer",
    "distributed",
    "header_size",
    "is_gray",
    "list_images",
    "readable",
    "load_checkpoint",
    "epoch_pictures",
    "start_over",
    "load_square",
    "no_images",
    "read_checkpoint",
    "resumed",
    "save_checkpoint",
    "unwrap",
]
