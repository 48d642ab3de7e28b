"""zoom_shift vs grid_sample at 2048^2, first with glibc's default allocator, then tuned."""

import time

import torch

import fastdream as fd
from fastdream import _malloc


def bench(f, n=8):
    f()
    ts = []
    for _ in range(n):
        t = time.perf_counter()
        f()
        ts.append(time.perf_counter() - t)
    return min(ts) * 1e3


x = torch.rand(1, 3, 2048, 2048)
kw = dict(zoom=1.05, shift=(2.5, -1.5), angle=1.0)
for label in ("glibc default", "tuned (fastdream._malloc.tune)"):
    if label.startswith("tuned"):
        assert _malloc.tune()
    with fd.use_backend("native"):
        n = bench(lambda: fd.ops.zoom_shift(x, **kw))
    with fd.use_backend("reference"):
        r = bench(lambda: fd.ops.zoom_shift(x, **kw))
    print(f"2048^2 zoom_shift, {label}: native {n:.1f} ms, grid_sample {r:.1f} ms, ratio {r / n:.2f}x")
