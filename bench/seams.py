"""Seam statistics of a tiled dream for several tile overlaps: the evidence behind tile_grid's
default overlap. A 1024^2 astronaut, 512 px tiles, 1 octave x 8 steps, with the default jitter and
with none; the statistics are those of tests/test_dream.py (1.0 = no seam; the test's limit 1.3).

Usage: python bench/seams.py
"""

import numpy as np
from PIL import Image
from skimage import data

import fastdream as fd
from fastdream import ops
from tests.test_dream import _seam_stats

photo = Image.fromarray(data.astronaut()).resize((1024, 1024), Image.BICUBIC)
before = np.asarray(photo).astype(np.float64)
default_grid = ops.tile_grid
try:
    for jitter in (32, 0):
        for overlap in (64, 48, 32):
            # the dream's engine asks fastdream.ops for its grid (fastdream.dream.engine.tile_grid)
            ops.tile_grid = lambda size, t, ov=None, overlap=overlap: default_grid(size, t, overlap)
            out = fd.dream(photo, octaves=1, steps=8, jitter=jitter, tile_size=512, seed=0)
            change = np.asarray(out).astype(np.float64) - before
            grid = default_grid((1024, 1024), 512, overlap)
            edges = sorted((set(grid.ys) | {y + grid.tile_h for y in grid.ys}) - {0, 1024})
            spike, step = _seam_stats(change, edges)
            print(f"jitter {jitter:2d}  overlap {overlap}  tiles {grid.tile_h} px  spike {spike:.3f}  step {step:.3f}")
finally:
    ops.tile_grid = default_grid
