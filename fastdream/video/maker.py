"""The frame maker of zoom videos: frame n+1 = dream(zoom/shift/rotate(frame n)), on one device.

The model is loaded once and the working frame stays on the dream's device from one frame to the
next; only the 8-bit copy that is written to disk crosses to the host.
"""

from __future__ import annotations

import dataclasses
import math
import numbers

import numpy as np
import torch

from fastdream import _checks, io, ops
from fastdream._checks import shown
from fastdream.dream import DreamOptions, build_objective, run
from fastdream.models.build import dream_net
from fastdream.models.taps import LayerTaps


def check_color_drift(v):
    """None, a hue rotation in degrees per frame (a half turn at most), or per-channel (R, G, B)
    gains per frame (at most 2: 1e300 saturated a channel at the second frame), a list, tuple or
    numpy array of 3."""
    if v is None:
        return None
    if isinstance(v, np.ndarray) and v.ndim == 1:  # (gains computed with numpy)
        v = v.tolist()
    if isinstance(v, (tuple, list)):
        if len(v) != 3:
            raise ValueError(f"color_drift as gains must have 3 values (R, G, B), got {len(v)}: {v!r}")
        return [_checks.real(f"color_drift[{i}]", g, lo=0.0, hi=2.0, hi_open=False) for i, g in enumerate(v)]
    if isinstance(v, bool) or not isinstance(v, numbers.Real):
        raise TypeError(
            f"color_drift must be None, a hue rotation in degrees per frame, or (R, G, B) gains; got {shown(v)}"
        )
    return _checks.real("color_drift", v, lo=-180.0, hi=180.0, lo_open=False, hi_open=False)


def color_matrix(drift) -> torch.Tensor | None:
    """The 3x3 matrix applied to RGB once per frame for ``color_drift`` (float64, on the host)."""
    if drift is None:
        return None
    if isinstance(drift, list):
        return torch.diag(torch.tensor(drift, dtype=torch.float64))
    # A rotation about the gray axis k = (1, 1, 1)/sqrt(3) (Rodrigues): grays stay gray, the mean
    # of R, G, B is kept, and the hue turns by ``drift`` degrees; repeated every frame, the
    # colors cycle smoothly through the spectrum.
    a = math.radians(drift)
    k = torch.full((3,), 1 / math.sqrt(3), dtype=torch.float64)
    kx = torch.tensor([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]], dtype=torch.float64)
    return math.cos(a) * torch.eye(3, dtype=torch.float64) + math.sin(a) * kx + (1 - math.cos(a)) * torch.outer(k, k)


class FrameMaker:
    """Makes frames from the previous frame, on one device with one loaded model.

    ``first(x)`` dreams the input into frame 0; ``next(x, k)`` makes frame ``k`` from frame
    ``k - 1``. Both take and return (1, 3, H, W) float32 in [0, 1] on ``device``, already rounded
    to 8-bit levels: the working frame is then exactly what the PNG holds, so a resumed run, which
    reloads the PNG, continues from the same numbers as the run that wrote it. Shared with
    ``bench/``, so the benchmark times the same per-frame work as :func:`~fastdream.zoom_video`.
    """

    def __init__(
        self,
        options: DreamOptions,
        device: torch.device,
        *,
        zoom,
        shift,
        angle,
        color_drift,
        padding,
        interpolation,
    ):
        self.device = device
        self.zoom, self.shift, self.angle = zoom, tuple(shift), angle
        # Each frame is resampled from the last, so the resampling's blur compounds: after ten
        # 1.03x bilinear steps a photo keeps 1/10 of the fine detail one resampling leaves, bicubic half.
        self.padding, self.interpolation = padding, interpolation
        m = color_matrix(color_drift)
        self.color = None if m is None else m.to(device=device, dtype=torch.float32)
        # The objective (guide features included) and the model once for the whole video.
        objective = build_objective(options)
        model = dream_net(options.model, objective.layers, device)
        LayerTaps(model, objective.layers)  # unknown layers: an error now, before any frame is made
        self.base_seed = options.seed
        self.options = dataclasses.replace(
            options, model=model, layers=None, objective=objective, guide=None, device=device
        )

    def _dream(self, x: torch.Tensor, k: int, callback=None) -> torch.Tensor:
        # Seeded per frame: frame k depends only on frame k-1 and the settings, never on how
        # many frames this process made before it.
        y = run(x, dataclasses.replace(self.options, seed=self.base_seed + k), callback=callback)
        return io.from_uint8(io.quantize(y).to(torch.uint8))

    def transform(self, x: torch.Tensor) -> torch.Tensor:
        """The move between frames: zoom/rotate/shift (native kernel), then the color drift."""
        y = ops.zoom_shift(
            x,
            zoom=self.zoom,
            shift=self.shift,
            angle=self.angle,
            padding=self.padding,
            interpolation=self.interpolation,
        )
        if self.color is not None:
            y = torch.einsum("ij,njhw->nihw", self.color, y).contiguous()
        # Bicubic overshoots a little at hard edges (its outer weights are negative), and even
        # weights that sum to 1 can give 1 + 1 ulp in float32: dream (rightly) refuses out of [0, 1].
        return y.clamp_(0.0, 1.0)

    def first(self, x: torch.Tensor, callback=None) -> torch.Tensor:
        return self._dream(x, 0, callback)

    def next(self, x: torch.Tensor, k: int, callback=None) -> torch.Tensor:
        return self._dream(self.transform(x), k, callback)
