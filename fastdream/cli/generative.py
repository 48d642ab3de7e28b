"""Commands of the generative models: train-gan, sample-gan, gan-walk, train-vae, sample-vae, vae-walk."""

from __future__ import annotations

import secrets
from pathlib import Path

from fastdream.cli import samples
from fastdream.cli.common import (
    UsageError,
    given,
    input_args,
    library_defaults,
    note_defaults,
    off,
    partial_name,
    say_written,
    stamp,
)


def _dreamed(images, args, done=frozenset(), seed=None):
    """(index, image) of each generated image not ``done``, passed through the dream (``--dream``)
    one at a time, upscaled first so the network sees more than a few pixels; as they are without."""
    todo = [(i, im) for i, im in enumerate(images) if i not in done]
    if not args.dream:
        yield from todo
        return
    from tqdm import tqdm

    import fastdream as fd

    size, seed = args.dream_size, args.seed if seed is None else seed
    bar = tqdm(todo, desc="dream", unit="picture", disable=args.quiet, initial=len(done), total=len(images))
    for i, im in bar:  # (seconds each)
        big = im.convert("RGB").resize((size, size), resample=3)  # bicubic
        yield i, fd.dream(big, octaves=2, steps=args.steps, seed=seed, device=args.device)


def _channels(args):
    if args.gray and args.channels == 3:  # (a gray model was trained without a word)
        raise UsageError("--gray is --channels 1, which --channels 3 contradicts; give one of them")
    return 1 if args.gray else args.channels  # None: the library decides from the folder


def _trained(train, args, **kw) -> int:
    before = stamp(Path(kw["out_dir"]) / "checkpoint.pt")
    args.checkpoint_before = before  # (an interrupt says whether this run wrote it)
    path = train(**kw)  # a TrainingError: exit 1, said by cli.errors.status with the options' names
    sample = "sample-gan" if train.__name__ == "train_gan" else "sample-vae"
    say_written(path, before, not kw["progress"], f"fastdream {sample} {{}} -o samples")
    return 0


def _cmd_train_gan(args) -> int:
    from fastdream.gan import train_gan

    kw = given(
        image_size=args.image_size,
        epochs=args.epochs,
        batch_size=args.batch_size,
        nz=args.nz,
        lr=args.lr,
        lr_d=args.lr_d,
        beta1=args.beta1,
        recipe=args.recipe,
        device=args.device,
        amp=args.amp,
        resume=off(args.no_resume),
        seed=args.seed,
        ngf=args.ngf,
        ndf=args.ndf,
        nc=_channels(args),
        max_minutes=args.max_minutes,
        skip_bad=args.skip_bad,
    )
    return _trained(train_gan, args, images_dir=args.images, out_dir=args.output, progress=not args.quiet, **kw)


def _cmd_train_vae(args) -> int:
    from fastdream.vae import train_vae

    kw = given(
        image_size=args.image_size,
        latent_dim=args.latent_dim,
        beta=args.beta,
        kl_warmup=args.kl_warmup,
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        channels=_channels(args),
        device=args.device,
        amp=args.amp,
        resume=off(args.no_resume),
        seed=args.seed,
        skip_bad=args.skip_bad,
        max_minutes=args.max_minutes,
    )
    return _trained(train_vae, args, images_dir=args.images, out_dir=args.output, progress=not args.quiet, **kw)


def _check_output(args, walk: bool) -> None:
    """``-o`` checked before anything is generated: a folder for samples (or a video file for a
    walk) that is not the checkpoint, nor holds it; ``-n`` and ``--dream-size`` within bounds."""
    from fastdream import _checks, io
    from fastdream.training import IMAGE_EXTENSIONS

    out, old = Path(args.output), []
    if walk:
        if out.is_dir():
            raise IsADirectoryError(f"output: {out} is a folder; give a .gif, .webp or .mp4 file")
        io.animation_format(out, "output")
        io.check_parent("output", out)  # (else every frame was dreamed before the write failed)
        io.check_writable("output", out.absolute().parent)  # (it was the system's errno after every frame)
        fps = _checks.real("--fps", args.fps, lo=0.0, hi=io.max_fps(io.animation_format(out, "output")), hi_open=False)
        args.fps = fps
    elif out.exists() and not out.is_dir():
        raise NotADirectoryError(f"output: {out} exists and is not a folder (samples go into a folder)")
    elif not out.exists():
        io.output_folder("output", out, what="the samples (sample_0000.png, ...)")
    elif pictures := sorted(p.name for p in out.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS):
        # Samples of other settings: replacing some and leaving the others mixed two runs unseen;
        # those of the same settings (an interrupted run's) are kept and the rest made.
        # Other pictures (a training folder): its next run would learn the network's own samples.
        old = samples.held(out)
        if not old:
            raise FileExistsError(
                f"output: {out} holds {len(pictures)} other pictures ({pictures[0]}, ...); samples go into a new or "
                "empty folder"
            )
    io.check_not_input("output", out, input_args(args), folder=not walk)  # the checkpoint, --between's images
    if not walk:  # (in the shell's words: the library's says "n")
        _checks.integer("-n", args.n, 1, cap=_checks.COUNT_MAX)
    if not args.dream and (args.dream_size is not None or args.steps is not None):
        raise UsageError("--dream-size and --steps are for the dream of each picture: add --dream")
    args.dream_size = DREAM_SIZE if args.dream_size is None else args.dream_size
    args.steps = DREAM_STEPS if args.steps is None else args.steps
    if args.dream:
        _checks.integer("--dream-size", args.dream_size, 16, 1 << 14)
        _checks.integer("--steps", args.steps, 1, 10_000)
        side, size = args.dream_size**2, f"--dream-size {args.dream_size}"
        if walk:  # (-n is checked above for every sampling)
            # A walk's dreamed frames are all held until the animation is written (samples are written
            # one by one): 20000 frames of 2048 px started a run that would end out of memory hours later.
            frames = _checks.integer("--frames", args.frames, 1, cap=_checks.COUNT_MAX)
            _checks.fits(f"--frames {frames} dreamed at {size} (held for the animation)", side * (145 + 3 * frames))
        else:  # (PNGs of dreams: about half their raw size, as the video frames' check says)
            _checks.fits(size, side * 145)
            _checks.fits_on_disk(f"-n {args.n} dreamed samples of {args.dream_size} px", args.n * side * 1.5, out)
    if old:  # (with the dream settings now set: they are part of the record)
        samples.check_resume(args, out, old)


def _drawn_seed(args) -> None:
    """A seed drawn when none is given (a walk between pictures draws nothing), so that the line
    that says what was written can say it: a sample you like can then be made again (--seed)."""
    if args.seed is None and not getattr(args, "between", None):
        args.seed, args.seed_drawn = secrets.randbelow(2**31), True


def _write_walk(frames, args) -> int:
    from fastdream import io

    if args.dream:  # one seed for every frame: the dream's jitter does not flicker between frames
        dreamed: list = []
        try:
            dreamed.extend(im for _, im in _dreamed(frames, args, seed=args.seed if args.seed is not None else 0))
        except KeyboardInterrupt:  # (the frames dreamed so far were all lost: an hour's work)
            _keep_walk(dreamed, args)
            raise
        frames = dreamed
    path = io.write_animation(frames, args.output, fps=args.fps)
    seed = f", seed {args.seed}" if args.seed is not None else ""
    print(f"wrote {path} ({len(frames)} frames{seed})")
    return 0


def _keep_walk(frames: list, args) -> None:
    """The frames a stopped ``--dream`` walk had dreamed, as ``NAME-partial.EXT`` beside ``-o``."""
    from fastdream import io

    if not frames:
        return
    path = io.unused_name(partial_name(Path(args.output)))  # never over a file (an input...)
    try:
        io.write_animation(frames, path, fps=args.fps)
    except (OSError, ValueError, KeyboardInterrupt):  # (the stop is what was asked: its line says nothing kept)
        return
    n = len(frames)
    said = "the 1 frame dreamed so far is" if n == 1 else f"the {n} frames dreamed so far are"
    seed = "" if args.seed is None else f" (seed {args.seed})"
    again = f"add --seed {args.seed} to" if getattr(args, "seed_drawn", False) else "the same command will"
    args.partial = f"{said} in {path}{seed}; {again} dream the walk again from its start"


def _cmd_sample_gan(args) -> int:
    from fastdream.gan import sample_gan

    _check_output(args, walk=False)
    _drawn_seed(args)
    images = sample_gan(args.checkpoint, args.n, **given(seed=args.seed, device=args.device))
    return samples.write_samples(images, args, _dreamed)


def _cmd_sample_vae(args) -> int:
    from fastdream.vae import sample_vae

    _check_output(args, walk=False)
    _drawn_seed(args)
    images = sample_vae(
        args.checkpoint, args.n, **given(seed=args.seed, temperature=args.temperature, device=args.device)
    )
    return samples.write_samples(images, args, _dreamed)


def _cmd_gan_walk(args) -> int:
    from fastdream.gan import latent_walk

    _check_output(args, walk=True)
    _drawn_seed(args)
    frames = latent_walk(args.checkpoint, args.frames, **given(seed=args.seed, points=args.points, device=args.device))
    return _write_walk(frames, args)


def _cmd_vae_walk(args) -> int:
    from fastdream import io
    from fastdream.vae import vae_walk

    _check_output(args, walk=True)
    between = None if args.between is None else [io.load_pil(p, "--between") for p in args.between]
    _drawn_seed(args)
    kw = given(seed=args.seed, points=args.points, between=between, device=args.device)
    frames = vae_walk(args.checkpoint, args.frames, **kw)
    return _write_walk(frames, args)


#: The dream of each sample or frame with --dream: its size and steps per octave.
DREAM_SIZE, DREAM_STEPS = 256, 5


def _training_options(s) -> None:
    s.add_argument("images", help="folder of images (nested folders are read too)")
    s.add_argument("-o", "--output", required=True, help="folder for the checkpoint and the sample grids")
    s.add_argument("--image-size", type=int, choices=[32, 64, 128])
    s.add_argument("--epochs", type=int)
    s.add_argument("--batch-size", type=int, help="images per batch (default: 64, or all a smaller folder holds)")
    s.add_argument("--channels", type=int, choices=[1, 3], help="default: 1 for a gray folder, else 3")
    s.add_argument("--gray", action="store_true", help="the same as --channels 1")
    s.add_argument("--max-minutes", type=float, help="stop before an epoch that would end past this")
    s.add_argument("--amp", action="store_true", default=None, help="mixed precision (CUDA only)")
    s.add_argument("--no-resume", action="store_true", help="start over instead of continuing")
    s.add_argument("--skip-bad", action="store_true", default=None, help="leave unreadable files out, with a warning")
    s.add_argument("--seed", type=int)
    s.add_argument("--device")
    s.add_argument("-q", "--quiet", action="store_true")


def _using_options(s, what: str, walk: bool) -> None:
    s.add_argument("checkpoint", help=f"checkpoint.pt written by train-{what}")
    if walk:
        s.add_argument("-o", "--output", required=True, help="animation file: .gif, .webp or .mp4")
        s.add_argument("--frames", type=int, default=60, help="frames of the walk (default: 60)")
        s.add_argument(
            "--points", type=int, help="latent points visited in a loop (default: 4, as many as the frames of 2-3)"
        )
        s.add_argument("--fps", type=float, default=15, help="frames per second (default: 15)")
    else:
        s.add_argument("-o", "--output", required=True, help="folder for the PNG samples")
        s.add_argument("-n", type=int, default=16, help="number of samples (default: 16)")
    s.add_argument("--seed", type=int)
    s.add_argument("--device")
    s.add_argument("--dream", action="store_true", help="pass each image through fastdream.dream")
    s.add_argument(
        "--dream-size", type=int, help=f"size the images are dreamed at (with --dream; default: {DREAM_SIZE})"
    )
    s.add_argument("--steps", type=int, help=f"dream steps per octave (with --dream; default: {DREAM_STEPS})")
    s.add_argument("-q", "--quiet", action="store_true", help="no progress bar (with --dream)")


def add(sub) -> None:
    from fastdream.gan import latent_walk, sample_gan, train_gan
    from fastdream.vae import sample_vae, train_vae, vae_walk

    s = sub.add_parser("train-gan", help="train a GAN on a folder of images (stable on small folders)")
    _training_options(s)
    s.add_argument("--recipe", choices=["stable", "dcgan"], help="stable, or dcgan: the classic DCGAN")
    s.add_argument("--nz", type=int, help="latent size")
    s.add_argument("--ngf", type=int)
    s.add_argument("--ndf", type=int)
    s.add_argument("--lr", type=float)
    s.add_argument("--lr-d", type=float, help="discriminator learning rate (default: --lr)")
    s.add_argument("--beta1", type=float)
    note_defaults(s, library_defaults(train_gan))
    s.set_defaults(func=_cmd_train_gan)

    s = sub.add_parser("train-vae", help="train a variational autoencoder on a folder of images")
    _training_options(s)
    s.add_argument("--latent-dim", type=int)
    s.add_argument("--beta", type=float, help="weight of the KL term (1: the ELBO)")
    s.add_argument("--kl-warmup", type=float, help="epochs over which the KL weight grows from 0")
    s.add_argument("--lr", type=float)
    note_defaults(s, library_defaults(train_vae))
    s.set_defaults(func=_cmd_train_vae)

    s = sub.add_parser("sample-gan", help="sample images from a trained GAN")
    _using_options(s, "gan", walk=False)
    note_defaults(s, library_defaults(sample_gan))
    s.set_defaults(func=_cmd_sample_gan)
    s = sub.add_parser("gan-walk", help="animated walk through a GAN's latent space")
    _using_options(s, "gan", walk=True)
    note_defaults(s, library_defaults(latent_walk))
    s.set_defaults(func=_cmd_gan_walk)
    s = sub.add_parser("sample-vae", help="sample images from a trained VAE")
    _using_options(s, "vae", walk=False)
    s.add_argument("--temperature", type=float, help="std of the latents (below 1: safer samples)")
    note_defaults(s, library_defaults(sample_vae))
    s.set_defaults(func=_cmd_sample_vae)
    s = sub.add_parser("vae-walk", help="animated walk through a VAE's latent space, or between two images")
    _using_options(s, "vae", walk=True)
    s.add_argument("--between", nargs=2, metavar=("A", "B"), help="walk from image A to image B")
    note_defaults(s, library_defaults(vae_walk))
    for action in s._actions:  # (the library's None: 4 on a loop, none between two images)
        if action.dest == "points":
            action.help = action.help[:-1] + "; not with --between)"
    s.set_defaults(func=_cmd_vae_walk)
