"""What a proof sheet varies: the dream options it may vary, their values from the command line,
and the combinations (one cell each)."""

from __future__ import annotations

import itertools
from typing import Any, Callable, Mapping, Sequence

from fastdream import _checks

#: A sheet of more cells than this is refused (it would run for hours, and its thumbnails would
#: be too small to judge).
MAX_CELLS = 100


def _integer(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a whole number") from None


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a number") from None


def _octaves(text: str) -> int | str:
    if text.strip().lower() == "auto":
        return "auto"
    try:
        return _integer(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a whole number or auto") from None


def _tile(text: str) -> int | None:
    return _integer(text) or None  # 0: no tiling, as --tile 0


def _switch(text: str) -> bool:
    on, off = ("on", "true", "yes", "1"), ("off", "false", "no", "0")
    if text.lower() not in on + off:
        raise ValueError(f"{text!r} is not on/off (or true/false, yes/no, 1/0)")
    return text.lower() in on


def _layers(text: str) -> list[str]:
    return [spec.strip() for spec in text.split("+") if spec.strip()]  # "+" joins the specs of one cell


def _word(text: str) -> str:
    return text


#: The dream options a sheet may vary -> how a value is read from the command line.
VARIABLE: dict[str, Callable[[str], Any]] = {
    "preset": _word,
    "layers": _layers,
    "octaves": _octaves,
    "octave_scale": _number,
    "steps": _integer,
    "step_size": _number,
    "jitter": _integer,
    "tile_size": _tile,
    "objective": _word,
    "norm": _word,
    "lap_levels": _integer,
    "smooth": _number,
    "preserve_colors": _switch,
    "color_match": _switch,
    "seed": _integer,
    "subject": _word,  # a dreamer's subjects (--model DREAMER.pt): one cell per subject
}
#: The command line's names of varied options that are not their keywords (``--tile``).
ALIASES = {"tile": "tile_size"}


def parse(texts: Sequence[str]) -> dict[str, list]:
    """``--vary NAME=V1,V2,...`` options (a list of such texts) as ``{name: [values]}``.

    A value of ``layers`` is one or more layer specs joined by ``+``; ``octaves`` takes ``auto``;
    ``tile_size`` 0 is no tiling; ``preserve_colors`` / ``color_match`` take on/off. Values that
    hold commas themselves (a layer's channel list, ``NAME:30-40,77``) are separated by ``;``.

    Examples:
        >>> parse(["step_size=0.01,0.02", "layers=_blocks.5+_blocks.10,_blocks.12"])
        {'step_size': [0.01, 0.02], 'layers': [['_blocks.5', '_blocks.10'], ['_blocks.12']]}
        >>> parse(["layers=_blocks.10:30-40,77;_blocks.12"])
        {'layers': [['_blocks.10:30-40,77'], ['_blocks.12']]}
        >>> parse(["speed=1,2"])
        Traceback (most recent call last):
        ...
        ValueError: vary: unknown option 'speed' in 'speed=1,2'; the options a sheet varies are: preset, layers, octaves, octave-scale, steps, step-size, jitter, tile, objective, norm, lap-levels, smooth, preserve-colors, color-match, seed, subject
        >>> parse(["--tile=0,256", "octave-scale=1.3,1.4"])  # the command line's spellings too
        {'tile_size': [None, 256], 'octave_scale': [1.3, 1.4]}
    """
    out: dict[str, list] = {}
    for text in texts:
        name, sep, values = str(text).partition("=")
        name = name.strip().lstrip("-").replace("-", "_")
        name = ALIASES.get(name, name)
        if not sep or not values.strip():
            raise ValueError(f"vary: {text!r} is not NAME=VALUE1,VALUE2,... (e.g. 'steps=5,10')")
        if name not in VARIABLE:
            raise ValueError(f"vary: unknown option {name!r} in {text!r}; {_accepted(spelled=True)}")
        if name in out:
            raise ValueError(f"vary: {name!r} is varied twice; give all its values at once: '{name}=V1,V2,...'")
        try:
            out[name] = [VARIABLE[name](v.strip()) for v in values.split(";" if ";" in values else ",")]
        except ValueError as exc:
            raise ValueError(f"vary: {text!r}: {exc}") from None
    return out


def check(vary: Mapping[str, Sequence] | None, given: Mapping[str, Any]) -> dict[str, list]:
    """``vary`` checked: known option names, lists of values, not also given as a fixed option,
    at most :data:`MAX_CELLS` combinations. (The values themselves are checked by the dream's
    options, cell by cell, before anything is dreamed.)"""
    if vary is None:
        return {}
    if not isinstance(vary, Mapping):
        raise TypeError(f"vary must be a dict of option name -> list of values, got {type(vary).__name__}")
    out = {}
    for name, values in vary.items():
        if name not in VARIABLE:
            raise ValueError(f"vary: unknown option {name!r}; {_accepted()}")
        if getattr(values, "ndim", None) == 1 and hasattr(values, "tolist"):  # numpy (np.linspace) or torch
            values = values.tolist()  # (as Python numbers: the sheet's JSON holds them)
        if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or not values:
            raise TypeError(f"vary: {name} must be a non-empty list of values, got {_checks.shown(values)}")
        if name in given:
            raise ValueError(f"vary: {name} is both given ({name}={given[name]!r}) and varied; pass one of them")
        repeated = [v for k, v in enumerate(values) if v in list(values)[:k]]
        if repeated:  # two cells alike, side by side, looked like a difference that was none
            raise ValueError(f"vary: {name} repeats {repeated[0]!r}; give each value once")
        out[name] = list(values)
    cells = 1
    for values in out.values():
        cells *= len(values)
    if cells > MAX_CELLS:
        raise ValueError(
            f"vary: {' x '.join(str(len(v)) for v in out.values())} values make {cells} cells; at most {MAX_CELLS}"
        )
    return out


def combinations(vary: Mapping[str, list]) -> list[dict]:
    """Every combination of the varied values, the last option varying fastest (a row of the sheet).

    Examples:
        >>> combinations({"steps": [5, 10], "norm": ["std", "laplacian"]})
        [{'steps': 5, 'norm': 'std'}, {'steps': 5, 'norm': 'laplacian'}, {'steps': 10, 'norm': 'std'}, {'steps': 10, 'norm': 'laplacian'}]
    """
    names = list(vary)
    return [dict(zip(names, values)) for values in itertools.product(*(vary[n] for n in names))]


def caption(cell: Mapping[str, Any], names: Sequence[str]) -> str:
    """``name=value`` of the varied options of ``cell`` (layers joined by ``+``)."""
    return ", ".join(f"{n}={shown(cell[n])}" for n in names)


def shown(v) -> str:
    """A value as a caption shows it (layer lists joined by ``+``, as ``parse`` reads them)."""
    return "+".join(map(str, v)) if isinstance(v, (list, tuple)) else str(v)


def _accepted(spelled: bool = False) -> str:
    """The names ``vary`` takes: the keywords, or (``spelled``, for ``NAME=V1,V2`` texts) as the
    command line names them (``step-size``, ``tile``), which :func:`parse` takes too."""
    back = {name: alias for alias, name in ALIASES.items()}
    names = [back.get(n, n).replace("_", "-") for n in VARIABLE] if spelled else list(VARIABLE)
    return f"the options a sheet varies are: {', '.join(names)}"
