"""ascent_step_: native kernel vs the reference, the NaN rule, layouts, and argument errors."""

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import fastdream as fd
from fastdream.ops import reference
from tests.conftest import layouts, max_rel_err, needs_native

SHAPES = [(1, 3, 37, 53), (2, 3, 255, 257), (3, 1, 17, 9), (4, 3, 64, 64), (1, 1, 1, 1)]


def _run_both(image, grad, mask, **kw):
    expected = reference.ascent_step_(
        image.clone(),
        grad,
        kw["step_size"],
        kw["norm"],
        kw["clamp"],
        None if mask is None else fd.ops.ascent_step._canonical_mask(mask, image),
        kw.get("eps", 1e-8),
    )
    with fd.use_backend("native"):
        actual = image.clone(memory_format=torch.preserve_format)
        out = fd.ops.ascent_step_(actual, grad, kw["step_size"], norm=kw["norm"], clamp=kw["clamp"], mask=mask)
    assert out is actual
    return actual, expected


@needs_native
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("layout", ["nchw", "channels_last"])
@pytest.mark.parametrize("norm", ["std", "mean_abs"])
@pytest.mark.parametrize("with_mask", [False, True])
def test_matches_reference(shape, layout, norm, with_mask):
    n, c, h, w = shape
    image = layouts(torch.rand(shape) * 2 - 1, layout)
    grad = layouts(torch.randn(shape) * 3, layout)
    mask = torch.rand(n, 1, h, w) if with_mask else None
    actual, expected = _run_both(image, grad, mask, step_size=0.05, norm=norm, clamp=(-1.0, 1.0))
    assert actual.stride() == image.stride()  # in place: the layout is kept
    assert max_rel_err(actual, expected) <= 1e-5


@needs_native
@given(
    n=st.integers(1, 3),
    c=st.integers(1, 4),
    h=st.integers(1, 70),
    w=st.integers(1, 70),
    channels_last=st.booleans(),
    norm=st.sampled_from(["std", "mean_abs"]),
    mask_kind=st.sampled_from([None, "hw", "shared", "per_sample"]),
    clamp=st.sampled_from([None, (-0.5, 0.7)]),
    step=st.floats(-1, 1),
    seed=st.integers(0, 2**31 - 1),
)
def test_matches_reference_random(n, c, h, w, channels_last, norm, mask_kind, clamp, step, seed):
    gen = torch.Generator().manual_seed(seed)
    layout = "channels_last" if channels_last else "nchw"
    image = layouts(torch.rand(n, c, h, w, generator=gen), layout)
    grad = layouts(torch.randn(n, c, h, w, generator=gen) * 10, layout)
    mask = {
        None: None,
        "hw": torch.rand(h, w, generator=gen),
        "shared": torch.rand(1, 1, h, w, generator=gen),
        "per_sample": torch.rand(n, h, w, generator=gen),
    }[mask_kind]
    actual, expected = _run_both(image, grad, mask, step_size=step, norm=norm, clamp=clamp)
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
