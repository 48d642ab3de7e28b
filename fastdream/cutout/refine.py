r"""Mask edges at full resolution: the fast guided filter, and foreground colors without the
background's.

The U-Net predicts at a working size (160-256 px on the short side); plain upsampling makes its
edges a blur the size of a working pixel. The guided filter (He, Sun & Tang 2013) fits, in every
window of the working image, the mask as an affine function of the image's colors,
:math:`q = a^\top I + b`; the fast variant (He & Sun 2015) fits :math:`a, b` at the working size,
upsamples *them*, and applies them to the full-resolution image, so the mask's edges follow the
photo's own edges, hair and soft transitions included, for the cost of a few full-size passes.

:func:`decontaminate` estimates each edge pixel's foreground color, removing the background's
share (:math:`I = \alpha F + (1 - \alpha) B`), so a cutout pasted on a new background carries no
halo of the old one.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

#: Window radius (working-size pixels) and regularization of the guided filter (bench/RESULTS.md,
#: "Background removal").
RADIUS = 4
EPS = 1e-4
#: Radius (full-size pixels) over which the background color behind an edge is estimated.
BACKGROUND_RADIUS = 16


def _box(x: torch.Tensor, r: int) -> torch.Tensor:
    """Mean over the (2r+1)^2 window, windows cut at the edges (only pixels inside count)."""
    return F.avg_pool2d(F.pad(x, (r, r, r, r), mode="replicate"), 2 * r + 1, stride=1)


def guided_coefficients(image: torch.Tensor, mask: torch.Tensor, radius: int = RADIUS, eps: float = EPS):
    """The guided filter's per-pixel (a, b) of ``mask`` (1, 1, h, w) guided by ``image`` (1, 3, h, w),
    both in [0, 1], window-averaged: ``mask ~ (a * image).sum(1) + b``.

    Shape:
        image (1, 3, h, w), mask (1, 1, h, w) -> a (1, 3, h, w), b (1, 1, h, w).
    """
    g, p = image.double(), mask.double()
    mg, mp = _box(g, radius), _box(p, radius)
    cov_gp = _box(g * p, radius) - mg * mp  # (1, 3, h, w)
    # The 3x3 covariance of the colors in each window (symmetric), regularized, inverted in closed
    # form (adjugate / determinant): a batched linalg.solve over every pixel was 4x slower.
    v = {}
    for i, j in ((0, 0), (0, 1), (0, 2), (1, 1), (1, 2), (2, 2)):
        v[i, j] = _box(g[:, i : i + 1] * g[:, j : j + 1], radius) - mg[:, i : i + 1] * mg[:, j : j + 1]
        if i == j:
            v[i, j] = v[i, j] + eps
    c00, c01, c02 = (
        v[1, 1] * v[2, 2] - v[1, 2] ** 2,
        v[0, 2] * v[1, 2] - v[0, 1] * v[2, 2],
        v[0, 1] * v[1, 2] - v[0, 2] * v[1, 1],
    )
    c11, c12, c22 = (
        v[0, 0] * v[2, 2] - v[0, 2] ** 2,
        v[0, 1] * v[0, 2] - v[0, 0] * v[1, 2],
        v[0, 0] * v[1, 1] - v[0, 1] ** 2,
    )
    det = v[0, 0] * c00 + v[0, 1] * c01 + v[0, 2] * c02
    x, y, z = cov_gp[:, 0:1], cov_gp[:, 1:2], cov_gp[:, 2:3]
    a = torch.cat([c00 * x + c01 * y + c02 * z, c01 * x + c11 * y + c12 * z, c02 * x + c12 * y + c22 * z], 1) / det
    b = mp - (a * mg).sum(1, keepdim=True)
    return _box(a, radius).float(), _box(b, radius).float()


def refine(image_full: torch.Tensor, mask_small: torch.Tensor, radius: int = RADIUS, eps: float = EPS) -> torch.Tensor:
    """``mask_small`` (its working size) brought to ``image_full``'s size along the image's edges.

    Shape:
        image_full (1, 3, H, W) in [0, 1], mask_small (1, 1, h, w) in [0, 1] -> (1, 1, H, W) in [0, 1].

    Examples:
        >>> img = torch.zeros(1, 3, 64, 64); img[..., :, 32:] = 1  # a sharp edge at x = 32
        >>> small = torch.nn.functional.interpolate(img[:, :1], size=(16, 16), mode="area")
        >>> sharp = refine(img, small)
        >>> bool(sharp[0, 0, 32, 30] < 0.05 and sharp[0, 0, 32, 33] > 0.95)
        True
    """
    h, w = mask_small.shape[-2:]
    guide = F.interpolate(image_full, size=(h, w), mode="bilinear", align_corners=False, antialias=True)
    a, b = guided_coefficients(guide.clamp(0, 1), mask_small, radius, eps)
    # One 4-channel upsampling and fused multiply-adds: half the full-size passes of the plain
    # (a * image).sum(1) + b, which dominated a 4K refinement.
    ab = F.interpolate(torch.cat([a, b], 1), size=image_full.shape[-2:], mode="bilinear", align_corners=False)
    q = torch.addcmul(ab[:, 3:], ab[:, 0:1], image_full[:, 0:1])
    q.addcmul_(ab[:, 1:2], image_full[:, 1:2]).addcmul_(ab[:, 2:3], image_full[:, 2:3])
    return q.clamp_(0.0, 1.0)


def decontaminate(image: torch.Tensor, alpha: torch.Tensor, radius: int = BACKGROUND_RADIUS) -> torch.Tensor:
    """Foreground colors of ``image`` (1, 3, H, W) under ``alpha`` (1, 1, H, W): where alpha is
    partial, the background color (the alpha-weighted mean of nearby background pixels) is taken
    out, ``F = (I - (1 - alpha) B) / alpha``; elsewhere the image is unchanged."""
    weight = 1.0 - alpha
    bg = _box(image * weight, radius) / _box(weight, radius).clamp_min(1e-6)
    a = alpha.clamp_min(0.05)
    fg = ((image - (1 - a) * bg) / a).clamp_(0.0, 1.0)
    partial = (alpha > 0.02) & (alpha < 0.98)
    return torch.where(partial, fg, image)
