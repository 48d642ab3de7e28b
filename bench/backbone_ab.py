"""A/B of the CPU speedups on one forward+backward to block 10 at 512x341: BatchNorm folding,
channels_last, and (argument "tuned") the glibc allocator settings.

Usage: python bench/backbone_ab.py default   (or: tuned)
"""
import time, torch, sys
from fastdream.models.efficientnet_lite import efficientnet_lite0, fuse_batchnorm
from fastdream.models.taps import LayerTaps
from fastdream.dream import _objective, DEFAULT_LAYERS
if sys.argv[1] == "tuned":
    from fastdream import _malloc; _malloc.tune()
base = efficientnet_lite0()
models = {"fused_cl": fuse_batchnorm(base).to(memory_format=torch.channels_last), "fused_contig": fuse_batchnorm(base), "unfused_cl": efficientnet_lite0().to(memory_format=torch.channels_last)}
x0 = torch.randn(1, 3, 341, 512)
res = {k: [] for k in models}
for r in range(5):
    for k, m in models.items():
        taps = LayerTaps(m, DEFAULT_LAYERS)
        x = x0.contiguous(memory_format=torch.channels_last) if k.endswith("cl") else x0.contiguous()
        t0 = time.perf_counter()
        for _ in range(3):
            t = x.clone().requires_grad_(True)
            torch.autograd.grad(_objective(taps(t), "l2"), t)
        res[k].append((time.perf_counter() - t0) / 3)
print(sys.argv[1], {k: round(min(v) * 1000, 1) for k, v in res.items()})
