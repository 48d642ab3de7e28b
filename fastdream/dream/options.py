"""The dream's settings, checked once: :class:`DreamOptions`, shared by ``dream`` and the videos."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from fastdream import _checks

OBJECTIVES = ("l2", "mean")
NORMS = ("std", "mean_abs")


@dataclass(frozen=True)
class DreamOptions:
    """Everything that decides a dream's pixels besides the image, checked on creation.

    Fields are the keyword arguments of :func:`fastdream.dream` (see there); :meth:`create` fills in
    the defaults and checks each value, naming the parameter in the error.

    Examples:
        >>> o = DreamOptions.create(octaves=2, steps=5)
        >>> o.octaves, o.steps, o.layers
        (2, 5, None)
        >>> DreamOptions.create(steps=0)
        Traceback (most recent call last):
        ...
        ValueError: steps must be >= 1, got 0
    """

    layers: Any = None
    model: nn.Module | None = None
    octaves: int = 4
    octave_scale: float = 1.4
    steps: int = 10
    step_size: float = 0.01
    jitter: int = 32
    tile_size: int | None = 512
    objective: Any = "l2"
    norm: str = "std"
    mask: Any = None
    seed: int | None = None
    device: Any = None
    tile_batch: int | None = None

    @classmethod
    def names(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls)]

    @classmethod
    def create(cls, **kw) -> DreamOptions:
        """Options from keyword arguments (unknown names are a ``TypeError``), checked."""
        unknown = [k for k in kw if k not in cls.names()]
        if unknown:
            raise TypeError(f"unknown option(s) {unknown}; dream options are: {', '.join(cls.names())}")
        return cls(**kw).checked()

    def checked(self) -> DreamOptions:
        c = _checks
        model = self.model
        if model is not None and not isinstance(model, nn.Module):
            raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
        if model is not None and self.layers is None:
            raise ValueError("layers: a custom model needs layers= (names from model.named_modules())")
        if self.objective not in OBJECTIVES:
            raise ValueError(f"objective must be 'l2' or 'mean', got {self.objective!r}")
        if self.norm not in NORMS:
            raise ValueError(f"norm must be 'std' or 'mean_abs', got {self.norm!r}")
        if self.device is not None:
            c.parse_device("device", self.device)
        return dataclasses.replace(
            self,
            layers=_layers(self.layers),
            octaves=c.integer("octaves", self.octaves, 1),
            octave_scale=c.real("octave_scale", self.octave_scale, lo=1.0),
            steps=c.integer("steps", self.steps, 1),
            step_size=c.real("step_size", self.step_size, lo=0.0),
            jitter=c.integer("jitter", self.jitter, 0),
            tile_size=None if self.tile_size is None else c.integer("tile_size", self.tile_size, 32),
            tile_batch=None if self.tile_batch is None else c.integer("tile_batch", self.tile_batch, 1),
            seed=None if self.seed is None else c.integer("seed", self.seed, 0),
        )

    def replace(self, **kw) -> DreamOptions:
        return dataclasses.replace(self, **kw).checked()

    def resolve_device(self, image=None) -> torch.device:
        """Where the dream runs: ``device``, else the model's, else a tensor image's, else CUDA
        when available, else the CPU."""
        return _checks.device("device", self.device, model=self.model, tensor=image)


def _layers(layers):
    """``None``, or the layer names as a tuple (a single name is one layer)."""
    if layers is None:
        return None
    if isinstance(layers, str):
        return (layers,)
    if isinstance(layers, (list, tuple)) and all(isinstance(n, str) for n in layers):
        return tuple(layers)
    raise TypeError(f"layers must be a layer name or a list of names, got {layers!r}")
