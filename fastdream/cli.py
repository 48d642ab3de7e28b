"""The ``fastdream`` command line.

Errors in the user's input (bad values, missing files, unknown layers) print one line on stderr
and exit with status 2, never a traceback; nothing is written then.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path


class _Parser(argparse.ArgumentParser):
    """argparse with the one-line error contract (argparse prints the whole usage by default)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


class UsageError(ValueError):
    """A problem with the command line itself, reported like the other input errors."""


def _cmd_info(args) -> int:
    from fastdream.info import format_info, info

    d = info()
    print(json.dumps(d, indent=2) if args.json else format_info(d))
    return 0


def _output_path(args, default: str | None) -> Path:
    out = Path(args.output or default)
    if args.input and Path(args.input).resolve() == out.resolve() and not args.overwrite:
        raise UsageError(f"output {out} is the input file; pass --overwrite to replace it")
    if out.exists() and out.is_dir():
        raise UsageError(f"output {out} is a folder; give a file name")
    if not out.parent.exists():
        raise FileNotFoundError(f"output folder does not exist: {out.parent}")
    return out


def _cmd_dream(args) -> int:
    import fastdream as fd
    from fastdream import io
    from fastdream.dream import DEFAULT_LAYERS
    from fastdream.models.efficientnet_lite import efficientnet_lite0
    from fastdream.models.taps import layer_names

    if args.list_layers:  # the names as trained: dream accepts all of them
        for name in layer_names(efficientnet_lite0(pretrained=False)):
            print(name + ("   (default)" if name in DEFAULT_LAYERS else ""))
        return 0
    out = _output_path(args, "dream.png")
    source = args.input or io.SAMPLE_IMAGE
    image = io.load_pil(source)  # missing file / not an image: a clear error before any work
    mask = None
    if args.mask_from:
        from fastdream.cutout import predict_mask

        mask = predict_mask(image, args.mask_from, threshold=0.5, device=args.device)
        if args.invert_mask:
            mask = 1.0 - mask
    elif args.invert_mask:
        raise UsageError("--invert-mask needs --mask-from CKPT")
    result = fd.dream(
        image,
        mask=mask,
        progress=not args.quiet,
        **_dream_kwargs(args),
    )
    io.save_image(result, out)
    print(f"wrote {out} ({result.width}x{result.height})")
    return 0


def _dream_options(s) -> None:
    """The dream settings shared by ``dream`` and ``zoom``."""
    s.add_argument("--layers", nargs="+", metavar="NAME", help="layers to amplify (see dream --list-layers)")
    s.add_argument("--octaves", type=int, default=4)
    s.add_argument("--octave-scale", type=float, default=1.4)
    s.add_argument("--steps", type=int, default=10, help="steps per octave")
    s.add_argument("--step-size", type=float, default=0.01)
    s.add_argument("--jitter", type=int, default=32, help="max random shift per step, pixels")
    s.add_argument("--tile", type=int, default=512, help="tile size in pixels; 0 = no tiling")
    s.add_argument("--objective", choices=["l2", "mean"], default="l2")
    s.add_argument("--seed", type=int, default=None)
    s.add_argument("--device", default=None, help="cpu or cuda (default: cuda when available)")
    s.add_argument("-q", "--quiet", action="store_true", help="no progress bar")


def _dream_kwargs(args) -> dict:
    return dict(
        layers=args.layers,
        octaves=args.octaves,
        octave_scale=args.octave_scale,
        steps=args.steps,
        step_size=args.step_size,
        jitter=args.jitter,
        tile_size=args.tile or None,
        objective=args.objective,
        seed=args.seed,
        device=args.device,
    )


def _add_dream(sub) -> None:
    s = sub.add_parser("dream", help="dream an image (a bundled sample photo when INPUT is omitted)")
    s.add_argument("input", nargs="?", help="image file (default: the bundled astronaut photo, public domain)")
    s.add_argument("-o", "--output", help="output image file (default: dream.png)")
    _dream_options(s)
    s.add_argument("--overwrite", action="store_true", help="allow the output to replace the input file")
    s.add_argument("--list-layers", action="store_true", help="print the model's layer names and exit")
    s.add_argument("--mask-from", metavar="CKPT", help="U-Net checkpoint (train-unet): dream only the subject")
    s.add_argument("--invert-mask", action="store_true", help="with --mask-from: dream only the background")
    s.set_defaults(func=_cmd_dream)


def _cmd_zoom(args) -> int:
    import fastdream as fd
    from fastdream import io

    out = _output_path(args, "zoom.gif")
    source = args.input or io.SAMPLE_IMAGE
    io.load_pil(source)  # missing file / not an image: a clear error before any work
    try:
        path = fd.zoom_video(
            source,
            out,
            frames=args.frames,
            zoom=args.zoom,
            shift=tuple(args.shift),
            angle=args.angle,
            fps=args.fps,
            frames_dir=args.frames_dir,
            resume=not args.no_resume,
            reverse=args.reverse,
            progress=not args.quiet,
            **_dream_kwargs(args),
        )
    except KeyboardInterrupt:
        print(
            "fastdream zoom: interrupted; the finished frames are kept: run the same command to resume", file=sys.stderr
        )
        return 130
    print(f"wrote {path}")
    return 0


def _add_zoom(sub) -> None:
    s = sub.add_parser("zoom", help="endless-zoom video: dream, zoom, repeat (GIF, WebP or MP4)")
    s.add_argument("input", nargs="?", help="image file (default: the bundled astronaut photo)")
    s.add_argument("-o", "--output", help="video file: .gif, .webp or .mp4 (default: zoom.gif)")
    s.add_argument("--frames", type=int, default=60)
    s.add_argument("--zoom", type=float, default=1.05, help="zoom factor per frame (> 1 zooms in)")
    s.add_argument("--shift", type=float, nargs=2, default=(0.0, 0.0), metavar=("DX", "DY"), help="pixels per frame")
    s.add_argument("--angle", type=float, default=0.0, help="degrees per frame, counter-clockwise")
    s.add_argument("--fps", type=float, default=15)
    s.add_argument("--frames-dir", default=None, help="where frames are kept (default: OUTPUT_frames/)")
    s.add_argument("--no-resume", action="store_true", help="start over instead of continuing")
    s.add_argument("--reverse", action="store_true", help="play backwards: zoom out of the dream")
    s.add_argument("--overwrite", action="store_true", help=argparse.SUPPRESS)
    _dream_options(s)
    s.set_defaults(func=_cmd_zoom, octaves=1, steps=5)


def _dream_all(images, args, seed=None):
    """Passes generated images through the dream (``--dream``), upscaled first so the network
    sees more than a few pixels."""
    import fastdream as fd

    size = args.dream_size
    out = []
    for im in images:
        big = im.convert("RGB").resize((size, size), resample=3)  # bicubic
        out.append(fd.dream(big, octaves=2, steps=args.steps, seed=seed, device=args.device))
    return out


def _cmd_train_gan(args) -> int:
    from fastdream.gan import GANTrainingError, train_gan

    try:
        path = train_gan(
            args.images,
            args.output,
            image_size=args.image_size,
            epochs=args.epochs,
            batch_size=args.batch_size,
            nz=args.nz,
            lr=args.lr,
            beta1=args.beta1,
            device=args.device,
            amp=args.amp,
            resume=not args.no_resume,
            seed=args.seed,
            progress=not args.quiet,
            ngf=args.ngf,
            ndf=args.ndf,
            nc=1 if args.gray else 3,
            max_minutes=args.max_minutes,
        )
    except GANTrainingError as exc:
        print(f"fastdream train-gan: training failed: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {path}")
    return 0


def _cmd_sample_gan(args) -> int:
    from fastdream import io
    from fastdream.gan import sample_gan

    out = Path(args.output)
    images = sample_gan(args.checkpoint, args.n, seed=args.seed, device=args.device)
    if args.dream:
        images = _dream_all(images, args, seed=args.seed)
    out.mkdir(parents=True, exist_ok=True)
    for i, im in enumerate(images):
        io.save_image(im, out / f"sample_{i:04d}.png")
    print(f"wrote {len(images)} images to {out}")
    return 0


def _cmd_gan_walk(args) -> int:
    from fastdream.gan import latent_walk, save_animation

    frames = latent_walk(args.checkpoint, args.frames, seed=args.seed, points=args.points, device=args.device)
    if args.dream:  # one seed for every frame: the dream's jitter does not flicker between frames
        frames = _dream_all(frames, args, seed=args.seed if args.seed is not None else 0)
    path = save_animation(frames, args.output, fps=args.fps)
    print(f"wrote {path} ({len(frames)} frames)")
    return 0


def _add_gan(sub) -> None:
    s = sub.add_parser("train-gan", help="train a DCGAN on a folder of images")
    s.add_argument("images", help="folder of images (nested folders are read too)")
    s.add_argument("-o", "--output", required=True, help="folder for checkpoints and sample grids")
    s.add_argument("--image-size", type=int, default=64, choices=[32, 64, 128])
    s.add_argument("--epochs", type=int, default=25)
    s.add_argument("--batch-size", type=int, default=64)
    s.add_argument("--nz", type=int, default=100, help="latent size")
    s.add_argument("--ngf", type=int, default=64)
    s.add_argument("--ndf", type=int, default=64)
    s.add_argument("--lr", type=float, default=2e-4)
    s.add_argument("--beta1", type=float, default=0.5)
    s.add_argument("--gray", action="store_true", help="train on 1-channel images")
    s.add_argument("--max-minutes", type=float, default=None, help="stop after the epoch that passes this")
    s.add_argument("--amp", action="store_true", help="mixed precision (CUDA only)")
    s.add_argument("--no-resume", action="store_true", help="start over instead of continuing")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--device", default=None)
    s.add_argument("-q", "--quiet", action="store_true")
    s.set_defaults(func=_cmd_train_gan)

    for name, func, helptext in [
        ("sample-gan", _cmd_sample_gan, "sample images from a trained generator"),
        ("gan-walk", _cmd_gan_walk, "animated walk through the generator's latent space"),
    ]:
        s = sub.add_parser(name, help=helptext)
        s.add_argument("checkpoint", help="checkpoint.pt written by train-gan")
        if name == "sample-gan":
            s.add_argument("-o", "--output", required=True, help="folder for the PNG samples")
            s.add_argument("-n", type=int, default=16, help="number of samples")
        else:
            s.add_argument("-o", "--output", required=True, help="animation file: .gif or .webp")
            s.add_argument("--frames", type=int, default=60)
            s.add_argument("--points", type=int, default=4, help="latent points visited in a loop")
            s.add_argument("--fps", type=float, default=15)
        s.add_argument("--seed", type=int, default=None)
        s.add_argument("--device", default=None)
        s.add_argument("--dream", action="store_true", help="pass each image through fastdream.dream")
        s.add_argument("--dream-size", type=int, default=256, help="size the images are dreamed at")
        s.add_argument("--steps", type=int, default=5, help="dream steps per octave (with --dream)")
        s.set_defaults(func=func)


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

    out = _output_path(args, None)
    image = io.load_pil(args.input)
    result = fd.cutout(
        image, args.model, threshold=args.threshold, only_mask=args.only_mask, soft=not args.hard, device=args.device
    )
    io.save_image(result, out)
    print(f"wrote {out} ({result.mode} {result.width}x{result.height})")
    return 0


def _add_unet(sub) -> None:
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


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="fastdream", description="DeepDream and creative image models.")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)
    s = sub.add_parser("info", help="versions, native kernels and the backend in use")
    s.add_argument("--json", action="store_true", help="print a JSON object")
    s.set_defaults(func=_cmd_info)
    _add_dream(sub)
    _add_zoom(sub)
    _add_unet(sub)
    _add_gan(sub)
    return p


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except BrokenPipeError:  # output piped into head & co.; before OSError, its base class
        # Python would report the broken pipe again when it flushes stdout at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except (ValueError, TypeError, OSError, ImportError) as exc:
        print(f"fastdream {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"fastdream {args.command}: interrupted; nothing was written", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
