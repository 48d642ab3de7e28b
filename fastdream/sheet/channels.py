"""The channels of a layer that respond most to a picture: the cells of a ``channels=`` sheet."""

from __future__ import annotations

import torch

from fastdream import io
from fastdream._checks import shown
from fastdream.dream import DreamOptions
from fastdream.models.build import dream_net
from fastdream.models.taps import LayerTaps, input_convention


@torch.no_grad()
def ranked(picture, layer: str, opts: DreamOptions) -> list[int]:
    """``layer``'s channels, the largest mean activation on ``picture`` (a PIL image) first.

    The whole picture goes through the dream's network once (no tiles, no jitter): what
    ``"LAYER:topK"`` decides per octave, here once for the sheet.
    """
    if not isinstance(layer, str) or not layer or ":" in layer or "=" in layer:
        raise ValueError(f"channels must be a layer name (see dream --list-layers), got {shown(layer)}")
    device = opts.resolve_device()
    net = dream_net(opts.model, [layer], device)
    taps = LayerTaps(net, [layer])  # an unknown name: the error lists the model's layers
    mean, std = (torch.tensor(v, dtype=torch.float32, device=device).view(1, 3, 1, 1) for v in input_convention(net))
    x = io.load(picture).rgb.to(device)
    x = ((x - mean) / std).contiguous(memory_format=torch.channels_last)
    a = taps(x)[0]
    a = a[0] if isinstance(a, (tuple, list)) else a
    if not isinstance(a, torch.Tensor) or a.dim() != 4:
        shape = tuple(a.shape) if isinstance(a, torch.Tensor) else type(a).__name__
        raise ValueError(f"channels: {layer}'s output is not a feature map (N, C, H, W), got {shape}")
    means = a.float().mean(dim=(0, 2, 3))
    return torch.argsort(means, descending=True, stable=True).tolist()
