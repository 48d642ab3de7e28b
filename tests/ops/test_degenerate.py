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
    photo = torch.rand(1, 3, 8, 8, generator=gen)
    matched = fd.ops.match_colors(stripes, photo)
    # Along a stripe (down a column) the picture is one color: matched, it stays nearly one.
    assert float(matched.std(dim=2).mean()) < 2 / 255
    assert float(matched.std(dim=3).mean()) > 0.05  # (the stripes are still there)
