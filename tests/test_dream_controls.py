"""The creative controls of dream: channel specs and weights, top/bottom-k, guides, Laplacian
normalization, smoothing, color preservation and matching, custom objectives; each on every path
(tiles, masks, seeds, zoom videos) and with clear errors."""

import warnings

import numpy as np
import pytest
import torch
from PIL import Image

import fastdream as fd
from fastdream import objectives as O
from fastdream.dream import DEFAULT_LAYERS, DreamOptions, build_objective, default_model
from fastdream.dream.context import Context
from fastdream.models.taps import LayerTaps

FAST = dict(octaves=1, steps=6, jitter=8, seed=0)
MEAN, STD = 127 / 255, 128 / 255


@pytest.fixture(scope="module")
def photo():
    from skimage import data

    return Image.fromarray(data.chelsea()).resize((96, 64), Image.BICUBIC)


@pytest.fixture(scope="module")
def guide_image():
    from skimage import data

    return Image.fromarray(data.astronaut()[:300, 100:400]).resize((96, 96), Image.BICUBIC)


def _t(img) -> torch.Tensor:
    return torch.from_numpy(np.asarray(img, dtype=np.float32) / 255).permute(2, 0, 1)[None]


def _acts(img, layers=DEFAULT_LAYERS) -> dict:
    x = ((_t(img) - MEAN) / STD).contiguous(memory_format=torch.channels_last)
    with torch.no_grad():
        return dict(zip(layers, LayerTaps(default_model("cpu"), list(layers))(x)))


def _channel_energy(img, layer="_blocks.10") -> torch.Tensor:
    return _acts(img, [layer])[layer].square().mean((0, 2, 3))


def _high_frequency_share(change: np.ndarray) -> float:
    """The share of the change's spectral power above half the Nyquist frequency."""
    g = change.mean(axis=2)
    p = np.abs(np.fft.fftshift(np.fft.fft2(g - g.mean()))) ** 2
    h, w = g.shape
    yy, xx = np.mgrid[-(h // 2) : h - h // 2, -(w // 2) : w - w // 2]
    r = np.hypot(yy / (h / 2), xx / (w / 2))
    return float(p[r > 0.5].sum() / p.sum())


def _change(out, img) -> np.ndarray:
    return np.asarray(out, dtype=np.float64) - np.asarray(img, dtype=np.float64)


# ---------------------------------------------------------------- layer specs and weights


def test_a_channel_spec_raises_that_channel_far_more_than_the_others(photo):
    before = _channel_energy(photo)
    out = fd.dream(photo, ["_blocks.10:37"], **FAST)
    growth = _channel_energy(out) / before
    others = torch.cat([growth[:37], growth[38:]])
    assert growth[37] > 2 * others.median() and growth[37] > others.quantile(0.95), (growth[37], others.median())
    # the plain dream raises the layer as a whole, not channel 37 in particular
    plain = _channel_energy(fd.dream(photo, ["_blocks.10"], **FAST)) / before
    assert growth[37] > 2 * plain[37]


def test_weights_move_the_balance_between_layers(photo):
    def l2(img):
        a = _acts(img)
        return {k: float(v.square().mean()) for k, v in a.items()}

    base = l2(photo)
    lo5 = l2(fd.dream(photo, {"_blocks.5": 0.05, "_blocks.10": 1.0}, **FAST))
    hi5 = l2(fd.dream(photo, ["_blocks.5=1", "_blocks.10=0.05"], **FAST))
    # more weight on block 5: block 5 grows more, block 10 less
    assert hi5["_blocks.5"] / base["_blocks.5"] > lo5["_blocks.5"] / base["_blocks.5"]
    assert hi5["_blocks.10"] / base["_blocks.10"] < lo5["_blocks.10"] / base["_blocks.10"]


def test_top_k_picks_the_channels_with_the_largest_mean_activation(photo):
    means = _acts(photo, ["_blocks.10"])["_blocks.10"].mean((0, 2, 3))
    for mode, largest in (("top", True), ("bottom", False)):
        objective = build_objective(DreamOptions.create(layers=[f"_blocks.10:{mode}8"]))
        net = default_model("cpu", objective.layers)
        taps = LayerTaps(net, objective.layers)
        x = ((_t(photo) - MEAN) / STD).contiguous(memory_format=torch.channels_last)
        mean, std = torch.full((1, 3, 1, 1), MEAN), torch.full((1, 3, 1, 1), STD)
        objective.prepare(
            Context(net, taps, torch.device("cpu"), (mean, std), 512).at(x, fd.ops.tile_grid((64, 96), 512), 1)
        )
        expected = torch.topk(means, 8, largest=largest).indices
        assert sorted(objective.chosen) == sorted(expected.tolist())
    out = fd.dream(photo, ["_blocks.10:top8"], **FAST)
    growth = _channel_energy(out) / _channel_energy(photo)
    chosen = torch.topk(means, 8).indices
    rest = torch.ones(len(means), dtype=torch.bool)
    rest[chosen] = False
    assert growth[chosen].mean() > 1.25 * growth[rest].median()  # the strongest channels, grown more


def test_parse_specs_and_their_errors():
    s = O.parse_spec("_blocks.10:30-32,77,31=2")
    assert (s.layer, s.channels, s.weight) == ("_blocks.10", (30, 31, 32, 77), 2.0)
    assert str(s) == "_blocks.10:30,31,32,77=2"
    assert O.parse_spec("_blocks.3:bottom4").mode == "bottom"
    specs = O.parse_layers({"_blocks.10:37": 2.0, "_blocks.5": 0.5})
    assert [(x.layer, x.channels, x.weight) for x in specs] == [("_blocks.10", (37,), 2.0), ("_blocks.5", None, 0.5)]
    for bad, words in [
        ("_blocks.10:abc", "not a channel"),
        ("_blocks.10:9-3", "backwards"),
        ("_blocks.10:top0", "top1 or more"),
        ("_blocks.10=x", "not a number"),
        (":3", "not a layer spec"),
    ]:
        with pytest.raises(ValueError, match=words):
            O.parse_spec(bad)


# ---------------------------------------------------------------- guide


def _guide_similarity(img, guide, layer="_blocks.10") -> float:
    """Mean over the image's positions of the best cosine similarity with a guide feature."""
    a = torch.nn.functional.normalize(_acts(img, [layer])[layer][0].flatten(1).T, dim=1)
    g = torch.nn.functional.normalize(_acts(guide, [layer])[layer][0].flatten(1).T, dim=1)
    return float((a @ g.T).max(1).values.mean())


def test_a_guided_dream_moves_the_features_toward_the_guide(photo, guide_image):
    guided = fd.dream(photo, ["_blocks.10"], guide=guide_image, **FAST)
    plain = fd.dream(photo, ["_blocks.10"], **FAST)
    start, g, p = (_guide_similarity(x, guide_image) for x in (photo, guided, plain))
    assert g > start and g > p, (start, g, p)
    # the guide objective itself grows
    obj = O.guide("_blocks.10", guide_image)
    net = default_model("cpu", ["_blocks.10"])
    taps = LayerTaps(net, ["_blocks.10"])
    mean, std = torch.full((1, 3, 1, 1), MEAN), torch.full((1, 3, 1, 1), STD)
    obj.prepare(Context(net, taps, torch.device("cpu"), (mean, std), 96))
    values = [float(obj(_acts(x, ["_blocks.10"]))) for x in (photo, guided)]
    assert values[1] > 1.1 * values[0], values


# ---------------------------------------------------------------- gradient shaping


def test_laplacian_norm_and_smoothing_give_lower_frequencies(photo):
    std = _high_frequency_share(_change(fd.dream(photo, **FAST), photo))
    lap = _high_frequency_share(_change(fd.dream(photo, norm="laplacian", **FAST), photo))
    smooth = _high_frequency_share(_change(fd.dream(photo, smooth=1.5, **FAST), photo))
    assert lap < 0.8 * std and smooth < 0.8 * std, (std, lap, smooth)


def test_a_smoothing_wider_than_the_picture_is_said(photo):
    """smooth=1000 on 192 px gave a color cast over the whole picture, without a word."""
    with pytest.warns(UserWarning, match=r"smooth=30 is wide for a 96x64 picture: .* a color cast"):
        fd.dream(photo, smooth=30, octaves=1, steps=1, seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fd.dream(photo, smooth=4, octaves=1, steps=1, seed=0)  # (the gallery's kind of value: no word)


def test_laplacian_normalize_bands():
    g = torch.randn(2, 3, 37, 50, generator=torch.Generator().manual_seed(0))
    out = fd.ops.laplacian_normalize(g, levels=1)  # one band: the gradient over its RMS
    torch.testing.assert_close(out, g / g.square().mean((1, 2, 3), keepdim=True).sqrt())
    assert fd.ops.laplacian_normalize(g * 7.0, 4).allclose(fd.ops.laplacian_normalize(g, 4), atol=1e-5)  # scale-free
    assert fd.ops.laplacian_normalize(torch.randn(3, 5, 7), 6).shape == (3, 5, 7)  # tiny: fewer bands


# ---------------------------------------------------------------- colors


def _chroma(arr) -> np.ndarray:
    a = np.asarray(arr, dtype=np.float64)
    y = a @ np.array([0.299, 0.587, 0.114])
    return np.stack([(a[..., 2] - y) * 0.564, (a[..., 0] - y) * 0.713], -1)  # Cb, Cr (BT.601)


def test_preserve_colors_keeps_the_chroma_within_8_bit_rounding(photo):
    out = fd.dream(photo, preserve_colors=True, **FAST)
    assert np.abs(_chroma(out) - _chroma(photo)).max() <= 0.51  # rounding R, G, B to 8 bits
    assert np.abs(_change(out, photo)).mean() > 1.0  # and the dream is there, in the brightness
    plain = fd.dream(photo, **FAST)
    assert np.abs(_chroma(plain) - _chroma(photo)).max() > 5  # the plain dream changes colors


def test_color_match_gives_the_input_color_statistics(photo):
    out = fd.dream(photo, color_match=True, steps=10, octaves=1, seed=0)
    plain = fd.dream(photo, steps=10, octaves=1, seed=0)
    src = np.asarray(photo, dtype=np.float64).reshape(-1, 3)

    def gap(img):
        a = np.asarray(img, dtype=np.float64).reshape(-1, 3)
        return np.abs(a.mean(0) - src.mean(0)).max() + np.abs(np.cov(a.T) - np.cov(src.T)).max() / 255

    assert gap(out) < 0.5 * gap(plain)


# ---------------------------------------------------------------- custom objectives


def test_callables_and_expressions(photo):
    before = _channel_energy(photo)
    out = fd.dream(photo, ["_blocks.10"], objective=lambda acts: acts["_blocks.10"][:, 37].mean((1, 2)), **FAST)
    growth = _channel_energy(out) / before
    assert growth[37] > 3 * torch.cat([growth[:37], growth[38:]]).median()
    expr = O.channel("_blocks.10", 37) + 0.5 * O.layer_l2("_blocks.5")
    assert expr.layers == ("_blocks.10", "_blocks.5")
    out2 = fd.dream(photo, objective=expr, **FAST)
    assert _channel_energy(out2)[37] / before[37] > 2
    neg = fd.dream(photo, objective=-O.layer_mean("_blocks.10"), **FAST)
    assert _acts(neg, ["_blocks.10"])["_blocks.10"].mean() < _acts(photo, ["_blocks.10"])["_blocks.10"].mean()
    with pytest.raises(ValueError, match=r"one value per sample, a tensor of shape \(1,\), got \(\)"):
        fd.dream(photo, ["_blocks.10"], objective=lambda acts: acts["_blocks.10"].mean(), **FAST)


# ---------------------------------------------------------------- every option, on every path

OPTIONS = {
    "channels": dict(layers=["_blocks.10:30-40,77"]),
    "weights": dict(layers={"_blocks.10:37": 2.0, "_blocks.5": 0.5}),
    "top8": dict(layers=["_blocks.10:top8"]),
    "guide": dict(layers=["_blocks.10"], guide="GUIDE"),
    "laplacian": dict(norm="laplacian", lap_levels=3),
    "smooth": dict(smooth=1.0),
    "preserve_colors": dict(preserve_colors=True),
    "color_match": dict(color_match=True),
    "expression": dict(objective=O.channel("_blocks.10", 5) + O.layer_l2("_blocks.5")),
}


def _opts(name, guide_image):
    return {k: (guide_image if v == "GUIDE" else v) for k, v in OPTIONS[name].items()}


@pytest.mark.parametrize("name", OPTIONS)
def test_every_option_tiles_masks_and_seeds(name, photo, guide_image):
    kw = dict(FAST, octaves=2, **_opts(name, guide_image))
    whole = fd.dream(photo, tile_size=None, **kw)
    assert np.array_equal(np.asarray(whole), np.asarray(fd.dream(photo, tile_size=512, **kw)))  # tile = image
    assert np.array_equal(np.asarray(whole), np.asarray(fd.dream(photo, tile_size=None, **kw)))  # seeded
    assert np.abs(_change(whole, photo)).mean() > 0.5  # it dreams
    tiled = fd.dream(photo, tile_size=48, **kw)  # 2 x 3 tiles
    assert 0.3 < np.abs(_change(tiled, photo)).mean() / np.abs(_change(whole, photo)).mean() < 3
    mask = np.zeros((64, 96), np.float32)
    mask[:, 48:] = 1
    masked = np.asarray(fd.dream(photo, mask=mask, **kw))
    assert np.array_equal(masked[:, :48], np.asarray(photo)[:, :48])
    half = np.asarray(fd.dream(photo, mask=mask[::2, ::2], **kw))  # the picture's shape, scaled: taken
    assert np.array_equal(half[:, :46], np.asarray(photo)[:, :46]) and not np.array_equal(half, np.asarray(photo))
    assert np.abs(masked[:, 48:].astype(float) - np.asarray(photo)[:, 48:]).mean() > 0.5


def test_channels_of_a_classifier_layer_are_dreamed_one_by_one(photo):
    """``_fc:1`` (a class's logit) dreamed every class alike: the (1, C, 1, 1) channel weights
    broadcast against the (N, C) logits; ``_fc:top3`` was an IndexError."""
    got = {s: np.asarray(fd.dream(photo, [s], **FAST), float) for s in ("_fc", "_fc:1", "_fc:500", "_fc:top3")}
    assert np.abs(got["_fc:1"] - got["_fc:500"]).mean() > 0.5
    assert np.abs(got["_fc:1"] - got["_fc"]).mean() > 0.5 and np.abs(got["_fc:top3"] - got["_fc"]).mean() > 0.5
    one = np.asarray(fd.dream(photo, objective=O.neuron("_fc", 1), **FAST), float)  # a neuron of (N, C): its class
    assert np.abs(one - np.asarray(photo, float)).mean() > 0.5
    with pytest.raises(ValueError, match="guide: _fc's output is not a feature map"):
        fd.dream(photo, ["_fc"], guide=photo, **FAST)
    with pytest.raises(ValueError, match="no positions; leave y and x out"):
        fd.dream(photo, objective=O.neuron("_fc", 1, 0, 0), **FAST)


@pytest.mark.parametrize(
    "kwargs, exc, words",
    [
        (dict(layers=["_blocks.10:112"]), ValueError, r"_blocks.10 has 112 channels \(0-111\)"),
        (dict(layers=["_blocks.10:top200"]), ValueError, "_blocks.10 has 112 channels; top200"),
        (dict(layers=["_blocks.10:x"]), ValueError, "layers: 'x' in '_blocks.10:x' is not a channel"),
        (dict(layers={"_blocks.10": "2"}), ValueError, "weight of '_blocks.10' must be a finite number"),
        # past these the objective overflowed (no step at all) or sank under the epsilon, silently
        (dict(layers={"_blocks.10": 1e30}), ValueError, "must be 0 or between 1e-06 and 1e[+]06 in size, got 1e[+]30"),
        (dict(layers=["_blocks.10=1e-9"]), ValueError, "must be 0 or between 1e-06 and 1e[+]06 in size"),
        (dict(layers={"_blocks.10": 0, "_blocks.5": 0.0}), ValueError, "every weight is 0"),
        (dict(layers={"_blocks.5": None}), TypeError, "the weight of .*_blocks.5.* must be a number, got None"),
        # a layer named twice was counted twice without a word
        (dict(layers=["_blocks.5", "_blocks.10", "_blocks.5"]), ValueError, "'_blocks.5' is given twice"),
        (dict(layers={"_blocks.10:3": 1, " _blocks.10:3": 2}), ValueError, "'_blocks.10:3' is given twice"),
        (dict(norm="lap"), ValueError, "norm must be one of"),
        (dict(norm="laplacian", lap_levels=0), ValueError, "lap_levels must be in"),
        (dict(lap_levels=3), ValueError, "lap_levels: .* change nothing with norm='std'"),  # was ignored
        (dict(smooth=-1.0), ValueError, "smooth must be a finite number >= 0, got -1"),
        (dict(guide="/no/such/guide.png"), FileNotFoundError, "no such file"),
        (dict(guide=3), TypeError, "guide must be a path"),
        (dict(preserve_colors="yes"), TypeError, "preserve_colors must be True or False"),
        (dict(preserve_colors=True, color_match=True), ValueError, "alternatives"),
        (dict(objective=O.layer_l2("_blocks.5"), layers=["_blocks.5"]), ValueError, "names its own layers"),
        (dict(objective=O.layer_l2("_blocks.5"), guide=np.zeros((8, 8, 3), np.uint8)), ValueError, "guide replaces"),
        # (dropped without a word: the same dream as without it)
        (dict(objective="mean", guide=np.zeros((8, 8, 3), np.uint8)), ValueError, "objective: 'mean' does nothing"),
        (dict(objective=O.layer_l2("_blocks.99")), ValueError, "unknown layer"),
        (dict(objective=O.layer_l2("_blocks.5") - O.layer_l2("_blocks.5")), ValueError, "nothing to dream"),
        (dict(mask=np.ones((10, 50))), ValueError, "mask is 50x10 and the picture 96x64: .* would be stretched"),
        (dict(mask=np.ones((64, 70)), low_memory=True), ValueError, "would be stretched"),
        (dict(step_size=1e-308), ValueError, r"step_size must be at least 1e-06 \(a smaller step changes nothing\)"),
    ],
)
def test_bad_values_name_the_parameter(photo, kwargs, exc, words):
    with pytest.raises(exc, match=words):
        fd.dream(photo, **{**FAST, **kwargs})


# ---------------------------------------------------------------- zoom videos


def test_zoom_videos_take_the_options_and_refuse_changed_ones(photo, guide_image, tmp_path):
    kw = dict(frames=2, octaves=1, steps=2, seed=0, frames_dir=tmp_path / "f")
    out = fd.zoom_video(photo, tmp_path / "z.gif", layers=["_blocks.10:37"], guide=guide_image, **kw)
    assert out.is_file()
    with pytest.raises(ValueError, match=r"layers: stored \['_blocks.10:37'\], now \['_blocks.10:38'\]"):
        fd.zoom_video(photo, tmp_path / "z.gif", layers=["_blocks.10:38"], guide=guide_image, **kw)
    with pytest.raises(ValueError, match="guide: its contents differ"):
        fd.zoom_video(photo, tmp_path / "z.gif", layers=["_blocks.10:37"], guide=photo, **kw)
    with pytest.raises(ValueError, match="norm: stored 'std', now 'laplacian'"):
        fd.zoom_video(photo, tmp_path / "z.gif", layers=["_blocks.10:37"], guide=guide_image, norm="laplacian", **kw)
    # the same settings resume (nothing to do)
    assert fd.zoom_video(photo, tmp_path / "z.gif", layers=["_blocks.10:37"], guide=guide_image, **kw) == out
