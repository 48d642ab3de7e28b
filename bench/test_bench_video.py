"""Zoom video steady state: seconds per frame, and how much of it is not the network.

A 512x512 frame, 1 octave, 5 dream steps per frame (the issue's reference setting). Three timings
in one group:

- ``frame``: one steady-state frame exactly as :func:`fastdream.zoom_video` makes it (zoom_shift,
  dream, 8-bit rounding, PNG written atomically), after a first frame has warmed everything up.
- ``network``: the floor: 5 forward+backward passes of the truncated backbone on the 512x512
  image, nothing else.
- ``outside_dream``: the per-frame work zoom_video adds around the dream (zoom_shift, rounding,
  device-to-host copy, PNG encode + atomic write).

``frame``'s extra_info has frames per second; ``outside_dream``'s has the shares of the frame
outside the network (``1 - network / frame``: zoom, tiles, ascent steps, conversions, PNG) and
outside the dream, from the fastest round of each (the least disturbed on a shared machine). Run: ``pytest bench/test_bench_video.py --benchmark-group-by=group``.
"""

import time

import pytest
import torch
from PIL import Image

from fastdream import _malloc, io, video
from fastdream.dream import DEFAULT_LAYERS, DreamOptions, build_objective, default_model
from fastdream.models.modes import Frozen
from fastdream.models.taps import LayerTaps, input_convention
from fastdream.video.frames import save_frame
from fastdream.video.maker import FrameMaker

#: The default dream's objective: l2 of the default layers.
OBJECTIVE = build_objective(DreamOptions.create())

SIZE, STEPS, ROUNDS = 512, 5, 3
GROUP = f"zoom_video frame {SIZE}x{SIZE}, 1 octave, {STEPS} steps"
_best: dict[str, float] = {}  # fastest round of each timing, seconds


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    img = Image.open(io.SAMPLE_IMAGE).convert("RGB").resize((SIZE, SIZE), Image.BICUBIC)
    rgb = io.load(img).rgb
    opts = DreamOptions.create(octaves=1, steps=STEPS, seed=0)
    move = dict(zoom=1.05, shift=(0.0, 0.0), angle=0.0, color_drift=None, padding="reflect", interpolation="bicubic")
    maker = FrameMaker(opts, torch.device("cpu"), **move)
    x = maker.first(rgb)  # frame 0: loads the model, warms the allocator and oneDNN
    return maker, x, tmp_path_factory.mktemp("frames")


def _record(benchmark, key):
    # The minimum: on a shared machine it is the round least disturbed by other work, so the
    # shares below compare like with like.
    _best[key] = benchmark.stats.stats.min
    benchmark.extra_info["threads"] = torch.get_num_threads()


def test_frame(benchmark, setup):
    benchmark.group = GROUP
    maker, x0, folder = setup
    state = {"x": x0, "k": 1}

    def frame():
        k = state["k"]
        state["x"] = maker.next(state["x"], k)
        save_frame(state["x"], folder / video.FRAME_NAME.format(k))
        state["k"] = k + 1

    benchmark.pedantic(frame, rounds=ROUNDS, iterations=1, warmup_rounds=1)
    _record(benchmark, "frame")
    benchmark.extra_info["frames_per_second"] = round(1.0 / _best["frame"], 3)
    benchmark.extra_info["frames_per_second_mean"] = round(1.0 / benchmark.stats.stats.mean, 3)


def test_network(benchmark, setup):
    benchmark.group = GROUP
    maker, x0, _ = setup
    _malloc.tune()  # as dream does on CPU, so the floor is measured the same way
    net = default_model("cpu")
    taps = LayerTaps(net, DEFAULT_LAYERS)
    mean, std = (torch.tensor(v).view(1, 3, 1, 1) for v in input_convention(net))
    x = ((x0 - mean) / std).contiguous(memory_format=torch.channels_last)

    def network():
        with Frozen(net), torch.enable_grad():
            for _ in range(STEPS):
                t = x.detach().requires_grad_(True)
                torch.autograd.grad(OBJECTIVE(dict(zip(DEFAULT_LAYERS, taps(t)))).sum(), t)

    benchmark.pedantic(network, rounds=ROUNDS, iterations=1, warmup_rounds=1)
    _record(benchmark, "network")


def test_outside_dream(benchmark, setup):
    benchmark.group = GROUP
    maker, x0, folder = setup

    def outside():
        y = maker.transform(x0)
        y = io.quantize(y).div_(255.0)  # what FrameMaker does to the dream's output
        save_frame(y, folder / "outside.png")

    benchmark.pedantic(outside, rounds=ROUNDS * 5, iterations=1, warmup_rounds=1)
    _record(benchmark, "outside_dream")
    if "frame" in _best and "network" in _best:
        f = _best["frame"]
        benchmark.extra_info["share_outside_network"] = round(1 - _best["network"] / f, 4)
        benchmark.extra_info["share_outside_dream"] = round(_best["outside_dream"] / f, 4)
        t0 = time.perf_counter()
        maker.transform(x0)
        benchmark.extra_info["zoom_shift_ms"] = round((time.perf_counter() - t0) * 1e3, 3)


# ---- dreaming an existing video (dream_video): a frame with and without optical flow


@pytest.fixture(scope="module")
def pan():
    """Two 512x512 frames of a photo panning by 4 px."""
    import numpy as np

    big = np.asarray(Image.open(io.SAMPLE_IMAGE).convert("RGB").resize((600, 600), Image.BICUBIC))
    return big[40:552, 40:552].copy(), big[40:552, 44:556].copy()


@pytest.mark.parametrize("flow", [True, False])
def test_dream_video_frame(benchmark, pan, flow):
    """One steady-state frame of dream_video (blend 0.5, 1 octave, 5 steps): the flow's share of
    a frame is the difference of the two."""
    from fastdream.video.coherent import _Coherent

    benchmark.group = f"dream_video frame {SIZE}x{SIZE}, 1 octave, {STEPS} steps, blend 0.5"
    a, b = pan
    size = (a.shape[1], a.shape[0])  # (width, height), as the source's
    maker = _Coherent(DreamOptions.create(octaves=1, steps=STEPS, seed=0), torch.device("cpu"), 0.5, flow, size)
    maker.dream(a)

    def frame():
        maker.prev = (maker.prev[0], a)
        return maker.dream(b)

    benchmark.pedantic(frame, rounds=ROUNDS, iterations=1, warmup_rounds=1)


def test_flow_alone(benchmark, pan):
    """DIS flow both ways, the warp and the occlusion check of one 512x512 frame."""
    from fastdream.video.flow import Flow

    benchmark.group = f"dream_video frame {SIZE}x{SIZE}, 1 octave, {STEPS} steps, blend 0.5"
    f, (a, b) = Flow(), pan
    benchmark.pedantic(lambda: f.carry(a, a, b), rounds=10, iterations=1, warmup_rounds=1)
