"""The dream's settings, checked once: :class:`DreamOptions`, shared by ``dream`` and the videos;
a preset (:mod:`fastdream.dream.presets`) resolved under the options given explicitly."""

from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import torch
from torch import nn

from fastdream import _checks, io
from fastdream._checks import shown
from fastdream.dream import presets
from fastdream.dream.subjects import parse_subjects
from fastdream.models.taps import aliases, resolve_layer
from fastdream.objectives import LayerSpec, Objective, parse_layers

OBJECTIVES = ("l2", "mean")
NORMS = ("std", "mean_abs", "laplacian")
#: ``octaves="auto"``: as many octaves as bring the smallest to about this many pixels on its long
#: side, so the dream's patterns keep their size relative to the picture at any resolution.
AUTO_OCTAVE_SIDE = 256
#: Upper bounds of the numbers (issue 24): past them an octave is under a pixel, a step or blur
#: saturates every pixel, a jitter or tile exceeds any image fastdream opens, or a run takes days.
MAX = {"octaves": 64, "octave_scale": 16.0, "steps": 10_000, "step_size": 10.0, "jitter": 1 << 16}
MAX.update(tile_size=1 << 16, smooth=1000.0)


@dataclass(frozen=True)
class DreamOptions:
    """Everything that decides a dream's pixels besides the image, checked on creation.

    Fields are the keyword arguments of :func:`fastdream.dream` (see there); :meth:`create` fills in
    the defaults (under ``preset``'s settings, if one is named) and checks each value, naming the
    parameter in the error. After the checks, ``layers`` is a tuple of
    :class:`~fastdream.objectives.LayerSpec` (or None for the default model's layers), ``model``
    an ``nn.Module`` (a name of :func:`fastdream.models.names` is loaded) or None, and ``guide``
    an RGB tensor (1, 3, h, w) in [0, 1] (or None).

    Examples:
        >>> o = DreamOptions.create(octaves=2, steps=5, layers=["_blocks.10:37=2"])
        >>> o.octaves, o.steps, [str(s) for s in o.layers]
        (2, 5, ['_blocks.10:37=2'])
        >>> o = DreamOptions.create(preset="deep", steps=3)  # explicit options win over the preset's
        >>> o.steps, [s.layer for s in o.layers], o.preset
        (3, ['_blocks.10', '_blocks.12'], 'deep')
        >>> DreamOptions.create(steps=0)
        Traceback (most recent call last):
        ...
        ValueError: steps must be >= 1, got 0
    """

    layers: Any = None
    model: nn.Module | None = None
    octaves: int | str = "auto"
    octave_scale: float = 1.4
    steps: int = 10
    step_size: float = 0.02
    jitter: int = 32
    tile_size: int | None = 512
    objective: Any = "l2"
    norm: str = "std"
    lap_levels: int = 4
    smooth: float | None = None
    guide: Any = None
    preserve_colors: bool = False
    color_match: bool = False
    mask: Any = None
    seed: int | None = None
    device: Any = None
    tile_batch: int | None = None
    low_memory: bool | None = None
    preset: str | None = None
    subject: Any = None

    @classmethod
    def names(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls)]

    @classmethod
    def defaults(cls) -> dict[str, Any]:
        """Each option's default (what the shell's ``--help`` shows)."""
        return {f.name: f.default for f in dataclasses.fields(cls)}

    @classmethod
    def create(cls, **kw) -> DreamOptions:
        """Options from keyword arguments (unknown names are a ``TypeError``), checked.

        An argument whose value is a :class:`Default` (the marked defaults of :func:`fastdream.dream`'s
        signature), or None for an option whose default is None, counts as not given: the
        ``preset``'s setting applies, else, in a dream of a dreamer's ``subject``, the dreamer's
        ``dream_settings``, else the default."""
        unknown = [k for k in kw if k not in cls.names()]
        if unknown:
            raise TypeError(f"unknown option(s) {unknown}; dream options are: {', '.join(cls.names())}")
        defaults = cls.defaults()
        given = {k: v for k, v in kw.items() if not isinstance(v, Default) and not (v is None and defaults[k] is None)}
        opts = cls(**{**_subject_settings(given), **_preset_settings(given), **given})
        if "lap_levels" in given and opts.norm != "laplacian":  # accepted, it would change nothing
            raise ValueError(
                f"lap_levels: the Laplacian normalization's bands change nothing with norm={opts.norm!r}; "
                "pass norm='laplacian' with them, or leave them out"
            )
        return opts.checked()

    def checked(self) -> DreamOptions:
        c = _checks
        scalars = self._scalars()  # before a named model is built (steps=0 was said after VGG19's build)
        if isinstance(self.model, (str, os.PathLike)):
            from fastdream.models.registry import load  # a name: the named backbone (a preset's model)

            # On the run's device: a model on the CPU would decide the device (a GPU left idle) or
            # clash with device='cuda'.
            where = c.device("device", self.device)
            with torch.random.fork_rng(devices=[]):  # its random init leaves the caller's RNG alone
                model = load(self.model, device=where)
            return dataclasses.replace(self, model=model).checked()
        if (
            self.layers is None
            and self.model is not None
            and self.subject is None
            and not isinstance(self.objective, Objective)
        ):
            # fastdream's named models (fastdream.models.load) carry the layers they dream best
            defaults = getattr(self.model, "dream_layers", None)
            if defaults is not None:
                return dataclasses.replace(self, layers=tuple(defaults)).checked()
        self._check_model_and_objective()
        return dataclasses.replace(
            self,
            layers=None if self.layers is None else _specs(self.layers, self.model),
            **scalars,
            guide=None if self.guide is None else _guide(self.guide),
            subject=None if self.subject is None else _subjects(self),
        )

    def _scalars(self) -> dict:
        """The options that are numbers, switches and names, checked."""
        c = _checks
        if not isinstance(self.norm, str) or self.norm not in NORMS:
            raise ValueError(f"norm must be one of {', '.join(map(repr, NORMS))}, got {shown(self.norm)}")
        if self.device is not None:
            c.parse_device("device", self.device)
        preserve = c.boolean("preserve_colors", self.preserve_colors)
        match = c.boolean("color_match", self.color_match)
        if preserve and match:
            raise ValueError(
                "preserve_colors and color_match are alternatives: preserve_colors keeps the input's "
                "colors exactly, color_match only their statistics; pass one of them"
            )
        return dict(
            octaves=_octaves(self.octaves),
            octave_scale=c.real("octave_scale", self.octave_scale, lo=1.0, cap=MAX["octave_scale"]),
            steps=c.integer("steps", self.steps, 1, cap=MAX["steps"]),
            step_size=_step_size(self.step_size),
            jitter=c.integer("jitter", self.jitter, 0, cap=MAX["jitter"]),
            tile_size=None if self.tile_size is None else _checks.tile_size(self.tile_size, MAX["tile_size"]),
            lap_levels=c.integer("lap_levels", self.lap_levels, 1, 12),
            smooth=_smooth(self.smooth),
            preserve_colors=preserve,
            color_match=match,
            tile_batch=None if self.tile_batch is None else c.integer("tile_batch", self.tile_batch, 1, cap=4096),
            low_memory=None if self.low_memory is None else c.boolean("low_memory", self.low_memory),
            seed=None if self.seed is None else c.seed("seed", self.seed),
            preset=None if self.preset is None else presets.check_name(self.preset),
        )

    def _check_model_and_objective(self) -> None:
        model, obj = self.model, self.objective
        if model is not None and not isinstance(model, nn.Module):
            raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
        if isinstance(obj, Objective):
            if self.layers is not None:
                raise ValueError("layers: an objective expression names its own layers; pass layers=None with it")
            obj.check_not_zero()
        elif callable(obj) and not isinstance(obj, str):
            if model is not None and self.layers is None:
                raise ValueError("layers: a callable objective on a custom model needs layers= (the layers it reads)")
        elif obj not in OBJECTIVES:
            raise (ValueError if isinstance(obj, str) else TypeError)(
                f"objective must be 'l2' or 'mean' (or a callable, or a fastdream.objectives expression), got {shown(obj)}"
            )
        elif model is not None and self.layers is None and self.subject is None:
            raise ValueError("layers: a custom model needs layers= (names from model.named_modules())")
        if self.guide is not None and obj == "mean":  # (it was dropped: the same dream as without it)
            raise ValueError(
                "objective: 'mean' does nothing with a guide (the dream climbs toward the guide's features); "
                "leave one of them out"
            )
        if self.guide is not None and obj not in OBJECTIVES:
            raise ValueError(
                "guide replaces the objective; to combine them use objectives.guide(layer, image) "
                "in an objective expression"
            )

    def replace(self, **kw) -> DreamOptions:
        return dataclasses.replace(self, **kw).checked()

    def layer_names(self, default=()) -> tuple[str, ...]:
        """The layers the dream taps: the objective expression's, else those of ``layers``."""
        if isinstance(self.objective, Objective):
            return self.objective.layers
        if self.layers is None:
            return tuple(default)
        return tuple(dict.fromkeys(s.layer for s in self.layers))

    def resolve_device(self, image=None) -> torch.device:
        """Where the dream runs: ``device``, else the model's, else a tensor image's, else CUDA
        when available, else the CPU."""
        return _checks.device("device", self.device, model=self.model, tensor=image)


def _octaves(v) -> int | str:
    if isinstance(v, str):
        if v != "auto":
            raise ValueError(f"octaves must be an integer >= 1 or 'auto', got {shown(v)}")
        return v
    return _checks.integer("octaves", v, 1, cap=MAX["octaves"])


def octave_count(octaves: int | str, h: int, w: int, scale: float) -> int:
    """How many octaves an ``h x w`` dream has: ``octaves``, or for ``"auto"`` as many as bring the
    smallest to about :data:`AUTO_OCTAVE_SIDE` px on its long side.

    Examples:
        >>> [octave_count("auto", s, s, 1.4) for s in (256, 512, 1024, 2048)]
        [1, 3, 5, 7]
        >>> octave_count(4, 2048, 2048, 1.4)
        4
    """
    if octaves != "auto":
        return octaves
    return min(MAX["octaves"], 1 + max(0, round(math.log(max(h, w) / AUTO_OCTAVE_SIDE) / math.log(scale))))


class Default:
    """A keyword argument's default, marked as not given, so that a preset may set it; it shows
    as its value (``help(fastdream.dream)`` reads ``octaves: int = 'auto'``)."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __repr__(self) -> str:
        return repr(self.value)


def marked_defaults() -> SimpleNamespace:
    """:class:`DreamOptions`' defaults, each marked as not given (a :class:`Default`), by name.

    Examples:
        >>> marked_defaults().octaves
        'auto'
    """
    return SimpleNamespace(**{name: Default(v) for name, v in DreamOptions.defaults().items()})


def _preset_settings(given: dict) -> dict:
    """The settings of the preset named in ``given`` (none without one). A preset's layers are for
    its model: with another model given, they are left to that model (its ``dream_layers``)."""
    if given.get("preset") is None:
        return {}
    settings = dict(presets.preset(given["preset"]))
    if given.get("guide") is not None:  # the guide given is the objective ("tutorial" + guide= blamed one not given)
        settings.pop("objective", None)
    model = given.get("model")
    if model is not None:
        settings.pop("model", None)
        if not presets.is_model_of(given["preset"], model):
            settings.pop("layers", None)
    return settings


def _subject_settings(given: dict) -> dict:
    """The dream settings a dreamer gives a dream of its subjects (none without ``subject=``);
    a dreamer given by its path is loaded here, once."""
    if given.get("subject") is None:
        return {}
    if isinstance(given.get("model"), (str, os.PathLike)):
        from fastdream.models.registry import load

        given["model"] = load(given["model"], device=_checks.device("device", given.get("device")))
    settings = dict(getattr(given.get("model"), "dream_settings", None) or {})
    if given.get("low_memory"):  # the low-memory path has no Laplacian normalization: the std then
        settings.pop("norm", None)
    return settings


def _subjects(o: DreamOptions) -> tuple[tuple[str, float], ...]:
    """``subject=`` as (name, weight) pairs, each a subject of the model (a dreamer)."""
    pairs = parse_subjects(o.subject)
    if o.guide is not None or o.objective not in OBJECTIVES:
        raise ValueError(
            "subject is the objective; to combine a subject with another objective use "
            "fastdream.dream.subjects.subject(model, name) in an objective expression"
        )
    known = getattr(o.model, "subjects", None)
    if not known:
        what = "the default backbone" if o.model is None else f"the model ({type(o.model).__name__})"
        raise ValueError(
            f"subject: {what} has no subjects; pass model= a dreamer (fastdream.models.load('dreamer.pt'), "
            "written by fastdream.train_dreamer), or --model dreamer.pt in the shell"
        )
    unknown = [n for n, _ in pairs if n not in known]
    if unknown:
        raise ValueError(
            f"subject: unknown subject(s) {', '.join(map(repr, unknown))}; this dreamer knows: {', '.join(known)}"
        )
    return pairs


def _specs(layers, model) -> tuple[LayerSpec, ...]:
    if isinstance(layers, tuple) and layers and all(isinstance(s, LayerSpec) for s in layers):
        return layers
    aliased = isinstance(model, nn.Module) and aliases(model)
    return parse_layers(layers, (lambda n: resolve_layer(model, n)) if aliased else None)


#: What a dream's mask of zeros would do (it returned the picture unchanged, without a word).
EMPTY_MASK = "nothing would be dreamed; a mask is white (1) where the dream goes"


#: The smallest step: below it a step changes no pixel by a float32 level (1e-308 "dreamed" nothing).
MIN_STEP_SIZE = 1e-6


def _step_size(v) -> float:
    v = _checks.real("step_size", v, lo=0.0, cap=MAX["step_size"])
    if v < MIN_STEP_SIZE:
        raise ValueError(
            f"step_size must be at least {MIN_STEP_SIZE:g} (a smaller step changes nothing), got {shown(v)}"
        )
    return v


def _smooth(v) -> float | None:
    """The gradient's smoothing (None and 0: none). It was read as ``not v``: [], '' and {} meant
    none without a word, and a tensor raised torch's "Boolean value of Tensor"."""
    if v is None:
        return None
    return _checks.real("smooth", v, lo=0.0, lo_open=False, cap=MAX["smooth"]) or None


def _guide(guide) -> torch.Tensor:
    """The guide image as RGB (1, 3, h, w) float in [0, 1] on the CPU (loaded once)."""
    rgb = io.load(guide, "guide", one=True).rgb
    return rgb.detach().to("cpu").contiguous()
