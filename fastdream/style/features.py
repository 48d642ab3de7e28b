"""The network side of style transfer: tapped features, their strides, and how far each reaches.

Tiles are exact when every tile is aligned to the deepest layer's stride and carries a halo at
least as wide as that layer's support (the input pixels one feature depends on): the features of
a tile's core are then those of the whole image, to float rounding. The support is measured, not
assumed, so any model works: a forward and backward of one central feature on random input.
"""

from __future__ import annotations

import math
import weakref

import torch
from torch import nn

from fastdream.models.taps import LayerTaps, input_convention

_PROBE = 512  # probe input side: larger than the support of any layer style transfer uses
# net -> {(layers, device): (strides, halo)}: the probe costs a 512 px forward and backward per layer
# (seconds on a CPU); a network's support does not change, so each pair is measured once.
_probed: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


class Features:
    """``layers`` of ``net`` on images in [0, 1]: ``__call__(x01)`` gives a dict name -> (N, C, h, w).

    Attributes:
        stride: the largest stride among the layers (every tile and working size is a multiple).
        halo: pixels of context a tile needs around its core for exact features (a multiple of
            ``stride``).
        strides: each layer's stride.
    """

    def __init__(self, net: nn.Module, layers, device: torch.device):
        self.net, self.layers = net, tuple(dict.fromkeys(layers))
        self.taps = LayerTaps(net, list(self.layers))
        mean, std = input_convention(net)
        self.mean = torch.tensor(mean, device=device).view(1, 3, 1, 1)
        self.std = torch.tensor(std, device=device).view(1, 3, 1, 1)
        self.device = device
        key = (self.layers, str(device))
        known = _probed.setdefault(net, {})
        if key not in known:
            known[key] = self._probe()
        self.strides, self.halo = dict(known[key][0]), known[key][1]
        self.stride = max(self.strides.values())

    def __call__(self, x01: torch.Tensor) -> dict:
        x = ((x01 - self.mean) / self.std).contiguous(memory_format=torch.channels_last)
        outs = self.taps(x)
        return {k: (v[0] if isinstance(v, (tuple, list)) else v).float() for k, v in zip(self.layers, outs)}

    def _probe(self) -> tuple[dict, int]:
        gen = torch.Generator().manual_seed(0)
        x = torch.rand(1, 3, _PROBE, _PROBE, generator=gen).to(self.device).requires_grad_(True)
        with torch.enable_grad():
            feats = self(x)
        strides, reach = {}, 0
        for i, (name, f) in enumerate(feats.items()):
            h, w = f.shape[-2:]
            s = max(1, round(_PROBE / h))
            strides[name] = 2 ** round(math.log2(s))
            (g,) = torch.autograd.grad(f[0, :, h // 2, w // 2].sum(), x, retain_graph=i + 1 < len(feats))
            ys, xs = torch.nonzero(g[0].abs().sum(0) > 0, as_tuple=True)
            cy, cx = (h // 2) * s, (w // 2) * s
            reach = max(reach, int((ys - cy).abs().max()), int((xs - cx).abs().max()))
        stride = max(strides.values())
        return strides, stride * math.ceil((reach + 1) / stride)
