"""The style command: paint a photo in the style of one or more images."""

from __future__ import annotations

import dataclasses

from fastdream.cli.common import UsageError, given, load_model, model_options, note_defaults, output_path


def _cmd_style(args) -> int:
    import fastdream as fd
    from fastdream import io

    out = output_path(args, "style.png")
    content = io.load_pil(args.input)  # missing file / not an image: a clear error before any work
    styles = [io.load_pil(s) for s in args.styles]
    if args.style_weights is not None and len(args.style_weights) != len(styles):
        raise UsageError(f"--style-weights has {len(args.style_weights)} value(s) for {len(styles)} style image(s)")
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
    )
    if args.tile is not None:
        kw["tile_size"] = args.tile or None  # 0: no tiling
    result = fd.style_transfer(content, styles, progress=not args.quiet, **kw)
    io.save_image(result, out)
    print(f"wrote {out} ({result.width}x{result.height})")
    return 0


def add(sub) -> None:
    from fastdream.style import StyleOptions

    s = sub.add_parser("style", help="paint a photo in the style of one or more images (neural style transfer)")
    s.add_argument("input", metavar="CONTENT", help="the photo whose shapes are kept")
    s.add_argument("styles", nargs="+", metavar="STYLE", help="style image(s); several are blended")
    s.add_argument("-o", "--output", help="output image file (default: style.png)")
    s.add_argument("--style-weights", type=float, nargs="+", metavar="W", help="one weight per style image")
    s.add_argument("--style-scale", type=float, help="style size relative to the output (2: bigger strokes)")
    s.add_argument("--size", type=int, metavar="PX", help="output long side (default: the content's)")
    s.add_argument("--steps", type=int, help="Adam steps per octave")
    s.add_argument("--octaves", type=int)
    s.add_argument("--content-weight", type=float)
    s.add_argument("--style-weight", type=float)
    s.add_argument("--tv-weight", type=float)
    s.add_argument("--tile", type=int, help="tile size in pixels, halo included; 0 = no tiling")
    s.add_argument("--init", choices=["content", "noise"])
    s.add_argument(
        "--preserve-colors", action="store_true", default=None, help="keep the photo's colors (luminance-only transfer)"
    )
    s.add_argument(
        "--color-match", action="store_true", default=None, help="give the styles the photo's color statistics first"
    )
    model_options(s)
    s.add_argument("--seed", type=int)
    s.add_argument("--device", help="cpu or cuda (default: cuda when available)")
    s.add_argument("--overwrite", action="store_true", help="allow the output to replace the input file")
    s.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    note_defaults(s, {f.name: f.default for f in dataclasses.fields(StyleOptions)}, rename={"tile": "tile_size"})
    s.set_defaults(func=_cmd_style)
