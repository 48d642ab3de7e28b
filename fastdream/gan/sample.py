r"""Using a trained generator: samples, latent walks (slerp), and their animations."""

from __future__ import annotations

from typing import Sequence

import torch
from PIL import Image
from torch import Tensor

from fastdream import _checks, io
from fastdream.models.dcgan import Generator
from fastdream.training import read_checkpoint

FORMAT, VERSION = "fastdream.dcgan", 1


def read_gan_checkpoint(checkpoint, name: str = "checkpoint") -> dict:
    return read_checkpoint(checkpoint, FORMAT, VERSION, name)


def _generator(state: dict, device: torch.device) -> Generator:
    c = state["config"]
    g = Generator(c["nz"], c["ngf"], c["nc"], c["image_size"])
    g.load_state_dict(state["generator"])
    return g.to(device).eval()


def _latent_generator(seed) -> torch.Generator:
    gen = torch.Generator()
    if seed is None:
        gen.seed()  # fresh, non-deterministic
    else:
        gen.manual_seed(_checks.integer("seed", seed, 0))
    return gen


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
    n = _checks.integer("n", n, 1)
    batch_size = _checks.integer("batch_size", batch_size, 1)
    gen = _latent_generator(seed)
    device = _checks.device("device", device)
    state = read_gan_checkpoint(checkpoint)
    # One row at a time: the first k latents of a seed are the same whatever n is.
    z = torch.stack([torch.randn(state["config"]["nz"], generator=gen) for _ in range(n)])
    return _generate(_generator(state, device), z, device, batch_size)


def slerp(a: Tensor, b: Tensor, t: float | Tensor) -> Tensor:
    r"""Spherical linear interpolation between latent vectors (White, 2016).

    Gaussian latents of high dimension live near a sphere of radius :math:`\sqrt{nz}`; a
    straight line between two of them passes through low-norm points the generator rarely saw
    in training, while the great-circle path keeps a typical norm. Falls back to linear
    interpolation for (nearly) parallel vectors.

    Args:
        a, b: :math:`(..., nz)` tensors.
        t: position in :math:`[0, 1]` (0 gives ``a``, 1 gives ``b``), a float or a tensor
            broadcastable to :math:`(..., 1)`.

    Shape:
        - Input: :math:`(..., nz)` for ``a`` and ``b``.
        - Output: :math:`(..., nz)`.

    Examples:
        >>> a, b = torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0])
        >>> slerp(a, b, 0.5)
        tensor([0.7071, 0.7071])
    """
    t = torch.as_tensor(t, dtype=a.dtype, device=a.device)
    if t.dim() == 0:
        t = t.reshape(1)
    au = a / a.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    bu = b / b.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    omega = torch.arccos((au * bu).sum(-1, keepdim=True).clamp(-1.0, 1.0))
    so = torch.sin(omega)
    near = so.abs() < 1e-6
    safe = torch.where(near, torch.ones_like(so), so)
    sph = torch.sin((1 - t) * omega) / safe * a + torch.sin(t * omega) / safe * b
    return torch.where(near, (1 - t) * a + t * b, sph)


def loop_latents(keys: Tensor, frames: int) -> Tensor:
    """``frames`` latents along great circles through ``keys`` (points, nz) in turn and back to
    the first, evenly spaced in the interpolation parameter: a walk that loops seamlessly."""
    points = keys.shape[0]
    pos = torch.arange(frames, dtype=torch.float64) * points / frames
    i = pos.floor().long()
    u = (pos - i)[:, None]
    return slerp(keys[i].double(), keys[(i + 1) % points].double(), u).float()


def latent_walk(checkpoint, frames: int, *, seed: int | None = None, points: int = 4, device=None,
                batch_size: int = 256) -> list[Image.Image]:  # fmt: skip
    r"""Frames of a closed walk through the generator's latent space.

    ``points`` random latent vectors are visited in turn along great circles (:func:`slerp`),
    and the walk returns to the first one, so the frames loop seamlessly (e.g. as a GIF with
    :func:`save_animation`). Frame 0 is the first point; frames are evenly spaced in the
    interpolation parameter.

    Args:
        checkpoint: path of a :func:`~fastdream.train_gan` checkpoint (or the loaded dict).
        frames: number of frames (>= 2).
        seed: seed of the latent points (``None``: a different walk each call).
        points: latent points visited (>= 2).
        device, batch_size: as for :func:`sample_gan`.

    Returns:
        ``frames`` PIL images.

    Examples:
        >>> frames = latent_walk("runs/digits/checkpoint.pt", 60, seed=0)  # doctest: +SKIP
        >>> save_animation(frames, "walk.gif", fps=15)                     # doctest: +SKIP
    """
    frames = _checks.integer("frames", frames, 2)
    points = _checks.integer("points", points, 2)
    batch_size = _checks.integer("batch_size", batch_size, 1)
    gen = _latent_generator(seed)
    device = _checks.device("device", device)
    state = read_gan_checkpoint(checkpoint)
    keys = torch.randn(points, state["config"]["nz"], generator=gen, dtype=torch.float64)
    return _generate(_generator(state, device), loop_latents(keys, frames), device, batch_size)


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
