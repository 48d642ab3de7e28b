"""extract_tiles / blend_tiles: native vs reference, the roll convention, and seamless weights."""

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import fastdream as fd
from tests.conftest import layouts, max_rel_err, needs_native

BACKENDS = ["reference", pytest.param("native", marks=needs_native)]


def _both(fn):
    with fd.use_backend("reference"):
        expected = fn()
    with fd.use_backend("native"):
        actual = fn()
    return actual, expected


@needs_native
@given(
    n=st.integers(1, 3),
    c=st.integers(1, 4),
    h=st.integers(8, 90),
    w=st.integers(8, 90),
    tile=st.integers(8, 64),
    ry=st.integers(-200, 200),
    rx=st.integers(-200, 200),
    channels_last=st.booleans(),
    seed=st.integers(0, 2**31 - 1),
)
def test_matches_reference_random(n, c, h, w, tile, ry, rx, channels_last, seed):
    gen = torch.Generator().manual_seed(seed)
    layout = "channels_last" if channels_last else "nchw"
    image = layouts(torch.rand(n, c, h, w, generator=gen), layout)
    grid = fd.ops.tile_grid((h, w), tile)
    tiles, tiles_ref = _both(lambda: fd.ops.extract_tiles(image, grid, roll=(ry, rx)))
    assert torch.equal(tiles, tiles_ref)
    assert tiles.is_contiguous(memory_format=torch.channels_last if channels_last else torch.contiguous_format)
    values = layouts(torch.randn(tiles.shape, generator=gen), layout)
    out, out_ref = _both(lambda: fd.ops.blend_tiles(values, grid, roll=(ry, rx)))
    assert out.shape == (n, c, h, w)
    assert max_rel_err(out, out_ref) <= 1e-5


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("shape, tile", [((2, 3, 255, 257), 64), ((1, 3, 37, 53), 16), ((1, 1, 40, 40), 128)])
def test_blend_inverts_extract(backend, shape, tile):
    image = torch.rand(shape)
    grid = fd.ops.tile_grid(shape[-2:], tile)
    with fd.use_backend(backend):
        back = fd.ops.blend_tiles(fd.ops.extract_tiles(image, grid, roll=(11, -7)), grid, roll=(11, -7))
    assert torch.allclose(back, image, atol=1e-6)


@pytest.mark.parametrize("backend", BACKENDS)
def test_roll_convention_is_torch_roll(backend):
    image = torch.rand(1, 2, 20, 30)
    grid = fd.ops.tile_grid((20, 30), 10, overlap=2)
    with fd.use_backend(backend):
        tiles = fd.ops.extract_tiles(image, grid, roll=(3, 5))
    rolled = torch.roll(image, shifts=(3, 5), dims=(-2, -1))
    r, q = 1, 2
    k = r * len(grid.xs) + q
    y, x = grid.ys[r], grid.xs[q]
    assert torch.equal(tiles[k], rolled[0, :, y : y + grid.tile_h, x : x + grid.tile_w])


def test_grid_weights_sum_to_one_and_cover_the_image():
    for size, tile in [((512, 512), 128), ((300, 1000), 96), ((50, 33), 200), ((129, 257), 64)]:
        g = fd.ops.tile_grid(size, tile)
        for starts, weights, length, t in [
            (g.ys, g.weight_y, size[0], g.tile_h),
            (g.xs, g.weight_x, size[1], g.tile_w),
        ]:
            total = torch.zeros(length)
            for s, w in zip(starts, weights):
                total[s : s + t] += w
            assert torch.allclose(total, torch.ones(length), atol=1e-6)
            assert starts[0] == 0 and starts[-1] + t == length
            assert (weights >= 0).all()
    # the fewest tiles of at most the asked size, shrunk to split the image evenly
    g = fd.ops.tile_grid((683, 1024), 512)
    assert (len(g.ys), len(g.xs)) == (2, 3) and g.tile_h <= 512 and g.tile_w <= 512
    assert g.count * g.tile_h * g.tile_w < 1.3 * 683 * 1024
    one = fd.ops.tile_grid((50, 33), 200)
    assert one.count == 1 and (one.tile_h, one.tile_w) == (50, 33) and bool((one.weight_y == 1).all())


def test_bad_arguments():
    g = fd.ops.tile_grid((64, 64), 32)
    with pytest.raises(ValueError, match="grid"):
        fd.ops.extract_tiles(torch.rand(1, 3, 65, 64), g)
    with pytest.raises(TypeError, match="grid"):
        fd.ops.extract_tiles(torch.rand(1, 3, 64, 64), (32, 32))
    with pytest.raises(ValueError, match="tiles"):
        fd.ops.blend_tiles(torch.rand(5, 3, 32, 32), g)
    with pytest.raises(TypeError, match="roll"):
        fd.ops.extract_tiles(torch.rand(1, 3, 64, 64), g, roll=(1.5, 0))
    with pytest.raises(ValueError, match="tile_size"):
        fd.ops.tile_grid((64, 64), 4)
    with pytest.raises(TypeError, match="image"):
        fd.ops.extract_tiles(torch.zeros(1, 3, 64, 64, dtype=torch.uint8), g)
