"""A/B of the CPU speedups on one forward+backward to block 10 at 512x341: the dream build
(BN folded + ReLU6 fused into oneDNN's conv, fastdream.models.fused), BatchNorm folding alone,
channels_last, the network as trained; and (argument "tuned") the glibc allocator settings.

Usage: python bench/backbone_ab.py default   (or: tuned)
"""

import sys
import time

import torch

from fastdream.dream import DEFAULT_LAYERS, DreamOptions, build_objective
from fastdream.models.efficientnet_lite import efficientnet_lite0, fuse_batchnorm
from fastdream.models.fused import fuse_for_dream
from fastdream.models.taps import LayerTaps

#: The default dream's objective: l2 of the default layers.
OBJECTIVE = build_objective(DreamOptions.create())

if sys.argv[1:] not in (["default"], ["tuned"]):
    sys.exit(__doc__)
if sys.argv[1] == "tuned":
    from fastdream import _malloc

    _malloc.tune()
base = efficientnet_lite0()
cl = torch.channels_last
models = {
    "dream_build_cl": fuse_for_dream(base).to(memory_format=cl),
    "bn_folded_cl": fuse_batchnorm(base).to(memory_format=cl),
    "bn_folded_contig": fuse_batchnorm(base),
    "as_trained_cl": efficientnet_lite0().to(memory_format=cl),
    "as_trained_contig": efficientnet_lite0(),
}
x0 = torch.randn(1, 3, 341, 512)
res = {k: [] for k in models}
for _r in range(5):
    for k, m in models.items():
        taps = LayerTaps(m, DEFAULT_LAYERS)
        x = x0.contiguous(memory_format=cl) if k.endswith("cl") else x0.contiguous()
        t0 = time.perf_counter()
        for _ in range(3):
            t = x.clone().requires_grad_(True)
            torch.autograd.grad(OBJECTIVE(dict(zip(DEFAULT_LAYERS, taps(t)))).sum(), t)
        res[k].append((time.perf_counter() - t0) / 3)
print(sys.argv[1], {k: round(min(v) * 1000, 1) for k, v in res.items()})
