"""Dreaming videos and folders: temporal coherence with optical flow, resume, sound, inputs of
every kind, bad inputs, folders that resume and skip unreadable files, and torchrun ranks."""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from PIL import Image, ImageSequence

import fastdream as fd
from fastdream.video import coherent as dv

W, H, N, PAN = 128, 96, 8, 3
FAST = dict(octaves=2, steps=6, seed=0)


def _ffmpeg():
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    """A photo panning left by PAN px per frame, and a red square moving across it: a folder of
    frames, the frames, and where the square is in each."""
    from skimage import data

    big = np.asarray(Image.fromarray(data.astronaut()).resize((384, 384)))
    root = tmp_path_factory.mktemp("clip")
    frames, squares = [], []
    for k in range(N):
        f = big[100 : 100 + H, 60 + PAN * k : 60 + PAN * k + W].copy()
        y = x = 20 + 4 * k
        f[y : y + 20, x : x + 20] = [220, 40, 40]
        frames.append(f)
        squares.append((y, x))
        Image.fromarray(f).save(root / f"{k:03d}.png")
    return root, frames, squares


def _frames(folder, n):
    return [np.asarray(Image.open(folder / f"frame_{k:05d}.png")) for k in range(n)]


def _dream_layer_change(outs, frames, squares) -> float:
    """Mean change of the dream layer (output - input) from one frame to the next, after moving the
    previous frame's layer with the scene (the pan), over the background away from the square."""
    d = [o.astype(np.float32) - f.astype(np.float32) for o, f in zip(outs, frames)]
    vals = []
    for k in range(1, len(d)):
        a, b = d[k][:, : W - PAN], d[k - 1][:, PAN:]
        m = np.ones((H, W - PAN), bool)
        for y, x in (squares[k], squares[k - 1]):
            m[max(0, y - 6) : y + 26, max(0, x - 6 - PAN) : x + 26] = False
        m[:8], m[-8:], m[:, :8], m[:, -8:] = False, False, False, False
        vals.append(np.abs(a - b)[m].mean())
    return float(np.mean(vals))


def test_flow_keeps_the_dream_coherent(clip, tmp_path):
    root, frames, squares = clip
    change = {}
    for name, kw in [
        ("flow", dict(blend=0.5)),
        ("blend", dict(blend=0.5, flow=False)),
        ("independent", dict(blend=0.0)),
    ]:
        fd.dream_video(root, tmp_path / f"{name}.gif", frames_dir=tmp_path / name, **kw, **FAST)
        change[name] = _dream_layer_change(_frames(tmp_path / name, N), frames, squares)
    assert change["flow"] < change["blend"] and change["flow"] < change["independent"], change


@pytest.mark.parametrize("flow", [True, False])
def test_outside_the_mask_every_frame_is_its_input(clip, tmp_path, flow):
    """Each frame started from the previous dreamed one blended in everywhere: outside the mask
    65-77% of the pixels changed from the second frame on, and the dream crept over the edge."""
    root, frames, _ = clip
    mask = np.zeros((H, W), np.float32)
    mask[:, W // 2 :] = 1  # the right half only
    fd.dream_video(root, tmp_path / "v.gif", frames_dir=tmp_path / "f", mask=mask, blend=0.5, flow=flow, **FAST)
    outs = _frames(tmp_path / "f", N)
    for out, frame in zip(outs, frames):
        assert np.array_equal(out[:, : W // 2], frame[:, : W // 2])
    assert all(np.abs(o[:, W // 2 :].astype(int) - f[:, W // 2 :]).mean() > 2 for o, f in zip(outs, frames))
    # frames made before (their dream crept over the mask) are not resumed into these
    record = tmp_path / "f" / dv.SETTINGS_NAME
    record.write_text(record.read_text().replace('"format": 2', '"format": 1'))
    with pytest.raises(ValueError, match=r"format: stored 1, now 2"):
        fd.dream_video(root, tmp_path / "v2.gif", frames_dir=tmp_path / "f", mask=mask, blend=0.5, flow=flow, **FAST)


def test_resume_is_byte_identical_and_other_settings_are_refused(clip, tmp_path, monkeypatch):
    root = clip[0]
    whole = fd.dream_video(root, tmp_path / "whole.gif", frames_dir=tmp_path / "w", **FAST)
    real, calls = dv._Coherent.dream, []

    def stop_after_3(self, frame, callback=None):
        calls.append(1)
        if len(calls) > 3:
            raise KeyboardInterrupt
        return real(self, frame, callback)

    monkeypatch.setattr(dv._Coherent, "dream", stop_after_3)
    with pytest.raises(KeyboardInterrupt):
        fd.dream_video(root, tmp_path / "r.gif", frames_dir=tmp_path / "r", **FAST)
    monkeypatch.setattr(dv._Coherent, "dream", real)
    assert len(list((tmp_path / "r").glob("frame_*.png"))) == 3 and not (tmp_path / "r.gif").exists()
    fd.dream_video(root, tmp_path / "r.gif", frames_dir=tmp_path / "r", **FAST)
    for a, b in zip(_frames(tmp_path / "w", N), _frames(tmp_path / "r", N)):
        assert np.array_equal(a, b)
    assert (tmp_path / "r.gif").read_bytes() == whole.read_bytes()
    with pytest.raises(ValueError, match="blend: stored 0.5, now 0.7"):
        fd.dream_video(root, tmp_path / "r.gif", frames_dir=tmp_path / "r", blend=0.7, **FAST)
    with pytest.raises(ValueError, match="steps: stored 6, now 7"):
        fd.dream_video(root, tmp_path / "r.gif", frames_dir=tmp_path / "r", **{**FAST, "steps": 7})


def test_a_resume_may_go_further_or_stop_sooner(clip, tmp_path):
    """Where a video ends does not change its frames: a re-run with another ``end`` resumes."""
    root = clip[0]
    fd.dream_video(root, tmp_path / "whole.gif", frames_dir=tmp_path / "w", end=5, **FAST)
    fd.dream_video(root, tmp_path / "p.gif", frames_dir=tmp_path / "p", end=3, **FAST)
    first = (tmp_path / "p" / "frame_00000.png").stat().st_mtime_ns
    fd.dream_video(root, tmp_path / "p.gif", frames_dir=tmp_path / "p", end=5, **FAST)  # on to 5
    assert (tmp_path / "p" / "frame_00000.png").stat().st_mtime_ns == first  # kept, not made again
    for a, b in zip(_frames(tmp_path / "w", 5), _frames(tmp_path / "p", 5)):
        assert np.array_equal(a, b)
    assert (tmp_path / "p.gif").read_bytes() == (tmp_path / "whole.gif").read_bytes()
    fd.dream_video(root, tmp_path / "short.gif", frames_dir=tmp_path / "p", end=2, **FAST)
    with Image.open(tmp_path / "short.gif") as gif:
        assert gif.n_frames == 2
    with pytest.raises(ValueError, match="start: stored 0, now 1"):
        fd.dream_video(root, tmp_path / "p.gif", frames_dir=tmp_path / "p", start=1, **FAST)


def test_mp4_in_keeps_its_rate_and_sound_and_gif_in_works(tmp_path):
    src = tmp_path / "in.mp4"
    subprocess.run(
        [
            _ffmpeg(),
            "-loglevel",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            "testsrc=size=64x48:rate=12",
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440:sample_rate=22050",
            "-t",
            "0.5",
            "-c:v",
            "libx264",
            "-pix_fmt",
            "yuv420p",
            "-c:a",
            "aac",
            "-shortest",
            str(src),
        ],
        check=True,
    )
    out = fd.dream_video(src, tmp_path / "out.mp4", octaves=1, steps=2, seed=0)
    import imageio_ffmpeg

    gen = imageio_ffmpeg.read_frames(str(out))
    meta = next(gen)
    gen.close()
    assert meta["audio_codec"] == "aac" and meta["fps"] == 12 and meta["size"] == (64, 48)
    silent = fd.dream_video(src, tmp_path / "silent.mp4", keep_audio=False, octaves=1, steps=2, seed=0)
    gen = imageio_ffmpeg.read_frames(str(silent))
    assert not next(gen).get("audio_codec")
    gen.close()
    gif = tmp_path / "in.gif"
    ims = [Image.fromarray(np.full((24, 32, 3), 40 * k, np.uint8)) for k in range(3)]
    ims[0].save(gif, save_all=True, append_images=ims[1:], duration=100, loop=0)
    out = fd.dream_video(gif, tmp_path / "from_gif.gif", octaves=1, steps=1, seed=0, start=1)
    with Image.open(out) as im:
        assert im.size == (32, 24) and im.n_frames == 2 and im.info["duration"] == 100


@pytest.mark.parametrize(
    "make, kw, exc, words",
    [
        (None, {}, FileNotFoundError, "no such file"),
        ("text.mp4", {}, ValueError, "not a video ffmpeg can read"),
        ("clip.xyz", {}, ValueError, "unknown video extension '.xyz'"),
        ("empty_dir", {}, ValueError, "holds no images"),
        ("frames", dict(blend=1.5), ValueError, r"blend must be a finite number in \[0, 1\]"),
        ("frames", dict(end=99), ValueError, "end must be in"),
        ("frames", dict(start=2, end=1), ValueError, r"end \(1\) must be after start \(2\)"),  # was "in [3, 3]"
        ("frames", dict(stepz=1), TypeError, "dream_video got unknown option"),
        ("frames", dict(out="x.avi"), ValueError, "unknown video extension"),
    ],
)
def test_bad_inputs_write_nothing(tmp_path, make, kw, exc, words):
    src = tmp_path / "missing.mp4"
    if make == "text.mp4":
        src = tmp_path / make
        src.write_text("not a video")
    elif make == "clip.xyz":
        src = tmp_path / make
        src.write_bytes(b"x")
    elif make == "empty_dir":
        src = tmp_path / "empty"
        src.mkdir()
    elif make == "frames":
        src = tmp_path / "frames"
        src.mkdir()
        for k in range(3):
            Image.new("RGB", (32, 24), (50 * k, 0, 0)).save(src / f"{k}.png")
    out = tmp_path / kw.pop("out", "out.gif")
    before = sorted(p.name for p in tmp_path.iterdir())
    with pytest.raises(exc, match=words):
        fd.dream_video(src, out, octaves=1, steps=1, **kw)
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_a_folder_resumes_skips_bad_files_and_converts(tmp_path, capsys):
    src = tmp_path / "in"
    (src / "sub").mkdir(parents=True)
    for i in range(3):
        Image.new("RGB", (40, 32), (60 * i, 90, 20)).save(src / f"{i}.png")
    Image.new("RGBA", (40, 32), (10, 200, 90, 128)).save(src / "sub" / "alpha.png")
    (src / "broken.jpg").write_bytes(b"\xff\xd8 not a jpeg")
    r = fd.dream_folder(src, tmp_path / "out", format="jpg", octaves=1, steps=1, seed=0)
    names = sorted(str(p.relative_to(tmp_path / "out")) for p in (tmp_path / "out").rglob("*.jpg"))
    assert names == ["0.jpg", "1.jpg", "2.jpg", "sub/alpha.jpg"]
    assert len(r.written) == 4 and len(r.failed) == 1 and r.failed[0][0].name == "broken.jpg"
    assert "skipping" in capsys.readouterr().err
    before = {p: p.stat().st_mtime_ns for p in (tmp_path / "out").rglob("*.jpg")}
    (tmp_path / "out" / "1.jpg").unlink()  # as if the run had stopped before it
    r = fd.dream_folder(src, tmp_path / "out", format="jpg", octaves=1, steps=1, seed=0)
    assert [p.name for p in r.written] == ["1.jpg"] and len(r.skipped) == 3
    assert all(p.stat().st_mtime_ns == t for p, t in before.items() if p.name != "1.jpg")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no images"):
        fd.dream_folder(tmp_path / "empty", tmp_path / "o3")
    with pytest.raises(ValueError, match="is the input folder"):
        fd.dream_folder(src, src)
    with pytest.raises(ValueError, match="unknown image format"):
        fd.dream_folder(src, tmp_path / "o2", format="bogus")
    with pytest.raises(ValueError, match=r"^format: Pillow reads psd files but cannot write them; use .png, .jpg"):
        fd.dream_folder(src, tmp_path / "o2", format="psd")  # (it said "psd cannot hold RGB pictures")


def test_a_folder_takes_a_mask_of_any_kind(tmp_path):
    """A mask given as a path, a PIL image or an array raised AttributeError (its record hashed it
    as a tensor); only a tensor worked. Each picture's dream fits the mask to its size."""
    src = tmp_path / "in"
    src.mkdir()
    for i, size in enumerate([(40, 32), (80, 64)]):
        Image.fromarray(np.random.default_rng(i).integers(0, 256, (*size[::-1], 3), dtype=np.uint8)).save(
            src / f"{i}.png"
        )
    left = np.zeros((16, 20), np.uint8)
    left[:, :10] = 255
    Image.fromarray(left).save(tmp_path / "mask.png")
    for k, mask in enumerate([tmp_path / "mask.png", Image.fromarray(left), left]):
        out = tmp_path / f"out{k}"
        fd.dream_folder(src, out, mask=mask, octaves=1, steps=2, seed=0)
        for i in range(2):
            before, after = (np.asarray(Image.open(p / f"{i}.png"), float) for p in (src, out))
            change = np.abs(after - before).mean(axis=(0, 2))
            w = change.size
            assert change[: w // 2 - 2].mean() > 0.5 and change[w // 2 + 2 :].max() == 0, (k, i)
    with pytest.raises(FileNotFoundError, match="mask"):
        fd.dream_folder(src, tmp_path / "o", mask=tmp_path / "nope.png")


def test_two_torchrun_ranks_share_a_folder_and_independent_frames(tmp_path, clip):
    src = tmp_path / "imgs"
    src.mkdir()
    for i in range(8):
        Image.new("RGB", (40, 32), (30 * i, 60, 90)).save(src / f"{i}.png")
    script = tmp_path / "run.py"
    script.write_text(
        textwrap.dedent("""
        import json, os, sys
        from pathlib import Path
        import fastdream as fd
        r = fd.dream_folder(sys.argv[1], sys.argv[2], octaves=1, steps=1)  # a seed drawn: rank 0's for all
        fd.dream_video(sys.argv[3], sys.argv[4], blend=0.0, flow=False, octaves=1, steps=1, seed=0)
        # one file per rank: two ranks' prints can interleave on the shared stdout
        Path(sys.argv[5], "written" + os.environ["RANK"]).write_text(json.dumps([[p.name for p in r.written], r.seed]))
        assert r.totals == (8, 0, 0) and r.main == (os.environ["RANK"] == "0"), (r.totals, r.main)
        # the CLI says one summary for the launch (it said one per rank, each of its own share)
        from fastdream.cli import main
        main(["dream", sys.argv[1], "-o", sys.argv[2], "--octaves", "1", "--steps", "1", "-q"])
    """)
    )
    env = {k: v for k, v in os.environ.items() if k not in ("WORLD_SIZE", "RANK", "LOCAL_RANK", "MASTER_PORT")}
    env.update(OMP_NUM_THREADS="1", CUDA_VISIBLE_DEVICES="")
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node",
        "2",
        "--standalone",
        str(script),
        str(src),
        str(tmp_path / "out"),
        str(clip[0]),
        str(tmp_path / "v.gif"),
        str(tmp_path),
    ]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    (written, seeds) = zip(*[json.loads((tmp_path / f"written{rank}").read_text()) for rank in (0, 1)])
    assert seeds[0] == seeds[1] and isinstance(seeds[0], int)  # one seed for the folder, over the ranks
    assert len(written) == 2 and sorted(written[0] + written[1]) == [f"{i}.png" for i in range(8)]
    assert not set(written[0]) & set(written[1])  # each image by exactly one rank
    assert proc.stdout.count("dreamed ") == 1 and "dreamed 0 image(s) into" in proc.stdout  # all 8 already done
    assert f"(8 already done, seed {seeds[0]})" in proc.stdout  # (the stored seed finished it)
    with Image.open(tmp_path / "v.gif") as im:
        assert im.n_frames == N


def test_the_hook_shows_each_frame_as_a_picture(clip, tmp_path):
    """state.image() and Cancelled.image were the working (1, 3, H, W) tensor, not a picture."""
    shown = []

    def hook(state):
        shown.append((state.frame, state.image().size, state.image().mode))
        return state.frame < 1

    with pytest.raises(fd.Cancelled) as stop:
        fd.dream_video(clip[0], tmp_path / "v.gif", octaves=1, steps=1, seed=0, flow=False, callback=hook)
    assert shown == [(0, (W, H), "RGB"), (1, (W, H), "RGB")] and stop.value.image.size == (W, H)


@pytest.mark.parametrize("size", [(16, 256), (31, 100), (13, 40), (256, 16)])
def test_the_flow_of_thin_strips_does_not_crash_the_process(tmp_path, size):
    """OpenCV's DIS flow killed the process (a segfault, no message) on a 256x16 strip: its pyramid
    takes its depth from the long side. Such frames are padded for the flow; a pan is still found."""
    from fastdream.video.flow import Flow

    h, w = size
    rng = np.random.default_rng(0)
    scene = np.asarray(
        Image.fromarray(rng.integers(0, 255, (h // 4 + 2, w // 4 + 4), dtype=np.uint8)).resize((w + 16, h + 8))
    )
    scene = np.repeat(scene[..., None], 3, -1)
    a, b = scene[4 : 4 + h, 8 : 8 + w], scene[4 : 4 + h, 6 : 6 + w]  # a pan: everything 2 px to the right
    flow = Flow((h, w)).between(a, b)
    assert flow.shape == (h, w, 2) and flow.flags.c_contiguous
    inner = flow[h // 4 : h - h // 4, w // 4 : w - w // 4]
    assert abs(float(np.median(inner[..., 0])) - 2) < 0.5 and abs(float(np.median(inner[..., 1]))) < 0.5
    frames = [Image.fromarray(np.ascontiguousarray(scene[4 : 4 + h, 8 - 2 * k : 8 - 2 * k + w])) for k in range(3)]
    frames[0].save(tmp_path / "strip.gif", save_all=True, append_images=frames[1:], duration=100)
    out = fd.dream_video(str(tmp_path / "strip.gif"), tmp_path / "out.gif", steps=1, octaves=1, seed=0)
    with Image.open(out) as gif:
        assert gif.n_frames == 3 and gif.size == (w, h)


@pytest.mark.parametrize("broken", [1, 4])
def test_a_broken_frame_is_found_before_the_work_and_end_or_start_avoid_it(tmp_path, broken):
    """A truncated frame 5 of 6 was found after 4 frames were dreamed, and no video was written;
    --end 4 still read it (and --start 2 read a broken frame 1)."""
    folder = tmp_path / "in"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for k in range(6):
        Image.fromarray((rng.random((24, 32, 3)) * 255).astype(np.uint8)).save(folder / f"{k}.png")
    data = (folder / f"{broken}.png").read_bytes()
    (folder / f"{broken}.png").write_bytes(data[: len(data) // 2])
    seen = []
    with pytest.raises(ValueError, match=f"{broken}.png could not be read"):
        fd.dream_video(folder, tmp_path / "a.gif", steps=1, octaves=1, seed=0, callback=lambda s: seen.append(s))
    assert seen == [] and not (tmp_path / "a.gif").exists()  # said before any step
    span = dict(end=broken) if broken > 2 else dict(start=broken + 1)
    out = fd.dream_video(folder, tmp_path / "b.gif", steps=1, octaves=1, seed=0, flow=False, **span)
    with Image.open(out) as gif:
        assert gif.n_frames == (broken if broken > 2 else 6 - broken - 1)
    with pytest.raises(ValueError, match=f"{broken}.png could not be read"):
        fd.style_video(folder, folder / "0.png", tmp_path / "c.gif", steps=1, callback=lambda s: seen.append(s))
    assert seen == []


def test_settings_without_frames_do_not_hold_back_other_settings(clip, tmp_path):
    """A run killed before its first frame (no Ctrl-C to clean up) left its settings file, which
    refused other settings: "the frames ... were made with other settings", with no frame there."""
    fd.dream_video(clip[0], tmp_path / "a.gif", octaves=1, steps=1, seed=3, end=2)
    frames_dir = tmp_path / "a_frames"
    for frame in frames_dir.glob("frame_*.png"):
        frame.unlink()
    out = fd.dream_video(clip[0], tmp_path / "a.gif", octaves=1, steps=2, seed=4, end=2)
    settings = json.loads((frames_dir / "dream_video_settings.json").read_text())["key"]
    assert out.exists() and settings["seed"] == 4 and settings["dream"]["steps"] == 2


@pytest.mark.parametrize("kind", ["dream", "style"])
def test_a_gray_animation_gives_a_gray_video_and_a_color_one_stays_color(tmp_path, kind):
    """A gray GIF's dream-video and style-video came out in color, where the dream of a gray picture
    is gray (and a zoom of it too); a style-video keeps it gray with preserve_colors, and paints it
    in a colorful style's colors otherwise, as a style transfer of a gray picture does."""
    from skimage import data

    def video(frames, name, **kw):
        path = tmp_path / f"{name}.gif"
        frames[0].save(path, save_all=True, append_images=frames[1:], duration=100)
        out = tmp_path / f"{name}_out.gif"
        if kind == "dream":
            return fd.dream_video(path, out, steps=1, octaves=1, seed=0)
        style = Image.fromarray(data.coffee()).resize((64, 48))
        return fd.style_video(path, style, out, steps=2, octaves=1, seed=0, flow=False, **kw)

    cat = Image.fromarray(data.chelsea()).resize((72, 48))
    gray = [cat.convert("L").rotate(4 * k) for k in range(2)]
    cases = [("gray", gray, {}, kind == "dream"), ("color", [cat, cat], {}, False)]
    if kind == "style":
        cases.append(("kept_gray", gray, {"preserve_colors": True}, True))
    for name, frames, kw, stays_gray in cases:
        with Image.open(video(frames, name, **kw)) as gif:
            spread = [
                int(np.ptp(np.asarray(f.convert("RGB")).astype(int), axis=-1).max())
                for f in ImageSequence.Iterator(gif)
            ]
        assert (max(spread) == 0) == stays_gray, (name, spread)


def test_an_empty_input_path_is_refused_not_read_as_this_folder(tmp_path, monkeypatch):
    """dream_video('') read the current folder's pictures as frames and wrote its video into it,
    where '.' itself is refused (the output inside the input folder)."""
    from fastdream.video.source import open_source

    Image.new("RGB", (24, 16)).save(tmp_path / "f0.png")
    monkeypatch.chdir(tmp_path)
    for make in (fd.dream_video, lambda src, out: fd.style_video(src, np.zeros((32, 32, 3), np.uint8), out)):
        with pytest.raises(ValueError, match="input: the path is empty"):
            make("", "o.gif")
    with pytest.raises(TypeError, match="input must be the path of a video or of a folder of frames, got None"):
        open_source(None)
    assert sorted(os.listdir(tmp_path)) == ["f0.png"]
