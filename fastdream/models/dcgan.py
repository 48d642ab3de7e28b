r"""DCGAN generator and discriminator (Radford, Metz & Chintala, 2016).

The architecture follows the paper's guidelines: no pooling or fully connected hidden layers;
the generator upsamples with stride-2 transposed convolutions, BatchNorm and ReLU, ending in
Tanh; the discriminator downsamples with stride-2 convolutions and LeakyReLU(0.2), with
BatchNorm on every layer but the first. Both work on images in :math:`[-1, 1]`.

The depth follows the image size: every block doubles (generator) or halves (discriminator)
the side, between a 4x4 map and the image, so 32, 64 and 128 px use 3, 4 and 5 blocks. Channel
widths double at each step away from the image, ``ngf``/``ndf`` at the image end.

Examples:
    >>> g, d = Generator(nz=16, ngf=8, image_size=32), Discriminator(ndf=8, image_size=32)
    >>> x = g(torch.randn(4, 16))
    >>> x.shape, d(x).shape
    (torch.Size([4, 3, 32, 32]), torch.Size([4]))
"""

from __future__ import annotations

import numbers

import torch
from torch import Tensor, nn

from fastdream._checks import integer, shown

__all__ = ["Generator", "Discriminator", "IMAGE_SIZES", "NORMS", "dcgan_init_"]

#: Supported image sides. Each is 4 * 2**k: the generator starts from a 4x4 map and doubles.
IMAGE_SIZES = (32, 64, 128)
#: Normalizations of the discriminator.
NORMS = ("batch", "spectral")


def _n_blocks(image_size) -> int:
    """Stride-2 layers between a 4x4 map and the image (3 for 32 px, 4 for 64, 5 for 128)."""
    if isinstance(image_size, bool) or not isinstance(image_size, numbers.Integral):
        raise TypeError(f"image_size must be an integer, one of {IMAGE_SIZES}, got {shown(image_size)}")
    if image_size not in IMAGE_SIZES:
        raise ValueError(f"image_size must be one of {IMAGE_SIZES}, got {image_size}")
    return int(image_size).bit_length() - 3  # log2(size / 4)


@torch.no_grad()
def dcgan_init_(module: nn.Module) -> None:
    r"""Initializes one module in place as in the DCGAN paper (use with ``model.apply``).

    Convolution weights are drawn from :math:`\mathcal{N}(0, 0.02)`; BatchNorm scales from
    :math:`\mathcal{N}(1, 0.02)` and shifts are 0. The small, fixed std (rather than PyTorch's
    fan-in based default) is what the paper's learning rate 2e-4 and beta1 0.5 were tuned for.
    """
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.normal_(module.weight, 0.0, 0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


class Generator(nn.Module):
    r"""DCGAN generator: a latent vector to an image in :math:`[-1, 1]`.

    ``ConvTranspose(nz -> C, 4, stride 1)`` makes a 4x4 map from the latent vector, then each
    block ``ConvTranspose(4, stride 2, pad 1) -> BatchNorm -> ReLU`` doubles the side and halves
    the channels, down to ``ngf``; a last transposed conv to ``nc`` channels and Tanh give the
    image. Convolutions that are followed by BatchNorm have no bias (BatchNorm's shift replaces
    it).

    Args:
        nz: size of the latent vector.
        ngf: channels of the last hidden layer (the widest has ``ngf * image_size / 8``).
        nc: image channels (3 for RGB, 1 for grayscale).
        image_size: output side, one of 32, 64, 128.

    Shape:
        - Input: :math:`(B, nz)` or :math:`(B, nz, 1, 1)` latent vectors, usually
          :math:`\mathcal{N}(0, I)`.
        - Output: :math:`(B, nc, S, S)` with :math:`S` = ``image_size``, values in
          :math:`[-1, 1]` (map to :math:`[0, 1]` with ``(x + 1) / 2``).

    Raises:
        ValueError: ``image_size`` not one of 32, 64, 128, or a size below 1; also, in
            ``forward``, a latent of the wrong shape.

    Examples:
        >>> g = Generator(nz=100, ngf=64, nc=3, image_size=64)
        >>> g(torch.randn(2, 100)).shape
        torch.Size([2, 3, 64, 64])
        >>> Generator(nz=8, ngf=4, image_size=128)(torch.randn(1, 8, 1, 1)).shape
        torch.Size([1, 3, 128, 128])
    """

    def __init__(self, nz: int = 100, ngf: int = 64, nc: int = 3, image_size: int = 64) -> None:
        super().__init__()
        self.nz = integer("nz", nz, 1)
        self.ngf = integer("ngf", ngf, 1)
        self.nc = integer("nc", nc, 1)
        n = _n_blocks(image_size)
        self.image_size = int(image_size)
        ch = ngf * 2 ** (n - 1)
        layers = [nn.ConvTranspose2d(nz, ch, 4, 1, 0, bias=False), nn.BatchNorm2d(ch), nn.ReLU(True)]
        for _ in range(n - 1):
            layers += [nn.ConvTranspose2d(ch, ch // 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ch // 2), nn.ReLU(True)]
            ch //= 2
        # The output layer keeps no BatchNorm (the paper: BN on the generator output made
        # samples oscillate) and Tanh bounds the image to the data range [-1, 1].
        layers += [nn.ConvTranspose2d(ch, nc, 4, 2, 1, bias=False), nn.Tanh()]
        self.main = nn.Sequential(*layers)
        self.apply(dcgan_init_)

    def forward(self, z: Tensor) -> Tensor:
        if z.dim() == 2:
            z = z[:, :, None, None]
        if z.dim() != 4 or z.shape[1] != self.nz or z.shape[2:] != (1, 1):
            raise ValueError(f"Generator: z must be (B, {self.nz}) or (B, {self.nz}, 1, 1), got {tuple(z.shape)}")
        return self.main(z)


class Discriminator(nn.Module):
    r"""DCGAN discriminator: an image to one real/fake logit.

    ``Conv(nc -> ndf, 4, stride 2, pad 1) -> LeakyReLU(0.2)``, then blocks ``Conv(4, stride 2,
    pad 1) -> norm -> LeakyReLU(0.2)`` halving the side and doubling the channels down to 4x4,
    and a 4x4 convolution to a single value. ``norm="batch"`` is the paper's (BatchNorm on every
    block but the input one: normalizing the raw image statistics made training unstable);
    ``norm="spectral"`` (Miyato et al. 2018) divides every convolution's weight by its largest
    singular value instead and has no BatchNorm, which bounds how fast the discriminator can
    change and keeps it from overpowering the generator on small datasets.

    The output is a **logit** (no Sigmoid): train with ``binary_cross_entropy_with_logits`` or a
    hinge loss, which are numerically stable and safe under autocast. ``torch.sigmoid(logit)`` is
    read as the probability that the input is real, D(x).

    Args:
        ndf: channels of the first layer (the widest has ``ndf * image_size / 8``).
        nc: image channels.
        image_size: input side, one of 32, 64, 128.
        norm: ``"batch"`` or ``"spectral"``.

    Shape:
        - Input: :math:`(B, nc, S, S)` with :math:`S` = ``image_size``, values in :math:`[-1, 1]`.
        - Output: :math:`(B,)` logits.

    Raises:
        ValueError: ``image_size`` not one of 32, 64, 128; in ``forward``, an input of another
            shape.

    Examples:
        >>> d = Discriminator(ndf=64, nc=3, image_size=64)
        >>> d(torch.rand(2, 3, 64, 64) * 2 - 1).shape
        torch.Size([2])
        >>> Discriminator(ndf=8, image_size=32, norm="spectral")(torch.zeros(3, 3, 32, 32)).shape
        torch.Size([3])
    """

    def __init__(self, ndf: int = 64, nc: int = 3, image_size: int = 64, norm: str = "batch") -> None:
        super().__init__()
        self.ndf = integer("ndf", ndf, 1)
        self.nc = integer("nc", nc, 1)
        if norm not in NORMS:
            raise ValueError(f"norm must be one of {NORMS}, got {shown(norm)}")
        self.norm = norm
        n = _n_blocks(image_size)
        self.image_size = int(image_size)
        sn = norm == "spectral"
        wrap = nn.utils.parametrizations.spectral_norm if sn else (lambda m: m)
        ch = ndf
        layers = [wrap(nn.Conv2d(nc, ch, 4, 2, 1, bias=sn)), nn.LeakyReLU(0.2, inplace=True)]
        for _ in range(n - 1):
            layers += [wrap(nn.Conv2d(ch, ch * 2, 4, 2, 1, bias=sn))]
            layers += [] if sn else [nn.BatchNorm2d(ch * 2)]
            layers += [nn.LeakyReLU(0.2, inplace=True)]
            ch *= 2
        layers += [wrap(nn.Conv2d(ch, 1, 4, 1, 0, bias=False))]
        self.main = nn.Sequential(*layers)
        if not sn:
            self.apply(dcgan_init_)

    def forward(self, x: Tensor) -> Tensor:
        s = self.image_size
        if x.dim() != 4 or x.shape[1] != self.nc or x.shape[2:] != (s, s):
            raise ValueError(f"Discriminator: input must be (B, {self.nc}, {s}, {s}), got {tuple(x.shape)}")
        return self.main(x).flatten()
