"""The dream build of a user's model (fastdream.models.build.dream_build / dream_net): a private
copy with BatchNorm folded where the data flow allows, channels_last, truncated after the deepest
tap; the user's model untouched; the tapped activations unchanged; rebuilt when weights change."""

import copy
import functools
import warnings

import numpy as np
import pytest
import torch
from torch import nn

import fastdream as fd
from fastdream.models import fold
from fastdream.models.build import dream_build, dream_net
from fastdream.models.fused import EfficientNetLite0Fused
from fastdream.models.taps import LayerTaps
from tests.helpers import resnet_style


def _acts(net, layers, x):
    return LayerTaps(net, layers)(x)


@pytest.fixture
def resnet():
    return resnet_style(widths=(8, 16, 24, 32), blocks=2)


def _state(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


@pytest.mark.parametrize("layers", [["layer3"], ["layer2.1.bn2", "layer3.0"], ["layer1.0.conv1"], ["relu"]])
def test_tapped_activations_equal_the_models(resnet, layers):
    built = dream_build(resnet, layers)
    x = torch.randn(2, 3, 67, 45)
    for a, b in zip(_acts(resnet, layers, x), _acts(built, layers, x.contiguous(memory_format=torch.channels_last))):
        torch.testing.assert_close(b, a, atol=1e-5, rtol=1e-4)


def test_folds_batchnorm_but_keeps_a_tapped_conv(resnet):
    built = dream_build(resnet, ["layer1.0.conv1", "layer3"])
    assert isinstance(built.layer2[0].bn1, nn.Identity)  # folded into layer2.0.conv1
    assert isinstance(built.layer2[0].downsample[1], nn.Identity)  # Sequential pairs too
    assert isinstance(built.layer1[0].bn1, nn.BatchNorm2d)  # its conv is tapped: folding would change it
    assert built.conv1.weight.is_contiguous(memory_format=torch.channels_last)


def test_truncates_after_the_deepest_tap(resnet):
    built = dream_build(resnet, ["layer2"])
    assert isinstance(built.layer3, fold.Truncated) and isinstance(built.fc, fold.Truncated)
    with pytest.raises(RuntimeError, match="left out of this dream build"):
        built(torch.randn(1, 3, 32, 32))


def test_the_users_model_is_untouched(resnet):
    resnet.train()
    resnet.layer1.requires_grad_(True)
    before = _state(resnet)
    out = fd.dream(torch.rand(1, 3, 64, 80), "layer3", model=resnet, octaves=1, steps=2, seed=0)
    assert out.shape == (1, 3, 64, 80)
    assert resnet.training and all(p.requires_grad for p in resnet.layer1.parameters())
    assert isinstance(resnet.layer1[0].bn1, nn.BatchNorm2d)
    assert resnet.conv1.weight.is_contiguous()  # memory format as it was
    for k, v in resnet.state_dict().items():
        assert torch.equal(v, before[k]), k


def test_cached_and_rebuilt_when_weights_change(resnet):
    a = dream_net(resnet, ["layer3"], "cpu")
    assert dream_net(resnet, ["layer3"], "cpu") is a
    assert dream_net(resnet, ["layer2"], "cpu") is not a  # other layers, another build
    with torch.no_grad():
        resnet.layer1[0].conv1.weight.mul_(2.0)  # in place, as an optimizer step
    b = dream_net(resnet, ["layer3"], "cpu")
    assert b is not a
    x = torch.randn(1, 3, 40, 40)
    torch.testing.assert_close(_acts(b, ["layer3"], x), _acts(resnet, ["layer3"], x), atol=1e-5, rtol=1e-4)
    resnet.load_state_dict(resnet_style(widths=(8, 16, 24, 32), blocks=2, seed=1).state_dict())
    assert dream_net(resnet, ["layer3"], "cpu") is not b


def test_rebuilt_when_a_module_or_the_input_convention_changes():
    """A module put in another's place, or input_mean/input_std set after a first dream, kept the
    old build (and the old picture) for the next dream."""
    torch.manual_seed(0)
    m = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.Conv2d(8, 16, 3, padding=1))
    x, quick = torch.rand(1, 3, 40, 48), dict(octaves=1, steps=2, seed=0)
    first = fd.dream(x, "3", model=m.eval(), **quick)
    m[2] = nn.Tanh()
    swapped = fd.dream(x, "3", model=m, **quick)
    assert not torch.equal(first, swapped) and torch.equal(swapped, fd.dream(x, "3", model=copy.deepcopy(m), **quick))
    m.input_mean, m.input_std = (0.9, 0.9, 0.9), (0.1, 0.1, 0.1)
    convention = fd.dream(x, "3", model=m, **quick)
    assert not torch.equal(swapped, convention)
    assert torch.equal(convention, fd.dream(x, "3", model=copy.deepcopy(m), **quick))
    assert dream_net(m, ["3"], "cpu") is dream_net(m, ["3"], "cpu")  # unchanged: still cached


@pytest.mark.parametrize(
    "change",
    [
        lambda m: m[0].weight.data.mul_(-1),  # through .data: no _version bump (EMA, pruning)
        lambda m: m[1].running_var.data.mul_(4),
        lambda m: setattr(m[1], "eps", 10.0),  # a plain setting the build copies
        lambda m: setattr(m[2], "negative_slope", 0.5),
    ],
)
def test_rebuilt_when_weights_change_through_data_or_a_setting_changes(change):
    """The cached build kept the old weights (and the old picture) after ``p.data.mul_`` or a new
    BatchNorm eps: neither bumps a tensor's _version."""
    torch.manual_seed(0)
    m = nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.LeakyReLU(0.1), nn.Conv2d(8, 16, 3, padding=1)
    )
    x, quick = torch.rand(1, 3, 40, 48), dict(octaves=1, steps=2, seed=0)
    first = fd.dream(x, "3", model=m.eval(), **quick)
    change(m)
    changed = fd.dream(x, "3", model=m, **quick)
    assert not torch.equal(first, changed)
    assert torch.equal(changed, fd.dream(x, "3", model=copy.deepcopy(m), **quick))


@pytest.mark.parametrize(
    "change",
    [
        lambda m: m[0].weight.data.copy_(m[0].weight.data.flip(1)),  # RGB filters to BGR: same sum and norm
        lambda m: m[2].weight.data.copy_(m[2].weight.data[torch.arange(15, -1, -1)]),  # channels reordered
        lambda m: m[1].register_forward_hook(lambda mod, i, o: o * 0.5),  # an ablation hook
        lambda m: setattr(m[1], "forward", lambda x: torch.tanh(x)),  # a patched forward
        lambda m: setattr(m[2], "dilation", [2, 2]),  # a list
        lambda m: m[1].register_full_backward_hook(lambda mod, gi, go: (gi[0] * 0.1,)),
        lambda m: setattr(m[1], "forward", functools.partial(torch.clamp, min=0.2)),  # a callable object
    ],
)
def test_rebuilt_when_values_are_permuted_or_a_hook_function_or_list_changes(change):
    """The build copies hooks, functions and lists too, and a permutation through .data keeps a
    tensor's sum and norm: each kept the old build's picture."""
    torch.manual_seed(0)
    m = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 16, 3, padding=1)).eval()
    x, quick = torch.rand(1, 3, 40, 48), dict(octaves=1, steps=2, seed=0)
    first = fd.dream(x, "2", model=m, **quick)
    change(m)
    changed = fd.dream(x, "2", model=m, **quick)
    assert not torch.equal(first, changed)
    assert torch.equal(changed, fd.dream(x, "2", model=copy.deepcopy(m), **quick))


def test_a_forward_that_keeps_a_tensor_or_a_pruned_model_still_hits_the_cache():
    """A forward that stores a tensor on its module (self.last = x, pruning's weight) changed the
    fingerprint at every dream: the network was built again each time."""
    from torch.nn.utils import prune

    class Keep(nn.Module):
        def forward(self, x):
            self.last = x
            return x

    m = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), Keep(), nn.Conv2d(8, 16, 3, padding=1)).eval()
    prune.l1_unstructured(m[0], "weight", 0.3)
    x = torch.rand(1, 3, 32, 40)
    fd.dream(x, "2", model=m, octaves=1, steps=1)
    built = dream_net(m, ["2"], "cpu")
    fd.dream(x, "2", model=m, octaves=1, steps=1)
    assert dream_net(m, ["2"], "cpu") is built


def test_a_setting_of_numpy_or_in_a_dict_or_a_callables_state_is_seen():
    class Scale(nn.Module):
        def __init__(self):
            super().__init__()
            self.cfg, self.slope = {"scale": 1.0}, np.float32(0.1)

        def forward(self, x):
            return torch.nn.functional.leaky_relu(x * self.cfg["scale"], float(self.slope))

    torch.manual_seed(0)
    m = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), Scale(), nn.Conv2d(8, 16, 3, padding=1)).eval()
    x, quick = torch.rand(1, 3, 32, 40), dict(octaves=1, steps=2, seed=0)
    for change in (lambda: m[1].cfg.update(scale=3.0), lambda: setattr(m[1], "slope", np.float32(0.5))):
        first = fd.dream(x, "2", model=m, **quick)
        change()
        assert not torch.equal(first, fd.dream(x, "2", model=m, **quick))


def test_a_nan_weight_outside_the_taps_still_hits_the_cache_and_a_half_change_is_seen():
    """NaN never equals itself: a model with one (an unused head made with torch.empty) was built
    again for every dream; a float16 sum overflowed to inf, where a change went unseen."""
    m = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(8, 2)).eval()
    with torch.no_grad():
        m[3].weight[0, 0] = float("nan")
    assert dream_net(m, ["1"], "cpu") is dream_net(m, ["1"], "cpu")
    h = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.Linear(4096, 4096)).half().eval()
    h[1].weight.data.fill_(0.5)
    a = dream_net(h, ["0"], "cpu")
    h[1].weight.data[0, 0] = 0.25  # (through .data: no _version bump)
    assert dream_net(h, ["0"], "cpu") is not a


@pytest.mark.parametrize("call", ["dream", "style_transfer"])
def test_each_module_comes_back_in_its_own_mode(call):
    """model.train(was) after a dream set the top module's flag on every submodule: a frozen
    BatchNorm of a model in training came back training, Monte Carlo dropout came back off."""
    m = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.Dropout(0.5), nn.Conv2d(8, 8, 1))
    x = torch.rand(1, 3, 40, 40)
    for setup in (lambda: (m.train(), m[1].eval()), lambda: (m.eval(), m[3].train())):
        setup()
        before = [sub.training for sub in m.modules()]
        if call == "dream":
            fd.dream(x, "4", model=m, octaves=1, steps=1, seed=0)
        else:
            fd.style_transfer(x, x, model=m, style_layers=["2", "4"], content_layers=["4"], steps=1, octaves=1)
        assert [sub.training for sub in m.modules()] == before


def test_a_model_of_one_input_size_is_one_line_and_dreams_in_tiles_of_it():
    """A Linear head takes one size only: torch's "mat1 and mat2 shapes cannot be multiplied"
    escaped from the first step of a picture of another size."""
    net = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 32 * 32, 10)).eval()
    img = np.full((64, 96, 3), 128, np.uint8)
    with pytest.raises(ValueError, match=r"^model: it takes only pictures of about 32x32 px .* tile_size=32 .* 96x64"):
        fd.dream(img, model=net, layers=["3"], octaves=1, steps=1)
    # A pool before the head rounds down: 33 px fit too, yet 64 do not (LeNet-like digit classifiers).
    pooled = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(4 * 16 * 16, 10))
    with pytest.raises(ValueError, match=r"^model: it takes only pictures of about 32x32 px"):
        fd.dream(img, model=pooled.eval(), layers=["3"], octaves=1, steps=1)
    out = fd.dream(img, model=net, layers=["3"], octaves=1, steps=1, tile_size=32, seed=0)
    assert out.shape == img.shape
    fd.dream(img, model=net, layers=["1"], octaves=1, steps=1)  # (a layer before the head: any size)
    # ImageNet's 224 px, past the sides the search probes (up to 512 by doubling: 224 is none of them)
    big = nn.Sequential(nn.Conv2d(3, 2, 3, padding=1), nn.Flatten(), nn.Linear(2 * 224 * 224, 3)).eval()
    with pytest.raises(ValueError, match=r"^model: it takes only pictures of about 224x224 px"):
        fd.dream(np.full((300, 400, 3), 128, np.uint8), model=big, layers=["2"], octaves=1, steps=1)
    with pytest.raises(ValueError, match=r"^image: .* takes only pictures of about 224x224 px; resize"):  # ("at least")
        fd.dream(img, model=big, layers=["2"], octaves=1, steps=1)
    alex = nn.Sequential(nn.Conv2d(3, 2, 3, padding=1), nn.Flatten(), nn.Linear(2 * 227 * 227, 3)).eval()
    with pytest.raises(ValueError, match=r"^image: .* takes only pictures of about 227x227 px"):  # (AlexNet's size)
        fd.dream(img, model=alex, layers=["2"], octaves=1, steps=1)


def test_a_build_passed_back_is_used_as_is(resnet):
    built = dream_net(resnet, ["layer3"], "cpu")
    assert dream_net(built, ["layer3"], "cpu") is built


def test_dream_equals_the_unbuilt_models_dream(resnet):
    x = torch.rand(1, 3, 72, 96)
    plain = copy.deepcopy(resnet)
    plain._fastdream_build = True  # the engine runs it as it is
    ref = fd.dream(x, "layer3", model=plain, octaves=2, steps=2, seed=0)
    got = fd.dream(x, "layer3", model=resnet, octaves=2, steps=2, seed=0)
    assert ((got - ref).abs() * 255).mean() < 0.05
    assert ((got - x).abs() * 255).mean() > 0.5


class _Branchy(nn.Module):
    """Not traceable (control flow on a value), one conv shared by two places."""

    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(3, 6, 3), nn.BatchNorm2d(6), nn.ReLU())
        self.shared = nn.Conv2d(6, 6, 1)
        self.bn = nn.BatchNorm2d(6)
        with torch.no_grad():
            for m in (self.body[1], self.bn):
                m.running_mean.uniform_(-1, 1)
                m.running_var.uniform_(0.5, 2)

    def forward(self, x):
        y = self.body(x)
        if float(y.detach().mean()) > -1e9:  # data-dependent control flow: torch.fx cannot trace it
            y = self.bn(self.shared(y)) + self.shared(y)
        return y


def test_untraceable_models_fold_sequential_pairs_only():
    net = _Branchy().eval()
    plan = fold.plan(net, ["bn"])
    assert not plan.traced and plan.pairs == [("body.0", "body.1")]
    built = dream_build(net, ["bn"])
    assert isinstance(built.body[1], nn.Identity) and isinstance(built.bn, nn.BatchNorm2d)
    x = torch.randn(1, 3, 20, 20)
    torch.testing.assert_close(_acts(built, ["bn"], x), _acts(net, ["bn"], x), atol=1e-5, rtol=1e-4)


def test_a_conv_feeding_two_places_is_not_folded():
    class Two(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv, self.bn = nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4)

        def forward(self, x):
            y = self.conv(x)
            return self.bn(y) + y

    assert fold.plan(Two().eval(), ["bn"]).pairs == []


def test_efficientnet_lite0_gets_the_default_builds():
    net = fd.models.efficientnet_lite0()
    assert isinstance(dream_build(net, ["_blocks.5", "_blocks.10"]), EfficientNetLite0Fused)
    x = (np.random.default_rng(0).random((48, 64, 3)) * 255).astype(np.uint8)
    ref = fd.dream(x, octaves=1, steps=2, seed=0)
    assert np.array_equal(fd.dream(x, model=net, octaves=1, steps=2, seed=0), ref)  # its dream_layers, same build


@pytest.mark.parametrize("low_memory", [False, True])
def test_a_model_with_unpadded_layers_gets_its_smallest_side(low_memory):
    """Found by fuzzing random user models: pictures, octaves or tiles smaller than unpadded
    convolutions and pools take ended in torch's "kernel size can't be greater than actual input
    size". The build measures the smallest side; tiles grow to it, octaves below it are left out,
    a smaller picture is one line naming it."""
    net = nn.Sequential(nn.Conv2d(3, 8, 7), nn.ReLU(), nn.MaxPool2d(3, 2), nn.Conv2d(8, 8, 5), nn.ReLU()).eval()
    built = dream_build(net, ["4"])
    assert built.min_input_side == 17 and not hasattr(net, "min_input_side")  # 7x7, 3x3/2 pool, 5x5: 17 px
    photo = (np.random.default_rng(0).random((40, 120, 3)) * 255).astype(np.uint8)
    with pytest.warns(UserWarning, match="octaves"):
        out = fd.dream(photo, "4", model=net, octaves=4, tile_size=32, steps=1, seed=0, low_memory=low_memory)
    assert out.shape == photo.shape
    with pytest.raises(ValueError, match="the picture is 120x12 px and Sequential takes at least 17 px a side"):
        fd.dream(photo[:12], "4", model=net, steps=1, low_memory=low_memory)


def test_a_model_that_checks_its_input_size_itself_still_dreams():
    """The smallest-side probe feeds tiny inputs: a model's own refusal (an assert, a ValueError)
    is a size it does not take, not an error of the dream."""

    class Picky(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv, self.relu = nn.Conv2d(3, 4, 3, padding=1), nn.ReLU()

        def forward(self, x):
            if min(x.shape[-2:]) < 16:
                raise ValueError("Picky takes 16 px and more")
            return self.relu(self.conv(x))

    photo = (np.random.default_rng(0).random((64, 80, 3)) * 255).astype(np.uint8)
    assert dream_build(Picky().eval(), ["relu"]).min_input_side == 16
    assert fd.dream(photo, "relu", model=Picky().eval(), steps=1, octaves=2, seed=0).shape == photo.shape


def test_models_of_other_kinds_dream_in_float32_or_are_one_clear_error():
    """A half/double/bfloat16 model was torch's "Input type (float) and bias type (Half)"; a
    TorchScript or meta-device model an internal error."""

    def net():
        torch.manual_seed(0)
        return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 3, padding=1)).eval()

    x, quick = torch.rand(1, 3, 40, 48), dict(octaves=1, steps=2, seed=0)
    plain = fd.dream(x, "2", model=net(), **quick)
    for dtype in (torch.float16, torch.bfloat16, torch.float64):
        m = net().to(dtype)
        out = fd.dream(x, "2", model=m, **quick)
        assert out.dtype == torch.float32 and (out - plain).abs().mean() < 0.02, dtype
        assert next(m.parameters()).dtype == dtype  # the user's model as it was
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # torch's: users still have such files
        scripted = (torch.jit.script(net()), torch.jit.trace(net(), torch.rand(1, 3, 16, 16)))
    for made in scripted:
        with pytest.raises(TypeError, match="a TorchScript module .* pass the nn.Module it was made from"):
            fd.dream(x, "2", model=made, **quick)
    with torch.device("meta"):
        ghost = net()
    with pytest.raises(ValueError, match="weights are on the meta device"):
        fd.style_transfer(x, x, model=ghost, content_layers=["2"], style_layers=["0"], **quick)


class _InplaceStem(nn.Module):
    """torchvision's ResNet stem: a ReLU(inplace=True) after a BatchNorm."""

    def __init__(self):
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8)
        self.relu, self.conv2 = nn.ReLU(inplace=True), nn.Conv2d(8, 8, 3, padding=1)

    def forward(self, x):
        return self.conv2(self.relu(self.bn1(self.conv1(x))))


def test_a_tapped_output_changed_in_place_later_is_what_its_layer_gave():
    """With a deeper layer tapped too, the ReLU after a tapped BatchNorm ran on its output in place:
    the dream of "bn1" was the dream of its ReLU, depending on the other layers listed."""
    torch.manual_seed(0)
    net, x = _InplaceStem().eval(), torch.rand(1, 3, 12, 12)
    with torch.no_grad():
        alone = LayerTaps(net, ["bn1"])(x)[0]
    both = LayerTaps(net, ["bn1", "conv2"])(x.requires_grad_(True))
    assert torch.equal(both[0], alone) and alone.min() < 0  # (the ReLU would have cut its negatives)
    img = np.asarray(torch.rand(24, 24, 3).mul(255).byte())
    kw = dict(model=net, objective="mean", octaves=1, steps=2, seed=0)
    assert np.array_equal(fd.dream(img, {"bn1": 1.0}, **kw), fd.dream(img, {"bn1": 1.0, "conv2": 1e-6}, **kw))


class _Cut(nn.Module):
    def __init__(self, inplace_input=False):
        super().__init__()
        self.backbone, self.head = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU()), nn.Conv2d(8, 4, 1)
        self.inplace_input = inplace_input

    def forward(self, x):
        if self.inplace_input:  # its own normalization, in place
            x.sub_(0.5)
            return self.head(self.backbone(x))
        with torch.no_grad():  # a frozen extractor
            f = self.backbone(x)
        return self.head(f)


def test_a_forward_that_cuts_the_gradient_or_edits_its_input_in_place():
    """torch's "element 0 of tensors does not require grad" and "a leaf Variable that requires grad
    is being used in an in-place operation" came out of the dream as tracebacks."""
    img = np.full((24, 24, 3), 128, np.uint8)
    with pytest.raises(ValueError, match=r"^layers: 'head' does not depend on the picture: .* tap a layer before"):
        fd.dream(img, ["head"], model=_Cut(), octaves=1, steps=1)
    assert fd.dream(img, ["head"], model=_Cut(inplace_input=True), octaves=1, steps=1, seed=0).shape == img.shape


def test_a_module_list_is_not_a_layer_and_its_members_are_named():
    """It was accepted, then "produced no output in the model's forward (are they used?)"."""
    net = nn.Sequential(nn.Conv2d(3, 4, 3))
    net.blocks = nn.ModuleList([nn.ReLU(), nn.ReLU()])
    with pytest.raises(ValueError, match=r"^layers: 'blocks' is a ModuleList, .* members: blocks.0, blocks.1$"):
        LayerTaps(net, ["blocks"])


def test_a_module_list_with_a_forward_of_its_own_is_a_layer():
    """A ModuleList subclass that is called (torchvision's IntermediateLayerGetter is a ModuleDict)."""

    class Stack(nn.ModuleList):
        def forward(self, x):
            for m in self:
                x = m(x)
            return x

    net = nn.Sequential(nn.Conv2d(3, 4, 3), Stack([nn.ReLU(), nn.Conv2d(4, 4, 3)]), nn.Conv2d(4, 4, 1))
    assert LayerTaps(net, ["1"])(torch.rand(1, 3, 12, 12))[0].shape == (1, 4, 8, 8)
    with torch.inference_mode():  # (an inference tensor keeps no version count to compare)
        assert len(LayerTaps(net, ["0", "2"])(torch.rand(1, 3, 12, 12))) == 2
        stem, x = _InplaceStem().eval(), torch.rand(1, 3, 12, 12)  # ... so it is copied: bn1 before its ReLU
        assert torch.equal(LayerTaps(stem, ["bn1", "conv2"])(x)[0], LayerTaps(stem, ["bn1"])(x)[0])
