"""extract_tiles / blend_tiles: the shared op tests, gradients, the roll convention, seamless weights."""

import pytest
import torch
from hypothesis import strategies as st

import fastdream as fd
from fastdream.ops import reference
from tests.conftest import max_rel_err, needs_native
from tests.ops.tester import Case, OpTests

BACKENDS = ["reference", pytest.param("native", marks=needs_native)]


class _TileOp(OpTests):
    min_hw = 1

    def params(self, h, w):
        return dict(tile=st.integers(8, 48), ry=st.integers(-100, 100), rx=st.integers(-100, 100))

    def fixed_params(self, h, w):
        return dict(tile=8, ry=3, rx=-4)

    @staticmethod
    def grid_roll(case):
        return case.params["grid"], (case.params["ry"], case.params["rx"])


class TestExtractTiles(_TileOp):
    """Parity, layouts, dtypes, opcheck, gradients, torch.compile and CUDA: tests/ops/tester.py."""

    op = "extract_tiles"

    def make(self, gen, n, c, h, w, dtype, params):
        grid = fd.ops.tile_grid((h, w), params["tile"])
        return Case({"image": torch.rand(n, c, h, w, generator=gen, dtype=dtype)}, dict(params, grid=grid))

    def call(self, case):
        grid, roll = self.grid_roll(case)
        return fd.ops.extract_tiles(case.tensors["image"], grid, roll=roll)

    def op_args(self, case):
        (grid, (ry, rx)), image = self.grid_roll(case), case.tensors["image"]
        return (image, list(grid.ys), list(grid.xs), grid.tile_h, grid.tile_w, ry, rx)


class TestBlendTiles(_TileOp):
    """Parity, layouts, dtypes, opcheck, gradients, torch.compile and CUDA: tests/ops/tester.py."""

    op = "blend_tiles"

    def make(self, gen, n, c, h, w, dtype, params):
        grid = fd.ops.tile_grid((h, w), params["tile"])
        tiles = torch.randn(n * grid.count, c, grid.tile_h, grid.tile_w, generator=gen, dtype=dtype)
        return Case({"tiles": tiles}, dict(params, grid=grid))

    def call(self, case):
        grid, roll = self.grid_roll(case)
        return fd.ops.blend_tiles(case.tensors["tiles"], grid, roll=roll)

    def op_args(self, case):
        (grid, (ry, rx)), tiles = self.grid_roll(case), case.tensors["tiles"]
        wy, wx = grid.weight_y.to(tiles.device), grid.weight_x.to(tiles.device)
        return (tiles, list(grid.ys), list(grid.xs), wy, wx, *grid.size, ry, rx)


@needs_native
def test_blend_weight_gradients_match_reference():
    """The grid's weights get gradients on the native path too (as they do on the reference's)."""
    grid = fd.ops.tile_grid((19, 23), 12)
    tiles = torch.randn(2 * grid.count, 3, grid.tile_h, grid.tile_w, dtype=torch.float64)
    out_grad = torch.randn(2, 3, 19, 23, dtype=torch.float64)
    grads = []
    for path in ("native", "reference"):
        wy, wx = grid.weight_y.clone().requires_grad_(), grid.weight_x.clone().requires_grad_()
        t = tiles.clone().requires_grad_()
        if path == "native":
            out = torch.ops.fastdream.blend_tiles(t, list(grid.ys), list(grid.xs), wy, wx, 19, 23, 5, -3)
        else:
            out = reference.blend_tiles(t, grid.ys, grid.xs, wy, wx, (19, 23), (5, -3))
        grads.append(torch.autograd.grad((out * out_grad).sum(), (t, wy, wx)))
    for got, want in zip(*grads):
        assert max_rel_err(got, want) <= 1e-6  # the weights are float32


@needs_native
def test_double_backward_through_the_tiles():
    grid = fd.ops.tile_grid((9, 11), 8)
    image = torch.rand(2, 2, 9, 11, dtype=torch.float64, requires_grad=True)
    with fd.use_backend("native"):
        assert torch.autograd.gradgradcheck(
            lambda x: fd.ops.blend_tiles(fd.ops.extract_tiles(x, grid, roll=(2, 3)).square(), grid), (image,)
        )


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
    # neighbours share 64 px (32 left faint lines in dark areas of a 2048 px dream: bench/seams_local.py);
    # small tiles a quarter of their side
    big, small = fd.ops.tile_grid((2048, 2048), 512), fd.ops.tile_grid((512, 512), 128)
    assert min(big.ys[k] + big.tile_h - big.ys[k + 1] for k in range(len(big.ys) - 1)) >= 64
    assert 32 <= min(small.ys[k] + small.tile_h - small.ys[k + 1] for k in range(len(small.ys) - 1)) < 48
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
