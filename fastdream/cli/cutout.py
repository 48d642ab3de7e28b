"""Commands of background removal: train-unet, cutout."""

from __future__ import annotations

from pathlib import Path

from fastdream.cli.common import output_path


def _cmd_train_unet(args) -> int:
    import fastdream as fd

    path = fd.train_unet(
        args.images,
        args.masks,
        args.output,
        epochs=args.epochs,
        batch_size=args.batch_size,
        image_size=args.image_size,
        lr=args.lr,
        val_split=args.val_split,
        device=args.device,
        amp=args.amp,
        resume=not args.no_resume,
        seed=args.seed,
        progress=not args.quiet,
        base_channels=args.base_channels,
        depth=args.depth,
        backbone=None if args.backbone == "none" else args.backbone,
        encoder_lr=args.encoder_lr,
        freeze_epochs=args.freeze_epochs,
        augment=not args.no_augment,
        max_minutes=args.max_minutes,
        skip_bad=args.skip_bad,
    )
    print(f"wrote {path}")
    return 0


def _cutout_options(args) -> dict:
    return dict(threshold=args.threshold, only_mask=args.only_mask, soft=not args.hard, tta=args.tta,
                refine=not args.no_refine, decontaminate=args.decontaminate, background=args.bg_color)  # fmt: skip


def _cmd_cutout(args) -> int:
    import fastdream as fd
    from fastdream import io

    if Path(args.input).is_dir():
        r = fd.cutout_folder(args.input, args.output, args.model, format=args.format, progress=not args.quiet,
                             device=args.device, **_cutout_options(args))  # fmt: skip
        print(r.summary("cut out", args.output))
        return 0
    out = output_path(args, None)
    image = io.load_pil(args.input)
    result = fd.cutout(image, args.model, device=args.device, **_cutout_options(args))
    io.save_image(result, out)
    print(f"wrote {out} ({result.mode} {result.width}x{result.height})")
    return 0


def add(sub) -> None:
    s = sub.add_parser("train-unet", help="train the background-removal U-Net on images + masks")
    s.add_argument("images", help="folder of images")
    s.add_argument("masks", help="folder of masks, paired with the images by file stem")
    s.add_argument("-o", "--output", required=True, help="checkpoint file to write (and resume from)")
    s.add_argument("--epochs", type=int, default=None, help="default: from the number of images")
    s.add_argument("--batch-size", type=int, default=8)
    s.add_argument("--image-size", type=int, default=160)
    s.add_argument("--lr", type=float, default=1e-3)
    s.add_argument("--val-split", type=float, default=0.1)
    s.add_argument("--base-channels", type=int, default=32)
    s.add_argument("--depth", type=int, default=4)
    s.add_argument("--backbone", choices=["efficientnet_lite0", "none"], default="efficientnet_lite0",
                   help="pretrained encoder (default), or none: the plain U-Net")  # fmt: skip
    s.add_argument("--encoder-lr", type=float, default=0.1, help="the pretrained encoder's learning-rate factor")
    s.add_argument("--freeze-epochs", type=int, default=0, help="epochs the pretrained encoder stays frozen")
    s.add_argument("--no-augment", action="store_true", help="no rotation or color jitter of the crops")
    s.add_argument("--max-minutes", type=float, default=None)
    s.add_argument("--skip-bad", action="store_true", help="skip unpaired or unreadable files with a warning")
    s.add_argument("--amp", action="store_true", help="mixed precision (CUDA only)")
    s.add_argument("--no-resume", action="store_true")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--device", default=None)
    s.add_argument("-q", "--quiet", action="store_true")
    s.set_defaults(func=_cmd_train_unet)

    s = sub.add_parser("cutout", help="cut the subject out of a photo or a folder of them (RGBA PNG) with a U-Net")
    s.add_argument("input", help="image file, or folder of images")
    s.add_argument("-o", "--output", required=True, help="output image (.png or .webp keep the alpha), or folder")
    s.add_argument("--format", default="png", help="for a folder: the outputs' format (default: png)")
    s.add_argument("--bg-color", type=int, nargs="+", metavar="V", default=None,
                   help="R G B [A] (0-255): put the subject on this color instead of transparency")  # fmt: skip
    s.add_argument("--tta", action="store_true", help="also predict the mirror image and average")
    s.add_argument("--no-refine", action="store_true", help="upsample the mask instead of refining its edges")
    s.add_argument("--decontaminate", action="store_true", help="take the old background's color out of the edges")
    s.add_argument("-q", "--quiet", action="store_true")
    s.add_argument("--model", required=True, metavar="CKPT", help="checkpoint from train-unet")
    s.add_argument("--only-mask", action="store_true", help="write the mask (L image) instead")
    s.add_argument("--threshold", type=float, default=0.5)
    s.add_argument("--hard", action="store_true", help="binary mask instead of soft edges")
    s.add_argument("--device", default=None)
    s.add_argument("--overwrite", action="store_true", help="allow the output to replace the input file")
    s.set_defaults(func=_cmd_cutout)
