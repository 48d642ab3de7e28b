"""Local tile seams of a 2048 px dream for two tile overlaps: the evidence behind tile_grid's
default 64 px. The astronaut at 2048^2, 512 px tiles, 1 octave x 10 steps, seed 3; and untiled.

Whole-picture seam statistics (bench/seams.py) average a faint line away; here the change of the
dream (output - input) is looked at in bands of 128 rows: in each, the largest jump between
neighbouring columns over the median one ("band max"; the untiled dream's own texture gives ~1.8),
and over the whole picture the largest column jump as a z-score ("col z").

Usage: python bench/seams_local.py
"""

import numpy as np
from PIL import Image
from skimage import data

import fastdream as fd
from fastdream import ops

SIDE = 2048
photo = Image.fromarray(data.astronaut()).resize((SIDE, SIDE), Image.BICUBIC)
before = np.asarray(photo).astype(np.float64)
default_grid = ops.tile_grid


def stats(out) -> tuple[float, float, float]:
    change = np.asarray(out).astype(np.float64) - before
    cols = np.abs(np.diff(change, axis=1)).mean(axis=(0, 2))
    bands = []
    for y in range(0, SIDE, 128):
        c = np.abs(np.diff(change[y : y + 128], axis=1)).mean(axis=(0, 2))
        bands.append(c.max() / np.median(c))
    return (cols.max() - cols.mean()) / cols.std(), float(np.median(bands)), float(np.max(bands))


try:
    for overlap, tile in ((32, 512), (64, 512), (None, None)):
        if overlap is not None:  # the dream's engine asks fastdream.ops for its grid
            ops.tile_grid = lambda size, t, ov=None, overlap=overlap: default_grid(size, t, overlap)
        out = fd.dream(photo, octaves=1, steps=10, seed=3, tile_size=tile)
        ops.tile_grid = default_grid
        z, median, most = stats(out)
        what = f"overlap {overlap} px" if overlap else "untiled"
        print(f"{what:14s} col z {z:5.1f}   band max: median {median:.2f}, largest {most:.2f}", flush=True)
finally:
    ops.tile_grid = default_grid
