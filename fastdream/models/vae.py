r"""A convolutional variational autoencoder (Kingma & Welling, 2014) for 32, 64 and 128 px images.

The encoder halves the side with stride-2 convolutions (BatchNorm, LeakyReLU) down to a 4x4 map,
then two linear layers give the posterior's mean and log-variance; the decoder mirrors it with
stride-2 transposed convolutions and ends in per-pixel **logits**: ``sigmoid(logits)`` is the
image. Images are in :math:`[0, 1]`.

Examples:
    >>> import torch
    >>> vae = VAE(image_size=32, channels=1, latent_dim=16, base_channels=8)
    >>> logits, mu, logvar = vae(torch.rand(2, 1, 32, 32))
    >>> logits.shape, mu.shape
    (torch.Size([2, 1, 32, 32]), torch.Size([2, 16]))
"""

from __future__ import annotations

from torch import Tensor, nn

from fastdream._checks import integer, shown
from fastdream.models.dcgan import IMAGE_SIZES

__all__ = ["VAE", "IMAGE_SIZES"]


def _blocks(image_size: int) -> int:
    if isinstance(image_size, bool) or not isinstance(image_size, int) or image_size not in IMAGE_SIZES:
        raise ValueError(f"image_size must be one of {IMAGE_SIZES}, got {shown(image_size)}")
    return image_size.bit_length() - 3  # stride-2 steps between the image and a 4x4 map


class VAE(nn.Module):
    r"""Convolutional VAE.

    Args:
        image_size: side of the images, 32, 64 or 128.
        channels: image channels (1 gray, 3 RGB).
        latent_dim: size of the latent vector.
        base_channels: channels at the image end (doubling at each step toward 4x4, up to 512).

    Attributes:
        config: the constructor arguments (``VAE(**config)`` rebuilds it).

    Shape:
        - Input: :math:`(B, C, S, S)` in :math:`[0, 1]`.
        - Output of ``forward``: logits :math:`(B, C, S, S)`, mean and log-variance :math:`(B, L)`.
    """

    def __init__(self, image_size: int = 64, channels: int = 3, latent_dim: int = 128, base_channels: int = 32):
        super().__init__()
        n = _blocks(image_size)
        channels = integer("channels", channels, 1)
        latent_dim = integer("latent_dim", latent_dim, 1)
        base_channels = integer("base_channels", base_channels, 1)
        self.config = dict(image_size=image_size, channels=channels, latent_dim=latent_dim, base_channels=base_channels)
        widths = [min(base_channels * 2**i, 512) for i in range(n)]
        enc, cin = [], channels
        for w in widths:
            enc += [nn.Conv2d(cin, w, 4, 2, 1, bias=False), nn.BatchNorm2d(w), nn.LeakyReLU(0.2, inplace=True)]
            cin = w
        self.encoder = nn.Sequential(*enc)
        self.fc_mu = nn.Linear(cin * 16, latent_dim)
        self.fc_logvar = nn.Linear(cin * 16, latent_dim)
        self.fc_z = nn.Linear(latent_dim, cin * 16)
        dec = []
        for w in reversed(widths[:-1]):
            dec += [nn.ConvTranspose2d(cin, w, 4, 2, 1, bias=False), nn.BatchNorm2d(w), nn.ReLU(inplace=True)]
            cin = w
        dec += [nn.ConvTranspose2d(cin, channels, 4, 2, 1)]
        self.decoder = nn.Sequential(*dec)
        self.top = widths[-1]

    def encode(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """The posterior q(z | x): mean and log-variance, (B, latent_dim) each."""
        s = self.config["image_size"]
        if x.dim() != 4 or x.shape[1:] != (self.config["channels"], s, s):
            raise ValueError(f"VAE: input must be (B, {self.config['channels']}, {s}, {s}), got {tuple(x.shape)}")
        h = self.encoder(x * 2 - 1).flatten(1)  # centered input; the first layer has no bias to absorb it
        return self.fc_mu(h), self.fc_logvar(h).clamp(-30.0, 20.0)

    def decode(self, z: Tensor) -> Tensor:
        """Logits of the image for latent vectors z (B, latent_dim)."""
        return self.decoder(self.fc_z(z).view(z.shape[0], self.top, 4, 4))

    def forward(self, x: Tensor, noise: Tensor | None = None) -> tuple[Tensor, Tensor, Tensor]:
        """Logits of the reconstruction, and the posterior's mean and log-variance. ``z`` is the
        mean plus ``noise`` (a standard normal draw, (B, latent_dim)) times the std; without
        noise, the mean (the deterministic reconstruction)."""
        mu, logvar = self.encode(x)
        z = mu if noise is None else mu + noise * (0.5 * logvar).exp()
        return self.decode(z), mu, logvar
