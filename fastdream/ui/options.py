"""The dream's settings on a page (the Dream tab has them all; the sheet and the videos a few):
the controls, their values as ``fastdream.dream`` keywords, and the same as command-line options.

The controls always show what will be used: choosing a preset (or a backbone) sets them to its
values, and only the values that differ from that are passed, so a preset is resolved by the
library exactly as ``preset=`` in Python and ``--preset`` in the shell.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import math
import secrets
import shlex
import warnings
from pathlib import Path
from typing import Any, Sequence

import gradio as gr
import torch

import fastdream as fd
from fastdream import _checks
from fastdream.dream import DreamOptions
from fastdream.dream.presets import model_of
from fastdream.models.registry import MODELS
from fastdream.models.taps import layer_shapes
from fastdream.ui import widgets

DEFAULT_PRESET = "classic"
DEFAULT_MODEL = "efficientnet_lite0"
#: option -> its command-line flag (``fastdream dream``); switches have no value.
FLAGS = {
    "preset": "--preset",
    "model": "--model",
    "weights": "--weights",
    "layers": "--layers",
    "octaves": "--octaves",
    "octave_scale": "--octave-scale",
    "steps": "--steps",
    "step_size": "--step-size",
    "jitter": "--jitter",
    "tile_size": "--tile",
    "objective": "--objective",
    "norm": "--norm",
    "smooth": "--smooth",
    "seed": "--seed",
    "preserve_colors": "--preserve-colors",
    "color_match": "--color-match",
    "guide": "--guide",
}
FULL = tuple(FLAGS)
SHORT = ("preset", "layers", "octaves", "steps", "step_size", "seed")


@functools.cache
def layer_choices(model: str) -> tuple[tuple[str, str], ...]:
    """The layers of a named backbone with their channel counts, as (label, name) pairs (its
    dream layers marked); from a network on the meta device: no weights made, nothing computed."""
    with warnings.catch_warnings(), torch.device("meta"):
        warnings.simplefilter("ignore")
        net = MODELS[model]()
        shapes = layer_shapes(net, (max(64, getattr(net, "min_input_side", 0)),) * 2)
    marked = set(net.dream_layers)
    aliases = dict(getattr(net, "layer_aliases", None) or {})  # InceptionV3: Keras' mixed3 is Mixed_6a
    return tuple(
        (f"{alias} = {name} · {shapes[name][0]} ch" + (" (default)" if alias in marked else ""), alias)
        for alias, name in aliases.items()
        if name in shapes
    ) + tuple(
        (f"{name} · {shape[0]} ch" + (" (default)" if name in marked else ""), name) for name, shape in shapes.items()
    )


def baseline(preset: str, model: str | None = None, overrides: dict | None = None) -> dict[str, Any]:
    """The settings a dream with ``preset`` (and ``model``) uses when nothing else is given: the
    library's defaults, the preset's, then the pipeline's ``overrides`` (a video's short dreams)."""
    base = {**DreamOptions.defaults(), "model": DEFAULT_MODEL, "weights": None}
    base.update(fd.PRESETS[preset])
    base["model"] = model_of(preset) or DEFAULT_MODEL
    if model is not None and model != base["model"]:  # a preset's layers belong to its model
        base.update(model=model, layers=_dream_layers(model))
    base.update(overrides or {})
    base["layers"] = None if base["layers"] is None else list(base["layers"])  # (a preset's are a tuple)
    base["preset"] = preset
    return base


def described(preset: str, model: str | None = None) -> str:
    """The preset's line, and what of it a backbone other than its own changes (its layers).

    Examples:
        >>> described("tutorial", "googlenet").endswith("On googlenet, that backbone's own dream layers.")
        True
    """
    own = model_of(preset) or DEFAULT_MODEL
    line = fd.PRESETS[preset].description
    return line if model in (None, own) else f"{line} On {model}, that backbone's own dream layers."


def _dream_layers(model: str) -> list[str]:
    return [name for label, name in layer_choices(model) if label.endswith("(default)")]


#: The key of a job's values that says they come from the page (its button), not from an API client.
FROM_PAGE = "_from_page"


class DreamControls:
    """The controls of ``names`` (:data:`FULL` or :data:`SHORT`), laid out where they are made."""

    def __init__(self, names: Sequence[str] = FULL, overrides: dict | None = None, prefix: str = ""):
        self.names, self.overrides = tuple(names), overrides or {}
        base = baseline(DEFAULT_PRESET, overrides=self.overrides)
        c: dict[str, Any] = {}
        with gr.Row():
            c["preset"] = gr.Dropdown(
                list(fd.PRESETS), value=DEFAULT_PRESET, label="Preset", info=fd.PRESETS[DEFAULT_PRESET].description
            )
            if "model" in self.names:
                c["model"] = gr.Dropdown(sorted(MODELS), value=DEFAULT_MODEL, label="Backbone")
        c["layers"] = gr.Dropdown(
            list(layer_choices(DEFAULT_MODEL)),
            value=base["layers"],
            multiselect=True,
            allow_custom_value=True,
            label="Layers",
            info="a name, or a spec: NAME:37 (a channel), NAME:30-40, NAME:top8",
        )
        with gr.Row():
            c["octaves"] = gr.Dropdown(
                ["auto"] + [str(k) for k in range(1, 9)], value=str(base["octaves"]), label="Octaves"
            )
            c["steps"] = gr.Slider(1, 100, value=base["steps"], step=1, label="Steps per octave")
            c["step_size"] = gr.Slider(0.001, 0.1, value=base["step_size"], step=0.001, label="Step size")
        with gr.Row():
            if "jitter" in self.names:
                c["jitter"] = gr.Slider(0, 128, value=base["jitter"], step=1, label="Jitter (px)")
                c["tile_size"] = gr.Slider(0, 2048, value=base["tile_size"], step=64, label="Tile size (0: none)")
            c["seed"] = gr.Textbox("", label="Seed", placeholder="random", max_lines=1)
        if "objective" in self.names:
            self._creative(c, base)
        for name, component in c.items():  # ids the browser tests (and user styles) can find
            component.elem_id = f"{prefix}-{name}" if prefix else None
        self.c = c
        #: The controls' first values (as values() gives them): what a client's left-out setting arrives as.
        self._first = self.values({k: getattr(component, "value", None) for k, component in c.items()})
        self._wire()

    def _creative(self, c: dict, base: dict) -> None:
        # Three rows: in one, eight controls were squeezed until sliders and uploads were cut off.
        with gr.Accordion("Creative controls", open=False):
            with gr.Row():
                c["objective"] = gr.Radio(["l2", "mean"], value=base["objective"], label="Objective")
                c["norm"] = gr.Radio(
                    ["std", "mean_abs", "laplacian"], value=base["norm"], label="Gradient normalization"
                )
            with gr.Row():
                c["octave_scale"] = gr.Slider(1.1, 2.0, value=base["octave_scale"], step=0.05, label="Octave scale")
                c["smooth"] = gr.Slider(0, 4, value=0, step=0.25, label="Smooth the gradient (sigma; 0: off)")
                with gr.Column():
                    c["preserve_colors"] = gr.Checkbox(base["preserve_colors"], label="Preserve colors")
                    c["color_match"] = gr.Checkbox(base["color_match"], label="Match colors")
            with gr.Row(equal_height=True):
                c["guide"] = widgets.upload("Guide picture (optional): grow what it contains", height=200)
                c["weights"] = gr.File(label="Backbone weights (.pth, torchvision's keys)", height=200)

    def _wire(self) -> None:
        """A preset sets the controls to its values; a backbone, the layers to its own."""
        moved = ("model", "layers", "octaves", "steps", "step_size", "objective", "norm", "octave_scale")
        moved = tuple(k for k in moved if k in self.c)

        def layers(base: dict) -> gr.Dropdown:
            return gr.Dropdown(list(layer_choices(base["model"])), value=list(base["layers"] or []))

        def show(preset):
            base = baseline(preset, None, self.overrides)
            out = [layers(base) if k == "layers" else str(base[k]) if k == "octaves" else base[k] for k in moved]
            return [gr.Dropdown(info=fd.PRESETS[preset].description), *out]

        outputs = [self.c["preset"]] + [self.c[k] for k in moved]
        self.c["preset"].input(show, [self.c["preset"]], outputs, queue=False, api_visibility="private")
        if "model" in self.c:  # another backbone: its layers; the user's other settings stay

            def layers_of(preset, model):
                return layers(baseline(preset, model, self.overrides)), gr.Dropdown(info=described(preset, model))

            inputs = [self.c["preset"], self.c["model"]]
            outputs = [self.c["layers"], self.c["preset"]]
            self.c["model"].input(layers_of, inputs, outputs, queue=False, api_visibility="private")

    @property
    def inputs(self) -> dict[str, Any]:
        """The controls by name (the names of the job's API parameters)."""
        return dict(self.c)

    def values(self, values: dict) -> dict[str, Any]:
        """The controls' values by name, from a tab's values (a dict with these names and others)."""
        v = {k: values[k] for k in self.c}
        if "octaves" in v:
            v["octaves"] = v["octaves"] if v["octaves"] in (None, "auto") else int(v["octaves"])
        for k in ("steps", "jitter"):  # a slider of whole steps: 2.5 typed into its box is 2, not an error
            if isinstance(v.get(k), float) and math.isfinite(v[k]):
                v[k] = round(v[k])
        if v.get("tile_size") == 0:
            v["tile_size"] = None
        if v.get("smooth") == 0:
            v["smooth"] = None
        v["seed"] = widgets.seed(v.get("seed"))
        v["layers"] = list(v.get("layers") or []) or None
        return v

    def given(self, values: dict) -> dict[str, Any]:
        """The settings that differ from what the preset (and backbone) would use: what is passed.

        A client of the API sends every control, those it leaves out at their first values (the
        default preset's, the default backbone's): such a value of a setting the chosen preset or
        backbone sets is its, not the client's (``preset="tutorial"`` alone dreamed the default
        backbone's layers; ``model="googlenet"`` alone asked for layers it does not have). On the
        page, choosing a preset or backbone has set those controls already. A dream without a
        seed gets one drawn here, so the command shown makes the same picture.

        From the page (``values[FROM_PAGE]`` true) every control counts as it shows: a control the
        user set back to the default preset's value after choosing another preset is theirs."""
        v = self.values(values)
        page = bool(values.get(FROM_PAGE))
        own = model_of(v["preset"])
        if own and not page and "model" in v and v["model"] == self._first.get("model"):  # the preset's
            v["model"] = own
        base = baseline(v["preset"], v.get("model"), self.overrides)
        first = self._first
        theirs = set(fd.PRESETS[v["preset"]]) if v["preset"] != DEFAULT_PRESET and not page else set()
        if v.get("model") not in (None, DEFAULT_MODEL) and not page:
            theirs.add("layers")
        given = {
            k: x
            for k, x in v.items()
            if k != "preset"
            and x != base.get(k)
            and not (k == "layers" and x is None)
            and not (k in theirs and x == first.get(k))
        }
        if "seed" in self.c and v.get("seed") is None:
            given["seed"] = secrets.randbelow(2**31)
        # The baseline already holds the chosen backbone: it is given when it is not the preset's
        # own (or when weights come for it), else every dream ran on the default one.
        chosen = v.get("model")
        if given.get("weights") is not None or (chosen and chosen != (model_of(v["preset"]) or DEFAULT_MODEL)):
            given["model"] = chosen or base["model"]
        if v["preset"] != DEFAULT_PRESET:
            given["preset"] = v["preset"]
        return given


def dream_kwargs(given: dict, load_picture, load_file) -> dict:
    """``given`` as keywords of ``fastdream.dream``: a backbone with weights loaded
    (``load_file(path, what)``: the uploaded file's path, the session's to remove), the guide
    picture loaded (``load_picture(path, what)``)."""
    kw = dict(given)
    weights = kw.pop("weights", None)
    if weights is not None:
        where = _checks.device("device", None)  # where dreams run (on the CPU, it decided the device)
        kw["model"] = fd.models.load(kw["model"], weights=load_file(weights, "backbone weights"), device=where)
    if kw.get("guide") is not None:
        kw["guide"] = load_picture(kw["guide"], "guide")
    return kw


def flags(values: dict, library) -> list[str]:
    """Command-line words for the tab's own controls (``{"--flag": value}``) that differ from the
    defaults of ``library`` (the function the command calls, or its options' dataclass), which the
    command shares: True is the flag alone, a tuple its values.

    Examples:
        >>> flags({"--frames": 60, "--zoom": 1.1, "--shift": (2.0, 0.0), "--reverse": True}, fd.zoom_video)
        ['--zoom', '1.1', '--shift', '2', '0', '--reverse']
    """
    if dataclasses.is_dataclass(library):
        found = {f.name: f.default for f in dataclasses.fields(library)}
    else:
        found = {k: p.default for k, p in inspect.signature(library).parameters.items() if p.default is not p.empty}
    defaults = {"--" + k.replace("_", "-"): v for k, v in found.items()}
    words: list[str] = []
    for flag, value in values.items():
        if value is None or value is False or (flag in defaults and value == defaults[flag]):
            continue
        if value is True:
            words.append(flag)
        else:
            words += [
                flag,
                *(
                    f"{x:g}" if isinstance(x, float) else str(x)
                    for x in (value if isinstance(value, tuple) else (value,))
                ),
            ]
    return words


def command(name: str, inputs: Sequence[str], output: str, given: dict, extra: Sequence[str] = ()) -> str:
    """The shell command that makes the same output: ``fastdream NAME INPUTS -o OUTPUT OPTIONS``."""
    words = ["fastdream", name, *map(file_word, inputs), "-o", output, *extra]
    for key, value in sorted(given.items(), key=lambda kv: list(FLAGS).index(kv[0])):
        flag = FLAGS[key]
        if value is True:
            words.append(flag)
        elif key == "layers":
            words += [flag, *value]
        elif key in ("guide", "weights"):
            words += [flag, file_word(Path(value).name)]
        elif key == "tile_size":
            words += [flag, str(value or 0)]
        elif value is not None and value is not False:
            words += [flag, str(value)]
    return shlex.join(words)


def file_word(name: str) -> str:
    """A file's name as a shell command gives it: ``./-x.png`` for one that begins with a dash
    (the command read ``-x.png`` as an option it did not know)."""
    return f"./{name}" if name.startswith("-") else name
