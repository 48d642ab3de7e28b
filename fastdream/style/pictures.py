"""The style pictures as style transfer paints with them: what a viewer sees of each.

A transparent part is put on white, as a page shows it: Gram statistics of the colors hidden
under it (black, in many editors' cutouts) darkened the painting, and the file looked the same as
one with white there. A picture with nothing visible is refused, and a side of a few pixels, which
is stretched to the network's smallest input, is said.
"""

from __future__ import annotations

import torch

from fastdream import io
from fastdream._warnings import warn

#: A style side under this many pixels is stretched (its strokes with it): said.
THIN = 16


def load_styles(styles: list) -> list[torch.Tensor]:
    """Each style (any image kind :func:`fastdream.io.load` takes) as (1, 3, H, W) in [0, 1].

    Examples:
        >>> import numpy as np
        >>> clear = np.zeros((20, 20, 4), np.uint8); clear[5:15, 5:15] = (200, 40, 40, 255)
        >>> import warnings
        >>> with warnings.catch_warnings(record=True) as said:
        ...     s = load_styles([clear])[0]
        >>> s.shape, float(s[0, 0, 0, 0]), round(float(s[0, 0, 10, 10]), 3), str(said[0].message)
        (torch.Size([1, 3, 20, 20]), 1.0, 0.784, 'style: its transparent part (75% of it) is put on white, as a page shows it')
    """
    out = []
    for i, x in enumerate(styles):
        name = f"style[{i}]" if len(styles) > 1 else "style"
        loaded = io.load(x, name)
        if loaded.rgb.shape[0] > 1:  # (its first picture alone was painted with, without a word)
            raise ValueError(
                f"{name}: one image at a time, got a batch of {loaded.rgb.shape[0]}; give several styles as a list"
            )
        rgb, alpha = loaded.rgb[:1], None if loaded.alpha is None else loaded.alpha[:1]
        if alpha is not None and bool((alpha < 1).any()):
            if not bool((alpha > 0).any()):
                raise ValueError(f"{name}: the picture is fully transparent: nothing of it shows to paint with")
            share = float((alpha < 1).float().mean())
            warn(f"{name}: its transparent part ({share:.0%} of it) is put on white, as a page shows it")
            rgb = rgb * alpha + (1 - alpha)
        h, w = rgb.shape[-2:]
        if min(h, w) < THIN:
            warn(
                f"{name}: {w}x{h} px is stretched to the network's smallest input to be painted with (its strokes too)"
            )
        out.append(rgb.contiguous())
    return out
