"""What an objective may ask of the dream before each octave (``Objective.prepare(ctx)``): the
channels' mean activations on the whole octave image (for top/bottom-k channels), and the
features of a guide image (computed once per model, at a size like the tiles')."""

from __future__ import annotations

import weakref

import torch
import torch.nn.functional as F

from fastdream import io, ops


class Context:
    """The dream's network, taps and input convention, and the octave being dreamed.

    Attributes:
        device: where the dream runs.
        key: identifies the network, device and guide size, so an objective can keep what it
            computed (guide features) across the frames of a video. The network is held by a
            weak reference, which, unlike ``id()``, never matches a later network that happens
            to reuse a freed one's address.
    """

    def __init__(self, net, taps, device, convention, guide_side: int):
        self.net, self.taps, self.device = net, taps, device
        self.mean, self.std = convention
        self.guide_side = int(guide_side)
        self.key = (weakref.ref(net), str(device), self.guide_side)
        self._means: dict | None = None
        self._counts: dict = {}  # each layer's channels (one tile's forward, once per network)
        self._guides: list = []  # (image, its features): looked up by identity, the image kept alive

    def at(self, x: torch.Tensor, grid, batch: int) -> Context:
        """This context for the octave image ``x`` (model units) and its tile grid."""
        self.x, self.grid, self.batch, self._means = x, grid, batch, None
        return self

    def tile_chunks(self):
        """The octave image's tiles (model units), ``batch`` at a time."""
        yield from ops.extract_tiles(self.x, self.grid).split(self.batch)

    @torch.no_grad()
    def channel_means(self, layer: str) -> torch.Tensor:
        """Mean activation of each channel of ``layer`` over the whole octave image (its tiles)."""
        if self._means is None:
            sums: dict = {}
            for chunk in self.tile_chunks():
                for name, a in zip(self.taps.layers, self.taps(chunk)):
                    a = (a[0] if isinstance(a, (tuple, list)) else a).float()
                    if a.dim() < 2:
                        raise ValueError(f"layers: {name}'s output has no channels (shape {tuple(a.shape)})")
                    others = (0, *range(2, a.dim()))  # (N, C, H, W), or a classifier's (N, C)
                    s = a.sum(dim=others), a.numel() // a.shape[1]
                    prev = sums.get(name)
                    sums[name] = s if prev is None else (prev[0] + s[0], prev[1] + s[1])
            self._means = {k: v[0] / v[1] for k, v in sums.items()}
        return self._means[layer]

    @torch.no_grad()
    def channels(self, layer: str) -> int:
        """The channels of ``layer``'s output: the means' count when they are known, else from one
        tile's forward (kept: the network does not change)."""
        if self._means is not None:
            return int(self._means[layer].numel())
        if not self._counts:
            tile = next(self.tile_chunks())[:1]  # (the low-memory path's tiles come from its bands)
            for name, a in zip(self.taps.layers, self.taps(tile)):
                a = a[0] if isinstance(a, (tuple, list)) else a
                if a.dim() < 2:  # (as channel_means says it: not "0 channels (0--1)")
                    raise ValueError(f"layers: {name}'s output has no channels (shape {tuple(a.shape)})")
                self._counts[name] = int(a.shape[1])
        return self._counts[layer]

    @torch.no_grad()
    def guide_features(self, image, layer: str) -> torch.Tensor:
        """``layer``'s features of the guide ``image`` (any image kind), (positions, channels),
        with the image resized so its long side is the tiles' (``guide_side``), and its short side
        at least what the network takes (``min_input_side``)."""
        feats = next((f for im, f in self._guides if im is image), None)
        if feats is None:
            g = io.load(image, "guide", one=True).rgb.to(self.device)
            h, w = g.shape[-2:]
            s = self.guide_side / max(h, w)
            s = max(s, getattr(self.net, "min_input_side", 0) / min(h, w))  # what the network takes
            size = (max(1, round(h * s)), max(1, round(w * s)))
            if size != (h, w):
                g = F.interpolate(g, size=size, mode="bilinear", align_corners=False, antialias=s < 1).clamp_(0, 1)
            x = ((g - self.mean) / self.std).contiguous(memory_format=torch.channels_last)
            feats = {}
            for name, a in zip(self.taps.layers, self.taps(x)):
                a = (a[0] if isinstance(a, (tuple, list)) else a).float()
                if a.dim() != 4:  # (its features are matched position by position)
                    raise ValueError(
                        f"guide: {name}'s output is not a feature map (N, C, H, W), got {tuple(a.shape)}; "
                        "guide a layer that has positions"
                    )
                feats[name] = a[0].permute(1, 2, 0).reshape(-1, a.shape[1]).contiguous()
            self._guides.append((image, feats))
        return feats[layer]
