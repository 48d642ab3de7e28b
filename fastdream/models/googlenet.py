r"""GoogLeNet (Inception v1), the network of the original DeepDream, as torchvision lays it out.

fastdream's own definition, so nothing here imports torchvision; its ``state_dict()`` keys and
shapes are torchvision's ``googlenet()``, so a weights file saved from torchvision loads as it is:

- ``conv1``, ``conv2``, ``conv3``: ``BasicConv2d`` = ``.conv`` (no bias) + ``.bn`` (eps 1e-3) + ReLU;
- ``inception3a`` .. ``inception5b``: ``branch1`` (1x1), ``branch2.0`` / ``branch2.1`` (1x1, 3x3),
  ``branch3.0`` / ``branch3.1`` (1x1, then 3x3 where the paper has 5x5: torchvision's layout, kept
  so its weights fit), ``branch4.1`` (a 1x1 after a 3x3 max pool at ``branch4.0``);
- ``fc``: the 1000-way classifier. The auxiliary classifiers (``aux1.*``, ``aux2.*``) of a
  training checkpoint are accepted and ignored.

Shape:
    - Input: :math:`(B, 3, H, W)`, normalized as ``(x01 - input_mean) / input_std``.
    - Output: :math:`(B, 1000)` logits.

Convention:
    torchvision's pretrained GoogLeNet was ported from TensorFlow and turns ImageNet-normalized
    input back into ``[-1, 1]`` (``transform_input=True``); fastdream feeds it ``[-1, 1]``
    directly: ``input_mean = input_std = (0.5, 0.5, 0.5)``. ``GoogLeNet(transform_input=False)``
    takes ImageNet normalization instead (a network trained without the transform).

Examples:
    >>> import torch
    >>> net = GoogLeNet().eval()
    >>> net(torch.randn(1, 3, 96, 80)).shape
    torch.Size([1, 1000])
    >>> tuple(net.state_dict()["inception4c.branch3.1.conv.weight"].shape)
    (64, 24, 3, 3)
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from fastdream import _checks
from fastdream.models.taps import IMAGENET_MEAN, IMAGENET_STD

# (in, 1x1, 3x3 reduce, 3x3, "5x5" reduce, "5x5", pool projection) of each Inception module.
_INCEPTIONS = {
    "inception3a": (192, 64, 96, 128, 16, 32, 32),
    "inception3b": (256, 128, 128, 192, 32, 96, 64),
    "inception4a": (480, 192, 96, 208, 16, 48, 64),
    "inception4b": (512, 160, 112, 224, 24, 64, 64),
    "inception4c": (512, 128, 128, 256, 24, 64, 64),
    "inception4d": (512, 112, 144, 288, 32, 64, 64),
    "inception4e": (528, 256, 160, 320, 32, 128, 128),
    "inception5a": (832, 256, 160, 320, 32, 128, 128),
    "inception5b": (832, 384, 192, 384, 48, 128, 128),
}


class BasicConv2d(nn.Module):
    def __init__(self, cin: int, cout: int, **kw) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, bias=False, **kw)
        self.bn = nn.BatchNorm2d(cout, eps=0.001)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(self.conv(x)))


def _conv3(cin: int, cout: int) -> BasicConv2d:
    return BasicConv2d(cin, cout, kernel_size=3, padding=1)


class Inception(nn.Module):
    def __init__(self, cin, ch1, ch3red, ch3, ch5red, ch5, pool) -> None:
        super().__init__()
        self.branch1 = BasicConv2d(cin, ch1, kernel_size=1)
        self.branch2 = nn.Sequential(BasicConv2d(cin, ch3red, kernel_size=1), _conv3(ch3red, ch3))
        self.branch3 = nn.Sequential(BasicConv2d(cin, ch5red, kernel_size=1), _conv3(ch5red, ch5))
        self.branch4 = nn.Sequential(
            nn.MaxPool2d(3, stride=1, padding=1, ceil_mode=True), BasicConv2d(cin, pool, kernel_size=1)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)], 1)


class GoogLeNet(nn.Module):
    """Inception v1 (6.6M parameters); see the module docstring for the key layout.

    ``dream_layers`` (the default of ``fastdream.dream(model=...)``): ``inception4c``, the
    "mixed4c" that the original DeepDream images were made on (dogs' faces, pagodas, eyes),
    halfway between texture and object layers; ``style_layers`` / ``content_layers`` for style
    transfer: one tap per resolution from the stem to stride 16, content at ``inception4c``.
    """

    dream_layers = ("inception4c",)
    style_layers = ("conv1", "conv3", "inception3b", "inception4b")
    content_layers = ("inception4c",)

    def __init__(self, num_classes: int = 1000, transform_input: bool = True) -> None:
        super().__init__()
        # (torch said "empty(): argument 'size'")
        num_classes = _checks.integer("num_classes", num_classes, 1, cap=1 << 20)
        if transform_input:
            self.input_mean, self.input_std = (0.5, 0.5, 0.5), (0.5, 0.5, 0.5)
        else:
            self.input_mean, self.input_std = IMAGENET_MEAN, IMAGENET_STD
        self.conv1 = BasicConv2d(3, 64, kernel_size=7, stride=2, padding=3)
        self.maxpool1 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.conv2 = BasicConv2d(64, 64, kernel_size=1)
        self.conv3 = BasicConv2d(64, 192, kernel_size=3, padding=1)
        self.maxpool2 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        for name in ("inception3a", "inception3b"):
            setattr(self, name, Inception(*_INCEPTIONS[name]))
        self.maxpool3 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        for name in ("inception4a", "inception4b", "inception4c", "inception4d", "inception4e"):
            setattr(self, name, Inception(*_INCEPTIONS[name]))
        self.maxpool4 = nn.MaxPool2d(2, stride=2, ceil_mode=True)
        for name in ("inception5a", "inception5b"):
            setattr(self, name, Inception(*_INCEPTIONS[name]))
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(0.2)
        self.fc = nn.Linear(1024, num_classes)
        _init(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool2(self.conv3(self.conv2(self.maxpool1(self.conv1(x)))))
        x = self.maxpool3(self.inception3b(self.inception3a(x)))
        for name in ("inception4a", "inception4b", "inception4c", "inception4d", "inception4e"):
            x = getattr(self, name)(x)
        x = self.inception5b(self.inception5a(self.maxpool4(x)))
        return self.fc(self.dropout(self.avgpool(x).flatten(1)))


def _init(net: nn.Module) -> None:
    # Random weights whose activations keep their scale through 57 layers in eval mode (the
    # BatchNorms' running stats are 0/1): Kaiming, not torchvision's std-0.01 training init, under
    # which inception4c's activations are ~1e-9 and the dream's gradient vanishes.
    for m in net.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0.0, 0.01)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
