"""The fastdream command line, end to end in a subprocess, as a user runs it."""

import io
import json
import os
import re
import struct
import subprocess
import sys
import zlib

import numpy as np
import pytest
from PIL import Image

import fastdream as fd


def _png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims ``width`` x ``height`` pixels (a decompression bomb)."""
    buf = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buf, format="PNG")
    data = buf.getvalue()
    ihdr = struct.pack(">II", width, height) + data[24:29]
    return data[:16] + ihdr + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr)) + data[33:]


def run(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "fastdream.cli", *args], capture_output=True, text=True, cwd=cwd, timeout=300
    )


@pytest.fixture
def small_image(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "in.png"
    Image.fromarray((rng.random((40, 56, 3)) * 255).astype(np.uint8)).save(path)
    return path


def test_dream_writes_an_image(tmp_path, small_image):
    out = tmp_path / "out.png"
    r = run("dream", str(small_image), "-o", str(out), "--octaves", "1", "--steps", "2", "--seed", "0", "-q")
    assert r.returncode == 0, r.stderr
    with Image.open(out) as im:
        assert im.size == (56, 40) and im.mode == "RGB"
        assert not np.array_equal(np.asarray(im), np.asarray(Image.open(small_image)))
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temp files left


def test_dream_with_creative_controls(tmp_path, small_image):
    out = tmp_path / "out.png"
    r = run(
        "dream",
        str(small_image),
        "-o",
        str(out),
        "--octaves",
        "1",
        "--steps",
        "2",
        "--seed",
        "0",
        "-q",
        "--layers",
        "_blocks.10:37=2",
        "_blocks.5:top4",
        "--guide",
        str(small_image),
        "--norm",
        "laplacian",
        "--smooth",
        "0.5",
        "--preserve-colors",
    )
    assert r.returncode == 0, r.stderr
    with Image.open(out) as im:
        assert im.size == (56, 40) and not np.array_equal(np.asarray(im), np.asarray(Image.open(small_image)))


def test_style_writes_an_image_and_refuses_bad_input(tmp_path, small_image):
    out = tmp_path / "styled.png"
    r = run(
        "style",
        str(small_image),
        str(small_image),
        str(small_image),
        "--style-weights",
        "1",
        "2",
        "-o",
        str(out),
        "--steps",
        "2",
        "--octaves",
        "1",
        "--seed",
        "0",
        "-q",
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == f"wrote {out} (56x40)"  # (from the content a seed seeds nothing)
    with Image.open(out) as im:
        assert im.size == (56, 40)
    # No --seed: one is drawn and said, and it paints the same picture again (it was not said);
    # only from noise, where a seed seeds something.
    again = (
        "style",
        str(small_image),
        str(small_image),
        "--steps",
        "1",
        "--octaves",
        "1",
        "--init",
        "noise",
        "-q",
        "-o",
    )
    r = run(*again, str(tmp_path / "a.png"))
    seed = re.fullmatch(r"wrote \S+ \(56x40, seed (\d+)\)", r.stdout.strip()).group(1)
    assert run(*again, str(tmp_path / "b.png"), "--seed", seed).returncode == 0
    assert (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes()
    for args, words in [
        (["--style-weights", "1"], "1 value(s) for 2 style image(s)"),
        (["--size", "8"], "below"),
        (["--init", "zeros"], "invalid choice"),
    ]:
        r = run("style", str(small_image), str(small_image), str(small_image), "-o", str(tmp_path / "x.png"), *args)
        assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and words in r.stderr, r.stderr
    assert not (tmp_path / "x.png").exists()


def test_dream_a_folder_and_a_video(tmp_path, small_image):
    folder = tmp_path / "imgs"
    folder.mkdir()
    for i in range(3):
        Image.open(small_image).rotate(90 * i).save(folder / f"{i}.png")
    (folder / "bad.png").write_text("not a png")
    r = run(
        "dream", str(folder), "-o", str(tmp_path / "out"), "--format", "jpg", "--octaves", "1", "--steps", "1", "-q"
    )
    assert r.returncode == 0, r.stderr
    assert "dreamed 3 image(s)" in r.stdout and "1 unreadable" in r.stdout and "skipping" in r.stderr
    assert sorted(p.name for p in (tmp_path / "out").glob("*.jpg")) == ["0.jpg", "1.jpg", "2.jpg"]
    r = run(
        "dream-video",
        str(tmp_path / "out"),
        "-o",
        str(tmp_path / "v.gif"),
        "--octaves",
        "1",
        "--steps",
        "1",
        "--blend",
        "0.3",
        "-q",
    )
    assert r.returncode == 0, r.stderr
    seed = json.loads((tmp_path / "v_frames" / "dream_video_settings.json").read_text())["key"]["seed"]
    assert r.stdout.strip() == f"wrote {tmp_path / 'v.gif'} (seed {seed})"  # the seed drawn, said
    with Image.open(tmp_path / "v.gif") as im:
        assert im.n_frames == 3
    for args, words in [
        (["--blend", "2"], "blend must be"),
        (["-o", str(tmp_path / "v.txt")], "unknown video extension"),
    ]:
        r = run("dream-video", str(tmp_path / "out"), "-o", str(tmp_path / "w.gif"), *args)
        assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and words in r.stderr, r.stderr
    assert not (tmp_path / "w.gif").exists()


@pytest.mark.slow
def test_dream_without_input_uses_the_bundled_sample(tmp_path):
    (tmp_path / "dream.png").write_text("an earlier dream")  # the default name: replaced, silently
    r = run("dream", "--octaves", "1", "--steps", "1", "--tile", "256", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    said = r.stdout.strip()  # the seed drawn, to make it again; the sample named (a forgotten input)
    assert re.fullmatch(r"wrote dream-2.png \(512x512, seed (\d+), of the bundled sample photo\)", said), said
    assert (tmp_path / "dream.png").read_text() == "an earlier dream"
    with Image.open(tmp_path / "dream-2.png") as im:
        assert im.size == (512, 512)
    seed = re.search(r"seed (\d+)", said)[1]
    again = run(
        "dream", "--octaves", "1", "--steps", "1", "--tile", "256", "--seed", seed, "-o", "again.png", cwd=tmp_path
    )
    assert again.returncode == 0, again.stderr
    assert np.array_equal(
        np.asarray(Image.open(tmp_path / "again.png")), np.asarray(Image.open(tmp_path / "dream-2.png"))
    )


@pytest.mark.parametrize(
    "args, words",
    [
        (["dream", "missing.png"], "no such file"),
        (["dream", "{bad}"], "error: input: "),
        (["zoom", "{bad}", "-o", "{tmp}/z.gif"], "error: input: "),  # said "image:": not in its usage
        (["sheet", "{bad}", "--vary", "seed=1,2", "-o", "{tmp}/s.png"], "error: input: "),
        (["dream", "{img}", "--layers", "no_such_layer"], "unknown layer"),
        (["dream", "{img}", "--steps", "0"], "steps"),
        # (argparse took -inf and -1e-9 for options: "expected one argument")
        (["dream", "{img}", "--step-size", "-inf"], "--step-size must be a finite number > 0, got -inf"),
        (["dream", "{img}", "--step-size", "-1e-9"], "--step-size must be a finite number > 0, got -1e-09"),
        (["dream", "{img}", "--steps", "ten"], "invalid int"),
        (["dream", "{img}", "--octave-scale", "0.5"], "--octave-scale"),
        (["dream", "{img}", "-o", "{img}"], "--overwrite"),
        (["dream", "{img}", "-o", "{tmp}/no/such/dir/out.png"], "does not exist"),
        (["dream", "{img}", "-o", "{tmp}/out.xyz"], "extension"),
        (["dream", "{img}", "-o", "{tmp}/new.png/"], "ends with a slash, as a folder does"),  # (it wrote new.png)
        (["dream", "{bomb}"], "claims more than"),
        (["dream", "{img}", "--layers", "_blocks.10:500"], "_blocks.10 has 112 channels"),
        (["dream", "{img}", "--layers", "_blocks.10:top8=two"], "not a number"),
        (["dream", "{img}", "--guide", "missing.png"], "no such file"),
        (["dream", "{img}", "--guide", "{bad}"], "error: --guide: "),  # said "image:", the input seemed bad
        (["style", "{img}", "{bad}", "-o", "{tmp}/s.png"], "error: style: "),
        (["style", "{bad}", "{img}", "-o", "{tmp}/s.png"], "error: input: "),
        (["dream", "{img}", "--smooth", "-1"], "smooth must be"),
        (["dream", "{img}", "--preserve-colors", "--color-match"], "alternatives"),
        (["dream", "{img}", "--norm", "laplacian", "--lap-levels", "0"], "--lap-levels"),
        (["dream", "{img}", "--lap-levels", "3"], "with --norm std; pass --norm laplacian with them"),
        (["dream", "{img}", "--low-memory", "--smooth", "1"], "in float32; drop --low-memory to use it"),
        (
            ["dream", "{img}", "--tile", "1"],
            "--tile must be >= 32, got 1 (--tile 0: no tiling)",
        ),  # in its option's name
        (["dream", "{img}", "--device", "tpu"], "'tpu' is not a valid device"),
        (["zoom", "{img}", "-o", "{tmp}/z.gif", "--device", "tpu"], "'tpu' is not a valid device"),
        # (NAME_frames of a 250-byte name, and a 256-byte name: the system's "File name too long")
        (["zoom", "{img}", "-o", "{tmp}/" + "z" * 250 + ".gif"], "--frames-dir: the name is 257 bytes"),
        (["dream-video", "{img}", "-o", "{tmp}/" + "z" * 256 + ".gif"], "--output: the name is 260 bytes"),
    ],
)
def test_errors_are_one_line_exit_2_and_write_nothing(tmp_path, small_image, args, words):
    bad = tmp_path / "bad.png"
    bad.write_text("this is not a png")
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(_png_claiming(100_000, 100_000))
    args = [a.format(img=small_image, bad=bad, bomb=bomb, tmp=tmp_path) for a in args]
    before = sorted(p.name for p in tmp_path.iterdir())
    r = (
        run(*args, "--octaves", "1", "--steps", "1", "-q", cwd=tmp_path)
        if "--steps" not in args
        else run(*args, "-q", cwd=tmp_path)
    )
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and words in lines[0] and "Traceback" not in r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_a_channel_past_its_layers_is_said_before_the_bar_starts(tmp_path, small_image):
    """The channel's range was checked at the first step, after the bar's first frame: a log or a
    pipe kept "dream:   0%|" above the error line."""
    r = run("dream", str(small_image), "-o", str(tmp_path / "x.png"), "--layers", "_blocks.10:999", "--steps", "1")
    assert r.returncode == 2
    assert r.stderr.strip().splitlines() == [
        "fastdream dream: error: --layers: _blocks.10 has 112 channels (0-111); channel(s) 999 are out of range"
    ], r.stderr


def test_no_option_says_two_defaults():
    """style-video's --octaves said "default: 3, fewer where ..." (style's) and then "(default: 2)"."""
    import argparse

    from fastdream.cli import build_parser

    commands = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)).choices
    twice = [
        f"{name} {action.option_strings}"
        for name, parser in commands.items()
        for action in parser._actions
        if action.help and action.help.replace("%(default)", "").count("default") > 1
    ]
    assert twice == []


def test_version():
    r = run("--version")
    assert (r.returncode, r.stdout.strip()) == (0, f"fastdream {fd.__version__}")  # it said "required: COMMAND"


def test_list_layers():
    r = run("dream", "--list-layers")
    assert r.returncode == 0
    rows = {line.split()[0]: line.split()[1:] for line in r.stdout.strip().split("\n")[1:]}
    # every layer with its channel count; the default layers marked
    assert rows["_blocks.5"] == ["80", "(default)"] and rows["_blocks.10"] == ["112", "(default)"]
    # A preset's own network: the tutorial's InceptionV3 (it listed EfficientNet's layers).
    r = run("dream", "--list-layers", "--preset", "tutorial")
    marked = [line.split()[:2] for line in r.stdout.splitlines() if line.endswith("(default)")]
    assert marked == [["Mixed_6a", "(mixed3)"], ["Mixed_6c", "(mixed5)"], ["Mixed_6e", "(mixed7)"]], r.stdout
    assert rows["_conv_stem"] == ["32"] and rows["_blocks.15"] == ["320"] and rows["_conv_head"] == ["1280"]
    assert len(rows) > 100


def test_list_layers_reads_the_weights_it_is_given(tmp_path):
    """--weights were ignored: a missing file listed the layers (exit 0), a fine-tuned head showed
    1000 classes."""
    import torch

    sd = fd.models.load("googlenet").state_dict()
    sd["fc.weight"], sd["fc.bias"] = sd["fc.weight"][:10], sd["fc.bias"][:10]
    torch.save(sd, tmp_path / "ten.pth")
    r = run("dream", "--list-layers", "--model", "googlenet", "--weights", str(tmp_path / "ten.pth"))
    assert r.returncode == 0 and r.stdout.splitlines()[-1].split() == ["fc", "10"], r.stdout
    r = run("dream", "--list-layers", "--model", "googlenet", "--weights", str(tmp_path / "missing.pth"))
    assert r.returncode == 2 and r.stderr.strip().splitlines() == [
        f"fastdream dream: error: --weights: no such file: {tmp_path / 'missing.pth'}"
    ], r.stderr


def test_list_layers_into_a_closed_pipe_is_quiet(tmp_path, monkeypatch, capsys):
    # `fastdream dream --list-layers | head -1`: the reader goes away early; that is no error.
    from fastdream import cli

    class ClosedPipe:
        def write(self, text):
            raise BrokenPipeError(32, "Broken pipe")

        def flush(self):
            pass

        def fileno(self):
            return sink.fileno()

    with open(tmp_path / "sink", "w") as sink:
        monkeypatch.setattr(sys, "stdout", ClosedPipe())
        assert cli.main(["dream", "--list-layers"]) == 0
    assert "error" not in capsys.readouterr().err


def test_info():
    r = run("info", "--json")
    assert r.returncode == 0 and '"native_cpu"' in r.stdout


def test_zoom_writes_a_gif_and_resumes(tmp_path, small_image):
    out = tmp_path / "z.gif"
    args = [
        "zoom",
        str(small_image),
        "-o",
        str(out),
        "--frames",
        "3",
        "--steps",
        "1",
        "--tile",
        "0",
        "--seed",
        "0",
        "-q",
    ]
    r = run(*args)
    assert r.returncode == 0, r.stderr
    with Image.open(out) as im:
        assert im.n_frames == 3 and im.size == (56, 40)
    r = run(*[a if a != "3" else "4" for a in args])  # one more frame: the 3 kept ones are reused
    assert r.returncode == 0, r.stderr
    with Image.open(out) as im:
        assert im.n_frames == 4
    r = run(*args, "--zoom", "1.3")  # other settings than the kept frames: refused
    assert r.returncode == 2 and "zoom" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    r = run(*args, "--mask", str(small_image))  # a file that changed is named by its option ("dream.mask: ...")
    assert r.returncode == 2 and "(--mask: none before, one now)" in r.stderr, r.stderr


def test_gan_commands_end_to_end(tmp_path):
    rng = np.random.default_rng(0)
    imgs = tmp_path / "imgs"
    imgs.mkdir()
    for i in range(16):
        Image.fromarray((rng.random((32, 32)) * 255).astype(np.uint8)).save(imgs / f"{i}.png")
    run_dir = tmp_path / "run"
    r = run(
        "train-gan",
        str(imgs),
        "-o",
        str(run_dir),
        "--image-size",
        "32",
        "--epochs",
        "1",
        "--batch-size",
        "8",
        "--ngf",
        "8",
        "--ndf",
        "8",
        "--gray",
        "-q",
    )
    assert r.returncode == 0, r.stderr
    ckpt = run_dir / "checkpoint.pt"
    assert ckpt.is_file() and (run_dir / "samples_epoch_001.png").is_file()
    r = run("sample-gan", str(ckpt), "-o", str(tmp_path / "s"), "-n", "3", "--seed", "1")
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in (tmp_path / "s").glob("*.png")) == [f"sample_{i:04d}.png" for i in range(3)]
    r = run("sample-gan", str(ckpt), "-o", str(tmp_path / "s4"), "-n", "0")  # in the shell's words (it said "n")
    assert r.returncode == 2 and "-n must be >= 1, got 0" in r.stderr, r.stderr
    r = run("sample-gan", str(ckpt), "-o", str(tmp_path / "s3"), "--steps", "3")  # a dream setting, no --dream
    assert r.returncode == 2 and "--dream-size and --steps are for the dream of each picture: add --dream" in r.stderr
    before = (tmp_path / "s" / "sample_0000.png").read_bytes()
    r = run("sample-gan", str(ckpt), "-o", str(tmp_path / "s"), "-n", "2", "--seed", "2")  # the same folder again
    assert r.returncode == 2 and "holds 3 samples of other settings (--seed: 1 before, 2 now)" in r.stderr, r.stderr
    (tmp_path / "s" / ".fastdream-samples.json").unlink()  # (samples of no record: not known to be this run's)
    r = run("sample-gan", str(ckpt), "-o", str(tmp_path / "s"), "-n", "3", "--seed", "1")
    assert r.returncode == 2 and "already holds 3 samples" in r.stderr  # replacing 2 of 3 mixed two runs
    assert (tmp_path / "s" / "sample_0000.png").read_bytes() == before
    # Into the pictures it trained on: a resumed training would learn the network's own samples.
    r = run("sample-gan", str(ckpt), "-o", str(tmp_path / "imgs"), "-n", "2")
    assert r.returncode == 2 and "other pictures" in r.stderr and "new or empty folder" in r.stderr, r.stderr
    assert not list((tmp_path / "imgs").glob("sample_*"))
    r = run("gan-walk", str(ckpt), "-o", str(tmp_path / "w2f.gif"), "--frames", "2")  # (it warned of --points 4,
    assert r.returncode == 0 and "warning" not in r.stderr, r.stderr  # an option not given)
    r = run("gan-walk", str(ckpt), "-o", str(tmp_path / "w.gif"), "--frames", "5")
    assert r.returncode == 0, r.stderr
    with Image.open(tmp_path / "w.gif") as im:
        assert im.n_frames == 5
    # Without --seed one is drawn and said, and makes the same walk again (it was not said).
    seed = re.fullmatch(rf"wrote {re.escape(str(tmp_path / 'w.gif'))} \(5 frames, seed (\d+)\)", r.stdout.strip())[1]
    r = run("gan-walk", str(ckpt), "-o", str(tmp_path / "w2.gif"), "--frames", "5", "--seed", seed)
    assert (tmp_path / "w2.gif").read_bytes() == (tmp_path / "w.gif").read_bytes()
    dreamed = ("gan-walk", str(ckpt), "--frames", "2", "--dream", "--dream-size", "48", "--steps", "1")
    r = run(*dreamed, "-o", str(tmp_path / "wd.gif"))  # dreams take seconds each: a progress bar over them
    assert r.returncode == 0 and "dream: 100%" in r.stderr, r.stderr
    r = run(*dreamed, "-o", str(tmp_path / "wq.gif"), "-q")  # -q as on every other command
    assert r.returncode == 0 and "100%" not in r.stderr, r.stderr
    r = run("sample-gan", str(imgs / "0.png"), "-o", str(tmp_path / "s2"))
    assert r.returncode == 2 and "not a fastdream checkpoint" in r.stderr and len(r.stderr.strip().splitlines()) == 1

    vae_dir = tmp_path / "vae"
    r = run(
        "train-vae",
        str(imgs),
        "-o",
        str(vae_dir),
        "--image-size",
        "32",
        "--epochs",
        "1",
        "--batch-size",
        "4",
        "--latent-dim",
        "8",
        "-q",
    )
    assert r.returncode == 0, r.stderr
    vckpt = vae_dir / "checkpoint.pt"
    assert (vae_dir / "samples_epoch_001.png").is_file() and (vae_dir / "recon_epoch_001.png").is_file()
    r = run("sample-vae", str(vckpt), "-o", str(tmp_path / "vs"), "-n", "2", "--seed", "0", "--temperature", "0.8")
    assert r.returncode == 0, r.stderr
    assert len(list((tmp_path / "vs").glob("*.png"))) == 2
    r = run(
        "vae-walk",
        str(vckpt),
        "-o",
        str(tmp_path / "vw.gif"),
        "--frames",
        "4",
        "--fps",
        "10",
        "--between",
        str(imgs / "0.png"),
        str(imgs / "1.png"),
    )
    assert r.returncode == 0, r.stderr
    with Image.open(tmp_path / "vw.gif") as im:  # Pillow merges equal frames, their times add up
        total = 0
        for k in range(im.n_frames):
            im.seek(k)
            total += im.info["duration"]
        assert total == 400
    between = ["--between", str(imgs / "0.png"), str(imgs / "1.png")]  # (--points was dropped without a word)
    r = run("vae-walk", str(vckpt), "-o", str(tmp_path / "vp.gif"), "--frames", "4", *between, "--points", "3")
    assert r.returncode == 2 and r.stderr.startswith("fastdream vae-walk: error: --points: a walk between two images")
    for cmd, ckpt_of in (("sample-vae", ckpt), ("sample-gan", vckpt)):  # the wrong kind of checkpoint
        r = run(cmd, str(ckpt_of), "-o", str(tmp_path / "wrong"))
        assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and "checkpoint (written by" in r.stderr
    assert not (tmp_path / "wrong").exists()


def test_unet_commands_end_to_end(tmp_path):
    from fastdream.data import make_cutout_dataset

    ds = make_cutout_dataset(tmp_path / "ds", 16, size=40, seed=0)
    ckpt = tmp_path / "u.pt"
    r = run(
        "train-unet",
        str(ds.images),
        str(ds.masks),
        "-o",
        str(ckpt),
        "--epochs",
        "1",
        "--image-size",
        "40",
        "--base-channels",
        "8",
        "--depth",
        "2",
        "--backbone",
        "none",
        "-q",
    )
    assert r.returncode == 0, r.stderr
    photo = sorted(ds.images.iterdir())[0]
    r = run("cutout", str(photo), "-o", str(tmp_path / "cut.png"), "--model", str(ckpt))
    assert r.returncode == 0, r.stderr
    with Image.open(tmp_path / "cut.png") as im:
        assert im.mode == "RGBA" and im.size == (40, 40)
    r = run("cutout", str(photo), "-o", str(tmp_path / "mask.png"), "--model", str(ckpt), "--only-mask")
    with Image.open(tmp_path / "mask.png") as im:
        assert r.returncode == 0 and im.mode == "L"
    r = run("cutout", "-o", str(tmp_path / "sample.png"), "--model", str(ckpt), "--only-mask")  # as dream: the sample
    with Image.open(tmp_path / "sample.png") as im:
        assert r.returncode == 0 and im.size == (512, 512), r.stderr
    assert "of the bundled sample photo" in r.stdout  # (as dream says it)
    r = run(
        "dream",
        str(photo),
        "-o",
        str(tmp_path / "d.png"),
        "--mask-from",
        str(ckpt),
        "--invert-mask",
        "--octaves",
        "1",
        "--steps",
        "1",
        "-q",
    )
    assert r.returncode == 0, r.stderr
    r = run("dream", str(photo), "-o", str(tmp_path / "e.png"), "--invert-mask", "-q")
    assert r.returncode == 2 and "--mask-from" in r.stderr
    r = run("cutout", str(photo), "-o", str(tmp_path / "c.jpg"), "--model", str(ckpt))
    assert r.returncode == 2 and "alpha" in r.stderr and not (tmp_path / "c.jpg").exists()
    r = run(
        "cutout", str(photo), "-o", str(tmp_path / "on_red.jpg"), "--model", str(ckpt), "--bg-color", "255", "0", "0"
    )
    assert r.returncode == 0, r.stderr
    with Image.open(tmp_path / "on_red.jpg") as im:
        assert im.mode == "RGB" and im.size == (40, 40)
    r = run("cutout", str(photo), "-o", str(tmp_path / "x.png"), "--model", str(ckpt), "--bg-color", "255", "0")
    assert r.returncode == 2 and "(R, G, B)" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    r = run("cutout", str(photo), "-o", str(tmp_path / "red.jpg"), "--model", str(ckpt), "--bg-color", "#ff0000")
    assert r.returncode == 0, r.stderr  # a name, as the library takes (an "invalid int value")
    assert (tmp_path / "red.jpg").read_bytes() == (tmp_path / "on_red.jpg").read_bytes()
    r = run("cutout", str(photo), "-o", str(tmp_path / "y.png"), "--model", str(ckpt), "--bg-color", "whit")
    assert r.returncode == 2 and r.stderr.strip().endswith("--bg-color: 'whit' is not a color name or #RRGGBB[AA]")
    r = run("cutout", str(photo), "-o", str(tmp_path / "y.jpg"), "--model", str(ckpt), "--bg-color", "255")
    assert r.returncode == 2 and "--bg-color must be a color, (R, G, B)" in r.stderr  # (said to be a transparency)
    r = run("cutout", str(photo), "-o", str(tmp_path / "y.jpg"), "--model", str(ckpt), "--bg-color", "0", "0", "0", "0")
    assert r.returncode == 2 and "or give --bg-color an opaque color (no A, or A 255)" in r.stderr

    # A folder: one progress bar, bad files skipped (one line each) and counted, finished files skipped.
    folder = tmp_path / "photos"
    folder.mkdir()
    for p in sorted(ds.images.iterdir())[:3]:
        (folder / p.name).write_bytes(p.read_bytes())
    (folder / "broken.png").write_text("not a png")
    out_dir = tmp_path / "cutouts"
    r = run("cutout", str(folder), "-o", str(out_dir), "--model", str(ckpt), "-q")
    assert r.returncode == 0, r.stderr
    assert len(list(out_dir.glob("*.png"))) == 3 and "broken.png" in r.stderr
    assert " 3 image(s) " in r.stdout and "1 unreadable and skipped" in r.stdout, r.stdout
    r = run("cutout", str(folder), "-o", str(out_dir), "--model", str(ckpt), "-q")
    assert r.returncode == 0 and "3 already done" in r.stdout, r.stdout


def test_an_unknown_option_is_said_by_its_command_and_debug_keeps_the_exit_status(small_image, capsys):
    """`fastdream dream ... --bogus` was said as "fastdream: error ... (see fastdream --help)";
    --debug turned an input error's status 2 into Python's 1."""
    from fastdream.cli import main

    with pytest.raises(SystemExit) as e:
        main(["dream", str(small_image), "-o", "x.png", "--bogus"])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert err.strip() == "fastdream dream: error: unrecognized arguments: --bogus (see fastdream dream --help)"
    with pytest.raises(SystemExit):  # before the command's name: fastdream's own option
        main(["--bogus", "info"])
    assert capsys.readouterr().err.strip() == "fastdream: error: unrecognized arguments: --bogus (see fastdream --help)"
    assert main(["dream", str(small_image), "--layers", "_blocks.99", "--debug", "-q"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" in err and err.strip().splitlines()[-1].startswith("fastdream dream: error: --layers: unknown")


def test_memory_running_out_during_the_work_says_how_much(small_image, tmp_path, monkeypatch, capsys):
    """An allocation that fails mid-work (not refused by the up-front checks) was said without
    amounts; the line now says what the allocation asked for and what the machine has."""
    import fastdream as fd
    from fastdream.cli import main

    def dream(*a, **k):
        raise RuntimeError(
            "[enforce fail at alloc_cpu.cpp:127] err == 0. DefaultCPUAllocator: can't allocate memory: "
            "you tried to allocate 10000000000000 bytes. Error code 12 (Cannot allocate memory)"
        )

    monkeypatch.setattr(fd, "dream", dream)
    assert main(["dream", str(small_image), "-o", str(tmp_path / "o.png"), "-q"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("fastdream dream: error: not enough memory for this input with these settings (one ")
    assert re.search(r"allocation of 10 TB did not fit in the [\d.]+ [kMGT]?B available\); try a smaller", err), err
    assert err.endswith("or --low-memory") and "\n" not in err and not (tmp_path / "o.png").exists()


@pytest.mark.parametrize(
    "signame, code, said", [("SIGTERM", 143, "terminated"), ("SIGHUP", 129, "hung up (the terminal closed)")]
)
def test_a_stop_while_the_result_is_written_waits_for_it(
    small_image, tmp_path, monkeypatch, capsys, signame, code, said
):
    """`kill` (or a closed terminal, or Ctrl-C) in the second the finished picture was saving threw
    it away: "nothing was written", though the work was done (SIGHUP: no word at all). The stop is
    held until the file is whole, and no temporary file is left."""
    import os
    import signal

    from fastdream.cli import main

    save = Image.Image.save

    def save_then_stopped(self, fp, *a, **k):
        if isinstance(fp, str):  # (a file, not the format's trial in memory)
            os.kill(os.getpid(), getattr(signal, signame))  # the process told to stop while it writes...
        save(self, fp, *a, **k)  # ...which goes on to the end

    before = signal.getsignal(getattr(signal, signame))
    monkeypatch.setattr(Image.Image, "save", save_then_stopped)
    out = tmp_path / "o.png"
    assert main(["dream", str(small_image), "-o", str(out), "--octaves", "1", "--steps", "1", "-q"]) == code
    assert capsys.readouterr().err.strip() == f"fastdream dream: {said}; {out} was written first, whole"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.png", "o.png"] and Image.open(out).size == (56, 40)
    assert signal.getsignal(getattr(signal, signame)) == before  # the command's handler is gone with it


def test_a_stop_during_the_work_keeps_the_picture_so_far_even_if_pressed_twice(
    tmp_path, small_image, monkeypatch, capsys
):
    """An impatient second Ctrl-C, while the picture so far was being saved, threw it away."""
    import os
    import signal

    from fastdream.cli import main
    from fastdream.dream import engine

    step, done = engine.Dream.step, []

    def step_then_interrupted(self, gen):  # (a picture so far exists after a step)
        if done:
            raise KeyboardInterrupt
        done.append(1)
        return step(self, gen)

    save = Image.Image.save

    def save_and_again(self, fp, *a, **k):
        if isinstance(fp, str):  # (a file, not the format's trial in memory)
            os.kill(os.getpid(), signal.SIGINT)  # the second Ctrl-C, while the partial picture is written
        save(self, fp, *a, **k)

    monkeypatch.setattr(engine.Dream, "step", step_then_interrupted)
    monkeypatch.setattr(Image.Image, "save", save_and_again)
    assert (
        main(["dream", str(small_image), "-o", str(tmp_path / "o.png"), "--octaves", "1", "--steps", "3", "-q"]) == 130
    )
    said = capsys.readouterr().err.strip()
    assert said.endswith(f"is in {tmp_path / 'o-partial.png'}"), said
    assert (tmp_path / "o-partial.png").is_file() and not (tmp_path / "o.png").exists()


def test_two_quick_ctrl_cs_keep_the_picture_so_far(small_image, tmp_path, capsys, monkeypatch):
    """A second Ctrl-C 0.02 s after the first broke into the first's unwinding: "interrupted;
    nothing was written", and the 78 steps done were lost. One within a second is the same stop."""
    import signal

    from fastdream import driver
    from fastdream.cli import main

    picture = driver._picture

    def picture_then_again(make):  # (the first Ctrl-C, caught by the dream, takes the picture so far)
        os.kill(os.getpid(), signal.SIGINT)  # the second, while the first unwinds
        return picture(make)

    from fastdream.dream import engine

    step, done = engine.Dream.step, []

    def step_then_interrupted(self, gen):
        if done:
            os.kill(os.getpid(), signal.SIGINT)
        done.append(1)
        return step(self, gen)

    monkeypatch.setattr(engine.Dream, "step", step_then_interrupted)
    monkeypatch.setattr(driver, "_picture", picture_then_again)
    args = ["dream", str(small_image), "-o", str(tmp_path / "o.png"), "--octaves", "1", "--steps", "3", "-q"]
    assert main(args) == 130
    assert capsys.readouterr().err.strip().endswith(f"is in {tmp_path / 'o-partial.png'}")
    assert (tmp_path / "o-partial.png").is_file()


@pytest.mark.parametrize("argv0", ["fastdream", "script.py"])
def test_ctrl_c_while_the_package_loads_is_one_line_on_the_command_line(argv0):
    """Ctrl-C in the first seconds of `fastdream ...` (torch still loading) printed Python's
    traceback of an import; a script importing fastdream keeps Python's own report."""
    code = (
        f"import sys; sys.argv[0] = {argv0!r}\n"
        "class Stop:\n"
        "    def find_spec(self, name, path, target=None):\n"
        "        if name == 'fastdream.models':\n"
        "            raise KeyboardInterrupt\n"
        "sys.meta_path.insert(0, Stop())\n"
        "import fastdream\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode in (-2, 130)  # Python ends an unhandled Ctrl-C by SIGINT
    if argv0 == "fastdream":
        assert r.stderr == "fastdream: interrupted while starting; nothing was done\n"
    else:
        assert "Traceback" in r.stderr and r.stderr.rstrip().endswith("KeyboardInterrupt")


def test_the_start_hook_is_gone_once_the_package_has_loaded():
    code = "import sys; sys.argv[0] = 'fastdream'; h = sys.excepthook; import fastdream; print(sys.excepthook is h)"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.stdout.strip() == "True", r.stderr


def test_an_interrupted_dream_keeps_the_picture_so_far(tmp_path, small_image, monkeypatch, capsys):
    """Ctrl-C at step 41 of 90 said "nothing was written": the minutes of work were lost."""
    from fastdream.cli import main
    from fastdream.dream import engine

    step, done = engine.Dream.step, []

    def step_then_interrupted(self, gen):
        if done:
            raise KeyboardInterrupt
        done.append(1)
        return step(self, gen)

    monkeypatch.setattr(engine.Dream, "step", step_then_interrupted)
    out = tmp_path / "o.png"
    assert main(["dream", str(small_image), "-o", str(out), "--octaves", "1", "--steps", "3", "-q"]) == 130
    partial = tmp_path / "o-partial.png"
    w, h = Image.open(small_image).size
    said = capsys.readouterr().err.strip()
    assert said == f"fastdream dream: interrupted; the picture so far (step 1 of 3, {w}x{h}) is in {partial}"
    assert not out.exists() and Image.open(partial).size == (w, h)
    # A long name the output check took: "File name too long" (exit 2) lost the picture so far
    done.clear()
    out = tmp_path / ("p" * 250 + ".png")
    assert main(["dream", str(small_image), "-o", str(out), "--octaves", "1", "--steps", "3", "-q"]) == 130
    kept = [p for p in tmp_path.iterdir() if p.name.startswith("ppp") and p.name.endswith("-partial.png")]
    assert len(kept) == 1 and f"is in {kept[0]}" in capsys.readouterr().err


def test_an_interrupted_no_resume_training_says_what_it_left(tmp_path):
    """Ctrl-C in `train-unet ... --no-resume` said "the checkpoint of the last finished epoch is
    kept; run the same command to resume": the checkpoint was the old run's, and the same command
    (with --no-resume) starts over."""
    import os
    from argparse import Namespace

    from fastdream.cli.common import stamp
    from fastdream.cli.errors import kept

    ckpt = tmp_path / "unet.pt"
    ckpt.write_bytes(b"an earlier run's")
    args = Namespace(command="train-unet", output=str(ckpt), no_resume=True, checkpoint_before=stamp(ckpt))
    assert kept(args) == f"nothing new was written; the checkpoint there before is untouched ({ckpt})"
    os.utime(ckpt, ns=(0, args.checkpoint_before + 10**9))  # this run's first epoch saved
    assert kept(args).endswith("run the command without --no-resume to resume")
    args.no_resume = False
    assert kept(args).endswith("run the same command to resume")
    # stopped before the training began (while loading): nothing of this run's either
    assert kept(Namespace(command="train-unet", output=str(ckpt), no_resume=True)).startswith("nothing new")


def test_an_interrupted_video_says_how_many_frames_it_kept(tmp_path):
    from argparse import Namespace

    from fastdream.cli.errors import kept

    args = Namespace(command="dream-video", output=str(tmp_path / "v.mp4"), frames_dir=None)
    assert kept(args) == "nothing was written"  # stopped before its first frame: nothing left
    (tmp_path / "v_frames").mkdir()
    for k in range(2):
        (tmp_path / "v_frames" / f"frame_{k:05d}.png").write_bytes(b"")
    assert kept(args).startswith(f"the 2 finished frames in {tmp_path / 'v_frames'} are kept")
    (tmp_path / "v_frames" / "frame_00001.png").unlink()
    assert kept(args).startswith(f"the finished frame in {tmp_path / 'v_frames'} is kept")  # (it said "are")
    assert kept(args).endswith("run the same command to resume")
    # with --no-resume, the same command deletes the frames it says are kept, and starts over
    assert kept(Namespace(**vars(args), no_resume=True)).endswith("run the command without --no-resume to resume")
    args.frames_dir = str(tmp_path / "elsewhere")
    assert kept(args) == "nothing was written"
    (tmp_path / "out").mkdir()
    args = Namespace(command="cutout", output=str(tmp_path / "out"), no_resume=True)
    assert kept(args).endswith("are kept; run the command without --no-resume to finish")


def test_a_warning_said_again_and_again_is_printed_once(capsys):
    """gan-walk --dream said its dream's warning once per frame: 120 lines for 120 frames."""
    import warnings

    from fastdream.cli.errors import one_line_warnings

    with one_line_warnings("gan-walk", {"--steps"}):
        warnings.simplefilter("always")  # as each frame's dream, which resets Python's own once-only
        for _ in range(3):
            warnings.warn("using 1 of 2 octaves", UserWarning, stacklevel=2)
        warnings.warn("steps must be <= 10", UserWarning, stacklevel=2)
    assert capsys.readouterr().err.splitlines() == [
        "fastdream gan-walk: warning: using 1 of 2 octaves",
        "fastdream gan-walk: warning: --steps must be <= 10",
    ]


def test_dream_takes_a_painted_mask_and_its_inverse(tmp_path, small_image, capsys):
    """The shell had only --mask-from (a trained U-Net): a mask painted by hand could not be given."""
    from fastdream.cli import main

    mask = Image.new("RGBA", (56, 40), (0, 0, 0, 0))  # the left half painted on a clear layer
    mask.paste((0, 0, 0, 255), (0, 0, 28, 40))
    mask.save(tmp_path / "mask.png")
    before = np.asarray(Image.open(small_image), float)
    change = {}
    for name, extra in (("inside", []), ("outside", ["--invert-mask"])):
        out = tmp_path / f"{name}.png"
        args = ["dream", str(small_image), "-o", str(out), "--mask", str(tmp_path / "mask.png"), *extra]
        assert main([*args, "--octaves", "1", "--steps", "2", "--seed", "0", "-q"]) == 0
        d = np.abs(np.asarray(Image.open(out), float) - before).mean(axis=(0, 2))
        change[name] = (d[:26].mean(), d[30:].mean())
    assert (
        change["inside"][0] > 0.5
        and change["inside"][1] == 0
        and change["outside"][0] == 0
        and change["outside"][1] > 0.5
    )
    both = ["--mask", str(tmp_path / "mask.png"), "--mask-from", str(tmp_path / "u.pt")]
    assert main(["dream", str(small_image), "-o", str(tmp_path / "x.png"), *both]) == 2
    assert "--mask and --mask-from are alternatives" in capsys.readouterr().err


def test_a_second_run_into_the_same_output_is_refused_while_the_first_runs(tmp_path, small_image):
    """Two zooms (or folder dreams, or trainings) into one output at once mixed their frames under
    one settings file, and both said they had succeeded."""
    from types import SimpleNamespace

    from fastdream.cli.lock import output_lock
    from fastdream.io.lock import lock_path

    out = tmp_path / "z.gif"
    with output_lock(SimpleNamespace(output=str(out))):  # the first run, still at work
        assert lock_path(out).is_file()
        r = run("zoom", str(small_image), "-o", str(out), "--frames", "2", "--steps", "1", "-q")
        assert r.returncode == 2, r.stderr
        assert f"--output: {out} is being written by another fastdream run (process {os.getpid()})" in r.stderr
        assert not (tmp_path / "z_frames").exists() and not out.exists()
    r = run("zoom", str(small_image), "-o", str(out), "--frames", "2", "--steps", "1", "--octaves", "1", "-q")
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.png", "z.gif", "z_frames"]


def test_two_videos_sharing_a_frames_folder_are_not_made_at_once(tmp_path, small_image):
    """X.gif and X.mp4 share X_frames: two runs started together both said they had succeeded,
    and their videos mixed frames made with different settings."""
    from types import SimpleNamespace

    from fastdream.cli.lock import output_lock

    with output_lock(SimpleNamespace(output=str(tmp_path / "z.mp4"), frames_dir=None)):  # the first, at work
        r = run("zoom", str(small_image), "-o", str(tmp_path / "z.gif"), "--frames", "2", "--steps", "1", "-q")
        assert r.returncode == 2 and f"--frames-dir {tmp_path / 'z_frames'} is being written by another" in r.stderr
        assert not (tmp_path / "z_frames").exists() and not (tmp_path / "z.gif").exists()
    with output_lock(SimpleNamespace(output=str(tmp_path / "a.gif"), frames_dir=str(tmp_path / "f"))):
        args = ("-o", str(tmp_path / "b.gif"), "--frames-dir", str(tmp_path / "f"), "--frames", "2", "--steps", "1")
        assert run("zoom", str(small_image), *args, "-q").returncode == 2  # the same --frames-dir


def test_the_temporary_files_of_a_killed_run_are_swept_by_the_next(tmp_path, small_image):
    """kill -9 during a save left a hidden .b.u__gg656.tmp (7.6 MB of a checkpoint) that no later
    run removed; the next run into that output does, and nothing else."""
    out = tmp_path / "o.png"
    stale = [tmp_path / ".o.u__gg656.png", tmp_path / ".o.a1b2c3d4.tmp"]
    theirs = [tmp_path / ".o.notmine.png", tmp_path / ".other.a1b2c3d4.png", tmp_path / ".o.png.bak"]
    for p in stale + theirs:
        p.write_bytes(b"x")
    r = run("dream", str(small_image), "-o", str(out), "--octaves", "1", "--steps", "1", "-q")
    assert r.returncode == 0, r.stderr
    assert not any(p.exists() for p in stale) and all(p.exists() for p in theirs)


def test_a_run_under_nohup_keeps_ignoring_a_closed_terminal(monkeypatch):
    """`nohup fastdream ...` ended with "hung up" when the terminal closed: the command's handler
    replaced the SIGHUP that nohup had set to be ignored."""
    import signal

    from fastdream.cli.errors import terminated_as_interrupted
    from fastdream.io.atomic import signals_held

    before = signal.signal(signal.SIGHUP, signal.SIG_IGN)  # as nohup starts it
    try:
        with terminated_as_interrupted():
            assert signal.getsignal(signal.SIGHUP) == signal.SIG_IGN
            assert signal.getsignal(signal.SIGTERM) != signal.SIG_DFL  # (that one is the command's)
            with signals_held():
                assert signal.getsignal(signal.SIGHUP) == signal.SIG_IGN
    finally:
        signal.signal(signal.SIGHUP, before)


def test_under_torchrun_only_rank_0_says_what_was_written(tmp_path, monkeypatch, capsys):
    """Every rank printed 'wrote .../checkpoint.pt' (train-gan, train-vae, train-unet)."""
    from fastdream.cli.common import say_written

    path = tmp_path / "checkpoint.pt"
    path.write_bytes(b"")
    monkeypatch.setenv("WORLD_SIZE", "2")  # (as torchrun --nproc_per_node 2 sets it)
    for rank, said in (("1", ""), ("0", f"wrote {path}\n")):
        monkeypatch.setenv("RANK", rank)
        say_written(path, None, quiet=True)
        assert capsys.readouterr().out == said


def test_a_failed_trainings_hint_names_the_options(capsys):
    """'Try a lower lr or amp=False' was said to the command line in Python's words."""
    from fastdream.cli.errors import status
    from fastdream.training import TrainingError

    exc = TrainingError("train_gan: training diverged in epoch 3; stopped, kept. Try a lower lr or amp=False")
    code, line = status(exc, "train-gan", "", {"--lr", "--amp", "--batch-size"})
    assert code == 1 and line.endswith("Try a lower --lr or without --amp")


def test_a_mask_from_file_that_is_no_unet_is_named_as_its_option(tmp_path, capsys):
    """The refusal said "checkpoint:", an option the command does not have."""
    from fastdream.cli import main

    Image.new("RGB", (40, 40)).save(tmp_path / "photo.png")
    assert (
        main(
            [
                "dream",
                str(tmp_path / "photo.png"),
                "-o",
                str(tmp_path / "o.png"),
                "--mask-from",
                str(tmp_path / "photo.png"),
            ]
        )
        == 2
    )
    assert "error: --mask-from: " in capsys.readouterr().err and not (tmp_path / "o.png").exists()


def test_a_finished_command_ignores_a_late_ctrl_c(monkeypatch, tmp_path, capsys):
    """A Ctrl-C just after 'wrote zi.mp4' exited 130 with no word: a script's `&& next-step` took a
    finished video for a failure."""
    import signal

    from fastdream import _startup
    from fastdream.cli import main

    monkeypatch.setattr(_startup, "command_line", lambda: True)  # as the `fastdream` command runs it
    monkeypatch.setattr(sys, "argv", ["fastdream", "dream", "--list-presets"])
    before = signal.getsignal(signal.SIGINT)
    try:
        assert main() == 0 and "classic:" in capsys.readouterr().out
        assert signal.getsignal(signal.SIGINT) == signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, before)


@pytest.mark.parametrize("argv0", ["fastdream", "script.py"])
def test_kill_while_the_package_loads_is_one_line_on_the_command_line(argv0):
    """`kill` in the first seconds of `fastdream ...` ended it with no word at all (exit 143); a
    script importing fastdream keeps the system's own ending."""
    code = (
        f"import os, signal, sys; sys.argv[0] = {argv0!r}\n"
        "class Stop:\n"
        "    def find_spec(self, name, path, target=None):\n"
        "        if name == 'fastdream.models':\n"
        "            os.kill(os.getpid(), signal.SIGTERM)\n"
        "sys.meta_path.insert(0, Stop())\n"
        "import fastdream\n"
        "print('went on')\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode in (-15, 143) and "went on" not in r.stdout
    assert r.stderr == ("fastdream: terminated while starting; nothing was done\n" if argv0 == "fastdream" else "")


def test_a_frames_folder_named_as_the_output_is_said_so_not_blamed_on_another_run(tmp_path, small_image):
    """-o z.gif --frames-dir z.gif said "--frames-dir z.gif is being written by another fastdream
    run (process N)": N was the command itself, which held the output's lock."""
    out = tmp_path / "z.gif"
    r = run("zoom", str(small_image), "-o", str(out), "--frames-dir", str(out), "--frames", "2", "-q")
    assert r.returncode == 2 and f"--frames-dir and --output are the same path: {out}" in r.stderr, r.stderr


def test_zoom_and_dream_video_take_a_mask_and_a_color_drift_as_python_does(tmp_path, small_image):
    """color_drift= and mask= were Python's only: a drifting or masked video could not be made
    from the shell, though the same words are to make the same picture in both."""
    import fastdream as fd

    mask = np.zeros((40, 56), np.uint8)
    mask[:, :28] = 255
    Image.fromarray(mask).save(tmp_path / "m.png")
    quick = dict(frames=3, steps=1, octaves=1, seed=0)
    args = ["--frames", "3", "--steps", "1", "--octaves", "1", "--seed", "0", "-q", "--mask", str(tmp_path / "m.png")]
    r = run("zoom", str(small_image), "-o", str(tmp_path / "shell.gif"), "--color-drift", "1.1", "1", "0.9", *args)
    assert r.returncode == 0, r.stderr
    fd.zoom_video(small_image, tmp_path / "py.gif", color_drift=(1.1, 1, 0.9), mask=tmp_path / "m.png", **quick)
    for k in range(3):
        shell, py = (tmp_path / f"{n}_frames" / f"frame_{k:05d}.png" for n in ("shell", "py"))
        assert shell.read_bytes() == py.read_bytes(), k
    r = run("dream-video", str(tmp_path / "shell_frames"), "-o", str(tmp_path / "dv.gif"), *args[2:], "--end", "2")
    assert r.returncode == 0, r.stderr
    r = run("zoom", str(small_image), "-o", str(tmp_path / "x.gif"), "--color-drift", "1", "2", "-q")
    assert r.returncode == 2 and "--color-drift as gains must have 3 values" in r.stderr, r.stderr


def test_zoom_takes_the_edges_and_the_resampling_as_python_does(tmp_path, small_image):
    import fastdream as fd

    args = ["--frames", "2", "--steps", "1", "--octaves", "1", "--seed", "0", "--zoom", "0.8", "-q"]
    r = run("zoom", str(small_image), "-o", str(tmp_path / "shell.gif"), "--padding", "zeros", *args,
            "--interpolation", "bilinear")  # fmt: skip
    assert r.returncode == 0, r.stderr
    quick = dict(frames=2, steps=1, octaves=1, seed=0, zoom=0.8, padding="zeros", interpolation="bilinear")
    fd.zoom_video(small_image, tmp_path / "py.gif", **quick)
    shell, py = (tmp_path / f"{n}_frames" / "frame_00001.png" for n in ("shell", "py"))
    assert shell.read_bytes() == py.read_bytes()
    r = run("zoom", str(small_image), "-o", str(tmp_path / "x.gif"), "--padding", "wrap", "-q")
    assert r.returncode == 2 and "--padding" in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr


def test_a_training_says_the_command_that_uses_its_checkpoint(tmp_path, capsys):
    """The end of a training said only 'wrote gan/checkpoint.pt': not how to sample it."""
    from fastdream.cli.common import say_written

    path = tmp_path / "my run" / "checkpoint.pt"
    path.parent.mkdir()
    path.write_bytes(b"x")
    say_written(path, None, quiet=False, then="fastdream sample-gan {} -o samples")
    said = capsys.readouterr()
    assert said.out == f"wrote {path}\n" and said.err == f"next: fastdream sample-gan '{path}' -o samples\n"
    say_written(path, None, quiet=True, then="fastdream sample-gan {} -o samples")  # -q: the path alone
    assert capsys.readouterr().err == ""


def test_dreamed_samples_are_written_as_they_come_and_walks_checked_for_memory(tmp_path, monkeypatch, capsys):
    """sample-gan --dream held every dreamed sample until the last: Ctrl-C lost them all; a walk's
    frames, all held for the animation, were not counted against memory (20000 frames at 2048 px)."""
    from fastdream.cli import main
    from tests.helpers import GAN_TINY, write_image_folder

    ckpt = fd.train_gan(write_image_folder(tmp_path / "imgs"), tmp_path / "gan", epochs=1, **GAN_TINY)
    calls = []

    def dream(image, **kw):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return image

    monkeypatch.setattr(fd, "dream", dream)
    dreamed = ["--dream", "--dream-size", "32", "--steps", "1", "-q"]
    assert main(["sample-gan", str(ckpt), "-o", str(tmp_path / "s"), "-n", "5", *dreamed]) == 130
    assert [p.name for p in sorted((tmp_path / "s").glob("sample_*"))] == ["sample_0000.png", "sample_0001.png"]
    err = capsys.readouterr().err
    assert "interrupted; the 2 samples dreamed so far are in" in err and "; run the same command to finish" in err
    # The same command (its seed drawn, and said) finishes the folder: it was refused as "already holds 2 samples"
    seed = int(err.split("(seed ")[1].split(")")[0])
    monkeypatch.setattr(fd, "dream", lambda image, **kw: calls.append(1) or image)
    assert main(["sample-gan", str(ckpt), "-o", str(tmp_path / "s"), "-n", "5", *dreamed]) == 0
    assert capsys.readouterr().out == f"wrote 3 images to {tmp_path / 's'}, beside the 2 kept (seed {seed})\n"
    assert len(calls) == 3 + 3  # (the kept two are not dreamed again)
    whole = tmp_path / "whole"
    assert main(["sample-gan", str(ckpt), "-o", str(whole), "-n", "5", "--seed", str(seed), *dreamed]) == 0
    for k in range(5):  # what an uninterrupted run makes
        assert (tmp_path / "s" / f"sample_{k:04d}.png").read_bytes() == (whole / f"sample_{k:04d}.png").read_bytes()
    assert main(["sample-gan", str(ckpt), "-o", str(tmp_path / "s"), "-n", "5", *dreamed, "--steps", "2"]) == 2
    assert "holds 5 samples of other settings (--steps: 1 before, 2 now)" in capsys.readouterr().err
    assert main(["sample-gan", str(ckpt), "-o", str(tmp_path / "s"), "-n", "5", *dreamed]) == 0  # nothing to do
    assert capsys.readouterr().out == f"{tmp_path / 's'} already holds the 5 samples; nothing written\n"
    # a kept sample cut short since is made again; a stop before any new one still says what is kept
    cut = tmp_path / "s" / "sample_0003.png"
    cut.write_bytes(cut.read_bytes()[:100])
    calls.clear()
    monkeypatch.setattr(fd, "dream", lambda image, **kw: (_ for _ in ()).throw(KeyboardInterrupt))
    assert main(["sample-gan", str(ckpt), "-o", str(tmp_path / "s"), "-n", "5", *dreamed]) == 130
    err = capsys.readouterr().err
    assert "sample_0003.png is there but cannot be read (cut short?); making it again" in err
    assert "interrupted; the 4 samples dreamed so far are in" in err  # (it said "nothing was written")
    monkeypatch.setattr(fd, "dream", lambda image, **kw: image)
    assert main(["sample-gan", str(ckpt), "-o", str(tmp_path / "s"), "-n", "5", *dreamed]) == 0
    assert cut.read_bytes() == (whole / "sample_0003.png").read_bytes()
    assert main(["sample-gan", str(ckpt), "-o", str(tmp_path / "s"), "-n", "5", "--seed", str(seed)]) == 2
    assert "holds 5 samples of other settings (--dream: on before, off now), which" in capsys.readouterr().err

    calls.clear()  # a dreamed walk holds its frames for the animation: Ctrl-C lost them all
    monkeypatch.setattr(fd, "dream", dream)
    walk = ["gan-walk", str(ckpt), "-o", str(tmp_path / "w.gif"), "--frames", "5", "--seed", "3", *dreamed]
    assert main(walk) == 130 and not (tmp_path / "w.gif").exists()
    assert capsys.readouterr().err.endswith(
        f"the 2 frames dreamed so far are in {tmp_path / 'w-partial.gif'} (seed 3); the same command will dream the "
        "walk again from its start\n"
    )
    with Image.open(tmp_path / "w-partial.gif") as im:
        assert im.n_frames == 2
    calls.clear()  # a drawn seed: the same command would draw another (another walk)
    assert main([a for a in walk if a not in ("--seed", "3")]) == 130
    assert "; add --seed " in capsys.readouterr().err
    calls.clear()
    monkeypatch.setattr(fd, "dream", lambda image, **kw: calls.append(1) or _stop_at_third(calls, image))
    assert main(["sample-gan", str(ckpt), "-o", str(tmp_path / "t"), "-n", "5", *dreamed]) == 143  # (it said 130)
    assert "terminated; the 2 samples dreamed so far are in" in capsys.readouterr().err
    from fastdream import _room

    monkeypatch.setattr(_room, "memory_budget", lambda: 2**30)  # a 1 GB machine: the check, whatever this one has
    walk = ["gan-walk", str(ckpt), "-o", str(tmp_path / "w.gif"), "--frames", "3000", "--dream", "--dream-size", "2048"]
    assert main(walk) == 2
    assert "--frames 3000 dreamed at --dream-size 2048 (held for the animation) needs about" in capsys.readouterr().err
    assert not (tmp_path / "w.gif").exists() and len(calls) == 3


def _stop_at_third(calls, image):
    from fastdream.cli.errors import Terminated

    if len(calls) == 3:
        raise Terminated()
    return image


def test_a_sample_vae_folder_recorded_before_its_temperature_was_resumes(tmp_path):
    """Records of the default temperature written before said null: "--temperature: none before, 1.0 now"."""
    import json
    from argparse import Namespace

    from fastdream.cli import samples

    ckpt = tmp_path / "vae.pt"
    ckpt.write_bytes(b"weights")
    args = Namespace(command="sample-vae", checkpoint=str(ckpt), seed=None, temperature=None, dream=False)
    args.dream_size = args.steps = None
    out = tmp_path / "s"
    out.mkdir()
    (out / "sample_0000.png").write_bytes(b"")
    record = {**samples.settings(Namespace(**{**vars(args), "seed": 4})), "temperature": None}
    (out / samples.RECORD).write_text(json.dumps(record))
    samples.check_resume(args, out, ["sample_0000.png"])
    assert args.resumed and args.seed == 4
