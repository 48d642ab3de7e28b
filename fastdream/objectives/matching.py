"""``guide_match``: the guide objective of the original DeepDream notebook, each position of the
dream pulled toward the guide feature it best matches."""

from __future__ import annotations

import torch
from torch import Tensor

from fastdream._checks import shown


def guide_match(x: Tensor, y: Tensor, weights) -> Tensor:
    """Mean over positions of ``x_i . y_j*`` with ``j*`` the guide feature that best matches ``x_i``
    (the guide objective of the original DeepDream notebook): its gradient at each position is the
    best-matching guide feature. The match is found without gradients, in chunks of positions, so
    memory stays at one (positions x guide features) block."""
    if not isinstance(x, Tensor) or x.dim() != 4:  # (an AttributeError, or "not enough values to unpack")
        raise ValueError(f"guide_match: x must be (N, C, H, W) activations, got {shown(x)}")
    if not isinstance(y, Tensor) or y.dim() != 2 or y.shape[1] != x.shape[1]:
        raise ValueError(f"guide_match: y must be (M, {x.shape[1]}) guide features, got {shown(y)}")
    n, c, h, w = x.shape
    yt = y.to(x) if weights is None else y.to(x) * weights.view(1, c)
    with torch.no_grad():
        flat = x.detach().permute(0, 2, 3, 1).reshape(-1, c)
        chunk = max(1, (1 << 24) // max(1, yt.shape[0]))
        idx = torch.cat([(flat[i : i + chunk] @ yt.T).argmax(1) for i in range(0, flat.shape[0], chunk)])
        target = yt[idx].view(n, h, w, c).permute(0, 3, 1, 2).contiguous(memory_format=torch.channels_last)
    # The mean over positions per sample (not flatten(1).mean(1): it copies channels_last activations).
    return (x * target).sum(1, keepdim=True).mean(dim=(1, 2, 3))
