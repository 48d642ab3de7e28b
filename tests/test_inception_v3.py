"""InceptionV3 (fastdream.models.load("inception_v3")): torchvision's key layout, its input
convention, Keras' layer names, output shapes, its dream build, and dreams of mixed3/5/7."""

import warnings

import numpy as np
import pytest
import torch
from torch import nn

import fastdream as fd
from fastdream.models import InceptionV3, load
from fastdream.models.build import dream_build
from fastdream.models.taps import LayerTaps


def _convs() -> dict[str, tuple[int, int, int, int]]:
    """Every BasicConv2d of torchvision's Inception3 (aux classifier off), name -> (in, out, kh, kw),
    transcribed from torchvision/models/inception.py (Inception3.__init__ and InceptionA..E)."""
    convs = {
        "Conv2d_1a_3x3": (3, 32, 3, 3),
        "Conv2d_2a_3x3": (32, 32, 3, 3),
        "Conv2d_2b_3x3": (32, 64, 3, 3),
        "Conv2d_3b_1x1": (64, 80, 1, 1),
        "Conv2d_4a_3x3": (80, 192, 3, 3),
    }
    for m, cin, pool in (("Mixed_5b", 192, 32), ("Mixed_5c", 256, 64), ("Mixed_5d", 288, 64)):  # InceptionA
        convs |= {
            f"{m}.branch1x1": (cin, 64, 1, 1),
            f"{m}.branch5x5_1": (cin, 48, 1, 1),
            f"{m}.branch5x5_2": (48, 64, 5, 5),
            f"{m}.branch3x3dbl_1": (cin, 64, 1, 1),
            f"{m}.branch3x3dbl_2": (64, 96, 3, 3),
            f"{m}.branch3x3dbl_3": (96, 96, 3, 3),
            f"{m}.branch_pool": (cin, pool, 1, 1),
        }
    convs |= {  # InceptionB
        "Mixed_6a.branch3x3": (288, 384, 3, 3),
        "Mixed_6a.branch3x3dbl_1": (288, 64, 1, 1),
        "Mixed_6a.branch3x3dbl_2": (64, 96, 3, 3),
        "Mixed_6a.branch3x3dbl_3": (96, 96, 3, 3),
    }
    for m, c7 in (("Mixed_6b", 128), ("Mixed_6c", 160), ("Mixed_6d", 160), ("Mixed_6e", 192)):  # InceptionC
        convs |= {
            f"{m}.branch1x1": (768, 192, 1, 1),
            f"{m}.branch7x7_1": (768, c7, 1, 1),
            f"{m}.branch7x7_2": (c7, c7, 1, 7),
            f"{m}.branch7x7_3": (c7, 192, 7, 1),
            f"{m}.branch7x7dbl_1": (768, c7, 1, 1),
            f"{m}.branch7x7dbl_2": (c7, c7, 7, 1),
            f"{m}.branch7x7dbl_3": (c7, c7, 1, 7),
            f"{m}.branch7x7dbl_4": (c7, c7, 7, 1),
            f"{m}.branch7x7dbl_5": (c7, 192, 1, 7),
            f"{m}.branch_pool": (768, 192, 1, 1),
        }
    convs |= {  # InceptionD
        "Mixed_7a.branch3x3_1": (768, 192, 1, 1),
        "Mixed_7a.branch3x3_2": (192, 320, 3, 3),
        "Mixed_7a.branch7x7x3_1": (768, 192, 1, 1),
        "Mixed_7a.branch7x7x3_2": (192, 192, 1, 7),
        "Mixed_7a.branch7x7x3_3": (192, 192, 7, 1),
        "Mixed_7a.branch7x7x3_4": (192, 192, 3, 3),
    }
    for m, cin in (("Mixed_7b", 1280), ("Mixed_7c", 2048)):  # InceptionE
        convs |= {
            f"{m}.branch1x1": (cin, 320, 1, 1),
            f"{m}.branch3x3_1": (cin, 384, 1, 1),
            f"{m}.branch3x3_2a": (384, 384, 1, 3),
            f"{m}.branch3x3_2b": (384, 384, 3, 1),
            f"{m}.branch3x3dbl_1": (cin, 448, 1, 1),
            f"{m}.branch3x3dbl_2": (448, 384, 3, 3),
            f"{m}.branch3x3dbl_3a": (384, 384, 1, 3),
            f"{m}.branch3x3dbl_3b": (384, 384, 3, 1),
            f"{m}.branch_pool": (cin, 192, 1, 1),
        }
    return convs


def _torchvision_keys(aux: bool = False) -> dict[str, tuple]:
    """The keys and shapes of ``torchvision.models.inception_v3(aux_logits=aux).state_dict()``."""
    convs = _convs()
    if aux:  # InceptionAux: conv0 1x1 768 -> 128, conv1 5x5 128 -> 768, fc 768 -> 1000
        convs |= {"AuxLogits.conv0": (768, 128, 1, 1), "AuxLogits.conv1": (128, 768, 5, 5)}
    keys = {}
    for name, (cin, cout, kh, kw) in convs.items():
        keys[f"{name}.conv.weight"] = (cout, cin, kh, kw)
        for p in ("weight", "bias", "running_mean", "running_var"):
            keys[f"{name}.bn.{p}"] = (cout,)
        keys[f"{name}.bn.num_batches_tracked"] = ()
    if aux:
        keys |= {"AuxLogits.fc.weight": (1000, 768), "AuxLogits.fc.bias": (1000,)}
    return keys | {"fc.weight": (1000, 2048), "fc.bias": (1000,)}


@pytest.fixture(scope="module")
def net():
    return InceptionV3().eval()


def test_torchvision_layout():
    with torch.device("meta"):
        m = InceptionV3()
    sd = {k: tuple(v.shape) for k, v in m.state_dict().items()}
    assert sd == _torchvision_keys()
    assert len(_convs()) == 94 and sum(p.numel() for p in m.parameters()) == 23_834_568  # torchvision's, no aux


def test_a_torchvision_file_loads_with_its_aux_classifier(tmp_path, net):
    sd = net.state_dict()
    aux = {k: torch.randn(s) if s else torch.tensor(0) for k, s in _torchvision_keys(aux=True).items() if "Aux" in k}
    path = tmp_path / "inception_v3_google.pth"
    torch.save({**sd, **aux}, path)  # what torch.save(torchvision.models.inception_v3(weights=...).state_dict()) holds
    loaded = load("inception_v3", weights=path)
    assert not loaded.training and not any(p.requires_grad for p in loaded.parameters())
    x = torch.randn(1, 3, 96, 107)
    torch.testing.assert_close(loaded(x), net(x))
    sd.pop("Mixed_6e.branch_pool.conv.weight")
    torch.save(sd, path)
    with pytest.raises(ValueError, match=r"does not fit inception_v3: 1 missing key\(s\) \(Mixed_6e.branch_pool"):
        load("inception_v3", weights=path)


def test_input_convention_and_default_layers():
    with torch.device("meta"):
        net, imagenet = InceptionV3(), InceptionV3(transform_input=False)
    assert net.input_mean == net.input_std == (0.5, 0.5, 0.5)  # (x - 0.5) / 0.5: [-1, 1]
    assert imagenet.input_mean == fd.models.taps.IMAGENET_MEAN
    assert InceptionV3.dream_layers == ("mixed3", "mixed5", "mixed7")


def _grid(side: int) -> tuple[int, int, int]:
    """The 35-, 17- and 8-grid sizes for an input side, by torchvision's convolution arithmetic."""
    s = (side - 3) // 2 + 1 - 2  # Conv2d_1a (stride 2), Conv2d_2a
    s = (s - 3) // 2 + 1 - 2  # maxpool1, Conv2d_4a
    s = (s - 3) // 2 + 1  # maxpool2
    return s, (s - 3) // 2 + 1, ((s - 3) // 2 + 1 - 3) // 2 + 1


@pytest.mark.parametrize("h, w", [(299, 299), (75, 75), (131, 97)])
def test_output_shapes_and_keras_names(net, h, w):
    names = ["mixed0", "mixed2", "mixed3", "Mixed_6c", "mixed7", "mixed8", "mixed10"]
    acts = LayerTaps(net, names)(torch.randn(2, 3, h, w))
    (a35, b35), (a17, b17), (a8, b8) = zip(_grid(h), _grid(w))
    expected = [(256, a35, b35), (288, a35, b35), (768, a17, b17), (768, a17, b17)]
    expected += [(768, a17, b17), (1280, a8, b8), (2048, a8, b8)]
    assert [tuple(a.shape) for a in acts] == [(2, *e) for e in expected]
    if h == 299:
        assert (a35, a17, a8) == (35, 17, 8)  # torchvision's comments: 35x35, 17x17, 8x8
    assert net(torch.randn(1, 3, h, w)).shape == (1, 1000)
    with pytest.raises(ValueError, match="at least 75x75 px, got 74x80"):
        net(torch.randn(1, 3, 80, 74))


def test_keras_names_are_the_same_modules(net):
    modules = dict(net.named_modules())
    order = [n for n in modules if n.startswith("Mixed_") and "." not in n]
    assert [net.layer_aliases[f"mixed{i}"] for i in range(11)] == order
    x = torch.randn(1, 3, 96, 96)
    a, b = LayerTaps(net, ["mixed5", "Mixed_6c"])(x)
    assert a is b


def test_the_dream_build_folds_every_batchnorm_and_stops_at_the_deepest_tap(net):
    built = dream_build(net, ["mixed3", "mixed5", "mixed7"])
    kept = [m for name, m in built.named_modules() if not name.startswith(("Mixed_7", "fc", "avgpool"))]
    assert not any(isinstance(m, nn.BatchNorm2d) for m in kept)
    assert type(built.Mixed_6e.branch7x7dbl_5.bn) is nn.Identity  # the build passed its activation check
    assert type(built.Mixed_7a).__name__ == "Truncated"
    assert type(built.Conv2d_1a_3x3.conv).__name__ == "PhaseGradConv2d"  # the stride-2 image stem
    assert isinstance(net.Mixed_6e.branch1x1.bn, nn.BatchNorm2d)  # the user's model is not changed


def test_a_dream_of_mixed3_5_7(net):
    img = (np.random.default_rng(0).random((90, 104, 3)) * 255).astype(np.uint8)
    with pytest.warns(UserWarning, match="using 1 of 3 octaves"):  # none under the network's 75 px
        out = fd.dream(img, model=net, octaves=3, steps=2, seed=0)
    assert out.shape == img.shape and np.abs(out.astype(int) - img).mean() > 0.3
    same = fd.dream(img, ["mixed3", "mixed5", "mixed7"], model=net, octaves=1, steps=2, seed=0)
    assert np.array_equal(out, same)  # its dream_layers are the Keras names
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fd.dream(img, ["Mixed_6a:5", "mixed7:top2"], model=net, octaves=1, steps=1, seed=0)
    # One layer under its two names was taken twice (and mixed3=1 Mixed_6a=-1 cancelled to nothing).
    for twice in (["mixed3", "Mixed_6a"], {"mixed3": 1, "Mixed_6a": -1}):
        with pytest.raises(ValueError, match=r"^layers: 'mixed3' and 'Mixed_6a' are the same layer \(Mixed_6a\)"):
            fd.dream(img, twice, model=net, octaves=1, steps=1, seed=0)


def test_list_layers_shows_the_keras_names_and_unknown_ones_are_refused(capsys, net):
    from fastdream.cli import main

    assert main(["dream", "--list-layers", "--model", "inception_v3"]) == 0
    lines = capsys.readouterr().out.splitlines()
    shown = {line.split()[0]: line for line in lines if line.startswith("Mixed_")}
    assert "(mixed3)" in shown["Mixed_6a"] and shown["Mixed_6a"].endswith("(default)")
    assert "(mixed10)" in shown["Mixed_7c"] and "2048" in shown["Mixed_7c"] and "default" not in shown["Mixed_7c"]
    with pytest.raises(ValueError, match=r"unknown layer name\(s\) \['mixed11'\].*mixed10"):
        LayerTaps(net, ["mixed11"])


def test_style_transfer_takes_a_models_aliases():
    net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 3, stride=2, padding=1), nn.ReLU())
    net.layer_aliases = {"low": "1", "high": "3"}
    c = (np.random.default_rng(0).random((48, 64, 3)) * 255).astype(np.uint8)
    s = (np.random.default_rng(1).random((48, 48, 3)) * 255).astype(np.uint8)
    kw = dict(model=net, octaves=1, steps=2, seed=0)
    a = fd.style_transfer(c, s, content_layers=["high"], style_layers=["low", "high"], **kw)
    b = fd.style_transfer(c, s, content_layers=["3"], style_layers=["1", "3"], **kw)
    assert np.array_equal(a, b)


def test_style_features_of_an_unpadded_network_have_side_over_stride(net):
    """InceptionV3's unpadded convolutions shrink its maps; style transfer pads the input by
    reflection and crops each map, centred, to side / stride: the grid of a padded network."""
    from fastdream.models.modes import Frozen
    from fastdream.style.features import Features

    layers = list(InceptionV3.style_layers) + list(InceptionV3.content_layers)
    with Frozen(built := dream_build(net, layers)):
        f = Features(built, layers, torch.device("cpu"))
        feats = f(torch.rand(1, 3, 192, 224, generator=torch.Generator().manual_seed(0)))
    assert f.pad > 0 and f.min_side + 2 * f.pad >= InceptionV3.min_input_side
    for k, v in feats.items():
        assert tuple(v.shape[-2:]) == (192 // f.strides[k], 224 // f.strides[k]), k


def test_style_transfer_tiles_an_unpadded_network_exactly(net):
    """The whole-image loss and gradient equal the tiled ones (the stem's layers: a small halo,
    so several real tiles)."""
    from fastdream.models.modes import Frozen
    from fastdream.style import engine as E
    from fastdream.style.features import Features
    from fastdream.style.tiles import tiles

    style_layers, content_layers = ["Conv2d_2b_3x3", "Conv2d_4a_3x3"], ["Conv2d_4a_3x3"]
    with Frozen(built := dream_build(net, style_layers)):
        f = Features(built, style_layers, torch.device("cpu"))
        assert f.pad > 0
        gen = torch.Generator().manual_seed(0)
        x, style = torch.rand(1, 3, 96, 128, generator=gen), torch.rand(1, 3, 64, 64, generator=gen)
        tile = 2 * f.halo + 2 * f.stride
        assert len(tiles((96, 128), tile, f.halo, f.stride)) >= 4
        targets = [
            E.Targets(f, x, E.style_regions(f, [style], (1.0,), style_layers, t), style_layers, content_layers, t)
            for t in (None, tile)
        ]
        y = (x + 0.1 * torch.randn(x.shape, generator=gen)).clamp(0, 1)
        (l1, p1, g1), (l2, p2, g2) = (E.loss_and_grad(y, t, dict(style=3.0, content=1.0, tv=1.0)) for t in targets)
    assert abs(l1 - l2) < 1e-5 * l1 and abs(p1["content"] - p2["content"]) < 1e-5 * p1["content"]
    assert float((g1 - g2).abs().max() / g1.abs().max()) < 1e-4


def test_a_style_transfer_with_inception_v3_runs_from_its_smallest_octave(net):
    c = (np.random.default_rng(0).random((80, 120, 3)) * 255).astype(np.uint8)
    s = (np.random.default_rng(1).random((64, 64, 3)) * 255).astype(np.uint8)
    out = fd.style_transfer(c, s, model=net, octaves=2, steps=2, seed=0)  # the smaller octave near the least side
    assert out.shape == c.shape and out.dtype == np.uint8 and not np.array_equal(out, c)


@pytest.mark.parametrize("low_memory", [False, True])
def test_tiles_grow_to_the_networks_smallest_side_and_a_smaller_picture_is_one_line(net, low_memory):
    """tile_grid shares the image evenly, so a 64 px tile request gives 56-60 px tiles: under the
    75 px InceptionV3 takes. The dream grows them; a picture under 75 px is refused up front."""
    from fastdream.dream.engine import tile_grid

    for h, w, t in [(80, 200, 64), (200, 200, 32), (333, 97, 75), (76, 1000, 40)]:
        g = tile_grid((h, w), t, net)
        assert min(g.tile_h, g.tile_w) >= 75, (h, w, t)
    photo = (np.random.default_rng(0).random((80, 200, 3)) * 255).astype(np.uint8)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # fewer octaves than asked
        out = fd.dream(photo, model=net, octaves=2, steps=1, tile_size=64, seed=0, low_memory=low_memory)
        assert out.shape == photo.shape
        wide_guide = photo[:40]  # resized for the 64 px tiles: its short side must still reach 75 px
        guided = fd.dream(photo, model=net, octaves=1, steps=1, tile_size=64, guide=wide_guide, low_memory=low_memory)
        assert guided.shape == photo.shape
    with pytest.raises(ValueError, match="the picture is 300x74 px and InceptionV3 takes at least 75 px a side"):
        fd.dream(photo[:74].repeat(2, 1)[:, :300], model=net, steps=1, low_memory=low_memory)


def test_style_tiles_of_a_far_seeing_layer_are_exact_and_few(net):
    """mixed7 depends on input pixels farther away than half the 512 px probe: the probe grows
    until the support fits, so tiled features equal the whole image's; cores are at least the
    halo, so a 512 px tile request does not become hundreds of one-stride tiles."""
    from fastdream.models.modes import Frozen
    from fastdream.style import engine as E
    from fastdream.style.features import Features
    from fastdream.style.tiles import tiles

    with Frozen(built := dream_build(net, ["mixed7"])):
        f = Features(built, ["mixed7"], torch.device("cpu"))
        x = torch.rand(1, 3, 96, 2048, generator=torch.Generator().manual_seed(0))
        assert f.halo > 256 and len(tiles((96, 2048), 1024, f.halo, f.stride, f.min_side)) >= 3
        whole, tiled = (E.assemble(f, x, ["mixed7"], t)["mixed7"] for t in (None, 1024))
    assert float((whole - tiled).abs().max() / whole.abs().max()) < 1e-5
    assert len(tiles((512, 768), 512, 288, 16, 48)) == 1 and len(tiles((1024, 1536), 512, 288, 16, 48)) == 24
