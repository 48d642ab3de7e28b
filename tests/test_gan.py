"""DCGAN models, train_gan (CPU, tiny folders), sampling, latent walks (the shared training behaviour: test_training.py)."""

import math
import warnings

import numpy as np
import pytest
import torch
from PIL import Image

from fastdream import gan
from fastdream.gan import trainer as gan_train
from fastdream.models.dcgan import Discriminator, Generator
from tests.helpers import GAN_TINY, write_image_folder

TINY = GAN_TINY


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return write_image_folder(tmp_path_factory.mktemp("imgs"))


@pytest.fixture(scope="module")
def trained(folder, tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    return gan.train_gan(folder, out, epochs=1, **TINY)


# ---------------------------------------------------------------- models


@pytest.mark.parametrize("size", [32, 64, 128])
def test_shapes(size):
    g, d = Generator(nz=8, ngf=4, nc=3, image_size=size), Discriminator(ndf=4, nc=3, image_size=size)
    x = g(torch.randn(3, 8))
    assert x.shape == (3, 3, size, size)
    assert x.min() >= -1 and x.max() <= 1
    assert torch.equal(g.eval()(torch.ones(2, 8, 1, 1)), g(torch.ones(2, 8)))
    assert d(x).shape == (3,)
    # one stride-2 layer per doubling between 4 px and the image
    n = int(math.log2(size)) - 2
    assert sum(isinstance(m, torch.nn.ConvTranspose2d) for m in g.modules()) == n + 1
    assert sum(isinstance(m, torch.nn.Conv2d) for m in d.modules()) == n + 1
    # BatchNorm after every discriminator layer but the first
    first = list(d.main)[:2]
    assert isinstance(first[0], torch.nn.Conv2d) and isinstance(first[1], torch.nn.LeakyReLU)
    assert sum(isinstance(m, torch.nn.BatchNorm2d) for m in d.modules()) == n - 1


def test_gray_model():
    g, d = Generator(nz=4, ngf=4, nc=1, image_size=32), Discriminator(ndf=4, nc=1, image_size=32)
    assert g(torch.randn(2, 4)).shape == (2, 1, 32, 32)
    assert d(torch.zeros(2, 1, 32, 32)).shape == (2,)


def test_init_statistics():
    torch.manual_seed(0)
    g = Generator()  # 64 px, ngf 64: millions of weights, tight statistics
    convs = torch.cat([m.weight.flatten() for m in g.modules() if isinstance(m, torch.nn.ConvTranspose2d)])
    bns = torch.cat([m.weight for m in g.modules() if isinstance(m, torch.nn.BatchNorm2d)])
    assert abs(convs.std().item() - 0.02) < 0.001 and abs(convs.mean().item()) < 0.001
    assert abs(bns.mean().item() - 1.0) < 0.005 and abs(bns.std().item() - 0.02) < 0.005


@pytest.mark.parametrize("bad", [48, 16, 0, 256])
def test_bad_image_size(bad):
    with pytest.raises(ValueError, match=r"image_size must be one of \(32, 64, 128\), got " + str(bad)):
        Generator(image_size=bad)
    with pytest.raises(ValueError, match="image_size"):
        Discriminator(image_size=bad)
    with pytest.raises(TypeError, match="image_size"):
        Generator(image_size="64")


def test_wrong_input_shapes():
    with pytest.raises(ValueError, match=r"\(B, 3, 64, 64\)"):
        Discriminator(ndf=4)(torch.zeros(1, 3, 32, 32))
    with pytest.raises(ValueError, match="z must be"):
        Generator(nz=8, ngf=4)(torch.zeros(2, 9))


# ---------------------------------------------------------------- training


def test_one_epoch_writes_grid_and_checkpoint(trained):
    out = trained.parent
    assert trained == out / "checkpoint.pt"
    assert sorted(p.name for p in out.iterdir()) == ["checkpoint.pt", "samples_epoch_001.png"]  # no temp files
    grid = Image.open(out / "samples_epoch_001.png")
    assert grid.mode == "RGB" and grid.size == (8 * 34 + 2, 8 * 34 + 2)  # 8 x 8 samples of 32 px, 2 px gaps
    assert np.asarray(grid).std() > 1  # not blank
    state = torch.load(trained, weights_only=True)
    assert state["format"] == "fastdream.dcgan" and state["epoch"] == 1
    assert {k: state["config"][k] for k in ("image_size", "nz", "ngf", "ndf", "nc")} == dict(
        image_size=32, nz=8, ngf=4, ndf=4, nc=3
    )
    assert state["config"]["images"] == 8 and state["config"]["world_size"] == 1
    assert state["fixed_noise"].shape == (64, 8)
    assert set(state) >= {"generator", "discriminator", "optimizer_g", "optimizer_d"}
    (h,) = state["history"]
    assert h["iterations"] == 2 and all(math.isfinite(h[k]) for k in ("loss_d", "loss_g", "d_x", "d_g_z"))
    assert 0 < h["d_x"] < 1 and 0 < h["d_g_z"] < 1


def test_discriminator_win_stops(folder, tmp_path, monkeypatch):
    ckpt = gan.train_gan(folder, tmp_path, epochs=1, **TINY)
    monkeypatch.setattr(gan_train, "D_WIN", 1.0)  # every batch now counts as a complete win
    # 2 batches per epoch: fewer winning batches in a row than D_WIN_MIN_BATCHES, no stop
    assert torch.load(gan.train_gan(folder, tmp_path, epochs=2, **TINY), weights_only=True)["epoch"] == 2
    monkeypatch.setattr(gan_train, "D_WIN_MIN_BATCHES", 3)
    with pytest.raises(gan.GANTrainingError, match="discriminator won completely for all of epoch 4"):
        gan.train_gan(folder, tmp_path, epochs=5, **TINY)  # epoch 3: 2 wins in a row, epoch 4: 4
    assert torch.load(ckpt, weights_only=True)["epoch"] == 3
    assert not (tmp_path / "samples_epoch_004.png").exists()


def test_gray_training_and_sampling(folder, tmp_path, capsys):
    ckpt = gan.train_gan(folder, tmp_path, epochs=1, **dict(TINY, nc=1, progress=True))
    err = capsys.readouterr().err
    assert all(k in err for k in ("epoch 1/1", "loss_D=", "loss_G=", "D(x)=", "D(G(z))="))
    assert Image.open(tmp_path / "samples_epoch_001.png").mode == "L"
    (im,) = gan.sample_gan(ckpt, 1, seed=0)
    assert im.mode == "L" and im.size == (32, 32)


def test_out_dir_may_not_lie_inside_the_images(tmp_path):
    write_image_folder(tmp_path, n=4)
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    with pytest.raises(ValueError, match="lies inside the input folder"):
        gan.train_gan(tmp_path, tmp_path / "run", epochs=1, **TINY)
    with pytest.raises(ValueError, match="contains the input"):
        gan.train_gan(tmp_path / "nested", tmp_path, epochs=1, **TINY)
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        (dict(image_size=48), ValueError, r"image_size must be one of \(32, 64, 128\), got 48"),
        (dict(image_size="32"), TypeError, "image_size must be an integer"),
        (dict(epochs=0), ValueError, "epochs must be >= 1, got 0"),
        (dict(epochs=1.5), TypeError, "epochs must be an integer, got 1.5"),
        (dict(batch_size=1), ValueError, "batch_size must be >= 2, got 1"),
        (dict(nz=0), ValueError, "nz must be >= 1"),
        (dict(lr=-1e-3), ValueError, r"lr must be a finite number > 0, got -0.001"),
        (dict(lr=float("nan")), ValueError, "lr must be a finite number"),
        (dict(beta1=1.0), ValueError, r"beta1 must be a finite number in \[0, 1\), got 1.0"),
        (dict(nc=2), ValueError, r"nc must be 1 \(gray\) or 3 \(RGB\), got 2"),
        (dict(device="bogus"), ValueError, "device: 'bogus' is not a valid device"),
        (dict(device=3.0), TypeError, "device must be"),
        (dict(amp="yes"), TypeError, "amp must be True or False"),
        (dict(seed=-1), ValueError, "seed must be >= 0"),
        (dict(max_minutes=0), ValueError, "max_minutes must be a finite number > 0"),
        (dict(num_workers=-1), ValueError, "num_workers must be >= 0"),
        (dict(batch_size=16), ValueError, r"holds 8 images, too few for one batch of batch_size=16"),
    ],
)
def test_bad_arguments_write_nothing(folder, tmp_path, kwargs, exc, match):
    out = tmp_path / "out"
    with pytest.raises(exc, match=match):
        gan.train_gan(folder, out, **{**TINY, **kwargs})
    assert not out.exists()


def test_bad_folders(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "readme.txt").write_text("no images here")
    with pytest.raises(ValueError, match="no images found in"):
        gan.train_gan(tmp_path / "empty", tmp_path / "out", **TINY)
    with pytest.raises(FileNotFoundError, match="images_dir: no such folder"):
        gan.train_gan(tmp_path / "missing", tmp_path / "out", **TINY)
    with pytest.raises(TypeError, match="images_dir must be a path"):
        gan.train_gan(None, tmp_path / "out", **TINY)
    bad = write_image_folder(tmp_path / "bad", n=4)
    (bad / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    with pytest.raises(ValueError, match="broken.png"):
        gan.train_gan(bad, tmp_path / "out", **TINY)
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="out_dir: .* is not a folder"):
        gan.train_gan(write_image_folder(tmp_path / "ok", n=4), tmp_path / "file", **TINY)
    assert not (tmp_path / "out").exists()


# ---------------------------------------------------------------- sampling, walks


def test_sample_gan(trained):
    ims = gan.sample_gan(trained, 5, seed=1)
    assert len(ims) == 5 and all(im.size == (32, 32) and im.mode == "RGB" for im in ims)
    again = gan.sample_gan(trained, 5, seed=1, batch_size=2)
    assert all(np.array_equal(np.asarray(a), np.asarray(b)) for a, b in zip(ims, again))
    other = gan.sample_gan(trained, 5, seed=2)
    assert not all(np.array_equal(np.asarray(a), np.asarray(b)) for a, b in zip(ims, other))
    # the first image does not depend on how many are drawn with it (eval-mode BatchNorm; a
    # different batch size may round differently in the convolutions: 1 level at most)
    first = np.asarray(gan.sample_gan(trained, 1, seed=1)[0], dtype=np.int16)
    assert np.abs(first - np.asarray(ims[0], dtype=np.int16)).max() <= 1


def test_sample_gan_bad_inputs(trained, tmp_path):
    with pytest.raises(ValueError, match="n must be >= 1, got 0"):
        gan.sample_gan(trained, 0)
    with pytest.raises(TypeError, match="n must be an integer"):
        gan.sample_gan(trained, "4")
    with pytest.raises(FileNotFoundError, match="no such file"):
        gan.sample_gan(tmp_path / "nope.pt", 1)
    torch.save({"weights": torch.zeros(2)}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not a fastdream GAN checkpoint"):
        gan.sample_gan(tmp_path / "other.pt", 1)
    (tmp_path / "junk.pt").write_bytes(b"junk")
    with pytest.raises(ValueError, match="not a fastdream checkpoint"):
        gan.sample_gan(tmp_path / "junk.pt", 1)


def test_slerp():
    torch.manual_seed(0)
    a, b = torch.randn(3, 16), torch.randn(3, 16)
    assert torch.allclose(gan.slerp(a, b, 0.0), a, atol=1e-6)
    assert torch.allclose(gan.slerp(a, b, 1.0), b, atol=1e-5)
    b = b / b.norm(dim=-1, keepdim=True) * a.norm(dim=-1, keepdim=True)  # equal norms: stays on the sphere
    for t in (0.25, 0.5, 0.9):
        mid = gan.slerp(a, b, t)
        assert torch.allclose(mid.norm(dim=-1), a.norm(dim=-1), rtol=1e-5)
    lin = (a + b) / 2
    assert (gan.slerp(a, b, 0.5).norm(dim=-1) > lin.norm(dim=-1)).all()  # unlike a straight line
    assert torch.allclose(gan.slerp(a, 2 * a, 0.5), 1.5 * a)  # parallel: linear


def test_latent_walk(trained, tmp_path):
    frames = gan.latent_walk(trained, 8, seed=3, points=2)
    assert len(frames) == 8 and all(f.size == (32, 32) for f in frames)
    coarse = gan.latent_walk(trained, 4, seed=3, points=2)
    # the same points: frame 0 and the half-way frame are the two latent points in both walks
    assert np.array_equal(np.asarray(coarse[0]), np.asarray(frames[0]))
    assert np.array_equal(np.asarray(coarse[2]), np.asarray(frames[4]))
    # smooth: consecutive frames are closer than the two end points
    arr = [np.asarray(f, dtype=np.float64) for f in frames]
    step = np.mean([np.abs(arr[i + 1] - arr[i]).mean() for i in range(7)])
    assert step < np.abs(arr[4] - arr[0]).mean()
    with pytest.raises(ValueError, match="frames must be >= 2"):
        gan.latent_walk(trained, 1)
    with pytest.warns(UserWarning, match=r"points=5 is more than frames=2: the walk skips past some points"):
        gan.latent_walk(trained, 2, seed=3, points=5)  # (frame 1 lay between points 2 and 3, unsaid)
    with warnings.catch_warnings():  # a short walk's default points are its frames (4 warned of an unasked-for 4)
        warnings.simplefilter("error")
        short = gan.latent_walk(trained, 3, seed=3)
    assert [f.tobytes() for f in short] == [f.tobytes() for f in gan.latent_walk(trained, 3, seed=3, points=3)]
    from fastdream import _room

    with pytest.MonkeyPatch.context() as m:
        m.setattr(_room, "memory_budget", lambda: 10**6)  # a machine of 1 MB: the message, not the size
        with pytest.raises(ValueError, match=r"points=100000 \(latent vectors of \d+ numbers\) needs about"):
            gan.latent_walk(trained, 4, points=10**5)  # was said as "(1x1 images)"
    path = gan.save_animation(frames, tmp_path / "walk.gif", fps=10)
    with Image.open(path) as im:
        assert im.n_frames == 8 and im.info["duration"] == 100
    with pytest.raises(ValueError, match=r"unknown video extension '.png'.*\.gif, \.webp or \.mp4"):
        gan.save_animation(frames, tmp_path / "walk.png")


# ---------------------------------------------------------------- torchrun / DDP


def test_a_small_folder_trains_in_batches_of_what_it_holds(tmp_path):
    """The default batch of 64 refused any folder of fewer than 64 pictures ("too few for one
    batch"), though the stable recipe is for small folders; the VAE's the same."""
    from fastdream import train_gan, train_vae
    from tests.helpers import VAE_TINY

    folder = write_image_folder(tmp_path / "imgs", 8)
    kw = {k: v for k, v in GAN_TINY.items() if k != "batch_size"}
    ckpt = train_gan(folder, tmp_path / "gan", epochs=1, **kw)
    assert torch.load(ckpt, weights_only=True)["config"]["batch_size"] == 8
    kw = {k: v for k, v in VAE_TINY.items() if k != "batch_size"}
    ckpt = train_vae(folder, tmp_path / "vae", epochs=1, **kw)
    assert torch.load(ckpt, weights_only=True)["config"]["batch_size"] == 7  # (one held out)
    # its one held-out image beside its reconstruction (it was one pair in a 16-wide black strip)
    assert Image.open(tmp_path / "vae" / "recon_epoch_001.png").size == (2 + 2 * (32 + 2), 32 + 4)


def test_a_walk_into_a_folder_that_cannot_be_written_is_said_before_its_frames(trained, tmp_path, monkeypatch, capsys):
    """gan-walk and vae-walk made every frame (and dreamed each with --dream), then said the
    system's "[Errno 1] Operation not permitted: '.../.w.7c24u9h2.webp'"."""
    from pathlib import Path

    from fastdream.cli import main
    from fastdream.io import outputs

    ro = tmp_path / "ro"
    ro.mkdir()
    monkeypatch.setattr(outputs, "can_write_in", lambda folder: Path(folder) != ro)
    monkeypatch.setattr(gan, "latent_walk", lambda *a, **k: pytest.fail("frames made before -o was checked"))
    assert main(["gan-walk", str(trained), "-o", str(ro / "w.gif"), "--frames", "3"]) == 2
    assert capsys.readouterr().err.strip() == f"fastdream gan-walk: error: --output: the folder {ro} cannot be written"
