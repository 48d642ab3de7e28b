"""Commands of the dream: dream (one image), zoom (a zoom video); their shared dream options."""

from __future__ import annotations

import argparse
import secrets
import warnings
from pathlib import Path

from fastdream._checks import shown
from fastdream.cli.common import (
    UsageError,
    given,
    library_defaults,
    load_model,
    model_options,
    note_defaults,
    off,
    output_path,
    picture_so_far,
    say_video,
    video_options,
)


def octaves_arg(text: str) -> int | str:
    """``--octaves``: a whole number, or ``auto``."""
    if text == "auto":
        return text
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"octaves must be a whole number or 'auto', got {shown(text)}") from None


def dream_options(s, overrides: dict | None = None) -> None:
    """The dream settings shared by ``dream``, ``zoom``, ``dream-video`` and ``sheet``: every
    default is the library's (``DreamOptions``, with the pipeline's ``overrides``), shown in the help."""
    from fastdream.dream import DreamOptions
    from fastdream.dream.presets import names

    s.add_argument(
        "--preset",
        choices=names(),
        help="a named look to start from; the options given win over it (see dream --list-presets)",
    )
    s.add_argument(
        "--layers",
        nargs="+",
        metavar="SPEC",
        help="layers to amplify: NAME, NAME:37, NAME:30-40,77, NAME:top8, NAME:bottom8, each with an "
        "optional =WEIGHT (see dream --list-layers)",
    )
    model_options(s)
    s.add_argument(
        "--subject",
        nargs="+",
        metavar="NAME[=W]",
        help="with --model DREAMER.pt: the subject(s) to grow, each with an optional =WEIGHT",
    )
    s.add_argument("--octaves", type=octaves_arg, help="octaves, or auto: the smallest about 256 px on its long side")
    s.add_argument("--octave-scale", type=float, help="the size ratio between octaves (> 1)")
    s.add_argument("--steps", type=int, help="steps per octave")
    s.add_argument("--step-size", type=float, help="how far each step moves the picture (the gradient normalized)")
    s.add_argument("--jitter", type=int, help="max random shift per step, pixels")
    s.add_argument("--tile", type=int, help="tile size in pixels, at least 32; 0 = no tiling")
    s.add_argument(
        "--objective",
        choices=["l2", "mean"],
        help="what grows: l2, the layers' activations squared (the classic look); mean, their mean (the tutorial's)",
    )
    s.add_argument(
        "--norm",
        choices=["std", "mean_abs", "laplacian"],
        help="gradient normalization; laplacian: smoother, larger patterns",
    )
    s.add_argument("--lap-levels", type=int, help="bands of the Laplacian pyramid (--norm laplacian)")
    s.add_argument(
        "--smooth",
        type=float,
        metavar="SIGMA",
        help="Gaussian smoothing of the gradient (sigma in pixels; default: 0, off)",
    )
    s.add_argument("--guide", metavar="IMAGE", help="grow what this image contains instead of what the layers see")
    s.add_argument(
        "--preserve-colors", action="store_true", default=None, help="keep the input's colors, dream only brightness"
    )
    s.add_argument(
        "--color-match", action="store_true", default=None, help="give the output the input's color statistics"
    )
    s.add_argument("--seed", type=int, help="the jitter's seed (default: drawn, and said with the result)")
    s.add_argument("--device")
    s.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    note_defaults(s, {**DreamOptions.defaults(), **(overrides or {})}, rename={"tile": "tile_size"})


def dream_kwargs(args) -> dict:
    """The keyword arguments of ``fastdream.dream`` the user gave, from :func:`dream_options`."""
    guide = None
    if args.guide:
        from fastdream import io

        guide = io.load_pil(args.guide, "guide")  # missing file / not an image: a clear error first
    tile = None if args.tile is None else {"tile_size": args.tile or None}  # 0: no tiling
    return given(
        preset=args.preset,
        model=load_model(args, preset_model(args)),
        layers=args.layers,
        subject=args.subject,
        octaves=args.octaves,
        octave_scale=args.octave_scale,
        steps=args.steps,
        step_size=args.step_size,
        jitter=args.jitter,
        objective=args.objective,
        norm=args.norm,
        lap_levels=args.lap_levels,
        smooth=args.smooth,
        guide=guide,
        preserve_colors=args.preserve_colors,
        color_match=args.color_match,
        seed=args.seed,
        device=args.device,
    ) | (tile or {})


def preset_model(args) -> str | None:
    """The model ``--weights`` are for when ``--model`` is not given: the preset's (tutorial:
    inception_v3), else the default backbone."""
    if args.preset is None:
        return None
    from fastdream.dream.presets import model_of

    return model_of(args.preset)


def _list_presets() -> None:
    from fastdream.dream.presets import describe, names

    for name in names():
        print(describe(name))


def _list_layers(args) -> int:
    import warnings

    from fastdream.dream.presets import model_of
    from fastdream.models.registry import MODELS
    from fastdream.models.taps import aliases, layer_shapes

    # The network as defined: dream accepts all of these names (and their aliases: InceptionV3's
    # Keras names), and builds the fast version itself. Without --model, the preset's network
    # (tutorial: InceptionV3's), as the dream would use. With --weights, the network they load:
    # a bad file is the dream's error, and a fine-tuned head its own number of classes.
    model = args.model or (model_of(args.preset) if args.preset else None) or "efficientnet_lite0"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        net = load_model(args, model) if model not in MODELS or args.weights else MODELS[model]()
    net.eval()
    side = max(64, getattr(net, "min_input_side", 0))
    shapes = layer_shapes(net, (side, side))
    alias = {module: a for a, module in aliases(net).items()}
    width = max(len(n) + (len(alias[n]) + 3 if n in alias else 0) for n in shapes)
    print(f"{'layer':<{width}}  channels")
    for name, shape in shapes.items():
        shown = f"{name} ({alias[name]})" if name in alias else name
        default = name in net.dream_layers or alias.get(name) in net.dream_layers
        print(f"{shown:<{width}}  {shape[0]:>8}" + ("   (default)" if default else ""))
    if getattr(net, "subjects", None):
        print(f"subjects (--subject): {', '.join(net.subjects)}")
    return 0


def _cmd_folder(args) -> int:
    import fastdream as fd

    if args.mask_from or args.mask or not args.output:
        raise UsageError("dreaming a folder needs -o OUTDIR (and takes no --mask or --mask-from)")
    kw = given(format=args.format, low_memory=args.low_memory) | dream_kwargs(args)
    r = fd.dream_folder(args.input, args.output, progress=not args.quiet, **kw)
    if r.main:
        print(r.summary("dreamed", args.output))
    return 0


def _cmd_dream(args) -> int:
    import fastdream as fd
    from fastdream import io

    if args.list_presets:
        _list_presets()
        if args.list_layers:  # both asked for: both listed
            print()
    if args.list_layers:
        return _list_layers(args)
    if args.list_presets:
        return 0
    if args.input and Path(args.input).is_dir():
        return _cmd_folder(args)
    if args.format:
        raise UsageError("--format is for dreaming a folder; the output's extension gives the format")
    out = output_path(args, "dream.png")
    source = args.input or io.SAMPLE_IMAGE
    # The file's header: a missing file or not an image is a clear error before any work, and a
    # picture too big for its dream's memory is refused before it is decoded (fd.dream reads it).
    image = io.load_pil(source) if args.mask_from else Path(source)
    mask = _mask(args, image)
    kw = given(mask=mask, low_memory=args.low_memory) | dream_kwargs(args)
    if kw.get("seed") is None:  # drawn here and said: a dream you like can be made again (--seed)
        kw["seed"] = secrets.randbelow(2**31)
    with picture_so_far(args, out):
        result = fd.dream(image, progress=not args.quiet, **kw)
    io.save_image(result, out)
    sample = "" if args.input else ", of the bundled sample photo"  # (an input left out by mistake shows)
    print(f"wrote {out} ({result.width}x{result.height}, seed {kw['seed']}{sample})")
    return 0


def _mask(args, image):
    """Where the dream goes: a painted mask (``--mask``: white, or the painted part of a clear
    layer) or the subject a U-Net finds (``--mask-from``), ``--invert-mask`` the rest; None: all."""
    from fastdream import io
    from fastdream.dream.options import EMPTY_MASK

    if args.mask and args.mask_from:
        raise UsageError("--mask and --mask-from are alternatives; pass one of them")
    if isinstance(image, Path):
        from fastdream.training.folders import header_size

        w, h = header_size(image, "image")  # (upright, as it will be dreamed)
    else:
        w, h = image.width, image.height
    if args.mask:
        mask = io.load_mask(args.mask, (h, w), "--mask", empty=EMPTY_MASK)
    elif args.mask_from:
        from fastdream import _checks
        from fastdream.cutout import load_unet, predict_mask

        # (the U-Net's file said of --mask-from: the library's word for it is not the command's)
        unet = load_unet(args.mask_from, device=_checks.device("device", args.device), name="--mask-from")
        mask = predict_mask(image, unet, threshold=0.5)
    elif args.invert_mask:
        raise UsageError("--invert-mask needs --mask IMAGE or --mask-from CKPT")
    else:
        return None
    return 1.0 - mask if args.invert_mask else mask


def _cmd_zoom(args) -> int:
    import fastdream as fd
    from fastdream import io

    out = output_path(args, "zoom.gif")
    source = args.input or io.SAMPLE_IMAGE
    with warnings.catch_warnings():  # what it says about the picture, zoom_video says once
        warnings.simplefilter("ignore")
        io.load_pil(source)  # missing file / not an image: a clear error before any work
    kw = given(
        frames=args.frames,
        zoom=args.zoom,
        shift=None if args.shift is None else tuple(args.shift),
        angle=args.angle,
        padding=args.padding,
        interpolation=args.interpolation,
        fps=args.fps,
        frames_dir=args.frames_dir,
        resume=off(args.no_resume),
        reverse=args.reverse,
        color_drift=_color_drift(args.color_drift),
        mask=args.mask,
    )
    path = fd.zoom_video(source, out, progress=not args.quiet, **kw, **dream_kwargs(args))
    say_video(path, args.frames_dir, fd.video.zoom.SETTINGS_NAME)
    return 0


def _cmd_dream_video(args) -> int:
    import fastdream as fd

    out = output_path(args, None)
    kw = given(blend=args.blend, flow=off(args.no_flow), mask=args.mask) | video_options(args)
    path = fd.dream_video(args.input, out, progress=not args.quiet, **kw, **dream_kwargs(args))
    say_video(path, args.frames_dir, fd.video.coherent.SETTINGS_NAME)
    return 0


def _color_drift(values):
    """``--color-drift``: one number, the hue's turn in degrees; three, the R G B gains."""
    return None if values is None else values[0] if len(values) == 1 else tuple(values)


COLOR_DRIFT_HELP = "colors drifting each frame: DEGREES of hue turn (-180 to 180), or R G B gains (up to 2 each)"
#: A video's --mask: the same mask on every frame (the library's ``mask=``; Python and the shell alike).
VIDEO_MASK_HELP = "dream only where this picture is white, on every frame (transparency: where it is painted)"


def add(sub) -> None:
    import fastdream as fd
    from fastdream.video import coherent

    s = sub.add_parser("dream", help="dream an image or a folder of images (the bundled sample when INPUT is omitted)")
    s.add_argument(
        "input", nargs="?", help="image file or folder (default: the bundled astronaut photo, public domain)"
    )
    s.add_argument(
        "-o",
        "--output",
        help="output image file (default: dream.png, or dream-2.png... when that exists), or folder for a folder",
    )
    s.add_argument("--format", help="for a folder: the outputs' format (png, jpg, ...; default: kept)")
    dream_options(s)
    s.add_argument("--overwrite", action="store_true", help="allow the output to replace the input file")
    s.add_argument("--list-layers", action="store_true", help="print the model's layers and channel counts, and exit")
    s.add_argument("--list-presets", action="store_true", help="print the presets, their looks and settings, and exit")
    s.add_argument(
        "--low-memory",
        action="store_true",
        default=None,
        help="dream in bounded memory (8-bit input kept, float16 detail); automatic above 4096x4096",
    )
    s.add_argument(
        "--mask",
        metavar="IMAGE",
        help="dream only where this picture is white (a picture with transparency: where it is painted)",
    )
    s.add_argument("--mask-from", metavar="CKPT", help="U-Net checkpoint (train-unet): dream only the subject")
    s.add_argument(
        "--invert-mask", action="store_true", help="with --mask or --mask-from: dream only the rest (the background)"
    )
    s.set_defaults(func=_cmd_dream)

    s = sub.add_parser("dream-video", help="dream a video (MP4, GIF, WebP or a folder of frames), coherently")
    s.add_argument("input", help="video file or folder of frames")
    s.add_argument("-o", "--output", required=True, help="video file: .mp4, .gif or .webp")
    s.add_argument("--blend", type=float, help="share of the previous dreamed frame each frame starts from")
    s.add_argument("--no-flow", action="store_true", help="blend without moving the previous frame along the flow")
    s.add_argument("--mask", metavar="IMAGE", help=VIDEO_MASK_HELP)
    s.add_argument("--start", type=int, help="first frame to dream")
    s.add_argument("--end", type=int, help="frame to stop before")
    s.add_argument(
        "--fps",
        type=float,
        help="output frame rate (default: the input's; a folder of frames: 24, a GIF without frame times: 10)",
    )
    s.add_argument("--no-audio", action="store_true", help="drop the input's sound")
    s.add_argument("--frames-dir", help="where frames are kept (default: beside the output, its name + _frames)")
    s.add_argument("--no-resume", action="store_true", help="start over instead of continuing")
    s.add_argument("--overwrite", action="store_true", help=argparse.SUPPRESS)
    dream_options(s, coherent.DREAM_DEFAULTS)
    note_defaults(s, library_defaults(fd.dream_video))
    s.set_defaults(func=_cmd_dream_video)
    _add_zoom(sub)


def _add_zoom(sub) -> None:
    import fastdream as fd
    from fastdream.ops.zoom_shift import INTERPOLATIONS, PADDINGS
    from fastdream.video import zoom

    s = sub.add_parser("zoom", help="endless-zoom video: dream, zoom, repeat (GIF, WebP or MP4)")
    s.add_argument("input", nargs="?", help="image file (default: the bundled astronaut photo)")
    s.add_argument(
        "-o", "--output", help="video file: .gif, .webp or .mp4 (default: zoom.gif, or zoom-2.gif... when that exists)"
    )
    s.add_argument("--frames", type=int, help="frames in the video")
    s.add_argument("--zoom", type=float, help="zoom factor per frame, 0.5 to 2 (> 1 zooms in)")
    s.add_argument("--shift", type=float, nargs=2, metavar=("DX", "DY"), help="pixels per frame")
    s.add_argument("--angle", type=float, help="degrees per frame, counter-clockwise (-180 to 180)")
    s.add_argument(
        "--padding",
        choices=PADDINGS,
        help="what shows where the move uncovers an edge: the picture mirrored, its edge repeated, or black",
    )
    s.add_argument(
        "--interpolation",
        choices=INTERPOLATIONS,
        help="resampling between frames: bicubic stays sharp, bilinear softens a little each frame",
    )
    s.add_argument("--fps", type=float, help="frames per second")
    s.add_argument("--frames-dir", help="where frames are kept (default: beside the output, its name + _frames)")
    s.add_argument("--no-resume", action="store_true", help="start over instead of continuing")
    s.add_argument("--reverse", action="store_true", default=None, help="play backwards: zoom out of the dream")
    s.add_argument("--color-drift", type=float, nargs="+", metavar="V", help=COLOR_DRIFT_HELP)
    s.add_argument("--mask", metavar="IMAGE", help=VIDEO_MASK_HELP)
    s.add_argument("--overwrite", action="store_true", help=argparse.SUPPRESS)
    dream_options(s, zoom.DREAM_DEFAULTS)
    note_defaults(s, library_defaults(fd.zoom_video))
    s.set_defaults(func=_cmd_zoom)
