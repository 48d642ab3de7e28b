"""A style transfer's styles, settings and network, made once and used for one picture or the
frames of a video: :class:`Stylizer`.

The network is built and its tiles' halo measured once; each style's Gram matrices are computed
once per working size (a video's frames share one size, so one computation serves them all). The
styles' colors are adjusted once, to a reference picture (the content; a video's first frame),
when ``preserve_colors`` or ``color_match`` asks for it.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from fastdream import ops
from fastdream._warnings import warn
from fastdream.models.build import check_layer_names, dream_net
from fastdream.models.modes import Frozen
from fastdream.style import engine
from fastdream.style import regions as R
from fastdream.style.features import Features
from fastdream.style.options import StyleOptions


def scaled_size(h: int, w: int, size: int | None) -> tuple[int, int]:
    """(h, w) with the long side ``size`` (None: as it is).

    Examples:
        >>> scaled_size(300, 400, 200)
        (150, 200)
    """
    if size is None:
        return h, w
    k = size / max(h, w)
    return max(1, round(h * k)), max(1, round(w * k))


class Stylizer:
    """Paints pictures in the given styles; use as a context manager (the network is frozen
    inside it).

    Args:
        styles01: the style images, each (1, 3, h, w) in [0, 1].
        o: the checked :class:`~fastdream.style.options.StyleOptions`.
        device: where to run.
        reference01: the picture (1, 3, H, W) the styles' colors are adjusted to, for
            ``preserve_colors`` (their luma's mean and std) and ``color_match`` (needed only then).

    Examples:
        >>> import torch
        >>> o = StyleOptions.create(1, octaves=1, steps=2, seed=0)
        >>> content, style = torch.rand(1, 3, 48, 64), torch.rand(1, 3, 64, 64)
        >>> with Stylizer([style], o, torch.device("cpu"), content) as st:
        ...     st.paint(content, (48, 64)).shape
        torch.Size([1, 3, 48, 64])
    """

    def __init__(self, styles01, o: StyleOptions, device: torch.device, reference01: torch.Tensor | None = None):
        self.o, self.device = o, device
        self.layers = o.style_layers + o.content_layers
        for name, layers in (("style_layers", o.style_layers), ("content_layers", o.content_layers)):
            try:  # (an unknown name was said of "layers", which style_transfer does not take)
                check_layer_names(o.model, layers)
            except ValueError as exc:
                raise ValueError(f"{name}: {str(exc).removeprefix('layers: ')}") from None
        self.net = dream_net(o.model, self.layers, device)
        styles = [s.to(device) for s in styles01]
        if (o.preserve_colors or o.color_match) and reference01 is None:
            raise ValueError("reference01: preserve_colors and color_match adjust the styles to a reference picture")
        if o.preserve_colors:
            _, styles = engine.luminance_only(reference01.to(device), styles)
        elif o.color_match:
            styles = engine.matched_colors(reference01.to(device), styles)
        self.styles01 = styles
        self._frozen = Frozen(self.net)
        self._grams: dict = {}
        self.feats = None
        self._scale_said = False

    def __enter__(self) -> Stylizer:
        self._frozen.__enter__()
        self.feats = Features(self.net, self.layers, self.device)
        return self

    def __exit__(self, *exc) -> None:
        self._frozen.__exit__(*exc)

    def working(self, x01: torch.Tensor) -> torch.Tensor:
        """A picture as the optimization sees it: gray (its luma) with ``preserve_colors``."""
        return engine.luminance_only(x01, [])[0] if self.o.preserve_colors else x01

    def regions(self, hw: tuple[int, int], masks=None) -> list:
        """The style regions at the working size ``hw`` (``masks``: at the content's size)."""
        o, feats = self.o, self.feats
        if hw not in self._grams:
            sized = [
                engine.resize(s, engine.style_size(s, hw, o.style_scale, feats.stride, feats.min_side))
                for s in self.styles01
            ]
            self._grams[hw] = [engine.grams(feats, s, o.style_layers, o.tile_size) for s in sized]
        at = None if masks is None else [R.mask_at(m, hw) for m in masks]
        return R.build(self._grams[hw], o.style_weights, at, feats.strides)

    def _say_floor(self, size) -> None:
        """Says once when ``style_scale`` asks for a style smaller than the network takes at the
        full size: it is used at the smallest size, so lower scales change nothing."""
        if self._scale_said:
            return
        self._scale_said = True
        feats, scale = self.feats, self.o.style_scale
        least = 2 * feats.stride if feats.min_side is None else feats.min_side
        long = scale * max(size)  # every style's long side, whatever its own size
        # (a content too small itself is said by the transfer: not the style's floor)
        if scale < 1 and max(size) >= least and feats.stride * round(long / feats.stride) < least:
            warn(
                f"the styles at style_scale={scale:g} would be {long:.3g} px on their long side, smaller than the "
                f"{least} px the network takes: they are used at {least} px, as any style_scale up to "
                f"{least / max(size):.2g} would be"
            )

    def paint(
        self, content01, size, *, masks=None, init=None, temporal=None, restore=None, progress=False, callback=None
    ) -> torch.Tensor:
        """``content01`` (1, 3, H, W) in [0, 1] painted at ``size`` (h, w): (1, 3, h, w) in [0, 1].

        ``masks``: the styles' masks (1, 1, H, W), or None; ``init``: start from this picture
        (at the full working size, as :meth:`working` gives it) and run the full-size octave
        only; ``temporal``: ``(picture, valid, weight)`` at that size, the temporal term;
        ``restore``: turns the picture so far into what the step hook's ``image()`` gives.

        Shape:
            ``content01`` (1, 3, H, W); ``masks`` each (1, 1, H, W); ``init`` and the temporal
            picture (1, 3, h', w') and its valid pixels (1, 1, h', w') at the full working size
            (``size`` rounded to multiples of ``self.feats.stride``); the result (1, 3, *size*).
        """
        o = self.o
        self._say_floor(size)
        c01 = self.working(content01)
        job = engine.Transfer(
            c01,
            lambda hw: self.regions(hw, masks),
            o,
            self.feats,
            restore or (lambda x: x),
            init=init,
            temporal=temporal,
        )
        y = engine.run(job, size, progress, callback)
        # From the working size (a multiple of the network's stride) to the output's.
        y = F.interpolate(y, size=size, mode="bilinear", align_corners=False).clamp_(0, 1)
        if masks is not None:  # a style of weight 0 covers nothing: its region stays the photo
            painted = [R.mask_at(m, size) for m, w in zip(masks, o.style_weights) if w > 0]
            y = R.keep_uncovered(y, engine.resize(c01, size), painted).clamp_(0, 1)
        if o.preserve_colors:
            y = ops.keep_chroma(y, engine.resize(content01, size))
        return y
