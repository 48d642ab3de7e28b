"""The whole dream: fastdream.dream vs the textbook loop (bench/textbook.py), same backbone,
layers, octaves and steps; and the peak memory of a tiled 4096^2 dream.

Run the file as a whole: the textbook tests come first on purpose, because fastdream tunes glibc's
allocator process-wide the first time it dreams on the CPU, and the textbook loop must be timed
with the allocator as a plain script would have it. The textbook loop runs once more at the end,
with the tuned allocator, to show how much of the speedup is the allocator.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from PIL import Image

import fastdream as fd
from bench.textbook import load_model, textbook_dream

SETTINGS = dict(octaves=3, steps=20, step_size=0.01, jitter=32, seed=0)


def _photo(width):
    from skimage import data

    im = Image.fromarray(data.chelsea())
    return im.resize((width, round(width * im.height / im.width)), Image.BICUBIC)


def _tensor(im):
    import numpy as np

    return torch.from_numpy(np.array(im)).permute(2, 0, 1).float()[None] / 255


@pytest.mark.parametrize("width", [512, 1024])
def test_textbook(benchmark, width):
    benchmark.group = f"dream {width}px, 3 octaves x 20 steps"
    model, x = load_model(), _tensor(_photo(width))
    benchmark.pedantic(lambda: textbook_dream(model, x, **SETTINGS), rounds=3, iterations=1, warmup_rounds=1)


@pytest.mark.parametrize("width", [512, 1024])
def test_fastdream(benchmark, width):
    benchmark.group = f"dream {width}px, 3 octaves x 20 steps"
    x = _tensor(_photo(width))
    benchmark.pedantic(lambda: fd.dream(x, **SETTINGS), rounds=3, iterations=1, warmup_rounds=1)


@pytest.mark.parametrize("width", [512, 1024])
def test_textbook_tuned_allocator(benchmark, width):
    """The textbook loop again, now that fastdream has tuned the allocator process-wide (it runs
    after test_fastdream): how much of the speedup is the allocator and how much the rest."""
    benchmark.group = f"dream {width}px, 3 octaves x 20 steps"
    from fastdream import _malloc

    _malloc.tune()  # already done by the dreams above when the file runs whole
    model, x = load_model(), _tensor(_photo(width))
    benchmark.pedantic(lambda: textbook_dream(model, x, **SETTINGS), rounds=3, iterations=1, warmup_rounds=1)


TEXTBOOK_ROUND = r"""
import json, sys, time
from bench.test_bench_dream import SETTINGS, _photo, _tensor
from bench.textbook import load_model, textbook_dream
model, x = load_model(), _tensor(_photo(int(sys.argv[1])))
textbook_dream(model, x, **SETTINGS)  # warm-up, as the in-process test above
t = time.perf_counter()
textbook_dream(model, x, **SETTINGS)
print(json.dumps({"seconds": time.perf_counter() - t}))
"""


@pytest.mark.parametrize("width", [512, 1024])
def test_interleaved(benchmark, width):
    """fastdream.dream rounds alternating with textbook rounds, each textbook round in a fresh
    process (so with glibc's allocator untouched): both sample the same minutes of this shared
    machine, whose speed drifts by 10-30% over a run. The ratio is in extra_info and printed."""
    benchmark.group = f"dream {width}px interleaved with the textbook loop (ratio in extra_info)"
    x = _tensor(_photo(width))
    textbook = []

    def textbook_round():
        out = subprocess.run(
            [sys.executable, "-c", TEXTBOOK_ROUND, str(width)],
            capture_output=True,
            text=True,
            check=True,
            cwd=str(Path(__file__).resolve().parents[1]),
        )
        textbook.append(json.loads(out.stdout.strip().splitlines()[-1])["seconds"])

    benchmark.pedantic(lambda: fd.dream(x, **SETTINGS), setup=textbook_round, rounds=3, warmup_rounds=1)
    ratio = min(textbook) / benchmark.stats.stats.min
    benchmark.extra_info.update(textbook_seconds=textbook, textbook_min=min(textbook), speedup_min_vs_min=ratio)
    print(
        f"\n{width}px interleaved: textbook {[round(t, 2) for t in textbook]} s, "
        f"dream min {benchmark.stats.stats.min:.2f} s, speedup {ratio:.2f}x"
    )


PEAK = r"""
import json, resource, time, torch, fastdream as fd
x = torch.rand(1, 3, 4096, 4096)
t = time.perf_counter()
fd.dream(x, octaves=1, steps=1, tile_size=512, seed=0)
print(json.dumps({"seconds": time.perf_counter() - t,
                  "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20}))
"""


def test_tiled_4096_peak_memory(benchmark):
    """Peak resident memory of a 4096^2 dream with 512 px tiles, in a fresh process."""
    benchmark.group = "dream 4096x4096, 512 tiles, 1 step (peak memory in extra_info)"

    def run():
        out = subprocess.run([sys.executable, "-c", PEAK], capture_output=True, text=True, check=True)
        return json.loads(out.stdout.strip().splitlines()[-1])

    result = benchmark.pedantic(run, rounds=1, iterations=1)
    benchmark.extra_info.update(result)
    print(f"\n4096^2 tiled dream: {result}")
