"""Style transfer: the losses fall, exact tiles, several styles, colors, kinds and sizes, errors."""

import re
import warnings

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

import fastdream as fd
from fastdream import io
from fastdream.models.build import default_model
from fastdream.models.modes import Frozen
from fastdream.style import STYLE_LAYERS, StyleOptions
from fastdream.style import engine as E
from fastdream.style.features import Features
from fastdream.style.tiles import tiles

FAST = dict(octaves=1, steps=30, seed=0)
W = dict(style=3.0, content=1.0, tv=1.0)


@pytest.fixture(scope="module")
def images():
    from skimage import data

    def im(a, w):
        p = Image.fromarray(a)
        return p.resize((w, round(w * p.height / p.width)), Image.BICUBIC)

    return dict(
        content=im(data.chelsea(), 128),
        ihc=im(data.immunohistochemistry(), 128),
        hubble=im(data.hubble_deep_field(), 128),
    )


@pytest.fixture(scope="module")
def feats():
    o = StyleOptions.create(1)
    net = default_model("cpu", o.style_layers + o.content_layers)
    with Frozen(net):
        yield Features(net, o.style_layers + o.content_layers, torch.device("cpu")), o


def _targets(feats, content, styles, weights=None, tile=None):
    f, o = feats
    c = io.load(content).rgb
    hw = (16 * (c.shape[-2] // 16), 16 * (c.shape[-1] // 16))
    ss = [E.resize(io.load(s).rgb, E.style_size(io.load(s).rgb, hw, 1.0, f.stride)) for s in styles]
    regions = E.style_regions(f, ss, weights or (1.0,) * len(styles), o.style_layers, tile)
    return E.Targets(f, E.resize(c, hw), regions, o.style_layers, o.content_layers, tile), hw


def _losses(feats, out, content, styles, weights=None):
    tg, hw = _targets(feats, content, styles, weights)
    _, parts, _ = E.loss_and_grad(E.resize(io.load(out).rgb, hw), tg, W)
    return parts


def test_the_style_loss_falls_and_the_content_stays(images, feats):
    out = fd.style_transfer(images["content"], images["ihc"], **FAST)
    start = _losses(feats, images["content"], images["content"], [images["ihc"]])
    end = _losses(feats, out, images["content"], [images["ihc"]])
    assert end["style"] < 0.5 * start["style"], (start, end)
    assert end["content"] < 0.6  # relative error of the content features: the cat is still there
    assert isinstance(out, Image.Image) and out.size == images["content"].size


def test_a_tile_covering_the_image_is_the_untiled_run(images):
    a = fd.style_transfer(images["content"], images["ihc"], tile_size=None, **FAST)
    b = fd.style_transfer(images["content"], images["ihc"], tile_size=512, **FAST)
    assert np.array_equal(np.asarray(a), np.asarray(b))
    again = fd.style_transfer(images["content"], images["ihc"], tile_size=None, **{**FAST, "init": "noise"})
    assert np.array_equal(
        np.asarray(again),
        np.asarray(fd.style_transfer(images["content"], images["ihc"], tile_size=None, **{**FAST, "init": "noise"})),
    )


def test_exact_gram_loss_and_gradient_across_tiles(feats):
    f, o = feats
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(1, 3, 320, 416, generator=gen)
    whole = E.grams(f, x, o.style_layers, None)
    tiled = E.grams(f, x, o.style_layers, 256)  # cores of the 96 px halo: 4 x 5 tiles
    assert len(tiles((320, 416), 256, f.halo, f.stride, f.min_side)) == 20 and f.halo == 96
    for k in whole:
        assert float((whole[k] - tiled[k]).norm() / whole[k].norm()) < 1e-5, k
    style = torch.rand(1, 3, 160, 160, generator=gen)
    t1 = E.Targets(
        f, x, E.style_regions(f, [style], (1.0,), o.style_layers, None), o.style_layers, o.content_layers, None
    )
    t2 = E.Targets(
        f, x, E.style_regions(f, [style], (1.0,), o.style_layers, 256), o.style_layers, o.content_layers, 256
    )
    y = (x + 0.1 * torch.randn(x.shape, generator=gen)).clamp(0, 1)
    l1, p1, g1 = E.loss_and_grad(y, t1, W)
    l2, p2, g2 = E.loss_and_grad(y, t2, W)
    assert abs(l1 - l2) < 1e-5 * l1 and abs(p1["content"] - p2["content"]) < 1e-5 * p1["content"]
    assert float((g1 - g2).abs().max() / g1.abs().max()) < 1e-4


def test_several_styles_follow_their_weights(images, feats):
    a, b = images["ihc"], images["hubble"]
    toward_a = fd.style_transfer(images["content"], [a, b], style_weights=[1.0, 0.1], **FAST)
    toward_b = fd.style_transfer(images["content"], [a, b], style_weights=[0.1, 1.0], **FAST)
    la = [_losses(feats, x, images["content"], [a])["style"] for x in (toward_a, toward_b)]
    lb = [_losses(feats, x, images["content"], [b])["style"] for x in (toward_a, toward_b)]
    assert la[0] < la[1] and lb[1] < lb[0], (la, lb)


def _chroma(img) -> np.ndarray:
    a = np.asarray(img, dtype=np.float64)
    y = a @ np.array([0.299, 0.587, 0.114])
    return np.stack([(a[..., 2] - y) * 0.564, (a[..., 0] - y) * 0.713], -1)


def test_preserve_colors_keeps_the_content_chroma(images):
    out = fd.style_transfer(images["content"], images["hubble"], preserve_colors=True, **FAST)
    assert np.abs(_chroma(out) - _chroma(images["content"])).max() <= 0.51
    assert np.abs(np.asarray(out, float) - np.asarray(images["content"], float)).mean() > 3  # styled
    matched = fd.style_transfer(images["content"], images["hubble"], color_match=True, **FAST)
    plain = fd.style_transfer(images["content"], images["hubble"], **FAST)
    c = np.asarray(images["content"], float).reshape(-1, 3).mean(0)
    assert (
        np.abs(np.asarray(matched, float).reshape(-1, 3).mean(0) - c).max()
        < np.abs(np.asarray(plain, float).reshape(-1, 3).mean(0) - c).max()
    )


def test_kinds_sizes_and_a_custom_model(images):
    arr = np.array(images["content"])
    out = fd.style_transfer(arr, np.asarray(images["ihc"]), octaves=1, steps=2, seed=0)
    assert out.shape == arr.shape and out.dtype == np.uint8
    t = torch.from_numpy(arr).permute(2, 0, 1).float() / 255
    out = fd.style_transfer(t, images["ihc"], octaves=1, steps=2, seed=0)
    assert out.shape == t.shape and out.dtype == t.dtype
    rgba = images["content"].convert("RGBA")
    big = fd.style_transfer(rgba, images["ihc"], size=160, octaves=2, steps=2, seed=0)
    assert big.size == (160, 106) and big.mode == "RGBA"
    net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 3, stride=2, padding=1), nn.ReLU())
    out = fd.style_transfer(
        images["content"],
        images["ihc"],
        model=net,
        style_layers=["1", "3"],
        content_layers=["3"],
        octaves=1,
        steps=2,
        seed=0,
    )
    assert out.size == images["content"].size
    assert all(p.requires_grad for p in net.parameters()) and net.training  # the user's model is untouched


@pytest.mark.parametrize(
    "style, kwargs, exc, words",
    [
        ([], {}, ValueError, "at least one style image"),
        ("/no/such/style.png", {}, FileNotFoundError, "no such file"),
        ("IHC", dict(style_weights=[1.0, 2.0]), ValueError, "2 weight"),
        ("IHC", dict(style_weights=[-1.0]), ValueError, r"style_weights\[0\] must be a finite number >= 0"),
        ("IHC", dict(init="zeros"), ValueError, "init must be one of"),
        ("IHC", dict(init=3), TypeError, "init must be one of"),  # (the wrong type: it was a ValueError)
        ("IHC", dict(content_layers=[]), ValueError, "content_layers must name at least one layer"),
        ("IHC", dict(steps=0), ValueError, "steps must be >= 1"),
        ("IHC", dict(lr=2), ValueError, r"lr must be <= 1, got 2"),  # (as the trainers': it painted noise)
        # (the photo came back, said to be painted: only ratios matter)
        ("IHC", dict(content_weight=1e-10, style_weight=3e-10, tv_weight=4e-10), ValueError, "all under 0.0001"),
        ("IHC", dict(tile_size=-1), ValueError, r"tile_size must be >= 32, got -1 \(None: no tiling\)"),
        ("IHC", dict(size=16), ValueError, "below what the network needs"),
        ("IHC", dict(style_weight=float("nan")), ValueError, "style_weight must be a finite number"),
        ("IHC", dict(preserve_colors=True, color_match=True), ValueError, "alternatives"),
        ("IHC", dict(model=nn.Conv2d(3, 3, 1)), ValueError, "custom model needs both"),
        ("IHC", dict(style_layers=["nope"]), ValueError, "unknown layer"),
        # (merged without a word: a user repeating a layer to weight it more got nothing)
        ("IHC", dict(style_layers=["_blocks.5", "_blocks.5"]), ValueError, "'_blocks.5' is given twice"),
        ("IHC", dict(content_layers=["_blocks.10", "_blocks.10"]), ValueError, "content_layers: '_blocks.10'"),
        # (its first picture alone was painted with)
        ("BATCH", {}, ValueError, "style: one image at a time, got a batch of 2; give several styles as a list"),
        ("IHC", dict(stylez=1), TypeError, r"unknown option\(s\) \['stylez'\]; style options are: style_weights, "),
    ],
)
def test_bad_inputs_are_clear_errors(images, style, kwargs, exc, words):
    style = images["ihc"] if style == "IHC" else style
    if style == "BATCH":
        style = fd.io.load(images["ihc"]).rgb.expand(2, -1, -1, -1)
    with pytest.raises(exc, match=words):
        fd.style_transfer(images["content"], style, **{**FAST, **kwargs})


def test_default_layers_are_block_outputs_of_the_default_model():
    assert all(name.startswith("_blocks.") for name in STYLE_LAYERS)


def test_a_layer_dead_at_the_probes_centre_is_not_an_error():
    """A ReLU that is 0 around the probe's centre has no gradient there to measure the support
    from (a max() of nothing before): its neighbours' are used, or, dead there too, none."""
    dead = nn.Conv2d(3, 4, 3, padding=1)
    nn.init.constant_(dead.bias, -1e3)  # 0 after the ReLU for any input in [0, 1]
    net = nn.Sequential(dead, nn.ReLU(), nn.Conv2d(4, 4, 3, stride=2, padding=1), nn.ReLU()).eval()
    with Frozen(net):
        f = Features(net, ["1", "3"], torch.device("cpu"))
        x = torch.rand(1, 3, 64, 96, generator=torch.Generator().manual_seed(0))
        whole, tiled = (E.grams(f, x, ["1", "3"], t) for t in (None, 48))
    assert all(torch.allclose(whole[k], tiled[k], rtol=1e-5, atol=1e-8) for k in whole)


def test_every_loss_weight_zero_is_refused():
    """It returned the photo unchanged, byte for byte."""
    img = np.zeros((40, 40, 3), np.uint8)
    with pytest.raises(ValueError, match="are all 0, so there is nothing to paint"):
        fd.style_transfer(img, img, content_weight=0, style_weight=0, tv_weight=0, steps=1, octaves=1)


def test_a_style_scale_below_the_networks_floor_says_so_once(images):
    """style_scale=0.001 painted as 0.33 would, without a word: the option seemed to do nothing."""
    with pytest.warns(
        fd.FastdreamWarning, match=r"the styles at style_scale=0.001 would be .* they are used at"
    ) as said:
        fd.style_transfer(images["content"], images["ihc"], steps=1, octaves=1, style_scale=0.001, seed=0)
    assert len([w for w in said if "style_scale" in str(w.message)]) == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fd.style_transfer(images["content"], images["ihc"], steps=1, octaves=1, style_scale=0.5, seed=0)


@pytest.mark.parametrize("name", ["content_layers", "style_layers"])
def test_an_unknown_layer_of_either_loss_is_said_of_its_own_parameter(name):
    """It was said of "layers", which style_transfer does not take."""
    with pytest.raises(ValueError, match=rf"^{name}: unknown layer name\(s\) \['nope'\]"):
        fd.style_transfer(torch.rand(3, 64, 64), [torch.rand(3, 64, 64)], steps=1, octaves=1, **{name: ["nope"]})


def test_the_command_says_a_seed_only_where_one_seeds_something(tmp_path, capsys):
    """From the content (the default) every seed paints the same picture, yet one was drawn and
    said with it: an artist tried seeds for variations and got none."""
    from fastdream.cli import main

    Image.new("RGB", (64, 48), (200, 120, 40)).save(tmp_path / "c.png")
    Image.new("RGB", (32, 32), (20, 60, 200)).save(tmp_path / "s.png")
    args = ["style", str(tmp_path / "c.png"), str(tmp_path / "s.png"), "--octaves", "1", "--steps", "1", "-q"]
    assert main([*args, "-o", str(tmp_path / "a.png")]) == 0
    assert capsys.readouterr().out.strip() == f"wrote {tmp_path / 'a.png'} (64x48)"
    assert main([*args, "-o", str(tmp_path / "b.png"), "--init", "noise"]) == 0
    assert re.fullmatch(
        rf"wrote {re.escape(str(tmp_path / 'b.png'))} \(64x48, seed \d+\)", capsys.readouterr().out.strip()
    )


def test_a_gray_content_is_painted_in_a_colorful_styles_colors():
    """A gray photo styled with a painting came back gray: the painting's colors thrown away. It
    stays gray with preserve_colors or a gray style; its kind and alpha are kept."""
    rng = np.random.default_rng(0)
    gray = (rng.random((48, 64)) * 255).astype(np.uint8)
    painting = np.zeros((48, 48, 3), np.uint8)
    painting[..., 0], painting[::2, :, 2] = 220, 200  # red, blue stripes
    quick = dict(octaves=1, steps=2, seed=0)

    def colored(x) -> bool:
        x = np.asarray(x, np.float64)
        return x.ndim == 3 and x.shape[-1] >= 3 and float(np.abs(x[..., 0] - x[..., 1]).max()) > 10

    out = fd.style_transfer(Image.fromarray(gray), painting, **quick)
    assert out.mode == "RGB" and colored(out)
    array = fd.style_transfer(gray, painting, **quick)
    assert array.shape == (48, 64, 3) and array.dtype == np.uint8 and colored(array)
    t = fd.style_transfer(torch.from_numpy(gray / 255.0)[None], painting, **quick)
    assert t.shape == (3, 48, 64) and t.dtype == torch.float64 and colored(t.permute(1, 2, 0) * 255)
    la = Image.fromarray(np.stack([gray, np.full_like(gray, 128)], -1), "LA")
    rgba = fd.style_transfer(la, painting, **quick)
    assert rgba.mode == "RGBA" and np.asarray(rgba)[..., 3].max() == 128
    assert fd.style_transfer(Image.fromarray(gray), painting, preserve_colors=True, **quick).mode == "L"
    # (color matching gives the styles the content's gray: painted in color it was color noise)
    assert fd.style_transfer(Image.fromarray(gray), painting, color_match=True, **quick).mode == "L"
    assert fd.style_transfer(Image.fromarray(gray), gray[:, :48], **quick).mode == "L"  # a gray style
    tinted = np.repeat(gray[:, :48, None], 3, -1)
    tinted[0, 0] = (131, 128, 128)  # one tinted pixel is no painting's color
    assert fd.style_transfer(Image.fromarray(gray), tinted, **quick).mode == "L"
    # Its own alpha and layout: a float64 alpha exactly, a channels-last batch stays so.
    ga = torch.rand(1, 2, 48, 64, dtype=torch.float64).contiguous(memory_format=torch.channels_last)
    out = fd.style_transfer(ga, painting, **quick)
    assert out.shape == (1, 4, 48, 64) and torch.equal(out[:, 3], ga[:, 1])
    assert out.is_contiguous(memory_format=torch.channels_last)
    la64 = np.stack([gray / 255.0, np.linspace(0, 1, gray.size).reshape(gray.shape)], -1)
    assert np.array_equal(fd.style_transfer(la64, painting, **quick)[..., 3], la64[..., 1])


def test_a_gray_video_is_painted_in_a_colorful_styles_colors(tmp_path):
    frames = tmp_path / "frames"
    frames.mkdir()
    rng = np.random.default_rng(1)
    for k in range(2):
        Image.fromarray((rng.random((32, 40)) * 255).astype(np.uint8)).save(frames / f"{k}.png")
    painting = np.zeros((32, 32, 3), np.uint8)
    painting[..., 0] = 220
    fd.style_video(frames, painting, tmp_path / "v.gif", octaves=1, steps=2, seed=0)
    first = np.asarray(Image.open(tmp_path / "v_frames" / "frame_00000.png").convert("RGB"), np.float64)
    assert float(np.abs(first[..., 0] - first[..., 1]).max()) > 10


def test_a_transparent_style_paints_with_what_shows(tmp_path):
    """The colors hidden under a style's transparent part (black, in many editors' cutouts)
    darkened the painting: two files that look the same painted differently, without a word."""
    rng = np.random.default_rng(0)
    content = (rng.random((48, 48, 3)) * 255).astype(np.uint8)
    swatch = np.zeros((64, 64, 4), np.uint8)
    swatch[..., :3] = (rng.random((64, 64, 3)) * 255).astype(np.uint8)
    swatch[16:48, 16:48, 3] = 255
    under_white = swatch.copy()
    under_white[swatch[..., 3] == 0, :3] = 255
    quick = dict(octaves=1, steps=3, seed=0)
    with pytest.warns(UserWarning, match=r"^style: its transparent part \(75% of it\) is put on white"):
        a = fd.style_transfer(content, swatch, **quick)
    with pytest.warns(UserWarning, match="put on white"):
        b = fd.style_transfer(content, under_white, **quick)
    assert np.array_equal(a, b)
    swatch[..., 3] = 0
    with pytest.raises(ValueError, match=r"^style: the picture is fully transparent"):
        fd.style_transfer(content, swatch, **quick)
    with pytest.warns(UserWarning, match=r"^style: 300x1 px is stretched"):  # (its strokes: 32 rows of streaks)
        fd.style_transfer(content, np.zeros((1, 300, 3), np.uint8), **quick)


def test_the_picture_so_far_keeps_the_contents_proportions(images):
    """The working size is rounded to the network's stride (a 90x61 content works at 96x64): the
    picture a callback or Ctrl-C got was stretched by it."""
    content = images["content"].resize((90, 61))
    with pytest.raises(fd.Cancelled) as stop:
        fd.style_transfer(content, images["ihc"], octaves=1, steps=2, seed=0, callback=lambda s: False)
    w, h = stop.value.image.size
    assert abs(w / h - 90 / 61) < 0.02, (w, h)
