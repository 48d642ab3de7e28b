"""Where a run goes on a machine with a GPU, checked on any machine: torch is made to say it sees
one GPU, and the model loads are recorded instead of done (nothing here touches CUDA).

A model named by the user (``model="googlenet"``, a preset's, a dreamer's path, ``--model``) was
loaded on the CPU, and then decided the run's device: a GPU machine dreamed on the CPU, and
``device="cuda"`` was refused ("the model's parameters are on cpu")."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import fastdream as fd
from fastdream import _checks
from fastdream.models import registry

IMG = np.zeros((48, 48, 3), np.uint8)
GPU0 = torch.device("cuda", 0)


class Loaded(Exception):
    """Raised by the recording load: the device it was asked for is all the test needs."""


@pytest.fixture
def one_gpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
    monkeypatch.delenv("LOCAL_RANK", raising=False)
    asked = []

    def load(name, weights=None, *, device=None):
        asked.append(device)
        raise Loaded

    import fastdream.dreamer.sheet

    for module in (registry, fd.models, fastdream.dreamer.sheet):  # (each place that took it by name)
        monkeypatch.setattr(module, "load", load)
    return asked


@pytest.mark.parametrize(
    "call",
    [
        lambda: fd.dream(IMG, model="googlenet", steps=1),
        lambda: fd.dream(IMG, preset="tutorial", steps=1),
        lambda: fd.dream(IMG, model="dreamer.pt", subject="cat", steps=1),
        lambda: fd.proof_sheet(IMG, model="googlenet", vary={"steps": [1, 2]}),
        lambda: fd.dreamer.subject_sheet("dreamer.pt"),
    ],
    ids=["name", "preset", "dreamer", "sheet", "subject_sheet"],
)
def test_a_named_model_loads_on_the_gpu_by_default(one_gpu, call):
    with pytest.raises(Loaded):
        call()
    assert one_gpu == [GPU0]


def test_a_named_model_loads_where_device_says(one_gpu):
    with pytest.raises(Loaded):
        fd.dream(IMG, model="googlenet", device="cpu", steps=1)
    assert one_gpu == [torch.device("cpu")]


def test_the_command_lines_model_loads_where_device_says(one_gpu, tmp_path):
    from fastdream.cli import main

    for extra, where in (([], GPU0), (["--device", "cpu"], torch.device("cpu"))):
        assert main(["dream", "-o", str(tmp_path / "d.png"), "--model", "googlenet", *extra]) != 0  # (Loaded)
        assert one_gpu.pop() == where


def test_a_gpu_index_past_the_gpus_is_refused_in_one_line(one_gpu):
    """torch's 'invalid device ordinal' came from deep inside the first copy to the GPU."""
    assert _checks.device("device", "cuda") == GPU0
    with pytest.raises(ValueError, match=r"device: 'cuda:1' asks for GPU 1, but torch sees 1"):
        _checks.device("device", "cuda:1")


def test_a_unet_module_finds_the_subject_where_it_is(one_gpu, monkeypatch):
    """A U-Net on the CPU beside a style on the GPU was asked to run on the GPU, and refused
    ("the model's parameters are on cpu"); a checkpoint loads where the style runs."""
    import sys

    from fastdream.style import regions

    asked = []

    def predict_mask(image, model, *, device=None):
        asked.append(device)
        raise Loaded

    monkeypatch.setattr(sys.modules["fastdream.cutout"], "predict_mask", predict_mask)  # (fd.cutout: the function)
    for model in (torch.nn.Conv2d(3, 1, 1), "unet.pt"):
        with pytest.raises(Loaded):
            regions.subject_masks(torch.zeros(1, 3, 8, 8), model, device=GPU0)
    assert asked == [None, GPU0]
