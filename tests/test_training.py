"""The shared trainer (fastdream.training), tested once for every trainer built on it: resume
after a stop gives what an uninterrupted run gives, nothing to do when done, the architecture
check, NaN stops keeping the last good checkpoint, the time budget, and a 2-process DDP run."""

import io
import math
import os
import re
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import pytest
import torch
from PIL import Image

from fastdream import gan
from fastdream.cutout import train_unet
from fastdream.cutout.train import UNetTrainer
from fastdream.data import make_cutout_dataset
from fastdream.gan.trainer import GANTrainer
from fastdream.training import Dist, Trainer, TrainingError, loop
from fastdream.vae import train_vae
from fastdream.vae.train import VAETrainer
from tests.helpers import GAN_TINY, UNET_TINY, VAE_TINY, ctrl_c_after_first_checkpoint, write_image_folder


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    return dict(images=write_image_folder(root / "images"), cutouts=make_cutout_dataset(root / "cutouts", 12, size=48))


def _gan(data, out, **kw):
    return gan.train_gan(data["images"], out / "gan", **{**GAN_TINY, **kw})


def _unet_lite(data, out, **kw):
    c = data["cutouts"]
    kw = {**UNET_TINY, "image_size": 64, "backbone": "efficientnet_lite0", **kw}
    return train_unet(c.images, c.masks, out / "unet_lite.pt", **kw)


def _vae(data, out, **kw):
    return train_vae(data["images"], out / "vae", **{**VAE_TINY, **kw})


def _unet(data, out, **kw):
    c = data["cutouts"]
    return train_unet(c.images, c.masks, out / "unet.pt", **{**UNET_TINY, **kw})


# name: (run, trainer class, weights in the checkpoint, tolerance of resumed vs whole, a shape change and its message)
TRAINERS = {
    "gan": (_gan, GANTrainer, "generator", 0.0, dict(ngf=8), "ngf=4, not ngf=8"),
    "unet": (_unet, UNetTrainer, "model", 1e-6, dict(depth=3), "trained with depth=2, not depth=3"),
    "unet_lite": (_unet_lite, UNetTrainer, "model", 1e-6, dict(image_size=96), "image_size=64, not image_size=96"),
    "vae": (_vae, VAETrainer, "model", 0.0, dict(latent_dim=16), "latent_dim=8, not latent_dim=16"),
}


def _state(path):
    return torch.load(path, weights_only=True)


@pytest.mark.parametrize("name", TRAINERS)
def test_stopped_then_resumed_equals_uninterrupted(name, data, tmp_path):
    run, _, weights, tol, _, _ = TRAINERS[name]
    with ctrl_c_after_first_checkpoint():
        run(data, tmp_path / "a", epochs=3)
    assert _state(run(data, tmp_path / "a", epochs=1))["epoch"] == 1  # nothing lost, nothing more to do
    again = _state(run(data, tmp_path / "a", epochs=3))
    whole = _state(run(data, tmp_path / "b", epochs=3))
    assert again["epoch"] == whole["epoch"] == 3 and [h["epoch"] for h in again["history"]] == [1, 2, 3]
    # same seed: the resumed run is the uninterrupted one (data order, noise, crops, optimizer state)
    for k, v in whole[weights].items():
        torch.testing.assert_close(again[weights][k], v, rtol=0, atol=tol, msg=k)
    assert [h["iterations"] for h in again["history"]] == [h["iterations"] for h in whole["history"]]
    one = _state(run(data, tmp_path / "c", epochs=1))[weights]  # and the epochs moved the weights
    assert any(not torch.equal(one[k], v) for k, v in whole[weights].items())


@pytest.mark.parametrize("name", TRAINERS)
def test_done_resume_false_and_another_architecture(name, data, tmp_path):
    run, _, _, _, change, message = TRAINERS[name]
    ckpt = run(data, tmp_path, epochs=2)
    before = ckpt.stat().st_mtime_ns
    assert run(data, tmp_path, epochs=2) == ckpt  # nothing left to do: the file is not touched
    assert ckpt.stat().st_mtime_ns == before
    with pytest.raises(ValueError, match=message):
        run(data, tmp_path, epochs=3, **change)
    run(data, tmp_path, epochs=1, resume=False)  # starts over
    assert _state(ckpt)["epoch"] == 1


@pytest.mark.parametrize("value", [None, {}, {"state": {}, "param_groups": "x"}])
@pytest.mark.parametrize("name", TRAINERS)
def test_a_damaged_optimizer_state_is_one_line_and_the_checkpoint_stays(name, data, tmp_path, value):
    """A checkpoint whose optimizer state is not one (found by fuzzing: None reached torch's
    load_state_dict as an AttributeError)."""
    run = TRAINERS[name][0]
    ckpt = run(data, tmp_path, epochs=1)
    state = _state(ckpt)
    for key in [k for k in state if k.startswith("optimizer")]:
        state[key] = value
    torch.save(state, ckpt)
    before = ckpt.read_bytes()
    with pytest.raises(ValueError, match=r"not a usable checkpoint: optimizer(_g)? must"):
        run(data, tmp_path, epochs=2)
    assert ckpt.read_bytes() == before


@pytest.mark.parametrize("name", TRAINERS)
def test_nan_stops_and_keeps_the_last_good_checkpoint(name, data, tmp_path, monkeypatch):
    run, cls, _, _, _, _ = TRAINERS[name]
    ckpt = run(data, tmp_path, epochs=1)
    real = cls.step
    monkeypatch.setattr(cls, "step", lambda self, batch, progress: real(self, batch, progress) * float("nan"))
    label = cls.labels[0].replace("(", r"\(").replace(")", r"\)")
    with pytest.raises(cls.error, match=rf"diverged at epoch 2, {cls.unit} 1: {label}=nan.*epoch 1\) is kept"):
        run(data, tmp_path, epochs=3)
    assert _state(ckpt)["epoch"] == 1
    assert not list(ckpt.parent.glob("*epoch_002*")) and not list(ckpt.parent.glob(".*"))
    with pytest.raises(TrainingError, match="no checkpoint was written"):
        run(data, tmp_path / "fresh", epochs=1)


@pytest.mark.parametrize("name", TRAINERS)
def test_weights_that_overflow_stop_the_run_though_the_losses_look_finite(name, data, tmp_path, monkeypatch):
    """A GAN at lr=1e10 printed losses of 1e11 while BatchNorm's running variance overflowed: its
    checkpoint was written and sampled from. Now no checkpoint with NaN or inf is written, and
    none is read."""
    run, cls, weights, _, _, _ = TRAINERS[name]
    ckpt = run(data, tmp_path, epochs=1)
    good = ckpt.read_bytes()
    real = cls.state

    def overflowed(self, epochs_done):
        state = real(self, epochs_done)
        key = next(k for k, v in state[weights].items() if v.is_floating_point())
        state[weights][key] = torch.full_like(state[weights][key], float("inf"))
        return state

    monkeypatch.setattr(cls, "state", overflowed)
    with pytest.raises(cls.error, match=rf"diverged in epoch 2: {weights}\..* is not finite.*epoch 1\) is kept"):
        run(data, tmp_path, epochs=2)
    assert ckpt.read_bytes() == good
    monkeypatch.setattr(cls, "state", real)
    state = _state(ckpt)
    key = next(k for k, v in state[weights].items() if v.is_floating_point())
    state[weights][key][...] = float("nan")
    torch.save(state, ckpt)
    with pytest.raises(ValueError, match=rf"holds NaN or infinite numbers \({weights}\.{re.escape(key)}\)"):
        run(data, tmp_path, epochs=2)


@pytest.mark.parametrize("name", ["gan", "vae"])
def test_a_resume_with_another_learning_rate_or_batch_says_so(name, data, tmp_path):
    """They resumed silently, and the checkpoint then claimed the new ones for the whole training."""
    run = TRAINERS[name][0]
    run(data, tmp_path, epochs=1, lr=1e-3)
    with pytest.warns(
        UserWarning, match=r"resuming .* with other settings from here on \(lr: stored 0.001, now 0.0005[;)]"
    ):
        run(data, tmp_path, epochs=2, lr=5e-4)
    with warnings.catch_warnings():  # done already: nothing is trained, so no setting changes
        warnings.simplefilter("error", UserWarning)
        run(data, tmp_path, epochs=2, lr=1e-4)


@pytest.mark.parametrize("name", TRAINERS)
def test_a_learning_rate_past_one_is_refused_before_training(name, data, tmp_path):
    """lr=1e308 overflowed inside Adam (an "internal error"); lr=100 "finished" a VAE whose
    samples were black."""
    with pytest.raises(ValueError, match=r"lr must be <= 1, got 100.0"):
        TRAINERS[name][0](data, tmp_path, epochs=1, lr=100)
    if name == "gan":  # (lr_d=1e9 trained a GAN of flat gray samples without a word)
        with pytest.raises(ValueError, match=r"lr_d must be <= 1, got 1000000000.0"):
            TRAINERS[name][0](data, tmp_path, epochs=1, lr_d=1e9)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", TRAINERS)
def test_a_folder_that_cannot_be_written_is_said_before_training(name, data, tmp_path, monkeypatch):
    """train_gan and train_vae said the system's "[Errno 1] Operation not permitted: 'ro/g'"
    without naming out_dir (a folder made read-only: chattr +i, which holds for root too)."""
    from fastdream.io import outputs

    monkeypatch.setattr(outputs, "can_write_in", lambda folder: Path(folder) != tmp_path)
    with pytest.raises(PermissionError, match=rf"^out_(dir|path): the folder {tmp_path} cannot be written"):
        TRAINERS[name][0](data, tmp_path, epochs=1)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", ["gan", "vae"])
def test_a_stop_held_while_the_checkpoint_is_written_keeps_that_epochs_pictures(name, data, tmp_path, monkeypatch):
    """Ctrl-C in the second the checkpoint was saved was delivered after it, whole, and then the
    epoch's sample grids were removed as if no checkpoint held the epoch; a resume never made them."""
    save = loop.save_checkpoint

    def save_then_held_stop(state, path):
        save(state, path)
        stop = KeyboardInterrupt()
        stop.written = path  # as io.atomic.signals_held delivers a stop it held
        raise stop

    monkeypatch.setattr(loop, "save_checkpoint", save_then_held_stop)
    with pytest.raises(KeyboardInterrupt):
        TRAINERS[name][0](data, tmp_path, epochs=1)
    folder = tmp_path / name
    assert _state(folder / "checkpoint.pt")["epoch"] == 1
    assert (folder / "samples_epoch_001.png").is_file(), sorted(p.name for p in folder.iterdir())


@pytest.mark.parametrize("name", TRAINERS)
def test_time_budget_and_amp_on_cpu(name, data, tmp_path):
    run = TRAINERS[name][0]
    with pytest.warns(UserWarning, match="amp=True needs CUDA"):
        ckpt = run(data, tmp_path, epochs=5, max_minutes=1e-6, amp=True)
    state = _state(ckpt)
    assert state["epoch"] == 1  # the first epoch always runs, then the budget is spent
    assert state["config"]["amp"] is False


class _Counting(Trainer):
    """A trainer of one parameter, to see the loop's own rules without any model."""

    name = "train_toy"

    def __init__(self, path, epoch_seconds=0.0):
        self.path, self.history, self.w = path, [], torch.zeros(1)
        self.epoch_seconds = epoch_seconds

    def batches(self, epoch):
        return range(3)

    def step(self, batch, progress):
        self.progress = progress
        self.w += 1
        return torch.tensor([float(batch), progress])

    def end_epoch(self, epoch, means):
        loop.time.sleep(self.epoch_seconds)
        return dict(seen=self.w.item())

    def state(self, epochs_done):
        return {"epoch": epochs_done, "history": self.history}


def test_the_loop_on_a_toy_trainer(tmp_path, capsys):
    t = _Counting(tmp_path / "toy.pt")
    t.keys = ("batch", "progress")
    state = _state(t.fit(2, 3, progress=True))
    # means per epoch, iterations, the step's progress over the whole run, the trainer's extras
    assert [(h["epoch"], h["iterations"], h["batch"], h["seen"]) for h in state["history"]] == [
        (1, 3, 1.0, 3),
        (2, 3, 1.0, 6),
    ]
    assert t.progress == pytest.approx((1 + 2 / 3) / 2)
    err = capsys.readouterr().err
    assert "epoch 2/2" in err and all(line.startswith("epoch ") for line in err.split("\r")[1:] if line.strip())
    # the budget: after a slow first epoch the next would end past it, so only one runs
    slow = _Counting(tmp_path / "slow.pt", epoch_seconds=0.2)
    slow.keys = ("batch", "progress")
    slow.fit(5, 3, max_minutes=0.25 / 60)
    assert [h["epoch"] for h in slow.history] == [1]
    # (in words that fit the shell too: it said "train_toy: time budget ... reached")
    said = capsys.readouterr().out
    assert "stopped after epoch 1 of 5: the next would end past the time budget of 0.00416667 min" in said
    assert Dist().mean(torch.tensor([3.0])).item() == 3.0 and not Dist().enabled


def test_the_bar_shows_what_each_epoch_measured_from_that_epoch(tmp_path, capsys):
    """The U-Net's val_iou in the bar was the last epoch's at every epoch's end; the GAN's KID and
    the VAE's held-out ELBO were not shown at all."""
    t = _Counting(tmp_path / "toy.pt")
    t.keys, t.epoch_shown = ("batch", "progress"), (("seen", "seen", ".1f"),)
    t.fit(2, 3, progress=True)
    err = capsys.readouterr().err
    last = [f for f in err.split("\r") if f.strip()][-1]  # the bar as the run ended: the last epoch's
    assert "seen=3.0" in err and "seen=6.0" in last, err


def test_a_resumed_run_says_so(tmp_path, capsys):
    """A rerun after an interrupt went on at "epoch 3/8" with no word of the checkpoint it read."""
    t = _Counting(tmp_path / "toy.pt")
    t.keys = ("batch", "progress")
    t.start = 2
    t.fit(3, 3, progress=True)
    assert f"train_toy: resuming {tmp_path / 'toy.pt'} after epoch 2 of 3" in capsys.readouterr().err
    t.start = 0
    t.fit(1, 3, progress=True)
    assert "resuming" not in capsys.readouterr().err


def test_the_bar_counts_the_epochs_a_time_budget_lets_run(tmp_path, capsys, monkeypatch):
    """The bar's total (and so its time left) was every epoch asked for, past the budget."""
    import types

    now = [0.0]  # a clock of its own: the plan, whatever the machine's load
    clock = types.SimpleNamespace(
        monotonic=lambda: now[0], time=lambda: now[0], sleep=lambda s: now.__setitem__(0, now[0] + s)
    )
    monkeypatch.setattr(loop, "time", clock)
    t = _Counting(tmp_path / "toy.pt", epoch_seconds=0.1)
    t.keys = ("batch", "progress")
    t.fit(30, 3, max_minutes=1.0 / 60, progress=True)
    done = len(t.history)
    err = capsys.readouterr().err
    fits = [int(m) for m in re.findall(r"\((\d+) fit the time budget\)", err)]
    assert done < 30 and fits and max(fits) < 30, err
    totals = [int(m) for m in re.findall(r"\d+/(\d+) \[", err)]  # tqdm's "n/total [" after the plan
    assert fits[-1] * 3 in totals, err

    # Epochs that slow down: the run stops short of the last plan, and the bar ends full at what ran
    class Slowing(_Counting):
        def end_epoch(self, epoch, means):
            loop.time.sleep(0.05 if epoch < 5 else 0.8)  # (the plan after epoch 5: 20 fit; it stops after 6)
            return dict(seen=self.w.item())

    now[0] = 0.0
    t = Slowing(tmp_path / "slow.pt")
    t.keys = ("batch", "progress")
    t.fit(30, 3, max_minutes=1.0 / 60, progress=True)
    err, done = capsys.readouterr().err, len(t.history)
    last = re.findall(r"(\d+)/(\d+) \[", err)[-1]  # (it kept the plan's total: "93%, 16 fit")
    assert last == (str(done * 3), str(done * 3)), (last, done, err)


def test_ddp_two_processes_cpu(data, tmp_path):
    """One torchrun launch, each trainer in turn: every process trains on its share, rank 0 writes."""
    script = tmp_path / "run.py"
    script.write_text(
        textwrap.dedent("""
        import sys
        from pathlib import Path
        from fastdream import gan
        from fastdream.cutout import train_unet
        images, cutouts, out = (Path(a) for a in sys.argv[1:])
        gan.train_gan(images, out / "gan", image_size=32, epochs=1, batch_size=2, nz=8, ngf=4, ndf=4, progress=False)
        from fastdream.vae import train_vae
        train_vae(images, out / "vae", image_size=32, epochs=1, batch_size=2, latent_dim=8, base_channels=4,
                  progress=False)
        train_unet(cutouts / "images", cutouts / "masks", out / "unet.pt", epochs=1, image_size=32, base_channels=8, backbone=None,
                   depth=2, batch_size=2, progress=False)
        from fastdream.dreamer import train_dreamer  # the two folders as two subjects
        train_dreamer(cutouts, out / "dreamer.pt", epochs=1, image_size=64, batch_size=2, seed=0, recipe={"exemplars": 8})
    """)
    )
    out = tmp_path / "out"
    env = {k: v for k, v in os.environ.items() if k not in ("WORLD_SIZE", "RANK", "LOCAL_RANK", "MASTER_PORT")}
    env.update(OMP_NUM_THREADS="1", CUDA_VISIBLE_DEVICES="")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--standalone", str(script)]
    cmd += [str(data["images"]), str(data["cutouts"].images.parent), str(out)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    g = _state(out / "gan" / "checkpoint.pt")
    assert g["epoch"] == 1 and g["config"]["world_size"] == 2
    assert g["history"][0]["iterations"] == 2  # 8 images, 2 processes, batches of 2
    assert (out / "gan" / "samples_epoch_001.png").is_file()
    u = _state(out / "unet.pt")
    assert u["epoch"] == 1 and u["config"]["world_size"] == 2
    # 11 training pairs over 2 processes: 6 each (one repeated), in batches of 2: 3 steps.
    assert u["history"][0]["iterations"] == 3
    assert 0.0 <= u["metrics"]["val_iou"] <= 1.0 and math.isfinite(u["metrics"]["val_loss"])
    v = _state(out / "vae" / "checkpoint.pt")
    # 7 of 8 images to train (one held out), 2 processes, batches of 2: one full batch each
    assert v["epoch"] == 1 and v["config"]["world_size"] == 2 and v["history"][0]["iterations"] == 1
    assert math.isfinite(v["history"][0]["val_elbo"])
    d = _state(out / "dreamer.pt")
    # 24 pictures, 2 held out of each subject: 10 draws of each, 10 per process, batches of 2
    assert d["config"]["world_size"] == 2 and d["history"][0]["iterations"] == 5
    assert d["history"][0]["val_acc"] >= 0.5 and d["stats"]["_blocks.5"]["exemplars"].shape == (2, 8, 80)


def test_a_unet_resumed_without_its_backbone_setting_names_the_backbone(data, tmp_path, capsys):
    """A plain U-Net resumed with the default backbone was told to pass base_channels=8, which
    changed nothing: the backbone is the setting that differs, and the shell gets its option."""
    from fastdream.cli import main

    c = data["cutouts"]
    ckpt = _unet(data, tmp_path, epochs=1, image_size=64)
    with pytest.raises(
        ValueError, match="trained with backbone=None, not backbone='efficientnet_lite0'; pass backbone"
    ):
        _unet(data, tmp_path, epochs=2, image_size=64, backbone="efficientnet_lite0")
    args = ["train-unet", str(c.images), str(c.masks), "-o", str(ckpt), "--epochs", "2", "--image-size", "64", "-q"]
    assert main(args) == 2
    assert "pass --backbone none to resume, --no-resume to start over" in capsys.readouterr().err
    assert main([*args, "--base-channels", "8"]) == 2  # ignored with a backbone, where they were taken silently
    assert "--base-channels and --depth shape the plain U-Net" in capsys.readouterr().err
    assert _state(ckpt)["epoch"] == 1
    args[args.index("--epochs") + 1] = "1"  # already done: said so, not "wrote"
    assert main([*args, "--backbone", "none", "--base-channels", "8", "--depth", "2", "--batch-size", "4"]) == 0
    assert capsys.readouterr().out.strip() == f"{ckpt} is already trained that far; nothing written"
    args.remove("-q")  # with its progress shown, the trainer says so, once (the command said it again)
    assert main([*args, "--backbone", "none", "--base-channels", "8", "--depth", "2", "--batch-size", "4"]) == 0
    out, err = capsys.readouterr()
    assert (out, err.count("nothing to do"), err.count("\n")) == ("", 1, 1)


@pytest.mark.parametrize("name", ["gan", "vae"])
def test_one_unreadable_file_is_an_error_or_with_skip_bad_left_out(name, data, tmp_path):
    """A text file among a GAN's or VAE's pictures stopped the run with no way round it (the U-Net
    has skip_bad, the dreamer skips by default)."""
    import shutil

    images = tmp_path / "images"
    shutil.copytree(data["images"], images)
    (images / "notes.png").write_text("not a picture")
    (images / "empty.jpg").write_bytes(b"")
    whole = io.BytesIO()
    Image.new("RGB", (64, 64), (200, 30, 30)).save(whole, "PNG", compress_level=0)
    (images / "cut.png").write_bytes(whole.getvalue()[:4000])  # a header, then half the pixels
    # Hidden files are no one's pictures (a Mac's ._x.png is not even an image): never read.
    (images / "._cut.png").write_bytes(b"\x00\x05\x16\x07 Mac OS X resource fork")
    (images / ".thumbnails").mkdir()
    Image.new("RGB", (8, 8)).save(images / ".thumbnails" / "a.png")
    run = TRAINERS[name][0]
    with pytest.raises(ValueError, match=r"empty.jpg is empty \(0 bytes\) \(pass skip_bad=True"):
        run({**data, "images": images}, tmp_path, epochs=1)
    assert not (tmp_path / name).exists()
    # skip_bad decodes each file whole: one cut short after its header is left out too (it
    # passed the header check and stopped the run when decoded).
    with pytest.warns(UserWarning, match=r"skipping 3 unreadable file\(s\) \(.*cut.png"):
        ckpt = run({**data, "images": images}, tmp_path, epochs=1, skip_bad=True)
    assert _state(ckpt)["epoch"] == 1
    assert _state(ckpt)["config"]["images"] == len(list(data["images"].rglob("*.*"))) - 1  # (its text file)


@pytest.mark.parametrize("name", ["gan", "vae"])
def test_starting_over_replaces_the_old_runs_grids_once_it_has_a_checkpoint(name, data, tmp_path):
    run = TRAINERS[name][0]
    ckpt = run(data, tmp_path, epochs=3)
    grids = lambda: sorted(p.name for p in ckpt.parent.glob("*_epoch_*.png"))
    assert any("_epoch_003" in g for g in grids())
    # The user's own pictures whose names look alike are theirs (they were removed too).
    for mine in ("samples_epoch_009.png", "trip_epoch_2023.png"):
        Image.new("RGB", (4, 4)).save(ckpt.parent / mine)
    # A run stopped after its 4th epoch's grid, before its checkpoint: the grid is the run's.
    Image.new("RGB", (4, 4)).save(ckpt.parent / "samples_epoch_004.png")
    run(data, tmp_path, epochs=1, resume=False)
    ours = [g for g in grids() if g not in ("samples_epoch_009.png", "trip_epoch_2023.png")]
    assert ours and all("_epoch_001" in g for g in ours)  # the new run's only: no stale epochs 2, 3
    assert (ckpt.parent / "samples_epoch_009.png").is_file() and (ckpt.parent / "trip_epoch_2023.png").is_file()


@pytest.mark.parametrize("name", TRAINERS)
def test_starting_over_replaces_only_a_checkpoint_of_its_kind(name, data, tmp_path):
    """resume=False wrote the checkpoint over whatever the output named: a photo, notes, another
    trainer's checkpoint (``-o photo.png --no-resume``)."""
    run = TRAINERS[name][0]
    folder = name in ("gan", "vae")
    target = (
        tmp_path / name / "checkpoint.pt" if folder else tmp_path / ("unet.pt" if name == "unet" else "unet_lite.pt")
    )
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(b"my notes")
    with pytest.raises(ValueError, match=r"is not a fastdream checkpoint; starting over .* so it is kept"):
        run(data, tmp_path, epochs=1, resume=False)
    assert target.read_bytes() == b"my notes"
    other = _gan(data, tmp_path / "other", epochs=1) if name != "gan" else _vae(data, tmp_path / "other", epochs=1)
    target.write_bytes(other.read_bytes())
    with pytest.raises(ValueError, match=r"is a fastdream (GAN|VAE) checkpoint; starting over"):
        run(data, tmp_path, epochs=1, resume=False)
    assert target.read_bytes() == other.read_bytes()


def test_transparent_training_pictures_are_put_on_white(tmp_path):
    from fastdream.training import ImageFolder

    im = Image.new("RGBA", (32, 32), (255, 0, 0, 0))  # clear, red underneath
    im.paste((0, 0, 255, 255), (0, 0, 16, 32))
    im.save(tmp_path / "sprite.png")
    with pytest.warns(UserWarning, match="the transparency of 1 of 1 images is put on white"):
        x = ImageFolder([tmp_path / "sprite.png"], 32, 3)[0]
    assert x[:, :, 20:].min() >= 250 and x[:, 4, 4].tolist() == [0, 0, 255]


@pytest.mark.parametrize("name", ["gan", "vae"])
def test_a_run_with_nothing_to_do_says_nothing_of_transparency(name, tmp_path):
    """A rerun of a finished training warned that the folder's transparency "is put on white",
    where nothing was trained and nothing put anywhere."""
    import fastdream as fd
    from tests.helpers import GAN_TINY, VAE_TINY

    folder = tmp_path / "clear"
    folder.mkdir()
    for k in range(10):
        Image.new("RGBA", (32, 32), (25 * k, 90, 40, 100)).save(folder / f"{k}.png")
    train, tiny = (fd.train_gan, GAN_TINY) if name == "gan" else (fd.train_vae, VAE_TINY)
    with pytest.warns(UserWarning, match="put on white"):
        train(folder, tmp_path / "run", epochs=1, **tiny)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        train(folder, tmp_path / "run", epochs=1, **tiny)


def test_a_unet_whose_held_out_pair_is_unreadable_holds_out_another(data, tmp_path, monkeypatch):
    """The held-out pair was drawn before decoding: when it was the one file cut short, skip_bad
    ended in 'needs at least 2 pairs; found 11 usable'."""
    import shutil

    from fastdream.cutout import options

    c = data["cutouts"]
    images, masks = tmp_path / "images", tmp_path / "masks"
    shutil.copytree(c.images, images)
    shutil.copytree(c.masks, masks)
    victim = sorted(images.iterdir())[0]
    victim.write_bytes(victim.read_bytes()[: victim.stat().st_size // 2])
    real, calls = options.split, []

    def split(keys, state, a, launch):  # the first draw holds out the victim alone
        calls.append(1)
        return {victim.stem} if len(calls) == 1 else real(keys, state, a, launch)

    monkeypatch.setattr(options, "split", split)
    with pytest.warns(UserWarning, match="skipping 1 bad pair"):
        ckpt = train_unet(images, masks, tmp_path / "u.pt", epochs=1, skip_bad=True, **UNET_TINY)
    state = _state(ckpt)
    assert len(calls) == 2 and state["val_keys"] and victim.stem not in state["val_keys"]


@pytest.mark.parametrize("name", ["gan", "vae"])
def test_a_run_of_a_few_steps_is_said_to_be_short(name, data, tmp_path, monkeypatch):
    """30 pictures in one batch: the default 25 epochs were 25 steps, and the run wrote a grid of
    gray noise without a word."""
    words = r"2 epochs of \d+ (step|batch)(es|s)? are \d+ (step|batch)(es|s)?, too few to draw more than noise"
    with pytest.warns(UserWarning, match=words + r"; pass epochs=\d+ or more"):
        TRAINERS[name][0](data, tmp_path, epochs=2)
    with pytest.warns(UserWarning, match=r": 1 epoch of \d+ (step|batch)(es|s)? is "):  # (it said "1 epochs ... are")
        TRAINERS[name][0](data, tmp_path / "one", epochs=1)
    monkeypatch.setattr(TRAINERS[name][1], "least_steps", 2)  # (as if 2 epochs were enough)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        TRAINERS[name][0](data, tmp_path / "enough", epochs=2)


def test_a_world_size_left_outside_torchrun_is_one_line_naming_it(monkeypatch):
    """WORLD_SIZE=2 RANK=1 left in a shell gave torch's "environment variable MASTER_ADDR expected"."""
    from fastdream.training import distributed

    for k in ("MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.delenv(k, raising=False)
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    with pytest.raises(ValueError, match=r"^WORLD_SIZE=2 is set but MASTER_ADDR and MASTER_PORT not: .* unset RANK"):
        distributed(torch.device("cpu"))
