"""Latent spaces of generative models: spherical interpolation and closed walks."""

from __future__ import annotations

import torch
from torch import Tensor

from fastdream import _checks
from fastdream._warnings import warn

__all__ = ["latent_generator", "loop_latents", "slerp"]


def latent_generator(seed) -> torch.Generator:
    """A CPU generator for latent vectors: seeded, or fresh (a different draw each call) for None."""
    gen = torch.Generator()
    if seed is None:
        gen.seed()  # fresh, non-deterministic
    else:
        gen.manual_seed(_checks.torch_seed(_checks.integer("seed", seed, 0)))
    return gen


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


#: The latent points a walk visits when none are asked for.
WALK_POINTS = 4


def walk_points(frames: int, points: int | None):
    """``points``, or when none is given :data:`WALK_POINTS`, as many as ``frames`` in a walk of
    2-3 frames (4 warned of skipping points no one asked for).

    Examples:
        >>> walk_points(3, None), walk_points(3, 5), walk_points(10, None)
        (3, 5, 4)
    """
    return min(WALK_POINTS, frames) if points is None else points


def loop_latents(keys: Tensor, frames: int) -> Tensor:
    """``frames`` latents along great circles through ``keys`` (points, nz) in turn and back to
    the first, evenly spaced in the interpolation parameter: a walk that loops seamlessly."""
    points = keys.shape[0]
    if points > frames:  # (frame k sits at point k * points / frames: the rest were passed by unseen)
        warn(
            f"points={points} is more than frames={frames}: the walk skips past some points; give more frames, or fewer points"
        )
    pos = torch.arange(frames, dtype=torch.float64) * points / frames
    i = pos.floor().long()
    u = (pos - i)[:, None]
    return slerp(keys[i].double(), keys[(i + 1) % points].double(), u).float()
