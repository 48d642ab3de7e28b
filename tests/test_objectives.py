"""fastdream.objectives on their own: arithmetic, values, and the device of every part of a value."""

import numpy as np
import pytest
import torch

import fastdream as fd
from fastdream import objectives as O

META = torch.device("meta")


def acts(device="cpu", n=2):
    g = torch.Generator().manual_seed(0)
    a = {"a": torch.rand(n, 8, 5, 6, generator=g), "b": torch.rand(n, 4, 3, 3, generator=g)}
    return {k: v.to(device) for k, v in a.items()}


class _Ctx:
    """What a dream offers an objective's prepare(): the channel means for top/bottom k."""

    key = "ctx"

    def channels(self, layer):
        return 8

    def channel_means(self, layer):
        return torch.arange(8.0)


def _guided():
    g = O.guide("a", torch.rand(3, 8, 8))  # (its target set below, as prepare() would)
    g.target = torch.rand(10, 8)  # what prepare() computes from the guide image
    return g


EXPRESSIONS = {
    "l2 + constant": lambda: O.layer_l2("a") + 1.0,
    "constant - mean": lambda: 2 - O.layer_mean("b"),
    "constant alone": lambda: O.layer_l2("a") * 0 + 3,
    "scaled channels": lambda: 0.5 * O.channel("a", [1, 3, 3]) - O.channel("b", 2, kind="mean") / 4,
    "negated neuron": lambda: -O.neuron("a", 2) + O.neuron("b", 1, y=0, x=2),
    "layer specs": lambda: O.from_layers(O.parse_layers({"a:0-2": 2.0, "b": 0.5}), "l2"),
    "guide": lambda: _guided() + 1,
}


@pytest.mark.parametrize("name", list(EXPRESSIONS))
def test_values_follow_the_activations_device(name):
    # Every tensor of a value is made on the activations' device: the meta device refuses any
    # CPU tensor mixed in (as a GPU would), so a constant built on the CPU fails here.
    expr = EXPRESSIONS[name]()
    out = expr(acts(META))
    assert out.device == META and out.shape == (2,) and out.dtype == torch.float32
    assert expr(acts()).shape == (2,)


def test_top_k_is_chosen_by_prepare_and_runs_on_the_meta_device():
    expr = O.from_layers(O.parse_layers("a:top3"), "mean") + 1
    expr.prepare(_Ctx())
    assert expr.parts[0].chosen == [7, 6, 5]
    assert expr(acts(META)).device == META


def test_values():
    x = acts()
    a, b = x["a"], x["b"]
    l2a, mean_b = (a * a).mean((1, 2, 3)), b.mean((1, 2, 3))
    torch.testing.assert_close((O.layer_l2("a") + 1.0)(x), l2a + 1)
    torch.testing.assert_close((2 - O.layer_mean("b"))(x), 2 - mean_b)
    # A repeated channel counts once: the mean over the channels chosen.
    torch.testing.assert_close(O.channel("a", [1, 3, 3])(x), (a[:, [1, 3]] ** 2).mean((1, 2, 3)))
    torch.testing.assert_close((O.layer_l2("a") / 4)(x), l2a / 4)
    torch.testing.assert_close(O.neuron("a", 2)(x), a[:, 2, 2, 3])


def test_arithmetic_prints_and_refuses_what_is_not_a_number():
    expr = O.channel("a", 3) + 0.5 * O.layer_l2("b") - 1
    assert repr(expr) == "channel('a', 3) + 0.5 * layer_l2('b') - 1"
    assert expr.layers == ("a", "b")
    with pytest.raises(TypeError, match="objectives combine"):
        O.layer_l2("a") + "x"
    with pytest.raises(TypeError):
        O.layer_l2("a") * True
    with pytest.raises(ValueError, match=r"objective: the weight of \"layer_l2\('a'\)\" must be 0 or between"):
        O.layer_l2("a") * 1e30  # the objective overflowed and the dream did nothing


@pytest.mark.parametrize(
    "make, exc, words",
    [
        (lambda: O.channel("a", 2.5), TypeError, "channel: channels must be a channel number or a list"),
        (lambda: O.channel("a", float("nan")), TypeError, "channel: channels must be"),
        (lambda: O.channel(3, 3), TypeError, "channel: layer must be a layer name"),
        (lambda: O.layer_l2(None), TypeError, "layer_l2: layer must be a layer name"),
        (lambda: O.layer_mean(""), TypeError, "layer_mean: layer must be a layer name"),
        (lambda: O.neuron(["a"], 1), TypeError, "neuron: layer must be a layer name"),
        (lambda: O.layer_l2("a") / 0, ZeroDivisionError, r"layer_l2\('a'\) / 0"),
        (
            lambda: O.layer_l2("a") * O.channel("b", 1),
            TypeError,
            "an objective . another objective: objectives are weighted by numbers",
        ),
        (lambda: O.layer_l2("a") / O.layer_l2("b"), TypeError, "an objective / another objective"),
        (lambda: O.layer_l2("a") * torch.ones(3), TypeError, "an objective . a Tensor"),
        (lambda: "x" * O.layer_l2("a"), TypeError, "an objective . a str"),
    ],
)
def test_bad_arguments_are_said_where_the_objective_is_made(make, exc, words):
    """channel('a', 2.5) said "'float' object is not iterable"; layer_l2(None) was taken and the
    dream failed in a regular expression; / 0 said "unsupported operand type(s)"."""
    with pytest.raises(exc, match=words):
        make()


@pytest.mark.parametrize(
    "make",
    [
        lambda: 0 * O.layer_l2("a"),
        lambda: O.layer_l2("a") - O.layer_l2("a"),  # two objects, one term
        lambda: 0.5 * O.layer_l2("a") + 0.5 * O.layer_l2("a") - O.layer_l2("a"),
        lambda: -O.channel("a", [1, 2]) + O.channel("a", [1, 2]),
        lambda: O.neuron("a", 2, y=1, x=1) * 2 - 2 * O.neuron("a", 2, y=1, x=1),
        lambda: (O.layer_l2("a") + O.layer_mean("b")) * 0 + 3,  # a constant has no gradient
    ],
)
def test_an_objective_with_every_weight_zero_is_refused(make):
    """Such an expression has no gradient: the dream returned the picture unchanged, silently."""
    with pytest.raises(ValueError, match="every weight 0 .or its terms cancel., so there is nothing to dream"):
        make().check_not_zero()


def test_objectives_that_differ_are_not_taken_for_zero():
    for o in (
        O.layer_l2("a") - O.layer_mean("a"),
        O.channel("a", [1, 2]) - O.channel("a", [1, 3]),
        O.neuron("a", 2) - O.neuron("a", 3),
        0 * O.layer_l2("a") + 1e-6 * O.layer_l2("b"),
        O.layer_l2("a") - 1,
        O.Objective(lambda a: a["a"].mean((1, 2, 3)), ["a"], "mine")
        - O.Objective(lambda a: a["a"].sum((1, 2, 3)), ["a"], "m"),
    ):
        o.check_not_zero()


def test_a_neurons_position_is_a_place_on_the_map():
    for bad in (dict(c=-1), dict(c=1, y=-2), dict(c=1, x=2.5), dict(c="3")):
        with pytest.raises((ValueError, TypeError), match=r"neuron: [cxy] must be"):
            O.neuron("a", **bad)
    a = acts()
    assert torch.equal(O.neuron("a", 1, y=99, x=99)(a), a["a"][:, 1, -1, -1])  # past the map: its last place


@pytest.mark.parametrize(
    "call, exc, words",
    [
        (lambda: O.from_layers((), "l2"), TypeError, r"^specs must be a non-empty tuple of LayerSpec"),
        (lambda: O.from_layers(O.parse_layers(["_blocks.5"]), "bogus"), ValueError, r"^kind must be 'l2' or 'mean'"),
        (lambda: O.guide_match(None, None, None), ValueError, r"^guide_match: x must be \(N, C, H, W\)"),
        (lambda: O.guide_match(torch.rand(1, 3, 4, 4), torch.rand(2, 5), None), ValueError, r"y must be \(M, 3\)"),
        (lambda: O.guide("_blocks.5", None), TypeError, r"^guide: image must be a path, PIL image"),
        (lambda: O.guide("_blocks.5", "/no/such/guide.png"), FileNotFoundError, r"^guide: no such file"),
    ],
)
def test_the_objective_builders_refuse_bad_arguments_naming_them(call, exc, words):
    """from_layers(()) was an IndexError and kind='bogus' a mean; guide(L, None) was taken and failed
    in the dream; guide_match(None, ...) an AttributeError."""
    with pytest.raises(exc, match=words):
        call()


def test_a_one_number_tensor_weighs_an_objective_as_its_number():
    a = O.layer_l2("a")
    assert repr(a * torch.tensor(2.0)) == repr(2 * a) and repr(a / torch.tensor(4)) == repr(0.25 * a)


def test_an_objectives_unknown_layer_or_channel_is_said_of_objective_not_layers():
    """objective=O.channel(...) with a channel past the layer's, or O.layer_l2 of an unknown layer,
    said "layers: ...": an argument the user had not passed."""
    import fastdream as fd

    x = torch.rand(3, 40, 40)
    with pytest.raises(ValueError, match=r"^objective: _blocks.10 has 112 channels \(0-111\); channel\(s\) 999 are"):
        fd.dream(x, objective=O.channel("_blocks.10", 999), octaves=1, steps=1)
    with pytest.raises(ValueError, match=r"^objective: unknown layer name\(s\) \['nope'\]"):
        fd.dream(x, objective=O.layer_l2("nope") + O.layer_l2("_blocks.5"), octaves=1, steps=1)
    with pytest.raises(ValueError, match=r"^layers: _blocks.10 has 112 channels"):
        fd.dream(x, layers=["_blocks.10:999"], octaves=1, steps=1)


def test_a_channel_range_past_its_layer_is_said_in_a_short_line():
    """`_blocks.10:0-65535` raised a message of 447,265 characters listing every channel."""
    img = np.full((48, 48, 3), 128, np.uint8)
    with pytest.raises(ValueError) as said:
        fd.dream(img, ["_blocks.10:0-65535"], octaves=1, steps=1)
    assert str(said.value).endswith("has 112 channels (0-111); channel(s) 112-65535 are out of range")
