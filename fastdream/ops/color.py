"""Color ops for the pipelines: keep an image's chroma, or match its color statistics."""

from __future__ import annotations

import torch

from fastdream.ops import _checks, reference


def _pair(out, source, same_size=True):
    _checks.image_tensor("out", out)
    _checks.image_tensor("source", source)
    if out.dim() != source.dim() or out.shape[:-2] != source.shape[:-2] or out.shape[-3] != 3:
        raise ValueError(f"out and source must be RGB images, got shapes {tuple(out.shape)} and {tuple(source.shape)}")
    if same_size and out.shape != source.shape:
        raise ValueError(f"out and source must have one shape, got {tuple(out.shape)} and {tuple(source.shape)}")
    _checks.same_device("source", source, out, "out")


def keep_chroma(out: torch.Tensor, source: torch.Tensor) -> torch.Tensor:
    """``out``'s brightness with ``source``'s colors: BT.601 luma (YCbCr's Y) from ``out``,
    chroma (Cb, Cr) from ``source``.

    YCbCr rather than Lab: it is linear, so the chroma is kept exactly (the luma is clamped per
    pixel to the range that keeps R, G and B in [0, 1], never R, G, B themselves), it is what
    JPEG stores, and it costs a few elementwise passes at any size.

    Shape:
        out, source: (N, 3, H, W) or (3, H, W), RGB in [0, 1] -> the same.

    Examples:
        >>> import torch, fastdream as fd
        >>> src, out = torch.rand(3, 8, 8), torch.rand(3, 8, 8)
        >>> y = fd.ops.keep_chroma(out, src)
        >>> w = torch.tensor([0.299, 0.587, 0.114]).view(3, 1, 1)
        >>> bool(torch.allclose(y - (y * w).sum(0), src - (src * w).sum(0), atol=1e-6))
        True
    """
    _pair(out, source)
    if out.dim() == 3:
        return keep_chroma(out[None], source[None])[0]
    return reference.keep_chroma(out, source)


def match_colors(out: torch.Tensor, source: torch.Tensor) -> torch.Tensor:
    """``out`` with the mean and covariance of its RGB colors made ``source``'s (per image).

    Shape:
        out (N, 3, H, W) or (3, H, W), source of the same N but any size, RGB in [0, 1] -> out's shape.
    """
    _pair(out, source, same_size=False)
    if out.dim() == 3:
        return match_colors(out[None], source[None])[0]
    return reference.match_colors(out, source)
