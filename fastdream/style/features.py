"""The network side of style transfer: tapped features, their strides, and how far each reaches.

Tiles are exact when every tile is aligned to the deepest layer's stride and carries a halo at
least as wide as that layer's support (the input pixels one feature depends on): the features of
a tile's core are then those of the whole image, to float rounding. The support is measured, not
assumed, so any model works: a forward and backward of one central feature on random input.

A network with unpadded ("valid") convolutions, such as InceptionV3, shrinks its maps: at 512 px
its 17x17-grid layers are 30 wide, not 512 / 16 = 32. Such a network sees the image padded by
reflection (a multiple of the largest stride on every side) and each map is cropped, centred, to
``side / stride``: every layer then has the grid of a padded network, so tiles, region masks and
working sizes work as for any other.
"""

from __future__ import annotations

import math
import weakref

import torch
import torch.nn.functional as F
from torch import nn

from fastdream.models.taps import LayerTaps, input_convention

_PROBE = 512  # probe input side: larger than the support of most layers style transfer uses
_PROBE_MAX = 4096  # the probe grows (x2) while a support reaches its edge, up to this side
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
        pad: pixels of reflection around the input (0 for a network that keeps its sizes).
        min_side: the smallest working side (a multiple of ``stride``): two strides, or more for
            a network that says it needs more (``min_input_side``, less the padding).
    """

    def __init__(self, net: nn.Module, layers, device: torch.device):
        self.net, self.layers = net, tuple(dict.fromkeys(layers))
        self.taps = LayerTaps(net, list(self.layers))
        mean, std = input_convention(net)
        self.mean = torch.tensor(mean, dtype=torch.float32, device=device).view(1, 3, 1, 1)
        self.std = torch.tensor(std, dtype=torch.float32, device=device).view(1, 3, 1, 1)
        self.device = device
        key = (self.layers, str(device))
        known = _probed.setdefault(net, {})
        if key not in known:
            self.pad, self.crops = self._probe_sizes()
            known[key] = (*self._probe(), self.pad, self.crops)
        self.strides, self.halo = dict(known[key][0]), known[key][1]
        self.pad, self.crops = known[key][2], dict(known[key][3])
        self.stride = max(self.strides.values())
        least = max(2 * self.stride, int(getattr(net, "min_input_side", 0) or 0) - 2 * self.pad)
        self.min_side = self.stride * math.ceil(least / self.stride)

    def __call__(self, x01: torch.Tensor) -> dict:
        x = (x01 - self.mean) / self.std
        if self.pad:
            h, w = x.shape[-2:]
            x = F.pad(x, (self.pad,) * 4, mode="reflect" if self.pad < min(h, w) else "replicate")
        outs = self.taps(x.contiguous(memory_format=torch.channels_last))
        feats = {k: (v[0] if isinstance(v, (tuple, list)) else v).float() for k, v in zip(self.layers, outs)}
        for k, (dy, dx) in self.crops.items():  # the centred crop to side / stride (unpadded networks)
            s = self.strides[k]
            feats[k] = feats[k][..., dy : dy + x01.shape[-2] // s, dx : dx + x01.shape[-1] // s]
        return feats

    @torch.no_grad()
    def _probe_sizes(self) -> tuple[int, dict]:
        """The reflection padding and per-layer crops that give every map ``side / stride``
        (none for a network whose maps already have that size)."""
        self.pad, self.crops = 0, {}
        x = torch.rand(1, 3, _PROBE, _PROBE, generator=torch.Generator().manual_seed(0), dtype=torch.float32).to(
            self.device
        )
        sizes = {k: tuple(f.shape[-2:]) for k, f in self(x).items()}
        strides = {k: _stride(_PROBE, max(hw)) for k, hw in sizes.items()}
        short = {k: max(_PROBE // strides[k] - n for n in hw) for k, hw in sizes.items()}
        if max(short.values()) <= 0:
            return 0, {}
        top = max(strides.values())
        pad = top * math.ceil(max(short[k] * strides[k] / 2 for k in sizes) / top)
        self.pad, self.strides = pad, strides
        padded = {k: tuple(f.shape[-2:]) for k, f in self(x).items()}
        crops = {k: tuple((n - _PROBE // strides[k]) // 2 for n in hw) for k, hw in padded.items()}
        return pad, crops

    def _probe(self) -> tuple[dict, int]:
        """Each layer's stride, and the halo: the farthest input pixel one central feature of any
        layer depends on, rounded up to the largest stride. A support that reaches the probe's
        edge may reach farther (InceptionV3's mixed5 and deeper): probed again at twice the side."""
        side = _PROBE
        while True:
            strides, reach, edge = self._reach(side)
            if not edge or side >= _PROBE_MAX:
                break
            side *= 2
        stride = max(strides.values())
        return strides, stride * math.ceil((reach + 1) / stride)

    def _reach(self, side: int) -> tuple[dict, int, bool]:
        gen = torch.Generator().manual_seed(0)
        x = torch.rand(1, 3, side, side, generator=gen, dtype=torch.float32).to(self.device).requires_grad_(True)
        with torch.enable_grad():
            feats = self(x)
        strides, reach, edge = {}, 0, False
        for name, f in feats.items():
            h, w = f.shape[-2:]
            s = max(1, round(side / h))
            strides[name] = _stride(side, h)
            ys, xs = self._support(f[0, :, h // 2, w // 2], x)
            if ys.numel() == 0:  # a dead (ReLU) feature: its neighbours', a stride or two wider
                ys, xs = self._support(f[0, :, max(0, h // 2 - 1) : h // 2 + 2, max(0, w // 2 - 1) : w // 2 + 2], x)
            if ys.numel() == 0:
                continue  # dead around the centre: nothing there to keep exact
            cy, cx = (h // 2) * s, (w // 2) * s
            reach = max(reach, int((ys - cy).abs().max()), int((xs - cx).abs().max()))
            edge = (
                edge
                or int(ys.min()) == 0
                or int(xs.min()) == 0
                or int(ys.max()) == side - 1
                or int(xs.max()) == side - 1
            )
        return strides, reach, edge

    @staticmethod
    def _support(f: torch.Tensor, x: torch.Tensor):
        """The input pixels (rows, columns) the features ``f`` depend on (for this input)."""
        (g,) = torch.autograd.grad(f.sum(), x, retain_graph=True)
        return torch.nonzero(g[0].abs().sum(0) > 0, as_tuple=True)


def _stride(side: int, n: int) -> int:
    """The stride of a layer whose map is ``n`` wide on a ``side`` px input: the power of two
    nearest ``side / n`` (an unpadded network's maps are a little short of ``side / stride``)."""
    return 2 ** round(math.log2(max(1, round(side / n))))
