"""The settings of a style transfer, checked once: :class:`StyleOptions`."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from torch import nn

from fastdream import _checks
from fastdream._checks import shown
from fastdream.models.efficientnet_lite import EfficientNetLite0

#: Layers of the default backbone (EfficientNet-Lite0): style from its first four stages, content
#: from the last block at stride 16 that still keeps the shapes of the photo.
STYLE_LAYERS = EfficientNetLite0.style_layers
CONTENT_LAYERS = EfficientNetLite0.content_layers
INITS = ("content", "noise")
#: Upper bounds of the numbers (issue 24): sizes within the sides of the largest image fastdream
#: opens, weights far from float32's overflow, octaves and steps that end.
MAX = {
    "size": 1 << 16,
    "octaves": 64,
    "octave_scale": 16.0,
    "steps": 100_000,
    "lr": _checks.LR_MAX,
    "style_scale": 16.0,
}
MAX["weight"] = 1e9
#: The largest of the three loss weights must reach this: below it, Adam's steps vanish (its eps).
MIN_WEIGHT = 1e-4


@dataclass(frozen=True)
class StyleOptions:
    """Everything that decides a style transfer's pixels besides the images (see
    :func:`fastdream.style_transfer` for each field). :meth:`create` checks them."""

    style_weights: Any = None
    content_weight: float = 1.0
    style_weight: float = 3.0
    tv_weight: float = 4.0
    size: int | None = None
    octaves: int | None = None
    octave_scale: float = 1.6
    steps: int = 100
    lr: float = 0.02
    tile_size: int | None = 512
    init: str = "content"
    style_scale: float = 1.0
    preserve_colors: bool = False
    color_match: bool = False
    model: nn.Module | None = None
    content_layers: Any = None
    style_layers: Any = None
    seed: int | None = None
    device: Any = None

    @classmethod
    def create(cls, n_styles: int, **kw) -> StyleOptions:
        """Options from keyword arguments (an unknown name is a ``TypeError`` listing the known), checked."""
        names = [f.name for f in dataclasses.fields(cls)]
        unknown = [k for k in kw if k not in names]
        if unknown:
            raise TypeError(f"unknown option(s) {unknown}; style options are: {', '.join(names)}")
        return cls(**kw).checked(n_styles)

    def checked(self, n_styles: int) -> StyleOptions:
        c = _checks
        if self.model is not None and not isinstance(self.model, nn.Module):
            raise TypeError(f"model must be a torch.nn.Module, got {type(self.model).__name__}")
        content, style = self.content_layers, self.style_layers
        if self.model is not None:  # fastdream's named models carry their defaults
            content = getattr(self.model, "content_layers", None) if content is None else content
            style = getattr(self.model, "style_layers", None) if style is None else style
            if content is None or style is None:
                raise ValueError(
                    "content_layers and style_layers: a custom model needs both (names from named_modules())"
                )
        c.choice("init", self.init, INITS)
        if self.device is not None:
            c.parse_device("device", self.device)
        preserve, match = c.boolean("preserve_colors", self.preserve_colors), c.boolean("color_match", self.color_match)
        if preserve and match:
            raise ValueError("preserve_colors and color_match are alternatives: pass one of them")
        weights = [_weight(n, getattr(self, n)) for n in ("content_weight", "style_weight", "tv_weight")]
        if not any(weights):  # no loss at all: the picture would come back as it went in
            raise ValueError("content_weight, style_weight and tv_weight are all 0, so there is nothing to paint")
        if max(weights) < MIN_WEIGHT:  # (1e-10, 3e-10, 4e-10 gave the photo back, said to be painted)
            raise ValueError(
                f"content_weight, style_weight and tv_weight are all under {MIN_WEIGHT:g}: only their ratios "
                "matter, and gradients this small vanish in the optimizer's; multiply them all by the same number"
            )
        return dataclasses.replace(
            self,
            style_weights=_style_weights(self.style_weights, n_styles),
            content_weight=_weight("content_weight", self.content_weight),
            style_weight=_weight("style_weight", self.style_weight),
            tv_weight=_weight("tv_weight", self.tv_weight),
            size=None if self.size is None else c.integer("size", self.size, 1, cap=MAX["size"]),
            octaves=None if self.octaves is None else c.integer("octaves", self.octaves, 1, cap=MAX["octaves"]),
            octave_scale=c.real("octave_scale", self.octave_scale, lo=1.0, cap=MAX["octave_scale"]),
            steps=c.integer("steps", self.steps, 1, cap=MAX["steps"]),
            lr=c.real("lr", self.lr, lo=0.0, cap=MAX["lr"]),
            tile_size=None if self.tile_size is None else c.tile_size(self.tile_size, MAX["size"]),
            style_scale=c.real("style_scale", self.style_scale, lo=0.0, cap=MAX["style_scale"]),
            preserve_colors=preserve,
            color_match=match,
            content_layers=_names("content_layers", content, CONTENT_LAYERS),
            style_layers=_names("style_layers", style, STYLE_LAYERS),
            seed=None if self.seed is None else c.seed("seed", self.seed),
        )


def _weight(name: str, w) -> float:
    return _checks.real(name, w, lo=0.0, lo_open=False, cap=MAX["weight"])


def _style_weights(w, n: int) -> tuple[float, ...]:
    if w is None:
        return (1.0,) * n
    if not isinstance(w, (list, tuple)):
        raise TypeError(f"style_weights must be a list of numbers, one per style, got {shown(w)}")
    if len(w) != n:
        raise ValueError(f"style_weights has {len(w)} weight(s) for {n} style image(s); give one per style")
    ws = tuple(_weight(f"style_weights[{i}]", v) for i, v in enumerate(w))
    if sum(ws) <= 0:
        raise ValueError("style_weights must not all be 0")
    return ws


def _names(name: str, v, default) -> tuple[str, ...]:
    if v is None:
        return tuple(default)
    if isinstance(v, str):
        v = [v]
    if not isinstance(v, (list, tuple)) or not all(isinstance(s, str) for s in v):
        raise TypeError(f"{name} must be a layer name or a non-empty list of names, got {shown(v)}")
    if not v:
        raise ValueError(f"{name} must name at least one layer, got an empty list")
    twice = next((s for i, s in enumerate(v) if s in v[:i]), None)
    if twice is not None:  # (it was merged without a word: a user weighting a layer more got nothing)
        raise ValueError(f"{name}: {twice!r} is given twice; each layer counts once")
    return tuple(v)
