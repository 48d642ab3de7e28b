"""Commands of background removal: train-unet, cutout."""

from __future__ import annotations

from pathlib import Path

from fastdream.cli.common import (
    UsageError,
    given,
    library_defaults,
    note_defaults,
    off,
    output_path,
    say_written,
    stamp,
)


def _cmd_train_unet(args) -> int:
    import fastdream as fd

    kw = given(
        epochs=args.epochs,
        batch_size=args.batch_size,
        image_size=args.image_size,
        lr=args.lr,
        val_split=args.val_split,
        device=args.device,
        amp=args.amp,
        resume=off(args.no_resume),
        seed=args.seed,
        base_channels=args.base_channels,
        depth=args.depth,
        encoder_lr=args.encoder_lr,
        freeze_epochs=args.freeze_epochs,
        augment=off(args.no_augment),
        max_minutes=args.max_minutes,
        skip_bad=args.skip_bad,
    )
    if args.backbone is not None:
        kw["backbone"] = None if args.backbone == "none" else args.backbone
    if args.backbone != "none" and (args.base_channels is not None or args.depth is not None):
        raise UsageError("--base-channels and --depth shape the plain U-Net; pass them with --backbone none")
    if args.backbone == "none" and (args.encoder_lr is not None or args.freeze_epochs is not None):
        raise UsageError(
            "--encoder-lr and --freeze-epochs are for the pretrained encoder, which --backbone none has not"
        )
    args.checkpoint_before = before = stamp(args.output)  # (an interrupt says whether this run wrote it)
    path = fd.train_unet(args.images, args.masks, args.output, progress=not args.quiet, **kw)
    say_written(path, before, args.quiet, "fastdream cutout PHOTO --model {} -o cutout.png")
    return 0


def _cutout_options(args) -> dict:
    return given(
        threshold=args.threshold,
        only_mask=args.only_mask,
        soft=off(args.hard),
        tta=args.tta,
        refine=off(args.no_refine),
        decontaminate=args.decontaminate,
        background=args.bg_color,
        device=args.device,
    )


def _bg_color(values):
    """--bg-color's words: R G B [A], or one color name ("white", "#20a040") as the library takes."""
    from fastdream.cutout.predict import background_color

    if values is None:
        return None
    if len(values) == 1 and not values[0].strip().isdigit():
        return background_color(values[0])  # (an unknown name is said of background: --bg-color)
    try:
        numbers = tuple(int(v) for v in values)
    except ValueError:
        raise UsageError(
            f"--bg-color: R G B [A] are whole numbers 0-255, or one color name; got {' '.join(values)}"
        ) from None
    return background_color(numbers)  # (checked now: "255" into a .jpg was refused as a transparency)


def _cmd_cutout(args) -> int:
    import fastdream as fd
    from fastdream import io
    from fastdream.cutout import loses_alpha

    args.bg_color = _bg_color(args.bg_color)
    source = args.input or io.SAMPLE_IMAGE
    if Path(source).is_dir():
        kw = given(format=args.format) | _cutout_options(args)
        r = fd.cutout_folder(source, args.output, args.model, progress=not args.quiet, **kw)
        if r.main:
            print(r.summary("cut out", args.output))
        return 0
    if args.format:  # (a single cutout wrote its extension's format and said nothing)
        raise UsageError("--format is for a folder of pictures; the output's extension gives the format")
    color = args.bg_color or ()
    mode = "L" if args.only_mask else "RGB" if len(color) == 3 else "RGBA"  # (an opaque A is left out)
    fmt = loses_alpha(Path(args.output).suffix, soft=not args.hard)
    if "A" in mode and fmt:  # (a BMP's refusal did not say --bg-color; a JPEG's did not name --output)
        what = "soft transparency" if fmt == "GIF" else "transparency"
        fix = "give --bg-color an opaque color (no A, or A 255)" if color else "pass --bg-color R G B"
        raise UsageError(
            f"--output: {args.output} is a {fmt}, which cannot hold the cutout's {what} (its alpha); use .png or "
            f".webp, or {fix} to put the subject on a color"
        )
    out = output_path(args, None, mode=mode, soft=not args.hard)  # --model is among the inputs it checks
    image = io.load_pil(source, every_frame=None)
    result = fd.cutout(image, args.model, **_cutout_options(args))
    io.save_image(result, out)
    sample = "" if args.input else ", of the bundled sample photo"  # (as dream says it: a forgotten INPUT is seen)
    print(f"wrote {out} ({result.mode} {result.width}x{result.height}{sample})")
    return 0


def add(sub) -> None:
    import fastdream as fd

    s = sub.add_parser("train-unet", help="train the background-removal U-Net on images + masks")
    s.add_argument("images", help="folder of images")
    s.add_argument("masks", help="folder of masks, paired with the images by file stem")
    s.add_argument("-o", "--output", required=True, help="checkpoint file to write (and resume from)")
    s.add_argument("--epochs", type=int, help="default: from the number of images")
    s.add_argument("--batch-size", type=int)
    s.add_argument("--image-size", type=int)
    s.add_argument("--lr", type=float)
    s.add_argument("--val-split", type=float)
    s.add_argument("--base-channels", type=int)
    s.add_argument("--depth", type=int)
    s.add_argument(
        "--backbone",
        choices=["efficientnet_lite0", "none"],
        help="a pretrained encoder, or none: the plain U-Net",
    )
    s.add_argument("--encoder-lr", type=float, help="the pretrained encoder's learning-rate factor")
    s.add_argument("--freeze-epochs", type=int, help="epochs the pretrained encoder stays frozen")
    s.add_argument("--no-augment", action="store_true", help="no rotation or color jitter of the crops")
    s.add_argument("--max-minutes", type=float)
    s.add_argument(
        "--skip-bad",
        action="store_true",
        default=None,
        help="leave out pairs that cannot be read or differ in size, with a warning (an image without a mask, or a mask without an image, is always left out, with a warning)",
    )
    s.add_argument("--amp", action="store_true", default=None, help="mixed precision (CUDA only)")
    s.add_argument("--no-resume", action="store_true")
    s.add_argument("--seed", type=int)
    s.add_argument("--device")
    s.add_argument("-q", "--quiet", action="store_true")
    note_defaults(s, library_defaults(fd.train_unet))
    s.set_defaults(func=_cmd_train_unet)

    s = sub.add_parser("cutout", help="cut the subject out of a photo or a folder of them (RGBA PNG) with a U-Net")
    s.add_argument(
        "input", nargs="?", help="image file, or folder of images (default: the bundled astronaut photo, as dream's)"
    )
    s.add_argument("-o", "--output", required=True, help="output image (.png or .webp keep the alpha), or folder")
    s.add_argument("--format", help="for a folder: the outputs' format")
    s.add_argument(
        "--bg-color",
        nargs="+",
        metavar="V",
        default=None,
        help="R G B [A] (0-255), or a color name (white, #20a040): put the subject on this color instead of "
        "transparency",
    )
    s.add_argument("--tta", action="store_true", default=None, help="also predict the mirror image and average")
    s.add_argument("--no-refine", action="store_true", help="upsample the mask instead of refining its edges")
    s.add_argument(
        "--decontaminate", action="store_true", default=None, help="take the old background's color out of the edges"
    )
    s.add_argument("-q", "--quiet", action="store_true")
    s.add_argument("--model", required=True, metavar="CKPT", help="checkpoint from train-unet")
    s.add_argument("--only-mask", action="store_true", default=None, help="write the mask (L image) instead")
    s.add_argument("--threshold", type=float)
    s.add_argument("--hard", action="store_true", help="binary mask instead of soft edges")
    s.add_argument("--device")
    s.add_argument("--overwrite", action="store_true", help="allow the output to replace the input file")
    note_defaults(s, library_defaults(fd.cutout_folder) | library_defaults(fd.cutout))
    s.set_defaults(func=_cmd_cutout)
