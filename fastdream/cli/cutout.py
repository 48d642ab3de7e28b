"""Commands of background removal: train-unet, cutout."""

from __future__ import annotations

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
        backbone=args.backbone,
        max_minutes=args.max_minutes,
        skip_bad=args.skip_bad,
    )
    print(f"wrote {path}")
    return 0


def _cmd_cutout(args) -> int:
    import fastdream as fd
    from fastdream import io

    out = output_path(args, None)
    image = io.load_pil(args.input)
    result = fd.cutout(
        image, args.model, threshold=args.threshold, only_mask=args.only_mask, soft=not args.hard, device=args.device
    )
    io.save_image(result, out)
    print(f"wrote {out} ({result.mode} {result.width}x{result.height})")
    return 0


def add(sub) -> None:
    s = sub.add_parser("train-unet", help="train the background-removal U-Net on images + masks")
    s.add_argument("images", help="folder of images")
    s.add_argument("masks", help="folder of masks, paired with the images by file stem")
    s.add_argument("-o", "--output", required=True, help="checkpoint file to write (and resume from)")
    s.add_argument("--epochs", type=int, default=20)
    s.add_argument("--batch-size", type=int, default=8)
    s.add_argument("--image-size", type=int, default=256)
    s.add_argument("--lr", type=float, default=1e-3)
    s.add_argument("--val-split", type=float, default=0.1)
    s.add_argument("--base-channels", type=int, default=32)
    s.add_argument("--depth", type=int, default=4)
    s.add_argument(
        "--backbone", choices=["efficientnet_lite0"], default=None, help="pretrained encoder (good for small datasets)"
    )
    s.add_argument("--max-minutes", type=float, default=None)
    s.add_argument("--skip-bad", action="store_true", help="skip unpaired or unreadable files with a warning")
    s.add_argument("--amp", action="store_true", help="mixed precision (CUDA only)")
    s.add_argument("--no-resume", action="store_true")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--device", default=None)
    s.add_argument("-q", "--quiet", action="store_true")
    s.set_defaults(func=_cmd_train_unet)

    s = sub.add_parser("cutout", help="cut the subject out of a photo (RGBA PNG) with a trained U-Net")
    s.add_argument("input", help="image file")
    s.add_argument("-o", "--output", required=True, help="output image (.png or .webp keep the alpha)")
    s.add_argument("--model", required=True, metavar="CKPT", help="checkpoint from train-unet")
    s.add_argument("--only-mask", action="store_true", help="write the mask (L image) instead")
    s.add_argument("--threshold", type=float, default=0.5)
    s.add_argument("--hard", action="store_true", help="binary mask instead of soft edges")
    s.add_argument("--device", default=None)
    s.add_argument("--overwrite", action="store_true", help="allow the output to replace the input file")
    s.set_defaults(func=_cmd_cutout)
