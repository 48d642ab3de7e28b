"""Degenerate and extreme inputs the fuzzing found (docs/errors.md): a result or a clear error."""

import pytest
import torch

import fastdream as fd


@pytest.mark.parametrize("shape", [(0, 3, 5, 5), (1, 3, 0, 5), (2, 3, 4, 0)])
def test_empty_tensors_are_a_no_op(shape):
    x = torch.rand(shape)
    assert fd.ops.ascent_step_(x, torch.rand(shape), 0.1).shape == shape
    assert fd.ops.laplacian_normalize(x).shape == shape
    assert fd.ops.smooth_gradient(x, 1.0).shape == shape
    assert fd.ops.zoom_shift(x, zoom=2.0, shift=(1.0, 1.0), angle=1.0).shape == shape


def test_extreme_numbers():
    g = torch.rand(1, 3, 7, 7)
    assert torch.isfinite(fd.ops.smooth_gradient(g, 1e308)).all()
    with pytest.raises(ValueError, match="at most"):
        fd.ops.tile_grid((2**62, 5), 8)
    half = fd.ops.zoom_shift(torch.rand(1, 3, 4, 5).bfloat16(), zoom=0.5, shift=(0.0, -1e308), angle=1e6)
    assert half.dtype == torch.bfloat16 and half.shape == (1, 3, 4, 5)


def test_color_match_of_one_pixel_matches_the_mean():
    out, src = torch.full((1, 3, 1, 1), 0.2), torch.full((1, 3, 1, 1), 0.7)
    assert torch.allclose(fd.ops.match_colors(out, src), src)


def test_color_match_of_a_two_tone_picture_adds_no_grain():
    """A picture of two tones (here: yellow to blue stripes, in 8 bits) has next to no color
    variance across their line; matched to a photo's colors, that direction was scaled up ~300x,
    and the 8-bit rounding became a grain over the whole picture."""
    t = (torch.arange(96.0) / 6).sin().mul(0.5).add(0.5).view(1, 1, 1, 96).expand(1, 1, 64, 96)
    yellow, blue = torch.tensor([0.95, 0.85, 0.1]).view(1, 3, 1, 1), torch.tensor([0.1, 0.2, 0.9]).view(1, 3, 1, 1)
    gen = torch.Generator().manual_seed(0)
    dither = torch.rand(1, 3, 64, 96, generator=gen) - 0.5  # (each pixel rounds its own way, as a render's)
    stripes = (t * yellow + (1 - t) * blue).mul(255).add(dither).round().div(255)
    from skimage import data

    photo = torch.from_numpy(data.chelsea()).permute(2, 0, 1).float()[None] / 255
    matched = fd.ops.match_colors(stripes, photo)
    # Along a stripe (down a column) the picture is one color: matched, it keeps within a few
    # levels of one (14 levels before the floor; a floor that left it at 1 moved photos by 2).
    assert float(matched.std(dim=2).mean()) < 4 / 255
    assert float(matched.std(dim=3).mean()) > 0.02  # (the stripes are still there)


def test_color_match_of_photos_is_as_before_the_floor():
    """The floor against grain must leave photos alone: their weakest color direction holds
    0.07-1% of the largest (an earlier floor of 1% moved them by up to 3 levels)."""
    from skimage import data

    from fastdream.ops import reference

    def t(a):
        return torch.from_numpy(a[..., :3].copy()).permute(2, 0, 1).float()[None] / 255

    src = t(data.chelsea())
    for photo in (data.astronaut(), data.coffee(), data.rocket(), data.immunohistochemistry(), data.retina()):
        floored = fd.ops.match_colors(t(photo), src)
        with pytest.MonkeyPatch.context() as m:
            m.setattr(reference, "FLAT_SHARE", 0.0)
            m.setattr(reference, "FLAT_VARIANCE", 0.0)
            plain = fd.ops.match_colors(t(photo), src)
        assert float((floored - plain).abs().mean()) * 255 < 0.5
