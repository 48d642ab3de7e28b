"""The VAE: shapes, a few steps lower the loss, train_vae's files and history, sampling,
reconstructions, walks, bad inputs (the shared training behaviour: test_training.py)."""

import warnings

import numpy as np
import pytest
import torch
from PIL import Image

import fastdream as fd
from fastdream.models import VAE
from fastdream.vae import load_vae
from fastdream.vae.train import _terms
from tests.helpers import VAE_TINY, write_image_folder


@pytest.mark.parametrize("size", [32, 64, 128])
@pytest.mark.parametrize("channels", [1, 3])
def test_shapes(size, channels):
    vae = VAE(image_size=size, channels=channels, latent_dim=8, base_channels=4)
    logits, mu, logvar = vae(torch.rand(2, channels, size, size), torch.randn(2, 8))
    assert logits.shape == (2, channels, size, size) and mu.shape == logvar.shape == (2, 8)
    assert vae.decode(torch.zeros(3, 8)).shape == (3, channels, size, size)
    assert VAE(**vae.config).config == vae.config
    with pytest.raises(ValueError, match="input must be"):
        vae(torch.rand(2, channels, size + 1, size))
    with pytest.raises(ValueError, match="image_size must be one of"):
        VAE(image_size=48)


def test_a_few_steps_lower_the_loss():
    torch.manual_seed(0)
    x = (torch.rand(16, 1, 32, 32) > 0.7).float()
    vae = VAE(image_size=32, channels=1, latent_dim=8, base_channels=8)
    opt = torch.optim.Adam(vae.parameters(), lr=3e-3)
    losses = []
    for _ in range(30):
        rec, kl = _terms(vae, x, torch.randn(16, 8))
        opt.zero_grad()
        (rec + kl).backward()
        opt.step()
        losses.append(float((rec + kl).detach()))
    assert losses[-1] < 0.8 * losses[0], losses


@pytest.fixture(scope="module")
def gray_folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("gray")
    rng = np.random.default_rng(0)
    for i in range(24):
        a = np.zeros((32, 32), np.uint8)
        a[8 + i % 8 : 20 + i % 8, 6:26] = 255  # a bar that moves: something to learn
        a = np.clip(a.astype(int) + rng.integers(0, 30, a.shape), 0, 255).astype(np.uint8)
        Image.fromarray(a, "L").save(root / f"{i:02d}.png")
    return root


@pytest.fixture(scope="module")
def trained(gray_folder, tmp_path_factory):
    return fd.train_vae(gray_folder, tmp_path_factory.mktemp("vae"), epochs=3, **VAE_TINY)


def test_training_writes_grids_history_and_detects_gray(trained):
    out = trained.parent
    names = sorted(p.name for p in out.iterdir())
    assert names == ["checkpoint.pt"] + [f"{k}_epoch_00{e}.png" for k in ("recon", "samples") for e in (1, 2, 3)]
    state = torch.load(trained, weights_only=True)
    assert state["format"] == "fastdream.vae" and state["epoch"] == 3
    assert state["config"]["model"]["channels"] == 1  # a gray folder: a 1-channel model
    h = state["history"]
    assert [r["epoch"] for r in h] == [1, 2, 3] and all(np.isfinite(r["val_elbo"]) for r in h)
    assert h[-1]["val_elbo"] > h[0]["val_elbo"]  # the held-out ELBO improves
    assert h[0]["beta"] < h[-1]["beta"] <= 1.0  # the KL warm-up
    assert h[-1]["grid"].dtype == torch.uint8 and h[-1]["grid"].shape[0] == 1
    assert len(state["val_files"]) == 2  # 10% of 24, held out and remembered for resume
    with Image.open(out / "recon_epoch_003.png") as im:
        assert im.mode == "L"


def test_a_run_whose_loss_explodes_says_it_is_diverging(gray_folder, tmp_path):
    # lr 0.9: the losses stay finite (the KL term reaches ~1e9) and the samples are one gray.
    with pytest.warns(UserWarning, match=r"train_vae: the loss rose from .* training is diverging"):
        fd.train_vae(gray_folder, tmp_path / "hot", epochs=1, **{**VAE_TINY, "lr": 0.9})
    with warnings.catch_warnings():  # the default lr: nothing said (but that so few steps are short)
        warnings.simplefilter("error")
        warnings.filterwarnings("ignore", message=".* too few to draw more than noise")
        fd.train_vae(gray_folder, tmp_path / "ok", epochs=2, **VAE_TINY)


def test_sample_reconstruct_and_walk(trained, gray_folder, tmp_path):
    a = fd.sample_vae(trained, 5, seed=1)
    assert len(a) == 5 and all(im.size == (32, 32) and im.mode == "L" for im in a)
    b = fd.sample_vae(trained, 5, seed=1)
    assert all(np.array_equal(np.asarray(x), np.asarray(y)) for x, y in zip(a, b))
    cold = fd.sample_vae(trained, 5, seed=1, temperature=0.0)  # the prior's mean: all the same
    assert all(np.array_equal(np.asarray(cold[0]), np.asarray(c)) for c in cold)
    src = [Image.open(p) for p in sorted(gray_folder.glob("*.png"))[:3]]
    rec = fd.vae_reconstruct(trained, src)
    assert len(rec) == 3 and rec[0].size == (32, 32)
    walk = fd.vae_walk(trained, 6, between=(src[0], src[1]))
    with pytest.raises(ValueError, match="points: a walk between two images has no random points"):
        fd.vae_walk(trained, 6, between=(src[0], src[1]), points=7)  # was taken, and ignored
    assert len(walk) == 6
    ends = fd.vae_reconstruct(trained, [src[0], src[1]])
    assert np.abs(np.asarray(walk[0], float) - np.asarray(ends[0], float)).max() <= 1  # starts at A
    assert np.abs(np.asarray(walk[-1], float) - np.asarray(ends[1], float)).max() <= 1  # ends at B
    # an (N, C, H, W) batch is its N images (the first alone came back); a pair's end is one image
    batch = torch.stack([fd.io.from_pil(im.convert("RGB")) for im in src])
    assert [np.asarray(im).tolist() for im in fd.vae_reconstruct(trained, batch)] == [
        np.asarray(im).tolist() for im in fd.vae_reconstruct(trained, [im.convert("RGB") for im in src])
    ]
    with pytest.raises(ValueError, match=r"between\[0\]: one image at a time, got a batch of 3"):
        fd.vae_walk(trained, 6, between=(batch, src[1]))
    with warnings.catch_warnings():  # a short walk's default points are its frames (4 warned of an unasked-for 4)
        warnings.simplefilter("error")
        short = fd.vae_walk(trained, 3, seed=3)
    assert [f.tobytes() for f in short] == [f.tobytes() for f in fd.vae_walk(trained, 3, seed=3, points=3)]
    loop = fd.vae_walk(trained, 8, seed=0, points=2)
    assert len(loop) == 8
    assert isinstance(load_vae(trained), VAE)


def test_bad_inputs(trained, gray_folder, tmp_path):
    with pytest.raises(ValueError, match="image_size must be one of"):
        fd.train_vae(gray_folder, tmp_path / "a", image_size=48)
    with pytest.raises(ValueError, match="beta must be"):
        fd.train_vae(gray_folder, tmp_path / "a", beta=-1.0)
    with pytest.raises(ValueError, match="too few .* it needs at least 71; add images or lower batch_size"):
        fd.train_vae(gray_folder, tmp_path / "a", batch_size=64)
    # Two pictures: the batch is already the smallest (2), so lowering it is no advice
    two = tmp_path / "two"
    two.mkdir()
    for k in range(2):
        Image.new("L", (32, 32), 40 * k).save(two / f"{k}.png")
    with pytest.raises(ValueError, match=r"2 images are too few .* it needs at least 3; add images$"):
        fd.train_vae(two, tmp_path / "a", image_size=32)
    assert not (tmp_path / "a").exists()
    gan_dir = write_image_folder(tmp_path / "imgs")
    gan_ckpt = fd.train_gan(
        gan_dir,
        tmp_path / "g",
        epochs=1,
        image_size=32,
        nz=8,
        ngf=4,
        ndf=4,
        batch_size=4,
        progress=False,
        kid_samples=0,
    )
    with pytest.raises(ValueError, match="is a fastdream GAN checkpoint .*, not a VAE checkpoint"):
        fd.sample_vae(gan_ckpt, 2)
    with pytest.raises(ValueError, match="is a fastdream VAE checkpoint .*, not a GAN checkpoint"):
        fd.sample_gan(trained, 2)
    with pytest.raises(ValueError, match="between must be a pair"):
        fd.vae_walk(trained, 4, between=("a.png",))
    with pytest.raises(ValueError, match="n must be >= 1"):
        fd.sample_vae(trained, 0)


def test_a_stop_between_an_epochs_pictures_and_its_checkpoint_leaves_no_picture_of_it(
    gray_folder, tmp_path, monkeypatch
):
    """A run stopped after an epoch's grids but before its checkpoint left samples_epoch_002.png
    beside a checkpoint of 1 epoch: a picture no saved model made."""
    from fastdream.training import loop

    saves = []

    def save(state, path):
        if len(saves) == 1:
            raise KeyboardInterrupt  # Ctrl-C while the second epoch's checkpoint is written
        saves.append(real(state, path))

    real = loop.save_checkpoint
    monkeypatch.setattr(loop, "save_checkpoint", save)
    with pytest.raises(KeyboardInterrupt):
        fd.train_vae(gray_folder, tmp_path / "run", epochs=3, **VAE_TINY)
    names = sorted(p.name for p in (tmp_path / "run").iterdir())
    assert torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)["epoch"] == 1
    assert "samples_epoch_001.png" in names and not [n for n in names if "epoch_002" in n], names


def test_the_transparency_warning_counts_the_whole_folder(tmp_path):
    """It said "8 of 50": the held-out pictures, put on white too, were left out of the count."""
    folder = tmp_path / "clear"
    folder.mkdir()
    for k in range(10):
        Image.new("RGBA", (32, 32), (30 * k, 90, 40, 100)).save(folder / f"{k}.png")
    with pytest.warns(UserWarning, match=r"the transparency of 10 of 10 images is put on white"):
        fd.train_vae(folder, tmp_path / "run", epochs=1, **VAE_TINY)
