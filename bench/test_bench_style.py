"""Style transfer: seconds per Adam step at 512 px, seconds to a fixed style loss, and the peak
memory of a tiled 4096^2 step (in a fresh process, so the peak is this run's alone).

Run: ``python -m pytest bench/test_bench_style.py --benchmark-group-by=group -s``.
"""

import json
import subprocess
import sys
import time

import pytest
import torch
from PIL import Image

from fastdream import io
from fastdream.models.build import default_model
from fastdream.models.modes import Frozen
from fastdream.style import StyleOptions
from fastdream.style import engine as E
from fastdream.style.features import Features

W = dict(style=3.0, content=1.0, tv=1.0)


def _setup(side=512, tile=512):
    from skimage import data

    o = StyleOptions.create(1)
    net = default_model("cpu", o.style_layers + o.content_layers)
    feats = Features(net, o.style_layers + o.content_layers, torch.device("cpu"))
    c = io.load(Image.fromarray(data.chelsea())).rgb
    h, w = c.shape[-2:]
    hw = (16 * round(h * side / max(h, w) / 16), 16 * round(w * side / max(h, w) / 16))
    c = E.resize(c, hw)
    s = io.load(Image.fromarray(data.immunohistochemistry())).rgb
    s = E.resize(s, E.style_size(s, hw, 1.0, feats.stride))
    return (
        net,
        c,
        E.Targets(
            feats, c, E.style_regions(feats, [s], (1.0,), o.style_layers, tile), o.style_layers, o.content_layers, tile
        ),
        o,
    )


@pytest.mark.parametrize("tile", [None, 256])
def test_step_512(benchmark, tile):
    benchmark.group = "style transfer 512x336, one Adam step"
    net, c, tg, o = _setup(tile=tile)
    x = c.clone().requires_grad_(True)
    opt = torch.optim.Adam([x], lr=o.lr)

    def step():
        _, _, g = E.loss_and_grad(x.detach(), tg, W)
        x.grad = g
        opt.step()

    with Frozen(net):
        benchmark.pedantic(step, rounds=10, iterations=1, warmup_rounds=2)
    benchmark.extra_info["tiles"] = "whole" if tile is None else f"{tile} px with {tg.feats.halo} px halos"


def test_time_to_a_fixed_style_loss():
    """Steps and seconds until the style loss is a third of its start (one octave, 512 px)."""
    net, c, tg, o = _setup()
    x = c.clone().requires_grad_(True)
    opt = torch.optim.Adam([x], lr=o.lr)
    with Frozen(net):
        start = E.loss_and_grad(c, tg, W)[1]["style"]
        t0, steps, style = time.perf_counter(), 0, start
        while style > start / 3 and steps < 1000:
            _, parts, g = E.loss_and_grad(x.detach(), tg, W)
            style = parts["style"]
            x.grad = g
            opt.step()
            with torch.no_grad():
                x.clamp_(0, 1)
            steps += 1
    print(f"\nstyle loss {start:.3f} -> {style:.3f} in {steps} steps, {time.perf_counter() - t0:.1f} s")


_PEAK = """
import json, resource, time, torch, fastdream as fd
x = torch.rand(1, 3, 4096, 4096, generator=torch.Generator().manual_seed(0))
s = torch.rand(1, 3, 1024, 1024, generator=torch.Generator().manual_seed(1))
t = time.perf_counter()
fd.style_transfer(x, s, octaves=1, steps=1, tile_size=512, seed=0)
print(json.dumps(dict(seconds=time.perf_counter() - t, peak_rss_gb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20)))
"""


def test_peak_memory_4096():
    out = subprocess.run([sys.executable, "-c", _PEAK], capture_output=True, text=True, check=True, timeout=3600)
    r = json.loads(out.stdout.strip().splitlines()[-1])
    print(f"\n4096^2, 1 step, 512 px tiles: {r['seconds']:.1f} s, peak RSS {r['peak_rss_gb']:.2f} GB")
