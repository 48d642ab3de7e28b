"""Models: the named dream backbones (:func:`load`: EfficientNet-Lite0, GoogLeNet, InceptionV3, VGG16/19),
the dream build of any model (:func:`dream_build`), taps for any nn.Module, and the networks of
the pipelines (U-Net, DCGAN, VAE, the :class:`Dreamer` of ``train_dreamer``)."""

from fastdream.models.build import dream_build
from fastdream.models.dcgan import Discriminator, Generator
from fastdream.models.dreamer import Dreamer
from fastdream.models.efficientnet_lite import EfficientNetLite0, efficientnet_lite0
from fastdream.models.googlenet import GoogLeNet
from fastdream.models.inception_v3 import InceptionV3
from fastdream.models.registry import load, names
from fastdream.models.unet import UNet
from fastdream.models.vae import VAE
from fastdream.models.vgg import VGG, vgg16, vgg19

__all__ = [
    "VAE",
    "VGG",
    "Discriminator",
    "Dreamer",
    "EfficientNetLite0",
    "Generator",
    "GoogLeNet",
    "InceptionV3",
    "UNet",
    "dream_build",
    "efficientnet_lite0",
    "load",
    "names",
    "vgg16",
    "vgg19",
]
