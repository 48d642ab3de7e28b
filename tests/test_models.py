"""The named backbones (fastdream.models.load): torchvision's key layout, input conventions,
default layers, weights files that fit and files that do not."""

import os
import subprocess
import sys
import threading

import numpy as np
import pytest
import torch
from torch import nn

import fastdream as fd
from fastdream.models import GoogLeNet, load
from fastdream.models.vgg import VGG


def _meta(ctor, *args):
    with torch.device("meta"):
        return ctor(*args)


@pytest.mark.parametrize(
    "name, params, keys, spot",
    [
        # parameter counts of torchvision's googlenet() (aux classifiers off), vgg16(), vgg19()
        (
            "googlenet",
            6_624_904,
            344,
            {"inception5b.branch4.1.conv.weight": (128, 832, 1, 1), "fc.weight": (1000, 1024)},
        ),
        ("vgg16", 138_357_544, 32, {"features.28.weight": (512, 512, 3, 3), "classifier.6.weight": (1000, 4096)}),
        ("vgg19", 143_667_240, 38, {"features.34.weight": (512, 512, 3, 3), "classifier.3.weight": (4096, 4096)}),
    ],
)
def test_torchvision_layout(name, params, keys, spot):
    net = _meta(GoogLeNet) if name == "googlenet" else _meta(VGG, name)
    sd = net.state_dict()
    assert sum(p.numel() for p in net.parameters()) == params
    assert len(sd) == keys
    for k, shape in spot.items():
        assert tuple(sd[k].shape) == shape


@pytest.mark.parametrize("name", ["googlenet", "inception_v3", "vgg16", "vgg19", "efficientnet_lite0"])
def test_default_layers_exist_and_conventions_are_stated(name):
    from fastdream.models.taps import resolve_layer

    net = _meta(fd.models.registry.MODELS[name])
    modules = dict(net.named_modules())
    for layers in (net.dream_layers, net.style_layers, net.content_layers):
        assert layers and all(resolve_layer(net, n) in modules for n in layers)
    assert len(net.input_mean) == 3 and len(net.input_std) == 3


def test_googlenet_input_convention():
    assert GoogLeNet().input_mean == (0.5, 0.5, 0.5)  # torchvision's transform_input, done by the caller
    assert GoogLeNet(transform_input=False).input_mean == fd.models.taps.IMAGENET_MEAN


def test_a_torchvision_style_file_loads(tmp_path):
    ref = GoogLeNet().eval()
    sd = ref.state_dict()
    sd["aux1.conv.conv.weight"] = torch.zeros(128, 512, 1, 1)  # a training checkpoint's aux head
    path = tmp_path / "googlenet.pth"
    torch.save({"epoch": 3, "state_dict": {f"module.{k}": v for k, v in sd.items()}}, path)
    net = load("googlenet", weights=path)
    assert not net.training and not any(p.requires_grad for p in net.parameters())
    x = torch.randn(1, 3, 64, 64)
    torch.testing.assert_close(net(x), ref(x))


@pytest.mark.parametrize("name", ["googlenet", "inception_v3", "vgg16", "efficientnet_lite0"])
def test_a_network_fine_tuned_on_other_classes_loads_with_its_classifier(tmp_path, name):
    """torchvision's fine-tuning recipe replaces the last Linear (here with 7 classes): the file
    loads with a 7-way classifier, the same logits, and its class logits can be dreamed."""
    from fastdream.models.registry import MODELS

    ref = MODELS[name](num_classes=7).eval()
    path = tmp_path / "tuned.pth"
    torch.save(ref.state_dict(), path)
    net = load(name, weights=path)
    x = torch.randn(1, 3, 80, 80)
    out = net(x)
    assert out.shape == (1, 7)
    torch.testing.assert_close(out, ref(x))
    head = {"vgg16": "classifier.6", "efficientnet_lite0": "_fc"}.get(name, "fc")
    img = torch.rand(3, 80, 96)
    dreamed = fd.dream(img, {f"{head}:6": 1.0}, model=net, octaves=1, steps=2, jitter=0, seed=0)
    assert dreamed.shape == img.shape and (dreamed - img).abs().max() > 0
    with pytest.raises(ValueError, match="channel"):
        fd.dream(img, f"{head}:7", model=net, octaves=1, steps=1)


def test_a_file_that_does_not_fit_lists_its_keys(tmp_path):
    sd = GoogLeNet().state_dict()
    sd.pop("fc.bias")
    sd["extra.weight"] = torch.zeros(1)
    sd["conv1.conv.weight"] = torch.zeros(64, 3, 5, 5)
    path = tmp_path / "w.pt"
    torch.save(sd, path)
    with pytest.raises(ValueError) as e:
        load("googlenet", weights=path)
    msg = str(e.value)
    assert "1 missing key(s) (fc.bias)" in msg and "1 unexpected key(s) (extra.weight)" in msg
    assert "conv1.conv.weight (64, 3, 5, 5) (want (64, 3, 7, 7))" in msg


def test_a_weights_file_with_nan_or_infinite_values_is_refused(tmp_path):
    """A diverged training's weights loaded without a word; its dream said only that no pixel changed."""
    sd = load("googlenet").state_dict()
    sd["conv1.conv.weight"] = torch.full_like(sd["conv1.conv.weight"], float("nan"))
    torch.save(sd, tmp_path / "nan.pth")
    with pytest.raises(ValueError, match=r"holds NaN or infinite values \(first in conv1.conv.weight\)"):
        load("googlenet", weights=tmp_path / "nan.pth")


class _Pickled:
    pass


def test_unsafe_or_missing_files_are_refused(tmp_path):
    path = tmp_path / "obj.pt"
    torch.save({"model": _Pickled()}, path)
    with pytest.raises(ValueError, match="weights_only=True"):
        load("vgg16", weights=path)
    for name, data in (("empty.pth", b""), ("photo.png", b"\x89PNG\r\n\x1a\n" + bytes(64))):
        (tmp_path / name).write_bytes(data)  # an empty file's EOFError has no text at all
        with pytest.raises(ValueError, match="is not a file torch.load reads") as e:
            load("vgg16", weights=tmp_path / name)
        assert "weights_only=False" not in str(e.value) and "\n" not in str(e.value)
    with pytest.raises(FileNotFoundError, match="weights: no such file"):
        load("vgg16", weights=tmp_path / "nope.pt")
    with pytest.raises(ValueError, match="known models are: efficientnet_lite0, googlenet, inception_v3, vgg16, vgg19"):
        load("resnet50")
    with pytest.raises(IsADirectoryError, match="weights: .* is a folder"):
        load("vgg16", weights=tmp_path)
    # a TorchScript archive: torch's own warning, then a bare "RuntimeError"
    torch.jit.save(torch.jit.script(nn.Conv2d(3, 4, 3)), tmp_path / "scripted.pt")
    with pytest.raises(ValueError, match=r"scripted.pt is a TorchScript archive .* torch.save\(model.state_dict"):
        load("vgg16", weights=tmp_path / "scripted.pt")
    torch.save({"w": torch.zeros(3)}, tmp_path / "whole.pt")
    (tmp_path / "cut.pt").write_bytes((tmp_path / "whole.pt").read_bytes()[:300])
    with pytest.raises(ValueError, match=r"RuntimeError \(the file is cut short, or not one torch wrote\)$"):
        load("vgg16", weights=tmp_path / "cut.pt")


def test_a_compiled_models_state_dict_loads(tmp_path):
    """torch.compile's wrapper names every key _orig_mod.*: 287 missing and 344 unexpected keys."""
    with pytest.warns(UserWarning, match="random weights"):
        sd = load("googlenet").state_dict()
    torch.save({"module._orig_mod." + k: v for k, v in sd.items()}, tmp_path / "compiled.pt")
    got = load("googlenet", weights=tmp_path / "compiled.pt").state_dict()
    assert all(torch.equal(got[k], v) for k, v in sd.items())


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
def test_a_named_pipe_is_refused_not_waited_on(tmp_path):
    """torch.load on a pipe would wait for a writer for ever: the check comes first (in a thread
    here, so that a regression fails instead of hanging the suite)."""
    pipe = tmp_path / "w.pt"
    os.mkfifo(pipe)
    errors = []
    for call in (lambda: load("googlenet", weights=pipe), lambda: load(str(pipe))):
        t = threading.Thread(target=lambda c=call: errors.append(pytest.raises(ValueError, c).value), daemon=True)
        t.start()
        t.join(30)
        if t.is_alive():
            with open(pipe, "wb"):  # let the blocked reader go
                pass
            pytest.fail("models.load waited on a named pipe")
    assert all("is a named pipe, not a regular file" in str(e) for e in errors) and len(errors) == 2


def test_dreams_with_each_backbone_and_default_layers():
    x = (np.random.default_rng(0).random((64, 72, 3)) * 255).astype(np.uint8)
    for name in ("googlenet", "vgg16"):
        with pytest.warns(UserWarning, match="random weights"):
            net = load(name)
        out = fd.dream(x, model=net, octaves=1, steps=2, seed=0)
        assert out.shape == x.shape and np.abs(out.astype(int) - x).mean() > 0.3, name


def test_random_weights_are_the_same_each_time_and_leave_the_callers_generator():
    """A seeded dream of a backbone without weights differed from run to run (and the shell's
    from Python's): the weights were drawn from the caller's generator."""
    torch.manual_seed(123)
    before = torch.rand(3)
    torch.manual_seed(123)
    with pytest.warns(UserWarning, match="random weights"):
        a, b = load("googlenet"), load("googlenet")
    assert torch.rand(3).equal(before)  # the caller's draws go on as if nothing was loaded
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))


@pytest.mark.parametrize(
    "kwargs, exc, words",
    [
        (dict(name=None), TypeError, "model: a name"),
        (dict(name="googlenet", device="gpu"), ValueError, "device: 'gpu' is not a valid device"),
        pytest.param(
            dict(name="vgg16", device="cuda:0"),
            ValueError,
            "asks for a GPU, but CUDA is not available",
            marks=pytest.mark.skipif(torch.cuda.is_available(), reason="has a GPU"),
        ),
    ],
)
def test_load_refuses_a_bad_name_or_device_in_one_line(kwargs, exc, words):
    """torch's own AssertionError ('Torch not compiled with CUDA enabled') and RuntimeErrors came
    through, where dream and style_transfer say which device is missing."""
    with pytest.raises(exc, match=words):
        load(**kwargs)


def test_style_with_googlenet_uses_its_layers():
    with pytest.warns(UserWarning):
        net = load("googlenet")
    c = (np.random.default_rng(0).random((48, 64, 3)) * 255).astype(np.uint8)
    s = (np.random.default_rng(1).random((48, 48, 3)) * 255).astype(np.uint8)
    out = fd.style_transfer(c, s, model=net, octaves=1, steps=2, seed=0)
    assert out.shape == c.shape


def test_cli_model_and_weights(tmp_path):
    path = tmp_path / "g.pth"
    torch.save(GoogLeNet().state_dict(), path)
    img = tmp_path / "in.png"
    from PIL import Image

    Image.fromarray((np.random.default_rng(0).random((40, 56, 3)) * 255).astype(np.uint8)).save(img)
    out = tmp_path / "out.png"
    cmd = [
        sys.executable,
        "-m",
        "fastdream",
        "dream",
        str(img),
        "-o",
        str(out),
        "--model",
        "googlenet",
        "--weights",
        str(path),
        "--octaves",
        "1",
        "--steps",
        "1",
        "-q",
    ]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert Image.open(out).size == (56, 40)
    bad = tmp_path / "bad.pth"
    torch.save({"fc.weight": torch.zeros(2, 2)}, bad)
    r = subprocess.run(cmd[:10] + [str(bad)] + cmd[11:], capture_output=True, text=True, timeout=300)
    assert r.returncode == 2 and "does not fit googlenet" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    r = subprocess.run(
        [sys.executable, "-m", "fastdream", "dream", "--list-layers", "--model", "vgg16"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0 and "features.22" in r.stdout and "(default)" in r.stdout


@pytest.mark.parametrize("name", ["_block.10", "_blocks.100"])
def test_an_unknown_layer_suggests_the_close_names_and_lists_every_layer(name):
    """The list came from whichever build the layers chose (the fused one has no BatchNorms,
    though _bn0 can be dreamed), and no close name was suggested."""
    with pytest.raises(ValueError, match=r"\(did you mean _blocks\.10, .*\?\); valid names are: .*_bn0,") as e:
        fd.dream(np.zeros((48, 48, 3), np.uint8), [name], octaves=1, steps=1)
    assert "(117 in all)" in str(e.value) and " _blocks," not in str(e.value)  # not the list that holds the blocks
    with pytest.warns(UserWarning, match="random weights"):
        net = load("inception_v3")
    with pytest.raises(ValueError, match=r"\['mixed33'\] \(did you mean mixed3, mixed.*\?\)"):
        fd.dream(np.zeros((96, 96, 3), np.uint8), ["mixed33"], model=net, octaves=1, steps=1)


@pytest.mark.parametrize(
    "call, exc, words",
    [
        (lambda: fd.models.vgg16(num_classes=-1), ValueError, r"^num_classes must be >= 1, got -1"),
        (lambda: fd.models.vgg19(num_classes=None), TypeError, r"^num_classes must be an integer"),
        (lambda: fd.models.GoogLeNet(num_classes=2.5), TypeError, r"^num_classes must be an integer"),
        (lambda: fd.models.InceptionV3(num_classes=0), ValueError, r"^num_classes must be >= 1"),
        (lambda: fd.models.dream_build(None, ["a"]), TypeError, r"^model must be a torch.nn.Module, got None"),
        (lambda: fd.models.dream_build(nn.Sequential(nn.Conv2d(3, 3, 1)), None), TypeError, r"^layers must be a"),
        (lambda: fd.models.dream_build(nn.Sequential(nn.Conv2d(3, 3, 1)), ["0"], "2"), ValueError, r"^device: '2'"),
    ],
)
def test_model_builders_refuse_bad_arguments_naming_them(call, exc, words):
    """They reached torch ("empty(): argument 'size'", "Invalid device string") or an AttributeError."""
    with pytest.raises(exc, match=words):
        call()
