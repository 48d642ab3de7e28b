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
