"""Models: the default dream backbone and its builds, taps for any nn.Module, and the networks
of the pipelines (U-Net, DCGAN, VAE)."""

from fastdream.models.dcgan import Discriminator, Generator
from fastdream.models.efficientnet_lite import EfficientNetLite0, efficientnet_lite0
from fastdream.models.unet import UNet
from fastdream.models.vae import VAE

__all__ = ["VAE", "Discriminator", "EfficientNetLite0", "Generator", "UNet", "efficientnet_lite0"]
