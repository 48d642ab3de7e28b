"""Runs every CUDA kernel once on odd sizes and every dtype/layout, for
``compute-sanitizer --tool memcheck python bench/cuda_sanitize.py`` (exits non-zero on error)."""

import torch

import fastdream as fd

assert torch.cuda.is_available(), "needs a GPU"
with fd.use_backend("native"):
    for dtype in (torch.float32, torch.float16, torch.bfloat16):
        for fmt in (torch.contiguous_format, torch.channels_last):
            for shape in [(1, 3, 37, 53), (2, 3, 255, 257), (1, 1, 1, 1), (3, 4, 5, 3)]:
                x = torch.rand(shape, device="cuda", dtype=dtype).contiguous(memory_format=fmt)
                g = torch.randn_like(x)
                fd.ops.ascent_step_(x, g, 0.01, mask=torch.rand(shape[-2:], device="cuda"))
                fd.ops.ascent_step_(x, g, 0.01, norm="mean_abs")
                for padding in ("reflect", "border", "zeros"):
                    for interpolation in ("bilinear", "bicubic"):
                        kw = dict(padding=padding, interpolation=interpolation)
                        fd.ops.zoom_shift(x, zoom=1.3, shift=(1.5, -2.0), angle=7.0, **kw)
                if min(shape[-2:]) >= 8:
                    grid = fd.ops.tile_grid(shape[-2:], 8)
                    fd.ops.blend_tiles(fd.ops.extract_tiles(x, grid, roll=(3, 5)), grid, roll=(3, 5))
torch.cuda.synchronize()
print("all CUDA kernels ran")
