"""Named looks: :data:`PRESETS`, settings of :func:`fastdream.dream` under a name you can repeat.

A preset is a mapping of dream options with a one-line description. ``preset=NAME`` (on
``dream``, ``zoom_video``, ``dream_video``, ``proof_sheet``, and ``--preset NAME`` in the shell)
starts from its settings; every option passed explicitly wins over the preset's. A preset's
``layers`` belong to its model (the default backbone, unless it names one): with another
``model=``, that model's own ``dream_layers`` are used unless ``layers=`` is given too.

Examples:
    >>> PRESETS["deep"].description[:26]
    'Animal parts taking over: '
    >>> dict(PRESETS["subtle"])["steps"]
    8
    >>> preset("nope")
    Traceback (most recent call last):
    ...
    ValueError: preset must be one of 'classic', 'deep', 'subtle', 'tutorial', got 'nope'
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Iterator

from fastdream._checks import shown


class Preset(Mapping):
    """A named look: dream options (a read-only mapping, so ``fd.dream(img, **preset)`` works)
    and a one-line ``description``."""

    __slots__ = ("_description", "_settings")

    def __init__(self, description: str, **settings: Any) -> None:
        # Lists frozen as tuples: a copy a user changes (dict(preset)["layers"].append(...)) changed
        # the preset for the rest of the process, and a sheet's JSON then named a look it was not.
        frozen = {k: tuple(v) if isinstance(v, list) else v for k, v in settings.items()}
        object.__setattr__(self, "_description", description)
        object.__setattr__(self, "_settings", MappingProxyType(frozen))

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"a preset is read-only; make your own settings with dict(preset) (not {name})")

    @property
    def description(self) -> str:
        """What the look is, in a line."""
        return self._description

    def __getitem__(self, key: str) -> Any:
        return self._settings[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._settings)

    def __len__(self) -> int:
        return len(self._settings)

    def __repr__(self) -> str:
        return f"Preset({self.description!r}, {dict(self._settings)!r})"


#: name -> :class:`Preset`. "classic" is the default dream (every setting spelled out).
PRESETS: Mapping[str, Preset] = MappingProxyType(
    {
        "subtle": Preset(
            "The photo first: faint eyes and ripples in its textures, a print that still reads as the photo.",
            layers=["_blocks.5", "_blocks.10"],
            octaves="auto",
            octave_scale=1.4,
            steps=8,
            step_size=0.01,
        ),
        "classic": Preset(
            "The default: eyes, snouts and swirls everywhere, the photo's shapes kept (blocks 5 and 10).",
            layers=["_blocks.5", "_blocks.10"],
            octaves="auto",
            octave_scale=1.4,
            steps=10,
            step_size=0.02,
        ),
        "deep": Preset(
            "Animal parts taking over: the deeper blocks 10 and 12, twice the steps (twice the time).",
            layers=["_blocks.10", "_blocks.12"],
            octaves="auto",
            octave_scale=1.4,
            steps=20,
            step_size=0.02,
        ),
        "tutorial": Preset(
            "TensorFlow's DeepDream tutorial: InceptionV3 mixed3/5/7 (give its weights), mean activation, "
            "gradient / std, clip to [-1, 1], 5 octaves at 1.3.",
            model="inception_v3",
            layers=["mixed3", "mixed5", "mixed7"],
            objective="mean",
            norm="std",
            octaves=5,
            octave_scale=1.3,
            steps=50,
            step_size=0.01,
        ),
    }
)


def names() -> list[str]:
    return sorted(PRESETS)


def preset(name) -> Preset:
    """The preset ``name``; a ``ValueError`` naming the known ones for any other."""
    if not isinstance(name, str):
        raise TypeError(f"preset must be a preset name (a str), got {type(name).__name__}")
    if name not in PRESETS:
        raise ValueError(f"preset must be one of {', '.join(map(repr, names()))}, got {shown(name)}")
    return PRESETS[name]


def check_name(name) -> str:
    """``name`` itself when it names a preset (else the error of :func:`preset`)."""
    preset(name)
    return name


def model_of(name: str) -> str:
    """The model preset ``name`` dreams: a name of :func:`fastdream.models.names`."""
    return preset(name).get("model", "efficientnet_lite0")


def is_model_of(name: str, model) -> bool:
    """Whether ``model`` (a module, or a model name) is the model preset ``name`` dreams."""
    if isinstance(model, str):
        return model == model_of(name)
    from fastdream.models.registry import MODELS

    cls = MODELS[model_of(name)]
    return isinstance(cls, type) and isinstance(model, cls)


def describe(name: str) -> str:
    """``name``, its description, and its settings as command-line options (``--list-presets``).

    Examples:
        >>> print(describe("subtle"))  # doctest: +NORMALIZE_WHITESPACE
        subtle: The photo first: faint eyes and ripples in its textures, a print that still reads as the photo.
            --layers _blocks.5 _blocks.10 --octaves auto --octave-scale 1.4 --steps 8 --step-size 0.01
    """
    p = preset(name)
    options = " ".join(f"--{_FLAGS.get(k, k.replace('_', '-'))} {_shown(v)}" for k, v in p.items())
    return f"{name}: {p.description}\n    {options}"


_FLAGS = {"tile_size": "tile"}


def _shown(v) -> str:
    return " ".join(map(str, v)) if isinstance(v, (list, tuple)) else str(v)
