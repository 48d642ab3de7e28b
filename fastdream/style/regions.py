r"""Style by regions: one mask per style, each style's Gram matrices matched inside its own region.

Convention:

- ``masks``: one per style, HxW in [0, 1] (a path, PIL image, array or tensor), resized to the
  content (bilinear); soft edges are weights, not thresholds. ``masks="subject"`` takes the
  subject's mask from a U-Net (:func:`fastdream.cutout.predict_mask`): the subject is the first
  style's region, the background (1 - mask) the second's.
- A region's Gram matrix at a layer weighs each feature by the mask averaged over the layer's
  stride cells (:math:`G = F \operatorname{diag}(m) F^\top / \sum_p m_p`); the pooled mask is cut
  into tiles like the features, so the two-pass tiling stays exact.
- Region :math:`r` adds :math:`w_r a_r L_r` to the style loss, with :math:`w_r` its style
  weight, :math:`a_r` the mask's mean and :math:`L_r` its relative Gram error: the style pulls
  each pixel with strength :math:`w_r m_r(p)` whatever the region's size, as hard as a plain
  transfer where the mask is 1. Overlapping or fading masks share their pixels between styles.
- Where no mask covers a pixel it gets no style term, only the content and smoothness terms; the
  result is then blended back to the content by the coverage :math:`\min(1, \sum_r m_r)`, so
  uncovered pixels are exactly the content's and a fading mask fades the style out.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from fastdream import io

#: ``masks=SUBJECT`` (with ``cutout_model=``): the subject in the first style, the background in the second.
SUBJECT = "subject"


@dataclass
class Region:
    """One style target: ``weight`` (its style weight times its area), its target Gram matrix per
    layer, and its mask per layer at the layer's resolution (``masks`` None: everywhere)."""

    weight: float
    grams: dict
    masks: dict | None = None

    def cut(self, layer: str, box=None):
        """The region's mask at ``layer`` (None: 1 everywhere), or its part in ``box`` (slices)."""
        if self.masks is None:
            return None
        m = self.masks[layer]
        return m if box is None else m[..., box[0], box[1]]


def _one(mask, i: int, size: tuple[int, int]) -> torch.Tensor:
    name = f"masks[{i}]" + (f" ({os.path.basename(mask)})" if isinstance(mask, (str, os.PathLike)) else "")
    if isinstance(mask, (str, os.PathLike)):  # (its frames: only a video's first frame is a region)
        mask = io.load_pil(mask, name, every_frame=None)
    m = io.load_mask(mask, size, name)
    if float(m.max()) <= 0:
        raise ValueError(
            f"{name} is 0 everywhere: style number {i + 1} would have no region; give a mask that is > 0 where "
            "that style goes"
        )
    return m


def load_masks(
    masks, n_styles: int, size: tuple[int, int], *, content=None, cutout_model=None, device=None
) -> list[torch.Tensor] | None:
    """The styles' masks, each (1, 1, H, W) in [0, 1] at ``size`` (the content's), or None.

    ``content``: the content, (1, 3, H, W) in [0, 1], for ``masks="subject"``; ``cutout_model``:
    a U-Net or its checkpoint, for that only. Every problem is a ``TypeError``/``ValueError``
    naming the parameter.

    Examples:
        >>> import numpy as np
        >>> left = np.zeros((4, 6), np.float32); left[:, :3] = 1
        >>> [tuple(m.shape) for m in load_masks([left, 1 - left], 2, (8, 12))]
        [(1, 1, 8, 12), (1, 1, 8, 12)]
    """
    if isinstance(masks, str) and masks == SUBJECT:
        return _subject(n_styles, content, cutout_model, device)
    if cutout_model is not None:
        raise ValueError(f"cutout_model is used with masks={SUBJECT!r} only; got masks={_show(masks)}")
    if masks is None:
        return None
    if isinstance(masks, torch.Tensor) and masks.dim() == 3 and masks.shape[0] == n_styles > 1:
        masks = list(masks)  # a (S, H, W) stack
    if isinstance(masks, np.ndarray) and masks.ndim == 3 and masks.shape[0] == n_styles > 1 and masks.shape[2] > 4:
        masks = list(masks)  # the same in numpy (an H x W x C mask has at most 4 channels)
    if not isinstance(masks, (list, tuple)):
        masks = [masks]
    if len(masks) != n_styles:
        raise ValueError(
            f"masks: {len(masks)} mask(s) for {n_styles} style image(s); give one per style (HxW in [0, 1]), "
            f"or masks={SUBJECT!r} with cutout_model= for two styles"
        )
    out = [_one(m, i, size) for i, m in enumerate(masks)]
    return out if device is None else [m.to(device) for m in out]


def _show(v) -> str:
    return repr(v) if isinstance(v, (str, os.PathLike, type(None))) else f"a {type(v).__name__}"


def check_subject(n_styles: int, cutout_model) -> None:
    """The checks of ``masks="subject"``: a U-Net to find the subject, and two styles."""
    if cutout_model is None:
        raise ValueError(f"masks={SUBJECT!r} needs cutout_model= (a U-Net checkpoint from train_unet, or the model)")
    if n_styles != 2:
        raise ValueError(
            f"masks={SUBJECT!r} paints the subject in the first style and the background in the second: "
            f"give 2 style images, got {n_styles}"
        )


def subject_model(cutout_model, device=None):
    """The U-Net of ``cutout_model`` (a module as it is; a checkpoint loaded once), for finding
    the subject in many pictures."""
    if isinstance(cutout_model, torch.nn.Module):
        return cutout_model
    from fastdream.cutout import load_unet

    return load_unet(cutout_model, device=device, name="cutout_model")


def subject_masks(content, cutout_model, device=None) -> list[torch.Tensor]:
    """[the subject's mask, the background's] (1, 1, H, W) for ``content`` (1, 3, H, W) in [0, 1],
    from :func:`fastdream.cutout.predict_mask` (soft: the U-Net's probabilities)."""
    from fastdream.cutout import predict_mask

    # A module runs where it is (a CPU U-Net beside a GPU style was refused: "the model's
    # parameters are on cpu"); a checkpoint is loaded where the style runs.
    where = None if isinstance(cutout_model, torch.nn.Module) else device
    m = predict_mask(content.detach().cpu(), cutout_model, device=where)[None, None]
    m = m.to(device) if device is not None else m
    return [m, 1 - m]


def _subject(n_styles: int, content, cutout_model, device) -> list[torch.Tensor]:
    check_subject(n_styles, cutout_model)
    subject, background = subject_masks(content, subject_model(cutout_model, device), device)
    for what, m in (("no subject", subject), ("no background", background)):
        if float(m.max()) <= 0:
            raise ValueError(f"masks={SUBJECT!r}: cutout_model found {what} in the content, so one style has no region")
    return [subject, background]


def mask_at(mask: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """A (1, 1, H, W) mask at ``size`` (bilinear, antialiased when it shrinks)."""
    if tuple(mask.shape[-2:]) == tuple(size):
        return mask
    shrink = size[0] < mask.shape[-2] or size[1] < mask.shape[-1]
    return F.interpolate(mask, size=size, mode="bilinear", align_corners=False, antialias=shrink).clamp_(0, 1)


def build(grams: list[dict], weights, masks: list[torch.Tensor] | None, strides: dict) -> list[Region]:
    """The regions of one octave: without masks, one everywhere whose targets are the styles'
    Gram matrices blended by ``weights`` (:func:`blend`); with masks (at the octave's size, a
    multiple of every stride), one per style, its mask average-pooled to each layer's resolution."""
    if masks is None:
        return [Region(1.0, {k: blend([g[k] for g in grams], weights) for k in grams[0]})]
    out = []
    for g, w, m in zip(grams, weights, masks):
        pooled = {k: F.avg_pool2d(m, strides[k]) if strides[k] > 1 else m for k in g}
        out.append(Region(w * float(m.double().mean()), g, pooled))
    return out


def blend(grams: list[torch.Tensor], weights) -> torch.Tensor:
    """One layer's target for several styles: each Gram matrix taken at the same strength (its
    Frobenius norm), mixed by ``weights``, at the weighted mean of their strengths. Mixed as they
    were, the style of more contrast took over: at weights 1:1, stripes over bricks looked like
    the stripes alone (and 5:1 too).

    Examples:
        >>> a, b = torch.diag(torch.tensor([1.0, 0.0])), torch.diag(torch.tensor([0.0, 9.0]))
        >>> blend([a, b], [1, 1])  # as much of one as of the other, at their mean strength, 5
        tensor([[3.5355, 0.0000],
                [0.0000, 3.5355]])
    """
    total = sum(weights)
    norms = [float(g.norm()) for g in grams]
    strength = sum(w * n for w, n in zip(weights, norms)) / total
    shape = sum((w / total) * (g / n if n > 0 else g) for g, w, n in zip(grams, weights, norms))
    n = float(shape.norm())
    return shape * (strength / n) if n > 0 else shape


def keep_uncovered(y: torch.Tensor, content: torch.Tensor, masks: list[torch.Tensor]) -> torch.Tensor:
    """``y`` blended back to ``content`` where the masks (at ``y``'s size) do not cover:
    ``content + min(1, sum(masks)) * (y - content)``."""
    cover = torch.stack(list(masks)).sum(0).clamp_(max=1.0)
    if float(cover.min()) >= 1:
        return y  # covered everywhere: nothing to blend (and no rounding added)
    return content + cover * (y - content)
