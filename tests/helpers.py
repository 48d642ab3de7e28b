"""Helpers shared by the trainer tests: small image folders and the tiny settings of each trainer."""

import contextlib

import numpy as np
import pytest
from PIL import Image

GAN_TINY = dict(image_size=32, nz=8, ngf=4, ndf=4, batch_size=4, progress=False)
UNET_TINY = dict(image_size=32, base_channels=8, depth=2, batch_size=4, backbone=None, progress=False)


@contextlib.contextmanager
def ctrl_c_after_first_checkpoint():
    """The training run inside the block is stopped by Ctrl-C right after the shared trainer's
    first checkpoint is written (the KeyboardInterrupt is expected and caught here)."""
    from fastdream.training import loop

    save = loop.save_checkpoint

    def save_then_stop(state, path):
        save(state, path)
        raise KeyboardInterrupt

    loop.save_checkpoint = save_then_stop
    try:
        with pytest.raises(KeyboardInterrupt):
            yield
    finally:
        loop.save_checkpoint = save


def write_image_folder(root, n=8):
    """n small images of mixed modes, formats, sizes, in a nested folder (and a file that is not
    an image)."""
    rng = np.random.default_rng(0)
    (root / "nested" / "deeper").mkdir(parents=True)
    for i in range(n):
        h, w = 36 + 3 * i, 48 - 2 * i  # non-square, some smaller than the training size's crop
        arr = (rng.random((h, w, 3)) * 255).astype(np.uint8)
        im = Image.fromarray(arr)
        kind = i % 4
        if kind == 0:
            im.convert("L").save(root / f"gray_{i}.png")
        elif kind == 1:
            im.save(root / "nested" / f"rgb_{i}.jpg")
        elif kind == 2:
            im.convert("RGBA").save(root / "nested" / "deeper" / f"rgba_{i}.png")
        else:
            im.convert("P").save(root / f"palette_{i}.bmp")
    (root / "notes.txt").write_text("not an image")
    return root


VAE_TINY = dict(image_size=32, latent_dim=8, base_channels=8, batch_size=4, progress=False)


def resnet_style(widths=(32, 64, 128, 256), blocks=2, seed=0):
    """A user's own ResNet-style model (torchvision's layout: conv1/bn1/relu/maxpool, layer1..4 of
    basic blocks with a shared ReLU and downsample branches, avgpool, fc), random weights with
    non-trivial BatchNorm statistics, in eval mode."""
    import torch
    from torch import nn

    class Block(nn.Module):
        def __init__(self, cin, cout, stride):
            super().__init__()
            self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(cout)
            self.relu = nn.ReLU(inplace=True)
            self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(cout)
            self.downsample = None
            if stride != 1 or cin != cout:
                self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

        def forward(self, x):
            idt = x if self.downsample is None else self.downsample(x)
            y = self.relu(self.bn1(self.conv1(x)))
            return self.relu(self.bn2(self.conv2(y)) + idt)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(3, widths[0], 7, 2, 3, bias=False)
            self.bn1 = nn.BatchNorm2d(widths[0])
            self.relu = nn.ReLU(inplace=True)
            self.maxpool = nn.MaxPool2d(3, 2, 1)
            cin = widths[0]
            for i, w in enumerate(widths):
                layer = [Block(cin if j == 0 else w, w, 2 if (j == 0 and i > 0) else 1) for j in range(blocks)]
                setattr(self, f"layer{i + 1}", nn.Sequential(*layer))
                cin = w
            self.avgpool = nn.AdaptiveAvgPool2d(1)
            self.fc = nn.Linear(cin, 1000)

        def forward(self, x):
            x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
            x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
            return self.fc(self.avgpool(x).flatten(1))

    torch.manual_seed(seed)
    net = Net()
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
    return net.eval()
