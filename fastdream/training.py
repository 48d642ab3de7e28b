"""Shared plumbing of the trainable models (U-Net, DCGAN): devices, torchrun/DDP, checkpoints,
image folders. Pipelines (``cutout.py``, ``gan.py``) build on these; nothing here is model-specific.
"""
from __future__ import annotations

import contextlib
import os
import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist

from fastdream.io import atomic_save

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm")


def resolve_device(device=None) -> torch.device:
    """``device`` or, by default, CUDA when available, else the CPU. Under torchrun each process
    takes the GPU of its LOCAL_RANK (also for a bare ``"cuda"``)."""
    dev = torch.device(device) if device is not None else torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if dev.type == "cuda" and dev.index is None:
        dev = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
    return dev


@dataclass
class Dist:
    """This process's place in a torchrun launch (rank 0 of 1 when not launched that way)."""

    rank: int = 0
    world: int = 1

    @property
    def main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world > 1


def init_distributed(device: torch.device) -> Dist:
    """Joins the process group when started by ``torchrun`` (gloo on CPU, nccl on CUDA)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Dist()
    if not dist.is_initialized():
        if device.type == "cuda":
            torch.cuda.set_device(device)  # nccl builds its communicators on the current device
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return Dist(dist.get_rank(), dist.get_world_size())


@contextlib.contextmanager
def distributed(device: torch.device):
    """:func:`init_distributed` for the length of a training run; a process group this call
    created is destroyed afterwards, one the caller made is left alone."""
    created = int(os.environ.get("WORLD_SIZE", "1")) > 1 and not dist.is_initialized()
    rank = init_distributed(device)
    try:
        yield rank
    finally:
        if created and dist.is_initialized():
            dist.destroy_process_group()


def seed_everything(seed: int) -> torch.Generator:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def save_checkpoint(state: dict, path) -> Path:
    """Writes ``state`` with torch.save to a temporary file and renames it into place, so a run
    stopped mid-write keeps the previous checkpoint intact."""
    return atomic_save(lambda tmp: torch.save(state, tmp), path, suffix=".tmp")


def load_checkpoint(path, map_location="cpu") -> dict:
    """Loads a checkpoint with ``weights_only=True`` (no arbitrary code runs from the file)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint: no such file: {path}")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # pickle errors, truncated files, wrong format
        # Only the error's type: torch's own text spans many lines and suggests weights_only=False,
        # which is exactly what must not be done with a file of unknown origin.
        raise ValueError(
            f"checkpoint: {path} is not a fastdream checkpoint (torch.load(weights_only=True) failed: {type(exc).__name__})"
        ) from None


def list_images(folder, name: str = "images_dir", recursive: bool = True) -> list[Path]:
    """Image files under ``folder`` (by extension), sorted; clear errors for missing folders."""
    folder = Path(folder)
    if not folder.exists():
        raise FileNotFoundError(f"{name}: no such folder: {folder}")
    if not folder.is_dir():
        raise NotADirectoryError(f"{name}: {folder} is not a folder")
    pattern = "**/*" if recursive else "*"
    files = sorted(p for p in folder.glob(pattern) if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)
    return files
