"""Commands of the GAN: train-gan, sample-gan, gan-walk."""

from __future__ import annotations

import sys
from pathlib import Path


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


def add(sub) -> None:
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
