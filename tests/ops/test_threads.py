"""The CPU kernels' threaded path: big enough inputs that they use helper threads (one per 2^21
values), checked against the reference and against the same kernel on one thread."""

import pytest
import torch

import fastdream as fd
from fastdream.ops import _native, reference
from tests.conftest import layouts, max_rel_err, needs_native

# 3 x 1031 x 1409 = 4.36M values: two threads' worth, odd sizes so chunks end mid-row.
SHAPE = (1, 3, 1031, 1409)


@pytest.fixture
def one_thread(monkeypatch):
    """Runs the kernels on the calling thread only (the thread count normally follows torch)."""

    def use(n):
        monkeypatch.setattr(_native, "threads", lambda: n)

    return use


@needs_native
@pytest.mark.parametrize("layout", ["nchw", "channels_last"])
@pytest.mark.parametrize("norm", ["std", "mean_abs"])
def test_ascent_step_threaded_matches_reference_and_one_thread(one_thread, layout, norm):
    gen = torch.Generator().manual_seed(1)
    image = layouts(torch.rand(SHAPE, generator=gen) * 2 - 1, layout)
    grad = layouts(torch.randn(SHAPE, generator=gen), layout)
    expected = reference.ascent_step_(image.clone(), grad, 0.05, norm, (-1.0, 1.0), None, 1e-8)
    results = []
    for n in (2, 1):
        one_thread(n)
        with fd.use_backend("native"):
            results.append(fd.ops.ascent_step_(image.clone(memory_format=torch.preserve_format), grad, 0.05, norm=norm))
    assert max_rel_err(results[0], expected) <= 1e-5
    # Partial sums are per chunk, not per thread: the thread count does not change a bit.
    assert torch.equal(results[0], results[1])


@needs_native
@pytest.mark.parametrize("layout", ["nchw", "channels_last"])
def test_zoom_shift_threaded_matches_reference_and_one_thread(one_thread, layout):
    # float64: at 1400 px grid_sample's float32 coordinates are off by ~1e-4 px, which on a noise
    # image is a 1e-4 relative difference that says nothing about the kernel.
    image = layouts(torch.rand(SHAPE, generator=torch.Generator().manual_seed(2), dtype=torch.float64), layout)
    kw = dict(zoom=1.07, shift=(3.5, -2.25), angle=4.0, padding="reflect")
    with fd.use_backend("reference"):
        expected = fd.ops.zoom_shift(image, **kw)
    results = []
    for n in (2, 1):
        one_thread(n)
        with fd.use_backend("native"):
            results.append(fd.ops.zoom_shift(image, **kw))
    assert max_rel_err(results[0], expected) <= 1e-5
    assert torch.equal(results[0], results[1])


@needs_native
@pytest.mark.parametrize("layout", ["nchw", "channels_last"])
def test_tiles_threaded_match_reference(layout):
    image = layouts(torch.rand(SHAPE, generator=torch.Generator().manual_seed(3)), layout)
    grid = fd.ops.tile_grid(SHAPE[-2:], 512)
    roll = (37, -501)
    with fd.use_backend("reference"):
        tiles_ref = fd.ops.extract_tiles(image, grid, roll=roll)
        blend_ref = fd.ops.blend_tiles(tiles_ref * 2, grid, roll=roll)
    with fd.use_backend("native"):
        tiles = fd.ops.extract_tiles(image, grid, roll=roll)
        blend = fd.ops.blend_tiles(tiles * 2, grid, roll=roll)
    assert torch.equal(tiles, tiles_ref)
    assert max_rel_err(blend, blend_ref) <= 1e-5
