r"""The losses of style transfer, normalized so that one set of weights works at any size.

- Gram matrix of a layer: :math:`G = F F^\top / P` for features :math:`F` (C x P positions): the
  mean over positions, so an image twice as large has the same Gram. A region's Gram (style by
  regions) weighs each position by the region's mask :math:`m` at the layer's resolution:
  :math:`G = F \\operatorname{diag}(m) F^\\top / \\sum_p m_p`.
- Style loss of a layer: :math:`\lVert G - T\rVert^2 / \lVert T\rVert^2` (the relative squared
  error against the target Gram :math:`T`), so every layer counts alike whatever its scale.
- Content loss of a layer: :math:`\lVert F - F_c\rVert^2 / \lVert F_c\rVert^2`, relative too.
- Total variation: the mean squared difference of neighbouring pixels, in [0, 1] units.

The style and content losses average over their layers; ``style_weight``, ``content_weight``
and ``tv_weight`` then weigh the three.
"""

from __future__ import annotations

import torch

EPS = 1e-12


def gram_sum(f: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
    """:math:`\\sum_p w_p f_p f_p^\\top` of features (1, C, h, w), in float64 (C x C); ``weight``
    (1, 1, h, w), a region's mask at the layer's resolution, or None for 1 everywhere."""
    flat = f[0].reshape(f.shape[1], -1).double()
    if weight is None:
        return flat @ flat.T
    return (flat * weight.reshape(1, -1).double()) @ flat.T


def positions(f: torch.Tensor) -> int:
    return int(f.shape[-2] * f.shape[-1])


def mass(f: torch.Tensor, weight: torch.Tensor | None = None):
    """What a (weighted) Gram sum is divided by: the positions of ``f``, or the weights' sum."""
    return positions(f) if weight is None else float(weight.double().sum())


def style_loss(gram: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return (gram - target).square().sum() / (target.square().sum() + EPS)


def style_loss_grad(gram: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """d style_loss / d gram."""
    return 2 * (gram - target) / (target.square().sum() + EPS)


def content_loss_sum(f: torch.Tensor, target: torch.Tensor, norm: float) -> torch.Tensor:
    """The part of a layer's content loss at these positions (the layer's total over all tiles is
    the loss); ``norm`` is the whole target's squared norm."""
    return (f - target).square().sum() / (norm + EPS)


def tv_loss(x: torch.Tensor) -> torch.Tensor:
    dy = (x[..., 1:, :] - x[..., :-1, :]).square().mean() if x.shape[-2] > 1 else x.new_zeros(())
    dx = (x[..., :, 1:] - x[..., :, :-1]).square().mean() if x.shape[-1] > 1 else x.new_zeros(())
    return dy + dx
