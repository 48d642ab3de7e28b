"""Gradient shaping ops: laplacian_normalize (the shared op tests, and its kernel at dream sizes)
and smooth_gradient; their conventions pinned."""

import pytest
import torch
from hypothesis import strategies as st

import fastdream as fd
from fastdream.ops import reference
from tests.conftest import max_rel_err, needs_native
from tests.ops.tester import Case, OpTests


def _native(g, levels):
    with fd.use_backend("native"):
        return fd.ops.laplacian_normalize(g, levels)


def _oracle(g, levels):
    return reference.laplacian_normalize(g.double(), levels, 1e-8).to(g.dtype)


class TestLaplacianNormalize(OpTests):
    """Parity, layouts, dtypes, opcheck, gradients and torch.compile: tests/ops/tester.py. No CUDA
    kernel: on a GPU the public op runs its reference."""

    op = "laplacian_normalize"
    cuda_kernel = False

    def params(self, h, w):
        return dict(levels=st.integers(1, 6))

    def fixed_params(self, h, w):
        return dict(levels=3)

    def make(self, gen, n, c, h, w, dtype, params):
        return Case({"grad": torch.randn(n, c, h, w, generator=gen, dtype=dtype)}, params)

    def call(self, case):
        return fd.ops.laplacian_normalize(case.tensors["grad"], case.params["levels"])

    def op_args(self, case):
        return (case.tensors["grad"], case.params["levels"], 1e-8)


@needs_native
@pytest.mark.parametrize("shape", [(1, 3, 341, 512), (2, 3, 255, 257)])
def test_native_matches_reference_at_dream_sizes_and_in_float64(shape):
    g = torch.randn(*shape, generator=torch.Generator().manual_seed(1)).contiguous(memory_format=torch.channels_last)
    assert max_rel_err(_native(g, 4), _oracle(g, 4)) <= 1e-5
    assert max_rel_err(_native(g.double(), 4), _oracle(g, 4).double()) <= 1e-12 + 1e-6  # oracle rounded to f32


def test_bands_are_normalized_and_the_split_is_exact():
    g = torch.randn(2, 3, 40, 56, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    one = reference.laplacian_normalize(g, 1, 0.0)  # one band: the gradient over its RMS, per sample
    torch.testing.assert_close(one, g / g.square().mean((1, 2, 3), keepdim=True).sqrt())
    # per sample: scaling one sample does not change the result, nor the other sample
    scaled = g.clone()
    scaled[1] *= 50
    torch.testing.assert_close(reference.laplacian_normalize(scaled, 4, 0.0), reference.laplacian_normalize(g, 4, 0.0))
    # a constant image has a single nonzero band (the coarsest): the result is constant 1
    const = torch.full((1, 1, 32, 32), 3.0, dtype=torch.float64)
    torch.testing.assert_close(reference.laplacian_normalize(const, 4), torch.ones_like(const))


def test_smooth_gradient_is_the_cascade_of_three_blurs():
    g = torch.zeros(1, 1, 61, 61, dtype=torch.float64)
    g[..., 30, 30] = 1.0
    s = fd.ops.smooth_gradient(g, 2.0)
    assert abs(float(s.sum()) - 1.0) < 1e-9  # mass kept away from the edges
    # the spread is the mean of the three Gaussians' variances: (1^2 + 2^2 + 4^2) / 3 per axis
    y = torch.arange(61, dtype=torch.float64) - 30
    var = float((s[0, 0].sum(1) * y * y).sum())
    assert abs(var - (1 + 4 + 16) / 3) < 0.03 * 7  # less a little: each kernel is cut at 3 sigma
    assert torch.equal(fd.ops.smooth_gradient(g[0], 2.0), s[0])  # (C, H, W) works the same
    with pytest.raises(ValueError, match="sigma must be a finite number > 0"):
        fd.ops.smooth_gradient(g, 0.0)
    with pytest.raises(ValueError, match="levels must be in"):
        fd.ops.laplacian_normalize(g, 0)
