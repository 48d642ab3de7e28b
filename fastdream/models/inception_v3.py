r"""InceptionV3 (Szegedy et al., "Rethinking the Inception Architecture for Computer Vision", 2015),
the network of TensorFlow's DeepDream tutorial, as torchvision lays it out.

fastdream's own definition, so nothing here imports torchvision; its ``state_dict()`` keys and
shapes are torchvision's ``inception_v3()``, so a weights file saved from torchvision loads as it
is (the auxiliary classifier's ``AuxLogits.*`` keys of a training checkpoint are accepted and
ignored: the dream never runs it):

- the stem: ``Conv2d_1a_3x3`` (stride 2), ``Conv2d_2a_3x3``, ``Conv2d_2b_3x3``, ``maxpool1``,
  ``Conv2d_3b_1x1``, ``Conv2d_4a_3x3``, ``maxpool2``; each conv a ``BasicConv2d`` = ``.conv``
  (no bias) + ``.bn`` (eps 1e-3) + ReLU;
- ``Mixed_5b`` .. ``Mixed_5d`` (35x35 grid at 299 px; ``branch1x1``, ``branch5x5_1/_2``,
  ``branch3x3dbl_1/_2/_3``, ``branch_pool``), ``Mixed_6a`` (to 17x17; ``branch3x3``,
  ``branch3x3dbl_1/_2/_3``), ``Mixed_6b`` .. ``Mixed_6e`` (17x17, factorized 7x7:
  ``branch7x7_1/_2/_3``, ``branch7x7dbl_1`` .. ``_5``), ``Mixed_7a`` (to 8x8; ``branch3x3_1/_2``,
  ``branch7x7x3_1`` .. ``_4``), ``Mixed_7b``, ``Mixed_7c`` (8x8; ``branch3x3_2a/_2b``,
  ``branch3x3dbl_3a/_3b``);
- ``fc``: the 1000-way classifier.

Layer names: torchvision's module names, and Keras' (``tf.keras.applications.InceptionV3``, whose
``mixedN`` layers the TensorFlow tutorial dreams) as aliases for the same modules (checked
against Keras' definition: the same branches and channel counts in the same order):

=========  ===========  ======================  ========
Keras      torchvision  grid at 299 px          channels
=========  ===========  ======================  ========
mixed0     Mixed_5b     35x35                   256
mixed1     Mixed_5c     35x35                   288
mixed2     Mixed_5d     35x35                   288
mixed3     Mixed_6a     17x17 (reduction)       768
mixed4     Mixed_6b     17x17                   768
mixed5     Mixed_6c     17x17                   768
mixed6     Mixed_6d     17x17                   768
mixed7     Mixed_6e     17x17                   768
mixed8     Mixed_7a     8x8 (reduction)         1280
mixed9     Mixed_7b     8x8                     2048
mixed10    Mixed_7c     8x8                     2048
=========  ===========  ======================  ========

Shape:
    - Input: :math:`(B, 3, H, W)`, normalized as ``(x01 - input_mean) / input_std``, at least
      75x75 (:attr:`InceptionV3.min_input_side`: the unpadded convolutions and pools shrink it).
    - Output: :math:`(B, 1000)` logits.

Convention:
    torchvision's pretrained InceptionV3 was ported from TensorFlow and turns ImageNet-normalized
    input back into ``[-1, 1]`` (``transform_input=True``, ``(x - 0.5) / 0.5``); fastdream feeds
    it ``[-1, 1]`` directly: ``input_mean = input_std = (0.5, 0.5, 0.5)``, as Keras'
    ``preprocess_input`` does. ``InceptionV3(transform_input=False)`` takes ImageNet
    normalization instead (a network trained without the transform).

Examples:
    >>> import torch
    >>> net = InceptionV3().eval()
    >>> net(torch.randn(1, 3, 75, 80)).shape
    torch.Size([1, 1000])
    >>> net.layer_aliases["mixed3"], tuple(net.state_dict()["Mixed_6e.branch7x7dbl_5.conv.weight"].shape)
    ('Mixed_6a', (192, 192, 1, 7))
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from fastdream import _checks
from fastdream.models.googlenet import BasicConv2d
from fastdream.models.taps import IMAGENET_MEAN, IMAGENET_STD

#: Keras' layer names -> torchvision's modules (see the module docstring's table).
KERAS_NAMES = {
    f"mixed{i}": name
    for i, name in enumerate(
        ["Mixed_5b", "Mixed_5c", "Mixed_5d", "Mixed_6a", "Mixed_6b", "Mixed_6c", "Mixed_6d", "Mixed_6e"]
        + ["Mixed_7a", "Mixed_7b", "Mixed_7c"]
    )
}


def check_size(x: torch.Tensor, side: int) -> torch.Tensor:
    """``x`` itself, after checking it is at least ``side`` px each way (a clear error, not a
    convolution's complaint about kernel sizes deep inside)."""
    if min(x.shape[-2:]) < side:
        raise ValueError(f"InceptionV3 takes images of at least {side}x{side} px, got {x.shape[-1]}x{x.shape[-2]}")
    return x


# A leaf of torch.fx traces: the dream build traces the network to find what it can fold, and a
# branch on the input's size would end the trace.
torch.fx.wrap("check_size")


def _conv(cin: int, cout: int, k, stride: int = 1, pad=0) -> BasicConv2d:
    return BasicConv2d(cin, cout, kernel_size=k, stride=stride, padding=pad)


def _row(cin: int, cout: int) -> BasicConv2d:  # a 1x7 conv keeping the size
    return _conv(cin, cout, (1, 7), pad=(0, 3))


def _col(cin: int, cout: int) -> BasicConv2d:  # a 7x1 conv keeping the size
    return _conv(cin, cout, (7, 1), pad=(3, 0))


def _pool_avg(x: torch.Tensor) -> torch.Tensor:
    return F.avg_pool2d(x, 3, stride=1, padding=1)  # count_include_pad: torchvision's (and TF's port)


class InceptionA(nn.Module):
    """35x35 module: 1x1; 1x1 -> 5x5; 1x1 -> 3x3 -> 3x3; 3x3 average pool -> 1x1 (``pool`` channels)."""

    def __init__(self, cin: int, pool: int) -> None:
        super().__init__()
        self.branch1x1 = _conv(cin, 64, 1)
        self.branch5x5_1, self.branch5x5_2 = _conv(cin, 48, 1), _conv(48, 64, 5, pad=2)
        self.branch3x3dbl_1 = _conv(cin, 64, 1)
        self.branch3x3dbl_2, self.branch3x3dbl_3 = _conv(64, 96, 3, pad=1), _conv(96, 96, 3, pad=1)
        self.branch_pool = _conv(cin, pool, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        five = self.branch5x5_2(self.branch5x5_1(x))
        dbl = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        return torch.cat([self.branch1x1(x), five, dbl, self.branch_pool(_pool_avg(x))], 1)


class InceptionB(nn.Module):
    """Grid reduction 35 -> 17: 3x3 stride 2; 1x1 -> 3x3 -> 3x3 stride 2; 3x3 max pool stride 2."""

    def __init__(self, cin: int) -> None:
        super().__init__()
        self.branch3x3 = _conv(cin, 384, 3, stride=2)
        self.branch3x3dbl_1 = _conv(cin, 64, 1)
        self.branch3x3dbl_2, self.branch3x3dbl_3 = _conv(64, 96, 3, pad=1), _conv(96, 96, 3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dbl = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        return torch.cat([self.branch3x3(x), dbl, F.max_pool2d(x, 3, stride=2)], 1)


class InceptionC(nn.Module):
    """17x17 module with the 7x7 convolutions factorized into 1x7 and 7x1 (``c7`` inner channels)."""

    def __init__(self, cin: int, c7: int) -> None:
        super().__init__()
        self.branch1x1 = _conv(cin, 192, 1)
        self.branch7x7_1, self.branch7x7_2, self.branch7x7_3 = _conv(cin, c7, 1), _row(c7, c7), _col(c7, 192)
        self.branch7x7dbl_1, self.branch7x7dbl_2 = _conv(cin, c7, 1), _col(c7, c7)
        self.branch7x7dbl_3, self.branch7x7dbl_4, self.branch7x7dbl_5 = _row(c7, c7), _col(c7, c7), _row(c7, 192)
        self.branch_pool = _conv(cin, 192, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        seven = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        dbl = self.branch7x7dbl_1(x)
        for conv in (self.branch7x7dbl_2, self.branch7x7dbl_3, self.branch7x7dbl_4, self.branch7x7dbl_5):
            dbl = conv(dbl)
        return torch.cat([self.branch1x1(x), seven, dbl, self.branch_pool(_pool_avg(x))], 1)


class InceptionD(nn.Module):
    """Grid reduction 17 -> 8: 1x1 -> 3x3 stride 2; 1x1 -> 1x7 -> 7x1 -> 3x3 stride 2; max pool."""

    def __init__(self, cin: int) -> None:
        super().__init__()
        self.branch3x3_1, self.branch3x3_2 = _conv(cin, 192, 1), _conv(192, 320, 3, stride=2)
        self.branch7x7x3_1, self.branch7x7x3_2 = _conv(cin, 192, 1), _row(192, 192)
        self.branch7x7x3_3, self.branch7x7x3_4 = _col(192, 192), _conv(192, 192, 3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        three = self.branch3x3_2(self.branch3x3_1(x))
        seven = self.branch7x7x3_4(self.branch7x7x3_3(self.branch7x7x3_2(self.branch7x7x3_1(x))))
        return torch.cat([three, seven, F.max_pool2d(x, 3, stride=2)], 1)


class InceptionE(nn.Module):
    """8x8 module whose 3x3 branches end in parallel 1x3 and 3x1 convolutions, concatenated."""

    def __init__(self, cin: int) -> None:
        super().__init__()
        self.branch1x1 = _conv(cin, 320, 1)
        self.branch3x3_1 = _conv(cin, 384, 1)
        self.branch3x3_2a, self.branch3x3_2b = _conv(384, 384, (1, 3), pad=(0, 1)), _conv(384, 384, (3, 1), pad=(1, 0))
        self.branch3x3dbl_1, self.branch3x3dbl_2 = _conv(cin, 448, 1), _conv(448, 384, 3, pad=1)
        self.branch3x3dbl_3a = _conv(384, 384, (1, 3), pad=(0, 1))
        self.branch3x3dbl_3b = _conv(384, 384, (3, 1), pad=(1, 0))
        self.branch_pool = _conv(cin, 192, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        t = self.branch3x3_1(x)
        three = torch.cat([self.branch3x3_2a(t), self.branch3x3_2b(t)], 1)
        d = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        dbl = torch.cat([self.branch3x3dbl_3a(d), self.branch3x3dbl_3b(d)], 1)
        return torch.cat([self.branch1x1(x), three, dbl, self.branch_pool(_pool_avg(x))], 1)


class InceptionV3(nn.Module):
    """InceptionV3 (23.8M parameters without the auxiliary classifier); see the module docstring
    for the key layout and the layer names.

    ``dream_layers`` (the default of ``fastdream.dream(model=...)``): ``mixed3``, ``mixed5``,
    ``mixed7`` (``Mixed_6a``, ``Mixed_6c``, ``Mixed_6e``): the TensorFlow DeepDream tutorial's
    layers, from swirls and eyes (the first 17x17 grid) to animal parts; ``style_layers`` /
    ``content_layers`` for style transfer: one tap per grid from the stem to 17x17, content at
    ``mixed5``. ``layer_aliases`` maps Keras' names to the modules; every place that takes layer
    names (dreams, style transfer, ``--list-layers``) accepts both.
    """

    dream_layers = ("mixed3", "mixed5", "mixed7")
    style_layers = ("Conv2d_2b_3x3", "Conv2d_4a_3x3", "mixed2", "mixed4")
    content_layers = ("mixed5",)
    layer_aliases = KERAS_NAMES
    #: The smallest input side the network takes (the unpadded stem and reductions).
    min_input_side = 75

    def __init__(self, num_classes: int = 1000, transform_input: bool = True) -> None:
        super().__init__()
        # (torch said "empty(): argument 'size'")
        num_classes = _checks.integer("num_classes", num_classes, 1, cap=1 << 20)
        if transform_input:
            self.input_mean, self.input_std = (0.5, 0.5, 0.5), (0.5, 0.5, 0.5)
        else:
            self.input_mean, self.input_std = IMAGENET_MEAN, IMAGENET_STD
        self.Conv2d_1a_3x3 = _conv(3, 32, 3, stride=2)
        self.Conv2d_2a_3x3 = _conv(32, 32, 3)
        self.Conv2d_2b_3x3 = _conv(32, 64, 3, pad=1)
        self.maxpool1 = nn.MaxPool2d(3, stride=2)
        self.Conv2d_3b_1x1 = _conv(64, 80, 1)
        self.Conv2d_4a_3x3 = _conv(80, 192, 3)
        self.maxpool2 = nn.MaxPool2d(3, stride=2)
        self.Mixed_5b, self.Mixed_5c, self.Mixed_5d = InceptionA(192, 32), InceptionA(256, 64), InceptionA(288, 64)
        self.Mixed_6a = InceptionB(288)
        self.Mixed_6b, self.Mixed_6c = InceptionC(768, 128), InceptionC(768, 160)
        self.Mixed_6d, self.Mixed_6e = InceptionC(768, 160), InceptionC(768, 192)
        self.Mixed_7a = InceptionD(768)
        self.Mixed_7b, self.Mixed_7c = InceptionE(1280), InceptionE(2048)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(0.5)
        self.fc = nn.Linear(2048, num_classes)
        _init(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = check_size(x, self.min_input_side)
        for name in ("Conv2d_1a_3x3", "Conv2d_2a_3x3", "Conv2d_2b_3x3", "maxpool1", "Conv2d_3b_1x1"):
            x = getattr(self, name)(x)
        for name in ("Conv2d_4a_3x3", "maxpool2", "Mixed_5b", "Mixed_5c", "Mixed_5d", "Mixed_6a", "Mixed_6b"):
            x = getattr(self, name)(x)
        for name in ("Mixed_6c", "Mixed_6d", "Mixed_6e", "Mixed_7a", "Mixed_7b", "Mixed_7c"):
            x = getattr(self, name)(x)
        return self.fc(self.dropout(self.avgpool(x).flatten(1)))


def _init(net: nn.Module) -> None:
    # Random weights whose activations keep their scale through the 94 convolutions in eval mode
    # (the BatchNorms' running stats are 0/1): Kaiming, as GoogLeNet's, not torchvision's
    # truncated normal of std 0.1, under which the deep layers' activations overflow or vanish.
    for m in net.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0.0, 0.01)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
