"""Models: the default dream backbone, and helpers that tap and truncate any nn.Module."""

from fastdream.models.dcgan import Discriminator, Generator
from fastdream.models.efficientnet_lite import EfficientNetLite0, efficientnet_lite0
from fastdream.models.unet import UNet

__all__ = ["EfficientNetLite0", "efficientnet_lite0", "Generator", "Discriminator", "UNet"]
