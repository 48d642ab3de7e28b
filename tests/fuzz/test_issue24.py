"""Every example of issue 24 (inputs that broke the error contract), as a regression test. Each
runs the command line in the fuzzing worker (tests/fuzz/worker.py: limited memory, a timeout),
and checks the contract (tests/fuzz/contract.py): one line, exit 2, nothing written, inputs intact."""

from __future__ import annotations

import os
import time

import numpy as np
import pytest
import torch
from PIL import Image

from tests.fuzz import files, setups
from tests.fuzz.contract import check, snapshot

DREAM = setups.DREAM


def run(worker, root, *argv, ok=False, timeout=120):
    """The command in ``root``, its contract checked; (exit status, stderr)."""
    before = snapshot(root)
    result = worker.cli(list(argv), root, timeout=timeout)
    return check(result, argv, before, root, ok=ok), result[2]


def frames_folder(root, name="clip_frames", n=2):
    """Frames as ``ffmpeg -i x.mp4 frame_%05d.png`` extracts them."""
    (root / name).mkdir()
    for k in range(n):
        setups.picture(root / name / f"frame_{k:05d}.png", k)
    return root / name


# ---- the user's own files destroyed


def test_dream_video_of_extracted_frames_never_takes_or_deletes_them(worker, tmp_path):
    frames_folder(tmp_path)
    for extra in ([], ["--no-resume"]):
        rc, err = run(worker, tmp_path, "dream-video", "clip_frames", "-o", "clip.gif", *DREAM, *extra)
        assert rc == 2 and "--frames-dir: " in err and "input folder" in err
    # their frames in another folder: --no-resume deletes only what fastdream wrote
    setups.clip(tmp_path / "in.gif")
    rc, err = run(
        worker, tmp_path, "dream-video", "in.gif", "-o", "v.gif", "--frames-dir", "clip_frames", "--no-resume", *DREAM
    )
    assert rc == 2 and "did not make them" in err


def test_no_resume_deletes_only_the_frames_fastdream_made(worker, tmp_path):
    setups.clip(tmp_path / "in.gif")
    rc, _ = run(worker, tmp_path, "dream-video", "in.gif", "-o", "v.gif", *DREAM, ok=True)
    assert rc == 0
    settings = tmp_path / "v_frames" / "dream_video_settings.json"
    assert "written" in settings.read_text()
    mine = tmp_path / "v_frames" / "notes.txt"
    mine.write_text("mine")
    rc, _ = run(worker, tmp_path, "dream-video", "in.gif", "-o", "v.gif", "--no-resume", *DREAM, ok=True)
    assert rc == 0 and mine.read_text() == "mine"


def test_zoom_continued_from_its_own_frames_leaves_them_alone(worker, tmp_path):
    frames_folder(tmp_path, "z_frames", 1)
    rc, err = run(worker, tmp_path, "zoom", "z_frames/frame_00000.png", "-o", "z.gif", "--frames", "2", *DREAM)
    assert rc == 2 and "contains the input" in err


def test_train_unet_never_writes_over_a_training_image(worker, tmp_path):
    argv = setups.inputs(tmp_path, "train-unet")
    argv[argv.index("-o") + 1] = "img/0.png"
    rc, err = run(worker, tmp_path, *argv)
    assert rc == 2 and "inside the input folder" in err


def test_a_cutout_folder_as_jpeg_is_composited_or_refused_never_dropped(worker, tmp_path):
    setups.unet_checkpoint(tmp_path / "unet.pt")
    setups.folder(tmp_path / "photos", 2)
    rc, err = run(worker, tmp_path, "cutout", "photos", "-o", "cut", "--model", "unet.pt", "--format", "jpg")
    assert rc == 2 and "transparency" in err and "--bg-color" in err
    rc, _ = run(worker, tmp_path, "cutout", "photos", "-o", "cut", "--model", "unet.pt", "--format", "jpg",
                "--bg-color", "0", "255", "0", ok=True)  # fmt: skip
    assert rc == 0 and sorted(p.name for p in (tmp_path / "cut").glob("*.jpg")) == ["0.jpg", "1.jpg"]
    rc, err = run(worker, tmp_path, "cutout", "photos/0.png", "-o", "one.jpg", "--model", "unet.pt")
    assert rc == 2 and "--bg-color" in err


def test_a_dream_folder_to_jpeg_puts_alpha_on_white_and_says_so(worker, tmp_path):
    (tmp_path / "in").mkdir()
    Image.new("RGBA", (20, 20), (10, 20, 30, 0)).save(tmp_path / "in" / "a.png")
    rc, err = run(worker, tmp_path, "dream", "in", "-o", "out", "--format", "jpg", *DREAM, ok=True)
    assert rc == 0 and "put on white" in err


# ---- memory-unsafe native code (the ops' own checks; the fuzzing of the ops is test_fuzz_ops.py)


def test_a_hand_built_tile_grid_never_crashes(worker):
    bad = ("hand-grid", (17, 23), (0, 40), (0, -3), 8, 8, (1, 3), (1, 8))
    for name, args in (("extract_tiles", (("rand", (1, 3, 17, 23), "float32", "contiguous"), bad)),
                       ("blend_tiles", (("rand", (4, 3, 8, 8), "float32", "contiguous"), bad))):  # fmt: skip
        r = worker.run("op", name, args, {})
        assert r.status == "raised" and r.value[0] in ("ValueError", "TypeError"), r


# ---- tracebacks


def test_a_corrupt_exif_block_is_a_warning_in_a_dream_a_folder_and_a_training(worker, tmp_path):
    files.bad_exif(tmp_path / "x.jpg", 0)
    rc, err = run(worker, tmp_path, "dream", "x.jpg", "-o", "out.png", *DREAM, ok=True)
    assert rc == 0 and "EXIF" in err and "warning" in err
    setups.folder(tmp_path / "img")
    files.bad_exif(tmp_path / "img" / "x.jpg", 1)
    rc, err = run(worker, tmp_path, "dream", "img", "-o", "dreamed", *DREAM, ok=True)
    assert rc == 0 and (tmp_path / "dreamed" / "x.jpg").is_file()
    tiny = ["--image-size", "32", "--nz", "8", "--ngf", "4", "--ndf", "4"]
    rc, _ = run(worker, tmp_path, "train-gan", "img", "-o", "run", *tiny, *setups.TRAIN, ok=True)
    assert rc == 0


def test_decompression_bombs_stop_at_the_header_in_video_and_frame_readers(worker, tmp_path):
    frames_folder(tmp_path, "clip_frames", 1)
    (tmp_path / "clip_frames" / "frame_00001.png").write_bytes(files.png_claiming(100_000, 100_000))
    rc, err = run(worker, tmp_path, "dream-video", "clip_frames", "-o", "v.gif", "--frames-dir", "f", *DREAM)
    assert rc == 2 and "megapixels" in err
    gif = tmp_path / "bomb.gif"
    setups.clip(gif)
    data = bytearray(gif.read_bytes())
    data[6:10] = (60000).to_bytes(2, "little") * 2  # the logical screen: 60000 x 60000
    gif.write_bytes(bytes(data))
    rc, err = run(worker, tmp_path, "dream-video", "bomb.gif", "-o", "v.gif", "--frames-dir", "f", *DREAM)
    assert rc == 2 and ("megapixels" in err or "memory" in err)


def test_a_small_png_declaring_900_megapixels_is_refused_before_decoding(worker, tmp_path):
    (tmp_path / "bomb.png").write_bytes(files.zlib_bomb(30_000, 30_000))
    assert (tmp_path / "bomb.png").stat().st_size < 2_000_000
    t = time.monotonic()
    rc, err = run(worker, tmp_path, "dream", "bomb.png", "-o", "out.png", *DREAM)
    assert rc == 2 and "memory" in err and time.monotonic() - t < 30


def test_an_output_format_pillow_cannot_write_is_refused_before_the_work(worker, tmp_path):
    setups.picture(tmp_path / "in.png")
    t = time.monotonic()
    rc, err = run(worker, tmp_path, "dream", "in.png", "-o", "x.psd", "--steps", "10000", "-q")
    assert rc == 2 and "cannot write" in err and time.monotonic() - t < 30
    rc, err = run(worker, tmp_path, "dream", "in.png", "-o", "x", "-q")
    assert rc == 2 and "extension" in err


def test_a_disk_that_fills_during_a_checkpoint_save(worker, tmp_path):
    argv = setups.inputs(tmp_path, "train-gan")
    before = snapshot(tmp_path)
    result = worker.run("cli_disk_full", argv, str(tmp_path), 40_000, timeout=300)
    assert result.status == "ok", result
    rc, _, err = result.value
    check(result.value, argv, before, tmp_path)
    assert rc == 2 and "could not write" in err and "disk" in err


@pytest.mark.parametrize(
    "command, change, words",
    [
        ("sample-gan", lambda s: s.pop("generator"), "generator is missing"),
        ("sample-gan", lambda s: s["config"].update(nz=10**9), "memory"),
        ("sample-gan", lambda s: s["config"].update(nz=10**12), "config.nz must be an integer in [1, 2147483647]"),
        ("sample-gan", lambda s: s["config"].update(nz="8"), "config.nz must be an integer"),
        ("sample-gan", lambda s: s["config"].update(ngf=8), "do not fit the network"),
        ("sample-vae", lambda s: s["config"]["model"].update(latent_dim=4), "do not fit the network"),
        ("cutout", lambda s: s["config"]["model"].update(depth=None), "needs base_channels and depth"),
    ],
)
def test_checkpoints_that_pass_the_format_check_but_not_the_schema(worker, tmp_path, command, change, words):
    kind = {"sample-gan": "gan", "sample-vae": "vae", "cutout": "unet"}[command]
    state = getattr(setups, f"{kind}_checkpoint")(tmp_path / "m.pt")
    change(state)
    torch.save(state, tmp_path / "m.pt")
    setups.picture(tmp_path / "in.png")
    argv = (["cutout", "in.png", "-o", "o.png", "--model", "m.pt"] if command == "cutout"
            else [command, "m.pt", "-o", "s", "-n", "2"])  # fmt: skip
    rc, err = run(worker, tmp_path, *argv)
    assert rc == 2 and words in err


# ---- no upper bounds


@pytest.mark.parametrize(
    "command, option, words",
    [
        ("dream", ["--octaves", "5000"], "octaves must be <= 64"),
        ("dream", ["--octave-scale", "1e200"], "--octave-scale must be <= 16"),
        ("dream", ["--seed", str(2**64)], "seed must be <= 9223372036854775807"),
        ("style", ["--size", str(10**9)], "size must be <= 65536"),
        ("style", ["--style-scale", "1e200"], "--style-scale must be <= 16"),
        ("train-gan", ["--nz", str(10**9)], "memory"),
        ("train-gan", ["--nz", str(10**12)], "nz must be <= 2147483647"),
        ("train-vae", ["--latent-dim", str(10**9)], "memory"),
        ("train-unet", ["--base-channels", str(10**5)], "must be <= 4096"),
        ("train-unet", ["--base-channels", str(10**9)], "must be <= 4096"),
        ("gan-walk", ["--frames", str(10**12)], "frames must be <= 2147483647"),
        ("gan-walk", ["--frames", str(10**9)], "memory"),
        ("sample-gan", ["-n", str(10**9)], "memory"),
        ("dream", ["--layers", "_blocks.10:0-999999999"], "beyond 65535"),
    ],
)
def test_every_number_has_a_bound_named_in_the_message(worker, tmp_path, command, option, words):
    argv = setups.inputs(tmp_path, command)
    t = time.monotonic()
    rc, err = run(worker, tmp_path, *argv, *option)
    assert rc == 2 and words in err and time.monotonic() - t < 60


def test_overlapping_channel_ranges_take_linear_time(worker, tmp_path):
    argv = setups.inputs(tmp_path, "dream")
    spec = "_blocks.10:" + ",".join(["0-65535"] * 3000)
    t = time.monotonic()
    rc, err = run(worker, tmp_path, *argv, "--layers", spec)
    assert rc == 2 and "112 channels" in err and time.monotonic() - t < 30


# ---- hangs


def test_a_named_pipe_is_refused_not_waited_on(worker, tmp_path):
    files.fifo(tmp_path / "in.png")
    files.fifo(tmp_path / "in.mp4")
    files.fifo(tmp_path / "m.pt")
    setups.picture(tmp_path / "p.png")
    for argv in (["dream", "in.png", *DREAM], ["dream-video", "in.mp4", "-o", "v.gif", *DREAM],
                 ["cutout", "p.png", "-o", "o.png", "--model", "m.pt"], ["sample-gan", "m.pt", "-o", "s"]):  # fmt: skip
        rc, err = run(worker, tmp_path, *argv, timeout=30)
        assert rc == 2 and "named pipe" in err


# ---- wrong output with no error


def test_16_bit_gray_is_scaled_not_clipped_to_white(worker, tmp_path):
    wide = (np.arange(20 * 30).reshape(20, 30) * 50).astype(np.uint16)  # 0 .. 29950 of 65535
    Image.fromarray(wide).save(tmp_path / "g.png")
    rc, _ = run(worker, tmp_path, "dream", "g.png", "-o", "o.png", *DREAM, "--step-size", "0.001", ok=True)
    with Image.open(tmp_path / "o.png") as im:  # written at its depth (Pillow's convert("L") would clip it)
        assert rc == 0 and im.mode == "I;16" and abs(np.asarray(im, float).mean() - wide.mean()) < 8 * 257


def test_low_memory_keeps_a_palette_images_transparency(worker, tmp_path):
    files.write_image(tmp_path / "p.png", "P+t", (30, 20), 0)
    rc, _ = run(worker, tmp_path, "dream", "p.png", "-o", "o.png", "--low-memory", *DREAM, ok=True)
    with Image.open(tmp_path / "o.png") as im:
        assert rc == 0 and im.mode == "RGBA" and im.getpixel((0, 0))[3] == 0


def test_degenerate_sizes_give_an_image_or_a_clear_error(worker, tmp_path):
    Image.new("RGB", (1, 1), (200, 100, 50)).save(tmp_path / "one.png")
    rc, _ = run(worker, tmp_path, "dream", "one.png", "-o", "o.png", *DREAM, ok=True)
    with Image.open(tmp_path / "o.png") as im:
        assert rc == 0 and im.size == (1, 1) and all(0 <= v <= 255 for v in im.getpixel((0, 0)))
    r = worker.run("load", str(tmp_path / "one.png"))
    assert r.status == "ok"
    import fastdream as fd

    with pytest.raises(ValueError, match="needs at least one pixel"):
        fd.dream(np.zeros((0, 5, 3), np.uint8))


def test_path_and_environment_spellings_do_not_change_what_a_run_does(worker, tmp_path):
    setups.picture(tmp_path / "in.png")
    os.link(tmp_path / "in.png", tmp_path / "hard.png")
    for out in ("./in.png", "sub/../in.png", str(tmp_path / "in.png"), "hard.png"):
        (tmp_path / "sub").mkdir(exist_ok=True)
        rc, err = run(worker, tmp_path, "dream", "in.png", "-o", out, *DREAM)
        assert rc == 2 and "is the input" in err
    from fastdream.training import Dist

    os.environ["WORLD_SIZE"] = "two"
    try:
        with pytest.raises(ValueError, match="WORLD_SIZE='two'"):
            Dist.from_env()
    finally:
        del os.environ["WORLD_SIZE"]


def test_a_video_that_fails_before_its_first_frame_leaves_no_frames_folder(tmp_path):
    import fastdream as fd

    setups.picture(tmp_path / "in.png")
    with pytest.raises(fd.Cancelled):
        fd.zoom_video(tmp_path / "in.png", tmp_path / "z.gif", frames=2, octaves=1, steps=1, callback=lambda s: False)
    setups.clip(tmp_path / "in.gif")
    with pytest.raises(fd.Cancelled):
        fd.dream_video(tmp_path / "in.gif", tmp_path / "v.gif", octaves=1, steps=1, callback=lambda s: False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.gif", "in.png"]


def test_ctrl_c_is_130_and_says_what_was_kept(tmp_path):
    import signal
    import subprocess
    import sys

    argv = setups.inputs(tmp_path, "train-gan")
    argv[argv.index("--epochs") + 1] = "1000"
    # A shell that starts a job in the background ignores SIGINT for it, and an ignored signal stays
    # ignored through exec: give the child the default disposition, as a terminal's Ctrl-C finds it.
    proc = subprocess.Popen(
        [sys.executable, "-m", "fastdream.cli", *argv],
        cwd=tmp_path,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        deadline = time.monotonic() + 240
        while not (tmp_path / "run" / "checkpoint.pt").is_file() and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(0.5)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "interrupted" in lines[0] and "checkpoint" in lines[0] and "kept" in lines[0], err
