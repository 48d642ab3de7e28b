"""Proof sheets: many small dreams of one picture on one labeled contact sheet, to choose by eye.

:func:`proof_sheet` dreams every combination of the options it varies (``vary=``), or one cell
per channel of a layer (``channels=``), at a small size, and lays them out captioned with what
differs; the settings of every cell go beside the sheet as JSON, so any cell can be made again
(at full size, or exactly). Parts: ``vary`` (what may vary, the command line's values, the
combinations), ``channels`` (a layer's channels by response), ``layout`` (the contact sheet).
"""

from __future__ import annotations

import contextlib
import json
import math
import numbers
import secrets
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from PIL import Image
from tqdm.auto import tqdm

from fastdream import _checks, driver, io
from fastdream.dream import DreamOptions, run
from fastdream.dream.engine import build_objective, pyramid
from fastdream.dream.presets import model_of, preset
from fastdream.models.build import check_layer_names
from fastdream.objectives import Objective
from fastdream.sheet import layout
from fastdream.sheet import vary as V
from fastdream.sheet.channels import ranked

__all__ = ["CHANNEL_DEFAULTS", "Sheet", "proof_sheet"]

#: A channel sheet dreams each cell longer than a dream's default: one channel's motif needs about
#: 30 steps to show at a sheet's size (10 leave it faint); options given explicitly win.
CHANNEL_DEFAULTS = {"steps": 30}


#: A channel sheet's channels, unless told otherwise.
TOP = 16


@dataclass
class Sheet:
    """A proof sheet: the contact sheet ``image``; ``cells``, each cell's options of
    :func:`fastdream.dream` (``fd.dream(picture, **cells[k])`` makes ``pictures[k]`` again, byte
    for byte on the CPU; on a GPU, to within cuDNN's rounding); ``picture``, the input at the cells' size; the files written."""

    image: Image.Image
    cells: list[dict]
    pictures: list[Image.Image]
    picture: Image.Image
    path: Path | None = None
    json_path: Path | None = None


def proof_sheet(
    image,
    out_path=None,
    *,
    vary: dict | None = None,
    channels: str | None = None,
    top: int | str = TOP,
    size: int = 256,
    progress: bool = False,
    callback=None,
    notes: dict | None = None,
    **dream_kwargs,
) -> Sheet:
    """Dreams ``image`` once per cell, small, and lays the dreams out on one labeled sheet.

    Args:
        image: any image kind :func:`fastdream.dream` takes (alpha is dropped on the sheet).
        out_path: where to write the sheet (PNG, JPEG, ...), and its cells' settings beside it
            as ``<out_path stem>.json`` (``{"cells": [{settings}, ...], ...}``); both atomically,
            never over the input. None: nothing is written.
        vary: ``{option: [values]}``: one cell per combination, the last option varying along a
            row (e.g. ``{"step_size": [0.01, 0.02], "layers": [["_blocks.5"], ["_blocks.10"]]}``).
            The options are those of :data:`fastdream.sheet.vary.VARIABLE`.
        channels: instead of ``vary``, a layer name: one cell per channel of it, each dreamed
            alone (``"LAYER:C"``), the ``top`` channels that respond most to the picture first;
            ``steps`` default to :data:`CHANNEL_DEFAULTS` (30: a channel's motif shows).
        top: how many channels (``"all"``: every one).
        size: the long side of the cells in pixels (the picture is shrunk to it, never enlarged).
        progress: a progress bar over the cells.
        callback: the step hook of :func:`fastdream.dream`; ``frame`` / ``frames`` say which
            cell, ``step`` / ``total`` count over the whole sheet.
        notes: JSON-able facts written into the JSON beside the cells (the shell records the
            ``--model`` name and ``--weights`` path there).
        **dream_kwargs: the options of :func:`fastdream.dream` every cell shares (``preset``,
            ``seed``...). Without ``seed`` one is drawn, used for every cell and recorded.

    Returns:
        A :class:`Sheet`.

    Raises:
        TypeError, ValueError: a bad option or value (each cell's options are checked before
            anything is dreamed, and nothing is written then).

    Shape:
        Cells are ``size`` px on their long side (the picture's aspect ratio); the sheet has as
        many columns as the last varied option has values (up to 8; else about square).

    Examples:
        >>> import numpy as np, fastdream as fd
        >>> img = (np.random.default_rng(0).random((60, 90, 3)) * 255).astype(np.uint8)
        >>> s = fd.proof_sheet(img, vary={"steps": [1, 2], "step_size": [0.01, 0.03]}, size=64, seed=0)
        >>> len(s.cells), s.cells[3]["steps"], s.cells[3]["step_size"], s.pictures[0].size
        (4, 2, 0.03, (64, 43))
        >>> again = fd.dream(s.picture, **s.cells[3])
        >>> np.array_equal(np.asarray(again), np.asarray(s.pictures[3]))
        True
    """
    out, json_out = _outputs(out_path, image, dream_kwargs.get("guide"))
    size = _checks.integer("size", size, 32, cap=1 << 16)  # (10**400 raised OverflowError)
    progress = _checks.boolean("progress", progress)
    callback = driver.check_callback(callback)
    count, notes = _checked_args(vary, channels, top, notes)
    picture = _small(image, size)
    base = {**(CHANNEL_DEFAULTS if channels is not None else {}), **dream_kwargs}
    seed = dream_kwargs.get("seed")  # (None, given: drawn too; each cell drew its own, recorded as null)
    base["seed"] = secrets.randbelow(2**31) if seed is None else seed
    models: dict[str, Any] = {}
    varied: dict = {}
    if channels is not None:
        order = _channel_order(picture, size, channels, count, vary, base, models)
        cells, captions = [{**base, "layers": [f"{channels}:{c}"]} for c in order], [f"#{c}" for c in order]
        title = f"{_name(image)}: channels of {channels}, strongest response first; " + _fixed(base)
        row = None
    elif vary:
        varied = V.check(vary, dream_kwargs)
        cells = [{**base, **combo} for combo in V.combinations(varied)]
        if "lap_levels" in base and "laplacian" in varied.get("norm", ()):  # for the Laplacian cells
            cells = [
                c if c["norm"] == "laplacian" else {k: v for k, v in c.items() if k != "lap_levels"} for c in cells
            ]
        captions = [V.caption(c, list(varied)) for c in cells]
        title = f"{_name(image)}: " + _fixed({k: v for k, v in base.items() if k not in varied})
        row = len(list(varied.values())[-1])
    else:
        raise ValueError("proof_sheet: give vary={option: [values]} or channels=LAYER: what the cells differ by")
    opts = [_varied_options(c, varied, models) for c in cells]  # every cell's options checked before any dream
    _check_layers(opts, cells, varied)
    for o in opts:
        _check_cell_size(picture, o, size)
    pictures: list[Image.Image] = []
    record = {"image": _name(image), "size": list(picture.size), "notes": notes}

    def write(n: int, where):  # the sheet of the first n cells
        return _write(pictures[:n], cells[:n], captions[:n], layout.columns_for(len(cells), row), title, record, where)

    try:
        _dream_all(picture, opts, progress, callback, pictures)
    except ValueError as exc:  # a varied channel past its layer's (found as its dream starts): said of vary
        if not (vary and "layers" in varied and str(exc).startswith("layers: ")):
            raise
        raise ValueError(f"vary: {exc}") from None
    except (KeyboardInterrupt, driver.Cancelled) as stop:  # the finished cells are kept, on a sheet of their own
        if out is not None and pictures:
            partial = io.unused_name(out.with_name(f"{out.stem}-partial{out.suffix}"), ".json")
            # (a second Ctrl-C waits until both files are whole, then is this stop's)
            with contextlib.suppress(KeyboardInterrupt, OSError, ValueError), io.signals_held():
                write(len(pictures), (partial, partial.with_suffix(".json")))  # (a full disk: the stop is said)
            if partial.exists():
                n = len(pictures)
                done = (
                    f"the finished cell of {len(cells)} is" if n == 1 else f"the {n} finished cells of {len(cells)} are"
                )
                stop.kept = f"{done} in {partial} (and its .json); a rerun starts over"  # type: ignore[union-attr]
                stop.partial = partial  # type: ignore[union-attr]
        raise
    with io.signals_held():  # the sheet and its JSON as a pair
        sheet, written = write(len(cells), (out, json_out) if out is not None else None)
    result = Sheet(sheet, cells, pictures, picture)
    if written is not None:
        result.path, result.json_path = written
    return result


def _write(pictures, cells, captions, columns: int, title: str, record: dict, where):
    """The contact sheet of ``pictures``, and where it and its JSON were written (``where``:
    (sheet path, JSON path), or None: not written)."""
    sheet = layout.contact_sheet(pictures, captions, columns, title)
    if where is None:
        return sheet, None
    path = io.save_image(sheet, where[0])
    return sheet, (path, io.write_json({**record, "cells": [_jsonable(c) for c in cells]}, where[1]))


def _outputs(out_path, image, guide=None) -> tuple[Path | None, Path | None]:
    if out_path is None:
        return None, None
    out = _checks.path("out_path", out_path)
    if Image.registered_extensions().get(out.suffix.lower()) is None:
        raise ValueError(f"out_path: unknown image extension {out.suffix!r} (use .png, .jpg, .webp, ...)")
    json_out = out.with_suffix(".json")
    for written in (out, json_out):  # (the .json's name can be longer: the system's "File name too long")
        io.check_name_length("out_path", written)
    io.check_parent("out_path", out)
    if isinstance(image, (str, Path)) and Path(image).resolve() in (out.resolve(), json_out.resolve()):
        raise ValueError(f"out_path: {out} (or its .json) is the input image; the input is never overwritten")
    for written in (out, json_out):
        io.check_not_input("out_path", written, [image, guide])
    if json_out.exists() and not _a_sheets_record(json_out):  # the user named the sheet, not this file
        raise ValueError(
            f"out_path: {json_out} (where the sheet's settings go) exists and is not a sheet's settings file; "
            "it is not overwritten: choose another name for the sheet, or move that file"
        )
    return out, json_out


def _a_sheets_record(path: Path) -> bool:
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return False
    return isinstance(record, dict) and isinstance(record.get("cells"), list)


def _small(image, size: int) -> Image.Image:
    """The picture as a PIL image of its channels (gray stays gray, alpha stays: the cells are
    the dreams ``fd.dream`` makes of it), shrunk so that its long side is ``size`` (never enlarged)."""
    loaded = io.load(image, one=True)
    x = loaded.rgb[:, :1] if loaded.gray else loaded.rgb
    pil = io.to_pil((x if loaded.alpha is None else torch.cat([x, loaded.alpha], 1))[0])
    s = size / max(pil.size)
    if s < 1:
        pil = pil.resize((max(1, round(pil.width * s)), max(1, round(pil.height * s))), Image.LANCZOS)
    return pil


def _options(kwargs: dict, models: dict) -> DreamOptions:
    """The checked options of one cell; model names (given, or a preset's) and a guide's file loaded once per sheet."""
    kw, guide = dict(kwargs), kwargs.get("guide")
    if isinstance(guide, (str, Path)):  # (the cell keeps the name, for its JSON)
        key = ("guide", str(guide))
        kw["guide"] = models[key] if key in models else models.setdefault(key, io.load(guide, "guide").rgb)
    name = kw.get("model")
    if name is None and kw.get("preset") is not None and "model" in preset(kw["preset"]):
        name = model_of(kw["preset"])
    if isinstance(name, str):
        if name not in models:
            models[name] = DreamOptions.create(model=name, device=kw.get("device")).model
        kw["model"] = models[name]
    return DreamOptions.create(**kw)


def _varied_options(cell: dict, varied: dict, models: dict) -> DreamOptions:
    """:func:`_options`, a varied value's error said of ``vary`` (the command line named --subject,
    which it was not given)."""
    try:
        return _options(cell, models)
    except (TypeError, ValueError) as exc:
        text = str(exc)
        bad = next((k for k in varied if text.startswith((f"{k}: ", f"{k} "))), None)
        if bad is None:
            raise
        raise type(exc)(f"vary: {bad}={cell[bad]!r}: {text.removeprefix(f'{bad}: ')}") from None


def _check_layers(opts: list[DreamOptions], cells: list[dict], varied: dict) -> None:
    """Every cell's layers (and subjects) named in its model before the first dream: a typo in
    the last value of a ``vary`` is one error at once, not one after the other cells' dreams,
    and said of ``vary`` (the command line named --layers, which it had not been given)."""
    for o, cell in zip(opts, cells):
        try:
            check_layer_names(o.model, build_objective(o).layers)
        except (TypeError, ValueError) as exc:
            bad = next((k for k in ("layers", "subject", "preset") if k in varied), None)
            if bad is None:
                raise
            raise type(exc)(f"vary: {bad}={cell[bad]!r}: {str(exc).removeprefix(f'{bad}: ')}") from None


def _dream_all(picture: Image.Image, opts: list[DreamOptions], progress: bool, callback, pictures: list) -> None:
    """Dreams the cells into ``pictures``, one by one (a stop leaves there the finished ones)."""
    h, w = picture.height, picture.width
    with warnings.catch_warnings():  # a dropped octave is warned about once, by the dream itself
        warnings.simplefilter("ignore")
        counts = [len(pyramid(h, w, o.octaves, o.octave_scale)) * o.steps for o in opts]
    with tqdm(total=len(opts), disable=not progress, desc="sheet", unit="cell") as bar:
        for k, o in enumerate(opts):
            hook = driver.for_frame(callback, k, k, len(opts), before=sum(counts[:k]), total=sum(counts), unit="cell")
            pictures.append(run(picture, o, callback=hook))
            bar.update(1)


def _name(image) -> str:
    return Path(image).name if isinstance(image, (str, Path)) else "image"


def _checked_args(vary, channels, top, notes) -> tuple[int | None, dict]:
    """``top`` as a count (None: all) and ``notes`` as a dict, checked with ``vary`` and
    ``channels`` before any cell is dreamed: a notes dict JSON cannot hold failed after every
    cell, and a tensor given as vary or notes raised torch's "Boolean value of Tensor"."""
    if vary is not None and not isinstance(vary, Mapping):
        raise TypeError(f"vary must be a dict of option name -> list of values, got {_checks.shown(vary)}")
    if channels is not None and not isinstance(channels, str):
        raise TypeError(f"channels must be a layer name, got {_checks.shown(channels)}")
    if channels is None:  # (a channel sheet's: said of vary, top=500 said "at most 100 cells")
        if not (isinstance(top, numbers.Integral) and not isinstance(top, bool) and top == TOP):
            raise ValueError(f"top is for a channel sheet (channels=LAYER), got top={_checks.shown(top)} with vary")
        return None, _notes(notes)
    if isinstance(top, str) and top.strip().lower() == "all":
        count = None
    elif isinstance(top, str):  # ("top must be an integer" named no "all")
        raise ValueError(f"top must be a whole number or 'all', got {_checks.shown(top)}")
    else:
        count = _checks.integer("top", top, 1)
    if count is not None and count > V.MAX_CELLS:  # (it said "must be in [1, 100]", not why)
        raise ValueError(f"top: a sheet holds at most {V.MAX_CELLS} cells, got top={count}")
    return count, _notes(notes)


def _notes(notes) -> dict:
    if notes is not None and not isinstance(notes, dict):
        raise TypeError(f"notes must be a dict of facts for the JSON, got {_checks.shown(notes)}")
    try:
        json.dumps(notes or {}, indent=2, sort_keys=True)  # (as io.write_json writes it)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"notes must hold only what JSON holds (text, numbers, lists, dicts): {exc}") from None
    return notes or {}


def _check_cell_size(picture: Image.Image, o: DreamOptions, size: int) -> None:
    """Cells too small for the cell's network, said of ``size`` (InceptionV3 said "at least 75x75
    px, got 96x64" of a picture the user never gave)."""
    least, (w, h) = getattr(o.model, "min_input_side", 0), picture.size
    if min(w, h) < least and max(w, h) < size:  # (not shrunk: a larger size would not help)
        raise ValueError(
            f"image: the picture is {w}x{h} px, and {type(o.model).__name__} takes at least {least} px a side; "
            "resize it, or use another model"
        )
    if min(w, h) < least:
        need = math.ceil(least * max(w, h) / min(w, h))
        raise ValueError(
            f"size: the cells are {w}x{h} px, and {type(o.model).__name__} takes at least {least} px a side; "
            f"pass size={need} or more"
        )


def _channel_order(picture, size: int, channels: str, count: int | None, vary, base: dict, models: dict) -> list[int]:
    """The channels of a channel sheet, strongest response first: ``top`` of them (``"all"``),
    no more than the layer has, and no more cells than a sheet takes (:data:`~fastdream.sheet.vary.MAX_CELLS`)."""
    if vary:
        raise ValueError("proof_sheet: pass vary= or channels=, not both")
    if "layers" in base:  # (it was dropped without a word: each cell dreams one channel of `channels`)
        raise ValueError("layers: a channel sheet dreams each channel of its layer alone (channels=); leave layers out")
    first = _options({**base, "layers": [channels]}, models)  # a custom model needs its layer named
    _check_cell_size(picture, first, size)
    try:
        order = ranked(picture, channels, first)
    except ValueError as exc:  # the layer's name is the channels= argument here, not layers=
        text = str(exc)
        raise ValueError("channels:" + text[len("layers:") :] if text.startswith("layers:") else text) from None
    if count is not None and count > len(order):
        raise ValueError(f"top: {channels} has {len(order)} channels; top={count} asks for more")
    if count is None and len(order) > V.MAX_CELLS:
        raise ValueError(
            f"top: all {len(order)} channels of {channels} make {len(order)} cells, at most {V.MAX_CELLS} "
            "(it would run for hours); pass top=K"
        )
    return order[:count]


def _fixed(base: dict) -> str:
    """The settings every cell shares, for the title (a guide by its file name: its full path, kept
    in the JSON, ran over eight lines of a small sheet and showed the user's folders)."""
    shared = _jsonable(base)
    if isinstance(shared.get("guide"), str):
        shared["guide"] = Path(shared["guide"]).name
    return ", ".join(f"{k}={V.shown(v)}" for k, v in shared.items())


def _jsonable(cell: dict) -> dict:
    """The cell's options as JSON values: an objective by its expression (``fastdream.objectives``),
    what is not one (a model, an image) by its type."""
    out = {}
    for k, v in cell.items():
        if v is None or isinstance(v, (bool, int, float, str)):
            out[k] = v
        elif isinstance(v, (list, tuple)) and all(isinstance(x, (int, float, str)) for x in v):
            out[k] = list(v)
        elif isinstance(v, dict) and all(isinstance(x, (int, float)) for x in v.values()):
            out[k] = {str(a): b for a, b in v.items()}
        elif isinstance(v, Objective):  # its expression, which builds it again: channel('_blocks.10', 3)
            out[k] = repr(v)
        else:
            out[k] = f"<{type(v).__name__}>"
    return out
