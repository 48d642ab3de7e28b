r"""Using a trained generator: samples, latent walks (slerp), and their animations."""

from __future__ import annotations

from typing import Sequence

import torch
from PIL import Image
from torch import Tensor

from fastdream import _checks, io
from fastdream.models.dcgan import IMAGE_SIZES, Generator
from fastdream.models.latent import latent_generator, loop_latents, slerp, walk_points
from fastdream.training import Choice, Int, Record, Weights, load_weights, model_fits, read_checkpoint

FORMAT, VERSION = "fastdream.dcgan", 2
#: The networks' settings a checkpoint may hold (their memory is checked too: ``model_fits``).
CONFIG = {
    "nz": Int(1, _checks.COUNT_MAX),
    "ngf": Int(1, _checks.COUNT_MAX),
    "nc": Choice(1, 3),
    "image_size": Choice(*IMAGE_SIZES),
}
#: What sampling reads from a GAN checkpoint, checked before the generator is built.
SCHEMA = Record({"config": Record(CONFIG), "generator": Weights()}, {"generator_ema": Weights()})


def read_gan_checkpoint(checkpoint, name: str = "checkpoint", schema=SCHEMA) -> dict:
    return read_checkpoint(checkpoint, FORMAT, VERSION, name, schema)


def _where(checkpoint) -> str:
    return "the given dict" if isinstance(checkpoint, dict) else str(checkpoint)


def _generator(state: dict, device: torch.device, where: str) -> Generator:
    """The net that makes samples: the average of the generator's weights when the run kept one."""
    c = state["config"]
    settings = f"checkpoint: {where} (nz={c['nz']}, ngf={c['ngf']})"
    model_fits(settings, lambda: Generator(c["nz"], c["ngf"], c["nc"], c["image_size"]))
    g = Generator(c["nz"], c["ngf"], c["nc"], c["image_size"])
    key = "generator_ema" if state.get("generator_ema") is not None else "generator"
    load_weights(g, state[key], where, key=key)
    return g.to(device).eval()


def check_count(name: str, n: int, image_size: int, nc: int, latent: int) -> int:
    """``n`` images (samples, frames, latent points) of ``image_size`` with ``nc`` channels from
    latents of ``latent`` numbers, checked to fit in memory as PIL images and their floats."""
    n = _checks.integer(name, n, 1, cap=_checks.COUNT_MAX)
    what = f"{image_size}x{image_size} images" if image_size else f"latent vectors of {latent} numbers"
    _checks.fits(f"{name}={n} ({what})", n * (image_size**2 * nc * 5 + latent * 8))
    return n


__all__ = ["latent_walk", "read_gan_checkpoint", "sample_gan", "save_animation", "slerp"]


@torch.no_grad()
def _generate(g: Generator, z: Tensor, device: torch.device, batch_size: int) -> list[Image.Image]:
    out = []
    for i in range(0, z.shape[0], batch_size):
        out += io.to_pil(g(z[i : i + batch_size].to(device)), value_range=(-1.0, 1.0))
    return out


def sample_gan(checkpoint, n: int, *, seed: int | None = None, device=None, batch_size: int = 256) -> list[Image.Image]:
    r"""Draws ``n`` images from the generator of a :func:`~fastdream.train_gan` checkpoint.

    The latent vectors are drawn on the CPU from :math:`\mathcal{N}(0, I)`, so a seed gives the
    same latents on any device, and the first ``k`` of ``n`` are those of ``n=k``; the generator
    runs in eval mode (each image is independent of the others in its batch).

    Args:
        checkpoint: path of a checkpoint written by :func:`~fastdream.train_gan` (or the loaded dict).
        n: number of images (>= 1).
        seed: seed of the latent vectors (``None``: different images each call).
        device: where the generator runs (default: CUDA when available, else the CPU).
        batch_size: images per forward pass.

    Returns:
        ``n`` PIL images of ``image_size`` x ``image_size`` pixels, mode ``"RGB"`` (or ``"L"``
        for a gray model).

    Examples:
        >>> images = sample_gan("runs/digits/checkpoint.pt", 16, seed=0)  # doctest: +SKIP
        >>> images[0].size                                                 # doctest: +SKIP
        (32, 32)
    """
    n = _checks.integer("n", n, 1, cap=_checks.COUNT_MAX)
    batch_size = _checks.integer("batch_size", batch_size, 1, cap=_checks.COUNT_MAX)
    gen = latent_generator(None if seed is None else _checks.seed("seed", seed))
    device = _checks.device("device", device)
    state = read_gan_checkpoint(checkpoint)
    c = state["config"]
    check_count("n", n, c["image_size"], c["nc"], c["nz"])
    g = _generator(state, device, _where(checkpoint))
    # One row at a time: the first k latents of a seed are the same whatever n is.
    z = torch.stack([torch.randn(c["nz"], generator=gen) for _ in range(n)])
    return _generate(g, z, device, min(batch_size, n))


def latent_walk(
    checkpoint, frames: int, *, seed: int | None = None, points: int | None = None, device=None, batch_size: int = 256
) -> list[Image.Image]:
    r"""Frames of a closed walk through the generator's latent space.

    ``points`` random latent vectors are visited in turn along great circles (:func:`slerp`),
    and the walk returns to the first one, so the frames loop seamlessly (e.g. as a GIF with
    :func:`save_animation`). Frame 0 is the first point; frames are evenly spaced in the
    interpolation parameter.

    Args:
        checkpoint: path of a :func:`~fastdream.train_gan` checkpoint (or the loaded dict).
        frames: number of frames (>= 2).
        seed: seed of the latent points (``None``: a different walk each call).
        points: latent points visited (>= 2; default :data:`~fastdream.models.latent.WALK_POINTS`,
            as many as the frames in a shorter walk).
        device, batch_size: as for :func:`sample_gan`.

    Returns:
        ``frames`` PIL images.

    Examples:
        >>> frames = latent_walk("runs/digits/checkpoint.pt", 60, seed=0)  # doctest: +SKIP
        >>> save_animation(frames, "walk.gif", fps=15)                     # doctest: +SKIP
    """
    frames = _checks.integer("frames", frames, 2, cap=_checks.COUNT_MAX)
    points = _checks.integer("points", walk_points(frames, points), 2, cap=_checks.COUNT_MAX)
    batch_size = _checks.integer("batch_size", batch_size, 1, cap=_checks.COUNT_MAX)
    gen = latent_generator(None if seed is None else _checks.seed("seed", seed))
    device = _checks.device("device", device)
    state = read_gan_checkpoint(checkpoint)
    c = state["config"]
    check_count("frames", frames, c["image_size"], c["nc"], c["nz"])
    check_count("points", points, 0, 0, c["nz"])  # latent vectors only: no image per point
    g = _generator(state, device, _where(checkpoint))
    keys = torch.randn(points, c["nz"], generator=gen, dtype=torch.float64)
    return _generate(g, loop_latents(keys, frames), device, min(batch_size, frames))


def save_animation(frames: Sequence[Image.Image], path, *, fps: float = 15, loop: int = 0):
    """Writes frames as an animated GIF or WebP, or an MP4 (by extension), atomically, through
    :func:`fastdream.io.write_animation` (exact frame timing).

    Args:
        frames: PIL images of one size (at least 1).
        path: output file, ``.gif``, ``.webp`` or ``.mp4``; its folder must exist.
        fps: frames per second (> 0).
        loop: times to play (0: forever; GIF and WebP).

    Returns:
        ``Path(path)``.
    """
    path = _checks.path("path", path)
    if isinstance(frames, Image.Image) or not isinstance(frames, Sequence) or not frames:
        raise ValueError("frames must be a non-empty list of PIL images")
    for i, f in enumerate(frames):
        if not isinstance(f, Image.Image):
            raise TypeError(f"frames[{i}] must be a PIL image, got {type(f).__name__}")
    if len({f.size for f in frames}) > 1:
        raise ValueError(f"frames must all have one size, got {sorted({f.size for f in frames})}")
    fps = _checks.real("fps", fps, lo=0.0)
    loop = _checks.integer("loop", loop, 0)
    return io.write_animation(frames, path, fps=fps, loop=loop)
