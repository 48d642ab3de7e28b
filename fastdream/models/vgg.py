r"""VGG16 and VGG19 (no BatchNorm), as torchvision lays them out.

fastdream's own definitions, so nothing here imports torchvision; ``state_dict()`` keys and shapes
are torchvision's ``vgg16()`` / ``vgg19()``: ``features.N.weight`` / ``.bias`` for the convs at the
indices below, ``classifier.0``, ``classifier.3``, ``classifier.6`` for the three linear layers.
The ReLUs are not in place (a tap on a conv must see its output, not the ReLU's).

``features`` indices (conv ``convS_K`` at ``i``, its ReLU ``reluS_K`` at ``i + 1``, pools ``M``)::

    vgg16: conv1_1 0, conv1_2 2, M 4, conv2_1 5, conv2_2 7, M 9, conv3_1 10, conv3_2 12,
           conv3_3 14, M 16, conv4_1 17, conv4_2 19, conv4_3 21, M 23, conv5_1 24, conv5_2 26,
           conv5_3 28, M 30
    vgg19: conv1_1 0, conv1_2 2, M 4, conv2_1 5, conv2_2 7, M 9, conv3_1 10 .. conv3_4 16
           (step 2), M 18, conv4_1 19 .. conv4_4 25, M 27, conv5_1 28 .. conv5_4 34, M 36

Shape:
    - Input: :math:`(B, 3, H, W)`, ImageNet-normalized (``input_mean``, ``input_std``).
    - Output: :math:`(B, 1000)` logits (any input of at least 32 px: the pool before the
      classifier is adaptive, as torchvision's).

Examples:
    >>> import torch
    >>> net = vgg16().eval()
    >>> tuple(net.state_dict()["features.28.weight"].shape), tuple(net.state_dict()["classifier.0.weight"].shape)
    ((512, 512, 3, 3), (4096, 25088))
"""

from __future__ import annotations

import torch
from torch import nn

from fastdream import _checks
from fastdream._checks import shown
from fastdream.models.taps import IMAGENET_MEAN, IMAGENET_STD

_CONFIGS = {
    "vgg16": (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"),
    "vgg19": (64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M"),
}

# Default layers (``features`` indices of ReLU outputs). Dreams: relu4_3 / relu4_4, the last
# stride-8 layer, whose units are parts of things (eyes, fur, arches) rather than the
# edges and stripes of stages 1-3 or the whole objects of stage 5. Style: Gatys et al.'s
# relu1_1 .. relu5_1; content: relu4_2.
_LAYERS = {
    "vgg16": dict(dream=("features.22",), style=(1, 6, 11, 18, 25), content=("features.20",)),
    "vgg19": dict(dream=("features.26",), style=(1, 6, 11, 20, 29), content=("features.22",)),
}


class VGG(nn.Module):
    """A VGG network (see the module docstring for the key layout and layer indices)."""

    input_mean = IMAGENET_MEAN
    input_std = IMAGENET_STD

    def __init__(self, config: str = "vgg16", num_classes: int = 1000) -> None:
        super().__init__()
        # (torch said "empty(): argument 'size'")
        num_classes = _checks.integer("num_classes", num_classes, 1, cap=1 << 20)
        if config not in _CONFIGS:
            raise ValueError(f"config must be one of {sorted(_CONFIGS)}, got {shown(config)}")
        layers: list[nn.Module] = []
        cin = 3
        for v in _CONFIGS[config]:
            if v == "M":
                layers.append(nn.MaxPool2d(2, 2))
            else:
                layers += [nn.Conv2d(cin, v, 3, padding=1), nn.ReLU()]
                cin = v
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
        self.classifier = nn.Sequential(
            nn.Linear(512 * 7 * 7, 4096),
            nn.ReLU(),
            nn.Dropout(),
            nn.Linear(4096, 4096),
            nn.ReLU(),
            nn.Dropout(),
            nn.Linear(4096, num_classes),
        )
        names = _LAYERS[config]
        self.dream_layers = names["dream"]
        self.style_layers = tuple(f"features.{i}" for i in names["style"])
        self.content_layers = names["content"]
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0, 0.01)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.avgpool(self.features(x)).flatten(1))


def vgg16(num_classes: int = 1000) -> VGG:
    """VGG16 (138M parameters, random weights: load yours with ``fastdream.models.load``)."""
    return VGG("vgg16", num_classes)


def vgg19(num_classes: int = 1000) -> VGG:
    """VGG19 (144M parameters, random weights: load yours with ``fastdream.models.load``)."""
    return VGG("vgg19", num_classes)
