"""``fastdream sheet``: a proof sheet of many small dreams of one picture (fastdream.proof_sheet)."""

from __future__ import annotations

import argparse
import os

from fastdream._checks import shown
from fastdream.cli.common import (
    UsageError,
    given,
    input_args,
    library_defaults,
    load_model,
    note_defaults,
    output_path,
)
from fastdream.cli.dream import dream_kwargs, dream_options, preset_model


def _top(text: str) -> int | str:
    if text.strip().lower() == "all":
        return "all"
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"top must be a whole number or 'all', got {shown(text)}") from None


def _cmd_sheet(args) -> int:
    import fastdream as fd
    from fastdream import io
    from fastdream.sheet import vary

    if not args.vary and not args.channels:
        raise UsageError("give --vary NAME=V1,V2,... (one or more) or --channels LAYER: what the cells differ by")
    if args.vary and args.channels:
        raise UsageError("--vary and --channels are alternatives; pass one of them")
    if args.top is not None and not args.channels:
        raise UsageError("--top is for --channels LAYER")
    source = args.input or io.SAMPLE_IMAGE
    # missing file / not an image: a clear error before any work (and before the output's checks:
    # a missing nothere.json was said to be the sheet's own settings file)
    io.load_pil(source)
    out = output_path(args, "sheet.png", mode="RGB")  # a contact sheet, whatever the picture's mode
    io.check_not_input("output", out.with_suffix(".json"), [args.input, *input_args(args)])  # its settings too
    varied = vary.parse(args.vary) if args.vary else None
    weights_for = _varied_presets_model(args, varied)
    # (--weights with --preset tutorial are its model's: named too, so the notes rebuild the network)
    model = args.model if args.model is not None or args.weights is None else weights_for or preset_model(args)
    # (the weights' full path: the notes load them again from any folder)
    notes = given(model=model, weights=None if args.weights is None else os.path.abspath(args.weights))
    # (the varied presets' network takes the weights: dream_kwargs would load them into the default backbone)
    dream_args = args if weights_for is None else argparse.Namespace(**{**vars(args), "weights": None})
    kw = given(vary=varied, channels=args.channels, top=args.top, size=args.size) | dream_kwargs(dream_args)
    if weights_for is not None:
        kw["model"] = load_model(args, weights_for)
    if args.model is not None and args.weights is None:  # by its name: each cell's JSON dreams it again
        kw["model"] = args.model
    if args.guide:  # by its full path, read already: the JSON said "<Image>", and no cell could be remade
        kw["guide"] = os.path.abspath(args.guide)
    try:
        sheet = fd.proof_sheet(source, out, progress=not args.quiet, notes=notes, **kw)
    except KeyboardInterrupt as stop:  # (the finished cells, on a sheet of their own)
        args.partial = getattr(stop, "kept", None)
        raise
    count = len(sheet.cells)
    print(f"wrote {sheet.path} ({count} cell{'s' * (count != 1)}) and {sheet.json_path}")
    return 0


def _varied_presets_model(args, varied) -> str | None:
    """The network that ``--weights`` (without ``--model``) are for when a sheet varies presets:
    the one network they all dream with (``--vary preset=tutorial`` alone: inception_v3); presets
    of different networks are refused, which one file of weights cannot fit."""
    if args.weights is None or args.model is not None or not varied or "preset" not in varied:
        return None
    from fastdream.dream.presets import PRESETS, model_of

    named = sorted({model_of(p) for p in varied["preset"] if p in PRESETS})
    if len(named) > 1:  # (the weights were loaded into the default backbone, which they did not fit)
        raise UsageError(
            f"--weights with --vary preset: these presets dream with different networks ({', '.join(named)}), "
            "and the weights fit one; make a sheet per network, each with --preset"
        )
    return named[0] if named else None


def add(sub) -> None:
    import fastdream as fd

    s = sub.add_parser(
        "sheet",
        help="a proof sheet: many small dreams of one picture side by side, to choose settings or channels by eye",
        description="Dreams every combination of the --vary values (or each of a layer's channels) at a small size "
        "and writes one labeled contact sheet, plus SHEET.json with every cell's settings.",
    )
    s.add_argument("input", nargs="?", help="image file (default: the bundled astronaut photo)")
    s.add_argument(
        "-o",
        "--output",
        help="the sheet image (default: sheet.png, or sheet-2.png... when that exists); the settings go to its .json",
    )
    s.add_argument(
        "--vary",
        action="append",
        metavar="NAME=V1,V2,...",
        help="an option and its values, one cell per combination (repeat for more options); layers: specs "
        "joined by +, e.g. --vary layers=_blocks.5,_blocks.10+_blocks.12; values with commas of their own "
        "are separated by ; instead, e.g. --vary 'layers=_blocks.10:30-40,77;_blocks.12'",
    )
    s.add_argument(
        "--channels",
        metavar="LAYER",
        help="instead of --vary: one cell per channel of LAYER, each dreamed 30 steps unless --steps is given",
    )
    s.add_argument(
        "--top",
        type=_top,
        metavar="K",
        help="with --channels: the K channels that respond most (a sheet holds at most 100), or all",
    )
    s.add_argument("--size", type=int, metavar="PX", help="long side of each cell")
    dream_options(s)
    s.add_argument("--overwrite", action="store_true", help=argparse.SUPPRESS)
    note_defaults(s, library_defaults(fd.proof_sheet))
    s.set_defaults(func=_cmd_sheet)
