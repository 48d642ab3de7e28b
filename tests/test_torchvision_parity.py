"""The classic backbones against torchvision itself, where torchvision imports.

fastdream defines GoogLeNet, InceptionV3 and VGG without torchvision (it does not import against
the CPU build of torch this project pins), and the other tests check the layout transcribed from
torchvision's source. Here, on machines where torchvision does import (the GPU machine's image has
it), a torchvision model with random weights and random BatchNorm statistics is saved as a state
dict, loaded with ``fastdream.models.load``, and both must give the same logits and the same
activations at the dream layers, each fed its own input convention. Skipped without torchvision.
"""

import pytest
import torch

import fastdream as fd
from fastdream.models.taps import IMAGENET_MEAN, IMAGENET_STD, LayerTaps
from tests.conftest import max_rel_err

try:
    import torchvision
except Exception:  # ImportError, or a RuntimeError where its operators do not fit the torch build
    torchvision = None

pytestmark = pytest.mark.skipif(torchvision is None, reason="needs torchvision (an import that works)")

# name -> (torchvision constructor kwargs, torchvision module names of layers fastdream taps, ours)
CASES = {
    "googlenet": (dict(aux_logits=False, transform_input=True, init_weights=True), ["inception4c", "inception5b"]),
    "inception_v3": (dict(aux_logits=True, transform_input=True, init_weights=True), ["Mixed_6a", "Mixed_6e"]),
    "vgg16": (dict(), ["features.22", "features.29"]),
}
SIZES = {
    "googlenet": [(224, 224), (157, 203)],
    "inception_v3": [(299, 299), (131, 97)],
    "vgg16": [(224, 224), (97, 131)],
}


def _randomize_batchnorm_stats(model: torch.nn.Module, gen: torch.Generator) -> None:
    # torchvision's fresh BatchNorms hold mean 0 / var 1, which would hide a mixed-up eps or stat.
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=gen) * 0.1)
            m.running_var.copy_(torch.rand(m.running_var.shape, generator=gen) + 0.5)
            m.weight.data.copy_(torch.rand(m.weight.shape, generator=gen) + 0.5)
            m.bias.data.copy_(torch.randn(m.bias.shape, generator=gen) * 0.1)


def _hooked(model: torch.nn.Module, names: list[str], x: torch.Tensor) -> list[torch.Tensor]:
    modules, out = dict(model.named_modules()), []
    hooks = [modules[n].register_forward_hook(lambda m, i, o: out.append(o)) for n in names]
    try:
        model(x)
    finally:
        for h in hooks:
            h.remove()
    return out


@pytest.mark.parametrize("name", list(CASES))
def test_torchvision_weights_give_torchvisions_outputs(name, tmp_path):
    kwargs, layers = CASES[name]
    gen = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    theirs = getattr(torchvision.models, name)(weights=None, **kwargs).eval()
    _randomize_batchnorm_stats(theirs, gen)
    path = tmp_path / f"{name}.pth"
    torch.save(theirs.state_dict(), path)
    ours = fd.models.load(name, weights=path)
    mean, std = (torch.tensor(v).view(1, 3, 1, 1) for v in (IMAGENET_MEAN, IMAGENET_STD))
    our_mean, our_std = (torch.tensor(v).view(1, 3, 1, 1) for v in (ours.input_mean, ours.input_std))
    for h, w in SIZES[name]:
        img = torch.rand(2, 3, h, w, generator=gen)
        with torch.no_grad():
            expected = _hooked(theirs, layers, (img - mean) / std)  # torchvision's convention: ImageNet's
            got = LayerTaps(ours, layers)((img - our_mean) / our_std)
            logits_theirs = theirs((img - mean) / std)
            logits_ours = ours((img - our_mean) / our_std)
        # Relative to the largest value: with random weights the activations grow layer by layer
        # (InceptionV3's reach 1e13 at Mixed_7c), and the two input conventions differ by a rounding.
        for a, b in zip(got, expected):
            assert a.shape == b.shape and max_rel_err(a, b) < 1e-5
        assert max_rel_err(logits_ours, logits_theirs) < 1e-5
