"""The style commands: paint a photo in the style of one or more images (by regions if asked),
and style a video without flicker."""

from __future__ import annotations

import argparse
import dataclasses
import secrets

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


def _style_kwargs(args, n_styles: int) -> dict:
    """The keyword arguments of ``style_transfer`` the user gave, from :func:`_style_options`."""
    if args.style_weights is not None and len(args.style_weights) != n_styles:
        raise UsageError(f"--style-weights has {len(args.style_weights)} value(s) for {n_styles} style image(s)")
    if args.masks is not None and args.subject_from is not None:
        raise UsageError("--masks and --subject-from are alternatives: give one of them")
    if args.masks is not None and len(args.masks) != n_styles:
        raise UsageError(f"--masks has {len(args.masks)} mask(s) for {n_styles} style image(s); give one per style")
    kw = given(
        style_weights=args.style_weights,
        content_weight=args.content_weight,
        style_weight=args.style_weight,
        tv_weight=args.tv_weight,
        size=args.size,
        octaves=args.octaves,
        steps=args.steps,
        init=args.init,
        style_scale=args.style_scale,
        preserve_colors=args.preserve_colors,
        color_match=args.color_match,
        seed=args.seed,
        device=args.device,
        model=load_model(args),
        masks=args.masks,
    )
    if args.subject_from is not None:
        kw.update(masks="subject", cutout_model=args.subject_from)
    if args.tile is not None:
        kw["tile_size"] = args.tile or None  # 0: no tiling
    return kw


def _cmd_style(args) -> int:
    import fastdream as fd
    from fastdream import io

    out = output_path(args, "style.png")
    content = io.load_pil(args.input, "content", keep_mode=True)  # missing file / not an image: said first
    styles = [io.load_pil(s, "style") for s in args.styles]
    kw = _style_kwargs(args, len(styles))
    # A seed only seeds the noise of --init noise: drawn then and said, so that a painting you like
    # can be made again (--seed). From the content (the default) there is nothing to seed: a seed
    # said there read as a variation to try, and every seed painted the same picture.
    seeded = kw.get("init") == "noise"
    if seeded and kw.get("seed") is None:
        kw["seed"] = secrets.randbelow(2**31)
    with picture_so_far(args, out):
        result = fd.style_transfer(content, styles, progress=not args.quiet, **kw)
    io.save_image(result, out)
    print(f"wrote {out} ({result.width}x{result.height}" + (f", seed {kw['seed']})" if seeded else ")"))
    return 0


def _cmd_style_video(args) -> int:
    import fastdream as fd
    from fastdream import io

    out = output_path(args, None)
    styles = [io.load_pil(s, "style") for s in args.styles]  # missing file / not an image: a clear error first
    kw = given(flow=off(args.no_flow), temporal_weight=args.temporal_weight) | video_options(args)
    path = fd.style_video(args.input, styles, out, progress=not args.quiet, **kw, **_style_kwargs(args, len(styles)))
    say_video(path, args.frames_dir, fd.video.styled.SETTINGS_NAME, seeded=getattr(args, "init", None) == "noise")
    return 0


def _style_options(s, octaves_default: str = "") -> None:
    """The style settings shared by ``style`` and ``style-video`` (defaults: the library's)."""
    s.add_argument("--style-weights", type=float, nargs="+", metavar="W", help="one weight per style image")
    s.add_argument("--style-scale", type=float, help="style size relative to the output (2: bigger strokes)")
    s.add_argument("--masks", nargs="+", metavar="MASK", help="one mask image per style: each style only in its region")
    s.add_argument(
        "--subject-from",
        metavar="CKPT",
        help="U-Net checkpoint (train-unet): the subject in STYLE1, the rest in STYLE2",
    )
    s.add_argument("--size", type=int, metavar="PX", help="output long side (default: the content's)")
    s.add_argument("--steps", type=int, help="Adam steps per octave")
    s.add_argument(
        "--octaves",
        type=int,
        help=f"sizes painted, smallest first (coarse strokes, then detail{octaves_default})",
    )
    s.add_argument("--content-weight", type=float, help="how much the photo's shapes hold")
    s.add_argument("--style-weight", type=float, help="how much the style's textures take over")
    s.add_argument("--tv-weight", type=float, help="smoothness (total variation): more, fewer speckles")
    s.add_argument("--tile", type=int, help="tile size in pixels, halo included; 0 = no tiling")
    s.add_argument("--init", choices=["content", "noise"], help="start from the photo or from noise")
    s.add_argument(
        "--preserve-colors", action="store_true", default=None, help="keep the photo's colors (luminance-only transfer)"
    )
    s.add_argument(
        "--color-match", action="store_true", default=None, help="give the styles the photo's color statistics first"
    )
    model_options(s, "its fine-tuned network's features")
    s.add_argument(
        "--seed",
        type=int,
        help="seeds the noise of --init noise (default: drawn, and said); from the content, none is needed",
    )
    s.add_argument("--device")
    s.add_argument("-q", "--quiet", action="store_true", help="no progress bar")


def add(sub) -> None:
    import fastdream as fd
    from fastdream.style import StyleOptions
    from fastdream.video import styled

    style_defaults = {f.name: f.default for f in dataclasses.fields(StyleOptions)}
    s = sub.add_parser("style", help="paint a photo in the style of one or more images (neural style transfer)")
    s.add_argument("input", metavar="CONTENT", help="the photo whose shapes are kept")
    s.add_argument("styles", nargs="+", metavar="STYLE", help="style image(s); several are blended, or one per mask")
    s.add_argument("-o", "--output", help="output image file (default: style.png, or style-2.png... when that exists)")
    # (the library's default is None: as many as fit, so it is said here; the video's is a number)
    _style_options(s, "; default: 3, fewer where the short side is under 164 px")
    s.add_argument("--overwrite", action="store_true", help="allow the output to replace the input file")
    note_defaults(s, style_defaults, rename={"tile": "tile_size"})
    s.set_defaults(func=_cmd_style)

    s = sub.add_parser("style-video", help="style a video (MP4, GIF, WebP or a folder of frames) without flicker")
    s.add_argument("input", help="video file or folder of frames")
    s.add_argument("styles", nargs="+", metavar="STYLE", help="style image(s); several are blended, or one per mask")
    s.add_argument("-o", "--output", required=True, help="video file: .mp4, .gif or .webp")
    s.add_argument("--no-flow", action="store_true", help="style every frame on its own (it flickers)")
    s.add_argument("--temporal-weight", type=float, help="how strongly each frame keeps to the last one, moved")
    s.add_argument("--start", type=int, help="first frame to style")
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
    _style_options(s)
    defaults = {**style_defaults, **styled.STYLE_DEFAULTS, **library_defaults(fd.style_video)}
    note_defaults(s, defaults, rename={"tile": "tile_size"})
    s.set_defaults(func=_cmd_style_video)
