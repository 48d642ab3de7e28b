"""Networks built for gradient work on images (dreams, style transfer): the default backbone,
EfficientNet-Lite0 with its ImageNet weights, in the fastest build that keeps the tapped layers' activations."""

from __future__ import annotations

import re
from typing import Sequence

import torch
from torch import nn

from fastdream.models.efficientnet_lite import efficientnet_lite0, fuse_batchnorm
from fastdream.models.fused import fuse_for_dream

#: Layers of the default backbone: block 5 (textures, eyes) and block 10 (animal parts), the pair
#: that gives the classic look on EfficientNet-Lite0.
DEFAULT_LAYERS = ("_blocks.5", "_blocks.10")

_default_models: dict[tuple[str, str], nn.Module] = {}
_BLOCK_OUTPUT = re.compile(r"_blocks\.\d+")


def variant(layers: Sequence[str] | None) -> str:
    """Which build of the default backbone gives the asked-for layers' true activations fastest.

    ``fused`` (BN folded, ReLU6 inside the conv) keeps only block outputs; ``folded`` (BN folded
    into the convs) keeps everything except the raw conv outputs, which it shifts by the folded
    affine; ``plain`` is the network as trained.
    """
    names = DEFAULT_LAYERS if layers is None else ([layers] if isinstance(layers, str) else list(layers))
    if all(_BLOCK_OUTPUT.fullmatch(n) for n in names):
        return "fused"
    if not any(n.endswith(("_conv", "_conv_stem", "_conv_head")) for n in names):
        return "folded"
    return "plain"


def default_model(device: str | torch.device = "cpu", layers: Sequence[str] | None = None) -> nn.Module:
    """The default backbone on ``device`` (pretrained EfficientNet-Lite0, channels_last, cached),
    built for dreaming ``layers`` (default: ``DEFAULT_LAYERS``) as fast as their activations allow:
    for block outputs, BN folded and ReLU6 fused into the convs (see :func:`variant` and
    bench/RESULTS.md for what each build costs). Layer names are those of
    :func:`~fastdream.models.efficientnet_lite0` either way."""
    device = torch.device(device)
    kind = variant(layers)
    key = (str(device), kind)
    if key not in _default_models:
        model = efficientnet_lite0(pretrained=True)
        if kind == "fused":
            model = fuse_for_dream(model)
        elif kind == "folded":
            model = fuse_batchnorm(model)
        _default_models[key] = model.to(device=device, memory_format=torch.channels_last).eval()
    return _default_models[key]
