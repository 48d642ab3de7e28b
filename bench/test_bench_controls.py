"""What each creative control of dream costs: seconds per dream step at 512x341 with and without
it (1 octave, 10 steps, one tile), and the gradient-shaping ops alone on a 512x341 gradient.

Run: ``python -m pytest bench/test_bench_controls.py --benchmark-group-by=group``. The step cost of
a control is ``(its dream - the plain dream) / 10``; compare it with the plain dream's step.
"""

import pytest
import torch
from PIL import Image

import fastdream as fd
from fastdream import objectives as O

STEPS = 10
SETTINGS = dict(octaves=1, steps=STEPS, seed=0)


def _photo(width=512):
    from skimage import data

    im = Image.fromarray(data.chelsea())
    return im.resize((width, round(width * im.height / im.width)), Image.BICUBIC)


def _guide():
    from skimage import data

    return Image.fromarray(data.astronaut()).resize((256, 256), Image.BICUBIC)


CONTROLS = {
    "plain": {},
    "channel": dict(layers=["_blocks.10:37", "_blocks.5"]),
    "top8": dict(layers=["_blocks.10:top8", "_blocks.5"]),
    "guide": dict(guide="GUIDE"),
    "laplacian": dict(norm="laplacian"),
    "smooth": dict(smooth=1.5),
    "preserve_colors": dict(preserve_colors=True),
    "color_match": dict(color_match=True),
    "expression": dict(objective=O.layer_l2("_blocks.5") + O.channel("_blocks.10", 37)),
}


@pytest.mark.parametrize("name", CONTROLS)
def test_dream_with(benchmark, name):
    benchmark.group = f"dream 512x341, 1 octave x {STEPS} steps"
    photo = _photo()
    kw = {k: (_guide() if v == "GUIDE" else v) for k, v in CONTROLS[name].items()}
    fd.dream(photo, **SETTINGS, **kw)  # warm: weights, oneDNN's packed kernels, the allocator
    benchmark.pedantic(lambda: fd.dream(photo, **SETTINGS, **kw), rounds=5, iterations=1)
    benchmark.extra_info["per_step_ms"] = benchmark.stats.stats.min / STEPS * 1e3


@pytest.mark.parametrize("op", ["laplacian_normalize", "smooth_gradient"])
def test_gradient_op(benchmark, op):
    benchmark.group = "gradient shaping on a 3x341x512 gradient"
    from fastdream import _malloc

    _malloc.tune()  # as inside a dream
    g = torch.randn(1, 3, 341, 512).contiguous(memory_format=torch.channels_last)
    f = (
        (lambda: fd.ops.laplacian_normalize(g, 4))
        if op == "laplacian_normalize"
        else (lambda: fd.ops.smooth_gradient(g, 1.5))
    )
    benchmark.pedantic(f, rounds=30, iterations=1, warmup_rounds=2)
