"""ascent_step_: the shared op tests, the NaN rule, mixed layouts, semantics and argument errors."""

import pytest
import torch
from hypothesis import strategies as st

import fastdream as fd
from fastdream.ops import reference
from tests.conftest import layouts, max_rel_err, needs_native
from tests.ops.tester import Case, OpTests, fresh

SHAPES = [(2, 3, 255, 257), (1, 1, 1, 1)]


class TestAscentStep(OpTests):
    """Parity, layouts, dtypes, opcheck, torch.compile and CUDA: tests/ops/tester.py (in place, so
    no gradients)."""

    op = "ascent_step_"
    differentiable = False

    def params(self, h, w):
        return dict(
            norm=st.sampled_from(["std", "mean_abs"]),
            mask=st.sampled_from([None, "shared", "per_sample"]),
            clamp=st.sampled_from([None, (-0.5, 0.7)]),
            step=st.floats(-1, 1),
        )

    def fixed_params(self, h, w):
        return dict(norm="std", mask="per_sample", clamp=(-1.0, 1.0), step=0.05)

    def make(self, gen, n, c, h, w, dtype, params):
        tensors = {
            "image": torch.rand(n, c, h, w, generator=gen, dtype=dtype) * 2 - 1,
            "grad": torch.randn(n, c, h, w, generator=gen, dtype=dtype) * 10,
        }
        if params["mask"] is not None:
            tensors["mask"] = torch.rand(
                n if params["mask"] == "per_sample" else 1, 1, h, w, generator=gen, dtype=dtype
            )
        return Case(tensors, params)

    def call(self, case):
        t, p = case.tensors, case.params
        image = fresh(t["image"])
        out = fd.ops.ascent_step_(image, t["grad"], p["step"], norm=p["norm"], clamp=p["clamp"], mask=t.get("mask"))
        assert out is image
        return image

    def op_args(self, case):
        t, p = case.tensors, case.params
        lo, hi = p["clamp"] or (0.0, 0.0)
        mask = t.get("mask")
        return (t["image"], t["grad"], mask, p["step"], p["norm"], p["clamp"] is not None, lo, hi, 1e-8)


@needs_native
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("layout", ["nchw", "channels_last"])
@pytest.mark.parametrize("norm", ["std", "mean_abs"])
def test_matches_reference_at_dream_size_and_one_pixel(shape, layout, norm):
    n, c, h, w = shape
    image = layouts(torch.rand(shape) * 2 - 1, layout)
    grad = layouts(torch.randn(shape) * 3, layout)
    mask = torch.rand(n, 1, h, w)
    expected = reference.ascent_step_(image.clone(), grad, 0.05, norm, (-1.0, 1.0), mask, 1e-8)
    actual = image.clone(memory_format=torch.preserve_format)
    with fd.use_backend("native"):
        fd.ops.ascent_step_(actual, grad, 0.05, norm=norm, mask=mask)
    assert actual.stride() == image.stride()  # in place: the layout is kept
    assert max_rel_err(actual, expected) <= 1e-5


@needs_native
def test_mixed_layouts_and_non_dense_image():
    base = torch.rand(2, 3, 40, 30)
    grad = torch.randn(2, 3, 40, 30).contiguous(memory_format=torch.channels_last)
    expected = reference.ascent_step_(base.clone(), grad, 0.1, "std", (-1.0, 1.0), None, 1e-8)
    with fd.use_backend("native"):
        a = base.clone()  # NCHW image, channels_last grad
        fd.ops.ascent_step_(a, grad, 0.1)
        wide = torch.zeros(2, 3, 40, 60)
        view = wide[..., ::2]  # non-dense: made dense, updated, copied back
        view.copy_(base)
        fd.ops.ascent_step_(view, grad, 0.1)
    assert max_rel_err(a, expected) <= 1e-5
    assert max_rel_err(view, expected) <= 1e-5
    assert torch.count_nonzero(wide[..., 1::2]) == 0  # the gaps of the view are untouched


@pytest.mark.parametrize("backend", ["reference", pytest.param("native", marks=needs_native)])
def test_nonfinite_gradient_entries_count_as_zero(backend):
    grad = torch.randn(2, 3, 20, 20)
    bad = grad.clone()
    bad[0, 1, 3, 4] = float("nan")
    bad[0, 2, 5, 6] = float("inf")
    bad[1, 0, 0, 0] = float("-inf")
    clean = torch.where(torch.isfinite(bad), bad, torch.zeros(()))
    image = torch.rand(2, 3, 20, 20)
    with fd.use_backend(backend):
        a = fd.ops.ascent_step_(image.clone(), bad, 0.1)
        b = fd.ops.ascent_step_(image.clone(), clean, 0.1)
        all_bad = fd.ops.ascent_step_(image.clone(), torch.full_like(grad, float("nan")), 0.1)
    assert torch.isfinite(a).all()
    assert torch.allclose(a, b, atol=1e-6)
    assert a[0, 1, 3, 4] == image[0, 1, 3, 4]  # no step where the gradient was NaN
    assert torch.equal(all_bad, image)  # an all-NaN gradient leaves the image as it was


@pytest.mark.parametrize("backend", ["reference", pytest.param("native", marks=needs_native)])
def test_semantics(backend):
    image = torch.zeros(1, 1, 2, 2)
    grad = torch.tensor([1.0, -1.0, 1.0, -1.0]).reshape(1, 1, 2, 2)  # std (unbiased) = 2/sqrt(3)
    mask = torch.tensor([[1.0, 0.0], [0.5, 1.0]])
    with fd.use_backend(backend):
        fd.ops.ascent_step_(image, grad, 1.0, mask=mask, eps=0.0, clamp=(-0.8, 0.8))
    s = 3**0.5 / 2
    assert torch.allclose(image.flatten(), torch.tensor([min(s, 0.8), 0.0, 0.5 * s, -min(s, 0.8)]))
    x = torch.zeros(2, 1, 1, 4)
    g = torch.tensor([[1.0, -3.0, 1.0, 1.0], [2.0, 2.0, 2.0, 2.0]]).reshape(2, 1, 1, 4)
    with fd.use_backend(backend):
        fd.ops.ascent_step_(x, g, 1.0, norm="mean_abs", eps=0.0, clamp=None)
    # per sample: mean |g| is 1.5 and 2
    assert torch.allclose(x.flatten(), torch.tensor([1 / 1.5, -2.0, 1 / 1.5, 1 / 1.5, 1, 1, 1, 1]))


@pytest.mark.parametrize(
    "kwargs, exc, words",
    [
        (dict(image=torch.zeros(1, 3, 4, 4, dtype=torch.uint8)), TypeError, "image"),
        (dict(image=torch.zeros(1, 3, 4, 4, dtype=torch.int32)), TypeError, "image"),
        (dict(image=[[0.0]]), TypeError, "image"),
        (dict(image=torch.zeros(3, 4)), ValueError, "image"),
        (dict(grad=torch.zeros(1, 3, 4, 5)), ValueError, "grad"),
        (dict(grad=torch.zeros(1, 3, 4, 4, dtype=torch.int64)), TypeError, "grad"),
        (dict(norm="l1"), ValueError, "norm"),
        (dict(mask=torch.zeros(4, 5)), ValueError, "mask"),
        (dict(mask=torch.zeros(2, 1, 4, 4)), ValueError, "mask"),
        (dict(step_size="0.1"), TypeError, "step_size"),
        (dict(step_size=float("nan")), ValueError, "step_size"),
        (dict(clamp=(1.0, -1.0)), ValueError, "clamp"),
    ],
)
def test_bad_arguments(kwargs, exc, words):
    args = dict(image=torch.zeros(1, 3, 4, 4), grad=torch.zeros(1, 3, 4, 4), step_size=0.1)
    args.update(kwargs)
    image, grad, step = args.pop("image"), args.pop("grad"), args.pop("step_size")
    with pytest.raises(exc, match=words):
        fd.ops.ascent_step_(image, grad, step, **args)


def test_three_dim_image_is_updated_in_place():
    image = torch.zeros(3, 8, 8)
    grad = torch.randn(3, 8, 8)
    fd.ops.ascent_step_(image, grad, 0.1, mask=torch.ones(8, 8))
    assert image.abs().sum() > 0


@pytest.mark.parametrize("norm", ["std", "mean_abs"])
def test_a_band_at_a_time_with_the_whole_statistic_is_one_step(norm):
    # The low-memory dream steps a huge image band by band: given the whole gradient's statistic,
    # the bands together must take exactly the step one call over the whole image takes.
    gen = torch.Generator().manual_seed(1)
    x, g = torch.rand(2, 3, 37, 23, generator=gen), torch.randn(2, 3, 37, 23, generator=gen)
    mask = torch.rand(1, 37, 23, generator=gen)
    whole = fd.ops.reference.ascent_step_(x.clone(), g, 0.05, norm, (0.1, 0.9), mask[:, None])
    flat = g.reshape(2, -1)
    stat = flat.std(dim=1) if norm == "std" else flat.abs().mean(dim=1)
    banded = x.clone()
    for rows in (slice(0, 10), slice(10, 11), slice(11, 37)):
        part = banded[:, :, rows].clone()
        fd.ops.ascent_step_(part, g[:, :, rows], 0.05, norm=norm, clamp=(0.1, 0.9), mask=mask[:, rows], stat=stat)
        banded[:, :, rows] = part
    assert torch.allclose(banded, whole, atol=1e-6)


def test_a_given_statistic_is_checked():
    x, g = torch.zeros(2, 3, 4, 4), torch.ones(2, 3, 4, 4)
    with pytest.raises(ValueError, match=r"stat must be a float tensor of shape \(2,\)"):
        fd.ops.ascent_step_(x, g, 0.1, stat=torch.ones(3))


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_the_reference_in_half_precision_steps_as_the_kernels_do(dtype):
    """A zero gradient's scale (step / eps = 1e7) overflowed float16 to inf, and 0 * inf made the
    picture NaN; the step is now computed in float32 and rounded once into the image, as the CUDA
    kernel stores it."""
    x = torch.rand(2, 3, 5, 7, generator=torch.Generator().manual_seed(0)).to(dtype)
    y = reference.ascent_step_(x.clone(), torch.zeros_like(x), 0.1)
    assert torch.equal(y, x)  # no step: a zero gradient takes none (it was all NaN)
    g = torch.randn(2, 3, 5, 7, generator=torch.Generator().manual_seed(1)).to(dtype)
    want = reference.ascent_step_(x.float(), g.float(), 0.1, clamp=(0.0, 1.0)).to(dtype)  # one rounding
    assert torch.equal(reference.ascent_step_(x.clone(), g, 0.1, clamp=(0.0, 1.0)), want)
