"""Using a trained VAE: samples from the prior, reconstructions, latent walks."""

from __future__ import annotations

import torch
from PIL import Image

from fastdream import _checks, io
from fastdream._checks import shown
from fastdream.models.dcgan import IMAGE_SIZES
from fastdream.models.latent import latent_generator, loop_latents, slerp, walk_points
from fastdream.models.vae import VAE
from fastdream.ops.luma import luma
from fastdream.training import Choice, Int, Record, Weights, load_weights, model_fits, read_checkpoint

FORMAT, VERSION = "fastdream.vae", 1
#: The network's settings a checkpoint may hold (their memory is checked too: ``model_fits``).
MODEL = {
    "image_size": Choice(*IMAGE_SIZES),
    "channels": Choice(1, 3),
    "latent_dim": Int(1, _checks.COUNT_MAX),
    "base_channels": Int(1, _checks.COUNT_MAX),
}
#: What using a VAE reads from its checkpoint, checked before the network is built.
SCHEMA = Record({"config": Record({"model": Record(MODEL)}), "model": Weights()})

__all__ = ["load_vae", "sample_vae", "vae_reconstruct", "vae_walk"]


def load_vae(checkpoint, *, device=None) -> VAE:
    """The model of a :func:`~fastdream.train_vae` checkpoint (path or loaded dict), in eval mode."""
    dev = _checks.device("device", device)
    state = read_checkpoint(checkpoint, FORMAT, VERSION, schema=SCHEMA)
    where = "the given dict" if isinstance(checkpoint, dict) else str(checkpoint)
    config = {k: state["config"]["model"][k] for k in MODEL}
    model_fits(f"checkpoint: {where} ({', '.join(f'{k}={v}' for k, v in config.items())})", lambda: VAE(**config))
    model = load_weights(VAE(**config), state["model"], where, key="model weights")
    return model.to(dev).eval()


def _count(name: str, n, model: VAE) -> int:
    n = _checks.integer(name, n, 1 if name == "n" else 2, cap=_checks.COUNT_MAX)
    c = model.config
    if name == "points":  # latent vectors only: no image per point
        _checks.fits(f"points={n} (latent vectors of {c['latent_dim']} numbers)", n * c["latent_dim"] * 8)
        return n
    _checks.fits(
        f"{name}={n} ({c['image_size']}x{c['image_size']} images)",
        n * (c["image_size"] ** 2 * 20 + c["latent_dim"] * 8),
    )
    return n


def _images(model: VAE, logits: torch.Tensor) -> list[Image.Image]:
    return io.to_pil(torch.sigmoid(logits.float()))


@torch.no_grad()
def sample_vae(
    checkpoint, n: int, *, seed: int | None = None, temperature: float = 1.0, device=None, batch_size: int = 256
) -> list[Image.Image]:
    """``n`` images decoded from latents drawn from the prior N(0, temperature^2 I) (on the CPU, so
    a seed gives the same images on any device; the first k of n are those of n=k).

    Examples:
        >>> images = sample_vae("runs/digits/checkpoint.pt", 16, seed=0)  # doctest: +SKIP
    """
    n = _checks.integer("n", n, 1, cap=_checks.COUNT_MAX)
    temperature = _checks.real("temperature", temperature, lo=0.0, lo_open=False, cap=100.0)
    batch_size = _checks.integer("batch_size", batch_size, 1, cap=_checks.COUNT_MAX)
    gen = latent_generator(None if seed is None else _checks.seed("seed", seed))
    model = load_vae(checkpoint, device=device)
    _count("n", n, model)
    dev = next(model.parameters()).device
    z = torch.stack([torch.randn(model.config["latent_dim"], generator=gen) for _ in range(n)]) * temperature
    return [im for i in range(0, n, batch_size) for im in _images(model, model.decode(z[i : i + batch_size].to(dev)))]


def _encode(model: VAE, images, name: str, *, batches: bool = False) -> torch.Tensor:
    """The posterior means of ``images`` (a list of any image kind, or one image; with
    ``batches``, an (N, C, H, W) tensor stands for its N images, else it is refused: its first
    image alone was taken, without a word)."""
    items = images if isinstance(images, (list, tuple)) else [images]
    if not items:
        raise ValueError(f"{name} must hold at least one image")
    c, s = model.config["channels"], model.config["image_size"]
    dev = next(model.parameters()).device
    xs = []
    for i, im in enumerate(items):
        rgb = io.load(im, f"{name}[{i}]", one=not batches).rgb
        x = torch.nn.functional.interpolate(rgb, size=(s, s), mode="bilinear", align_corners=False, antialias=True)
        xs.append(luma(x.clamp(0, 1)) if c == 1 else x)
    return model.encode(torch.cat(xs).to(dev))[0]


@torch.no_grad()
def vae_reconstruct(checkpoint, images, *, device=None) -> list[Image.Image]:
    """Each image through the encoder (its posterior mean) and back through the decoder, at the
    model's size (images are resized to it, squashed if not square; gray for a gray model).
    ``images``: one image, a list of them, or an (N, C, H, W) tensor of N; one result each."""
    model = load_vae(checkpoint, device=device)
    return _images(model, model.decode(_encode(model, images, "images", batches=True)))


@torch.no_grad()
def vae_walk(
    checkpoint, frames: int, *, seed: int | None = None, points: int | None = None, between=None, device=None
) -> list[Image.Image]:
    """Frames of a walk through the latent space: a closed loop through ``points`` random latents
    (great circles, as :func:`~fastdream.gan.latent_walk`), or with ``between=(a, b)`` the path
    from image a's latent (its posterior mean) to image b's, both ends included (``points``, 4 by
    default or as many as the frames of a shorter walk, is the loop's: not with ``between``; nor is ``seed``).

    Examples:
        >>> frames = vae_walk("runs/digits/checkpoint.pt", 30, between=("3.png", "8.png"))  # doctest: +SKIP
    """
    frames = _checks.integer("frames", frames, 2, cap=_checks.COUNT_MAX)
    seed = None if seed is None else _checks.seed("seed", seed)
    model = load_vae(checkpoint, device=device)
    _count("frames", frames, model)
    if between is not None:
        if points is not None or seed is not None:  # taken and not used, it was silently ignored
            raise ValueError(
                f"{'points' if points is not None else 'seed'}: a walk between two images has no random points; "
                "leave it out, or leave out between= / --between for a loop through random points"
            )
        if not isinstance(between, (list, tuple)) or len(between) != 2:
            raise ValueError(f"between must be a pair of images (a, b), got {shown(between)}")
        a, b = _encode(model, list(between), "between").double().cpu()
        t = torch.linspace(0, 1, frames, dtype=torch.float64)[:, None]
        z = slerp(a.expand(frames, -1), b.expand(frames, -1), t).float()
    else:
        points = _count("points", walk_points(frames, points), model)
        keys = torch.randn(points, model.config["latent_dim"], generator=latent_generator(seed), dtype=torch.float64)
        z = loop_latents(keys, frames)
    return _images(model, model.decode(z.to(next(model.parameters()).device)))
