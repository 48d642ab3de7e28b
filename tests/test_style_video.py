"""Styled videos: steadier than frames styled one by one, resume equals an uninterrupted run, the
step hook and Cancelled, masks per frame, MP4 rate and sound, the shell, and bad inputs."""

import json
import subprocess

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

import fastdream as fd
from fastdream import io
from fastdream.cli import main
from fastdream.style import StyleOptions, Stylizer
from fastdream.style import engine as E
from fastdream.video import styled as sv

W, H, N, PAN = 96, 64, 6, 3
FAST = dict(octaves=2, steps=20, seed=0)


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    """A 96x64 window panning PAN px a frame to the right over the astronaut: a folder of frames, the frames."""
    from skimage import data

    big = np.asarray(Image.fromarray(data.astronaut()).resize((256, 256)))
    root = tmp_path_factory.mktemp("clip")
    frames = [big[60 : 60 + H, 70 + PAN * k : 70 + PAN * k + W].copy() for k in range(N)]
    for k, f in enumerate(frames):
        Image.fromarray(f).save(root / f"{k:03d}.png")
    return root, frames


@pytest.fixture(scope="module")
def style():
    from skimage import data

    return Image.fromarray(data.immunohistochemistry()).resize((96, 96), Image.BICUBIC)


def _frames(folder, n=N):
    return [np.asarray(Image.open(folder / f"frame_{k:05d}.png")) for k in range(n)]


def change_along_the_pan(outs, frames, border=6) -> float:
    """Mean change of the stylization (output - input) from frame to frame, the previous frame's
    moved with the pan, away from the borders."""
    d = [o.astype(np.float32) - f.astype(np.float32) for o, f in zip(outs, frames)]
    b = border
    return float(
        np.mean(
            [np.abs(d[k][b:-b, b : W - PAN - b] - d[k - 1][b:-b, PAN + b : W - b]).mean() for k in range(1, len(d))]
        )
    )


def style_distance(outs, style) -> float:
    with Stylizer([io.load(style).rgb], StyleOptions.create(1), torch.device("cpu")) as st:
        return float(
            np.mean([E.style_distance(st.feats, io.load(o).rgb, io.load(style).rgb, st.o.style_layers) for o in outs])
        )


def test_the_flow_steadies_the_style_and_keeps_it(clip, style, tmp_path):
    root, frames = clip
    fd.style_video(root, style, tmp_path / "flow.gif", frames_dir=tmp_path / "flow", **FAST)
    fd.style_video(root, style, tmp_path / "alone.gif", frames_dir=tmp_path / "alone", flow=False, **FAST)
    flow, alone = _frames(tmp_path / "flow"), _frames(tmp_path / "alone")
    change = change_along_the_pan(flow, frames), change_along_the_pan(alone, frames)
    dist = style_distance(flow, style), style_distance(alone, style)
    assert change[0] <= 0.7 * change[1], change  # the target
    assert dist[0] <= 1.25 * dist[1], dist  # the style stays
    with Image.open(tmp_path / "flow.gif") as im:
        assert im.size == (W, H) and im.n_frames == N


def test_resume_after_a_stop_equals_an_uninterrupted_run(clip, style, tmp_path):
    root = clip[0]
    whole = fd.style_video(root, style, tmp_path / "whole.gif", frames_dir=tmp_path / "w", **FAST)
    states, pictures = [], []

    def stop_in_frame_3(state):
        states.append(state)
        if state.frame == 3:
            pictures.append(state.image())  # (while the call runs: a state's image() ends with it)
        return state.frame < 3

    with pytest.raises(fd.Cancelled) as stop:
        fd.style_video(root, style, tmp_path / "r.gif", frames_dir=tmp_path / "r", callback=stop_in_frame_3, **FAST)
    assert sorted(p.name for p in (tmp_path / "r").glob("frame_*.png")) == [f"frame_{k:05d}.png" for k in range(3)]
    assert not (tmp_path / "r.gif").exists() and stop.value.image.size == (W, H) and stop.value.image.mode == "RGB"
    # the hook: frame 0 runs the octaves, later ones the full size only; steps count over the call
    # (a frame's pass for picture entering the pan says octave_step 0 and counts no step)
    own = [s for s in states if s.octave_step > 0]
    first = len([s for s in own if s.frame == 0])
    assert first == 2 * FAST["steps"] and len([s for s in own if s.frame == 1]) == FAST["steps"]
    assert [s.step for s in own] == list(range(1, len(own) + 1))
    assert all(s.step == first for s in states if s.frame == 1 and s.octave_step == 0)
    assert states[0].total == first + (N - 1) * FAST["steps"] and states[0].frames == N
    assert pictures[-1].size == (W, H) and pictures[-1].mode == "RGB"  # a frame: a picture
    fd.style_video(root, style, tmp_path / "r.gif", frames_dir=tmp_path / "r", **FAST)
    for a, b in zip(_frames(tmp_path / "w"), _frames(tmp_path / "r")):
        assert np.array_equal(a, b)
    assert (tmp_path / "r.gif").read_bytes() == whole.read_bytes()
    # Where it ends does not change the frames: a shorter video from the same folder, no new work.
    fd.style_video(root, style, tmp_path / "short.gif", frames_dir=tmp_path / "r", end=2, **FAST)
    with Image.open(tmp_path / "short.gif") as gif:
        assert gif.n_frames == 2
    with pytest.raises(ValueError, match="steps: stored 20, now 21"):
        fd.style_video(root, style, tmp_path / "r.gif", frames_dir=tmp_path / "r", **{**FAST, "steps": 21})
    with pytest.raises(ValueError, match="temporal_weight: stored"):
        fd.style_video(root, style, tmp_path / "r.gif", frames_dir=tmp_path / "r", temporal_weight=1.0, **FAST)


def test_masks_per_frame_and_the_subject_of_each_frame(clip, style, tmp_path):
    from skimage import data

    root = clip[0]
    stars = Image.fromarray(data.hubble_deep_field()).resize((96, 96))
    left = np.zeros((H, W), np.float32)
    left[:, : W // 2] = 1
    quick = dict(octaves=1, steps=3, seed=0, end=3)
    fd.style_video(root, [style, stars], tmp_path / "m.gif", frames_dir=tmp_path / "m", masks=[left, 1 - left], **quick)

    class LeftIsSubject(nn.Module):
        def forward(self, x):
            logits = torch.full_like(x[:, :1], -20.0)
            logits[..., : x.shape[-1] // 2] = 20.0
            return logits

    fd.style_video(
        root,
        [style, stars],
        tmp_path / "s.gif",
        frames_dir=tmp_path / "s",
        masks="subject",
        cutout_model=LeftIsSubject(),
        **quick,
    )
    assert len(_frames(tmp_path / "m", 3)) == len(_frames(tmp_path / "s", 3)) == 3
    only = fd.style_video(root, style, tmp_path / "o.gif", frames_dir=tmp_path / "o", masks=[left], **quick)
    for out, src in zip(_frames(tmp_path / "o", 3), clip[1]):
        assert np.array_equal(out[:, W // 2 + 8 :], src[:, W // 2 + 8 :])  # no mask: the frame itself
    assert only.exists()


def test_mp4_keeps_its_rate_and_sound(tmp_path, style):
    import imageio_ffmpeg

    src = tmp_path / "in.mp4"
    lavfi = ["-f", "lavfi", "-i", "testsrc=size=64x48:rate=12", "-f", "lavfi", "-i", "sine=frequency=440"]
    codecs = ["-t", "0.25", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", str(src)]
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-loglevel", "error", "-y", *lavfi, *codecs], check=True)
    out = fd.style_video(src, style, tmp_path / "out.mp4", octaves=1, steps=1, seed=0)
    gen = imageio_ffmpeg.read_frames(str(out))
    meta = next(gen)
    gen.close()
    assert meta["audio_codec"] == "aac" and meta["fps"] == 12 and meta["size"] == (64, 48)


def test_the_shell_makes_the_same_video(clip, style, tmp_path, capsys):
    root = clip[0]
    style.save(tmp_path / "style.png")
    args = f"style-video {root} {tmp_path / 'style.png'} -o {tmp_path / 'sh.gif'} --octaves 1 --steps 2 --end 3 -q"
    assert main(args.split()) == 0
    # no seed is said: painted from its frames, a video no seed changes ("(seed 1956796136)", another each run)
    assert capsys.readouterr().out == f"wrote {tmp_path / 'sh.gif'}\n"
    py = fd.style_video(root, str(tmp_path / "style.png"), tmp_path / "py.gif", octaves=1, steps=2, seed=0, end=3)
    assert (tmp_path / "sh.gif").read_bytes() == py.read_bytes()
    for a, b in zip(_frames(tmp_path / "sh_frames", 3), _frames(tmp_path / "py_frames", 3)):
        assert np.array_equal(a, b)


@pytest.mark.parametrize(
    "make, kw, exc, words",
    [
        (None, {}, FileNotFoundError, "no such file"),
        ("clip.xyz", {}, ValueError, "unknown video extension '.xyz'"),
        ("frames", dict(style="MISSING"), FileNotFoundError, "no such file"),
        ("frames", dict(masks="ZERO"), ValueError, r"masks\[0\] is 0 everywhere"),
        ("frames", dict(masks="TWO"), ValueError, r"masks: 2 mask\(s\) for 1 style image\(s\)"),
        ("frames", dict(masks="subject"), ValueError, "needs cutout_model="),
        ("frames", dict(temporal_weight=-1), ValueError, "temporal_weight must be a finite number >= 0"),
        # taken, and it changed nothing: the temporal term needs the flow
        ("frames", dict(temporal_weight=1000.0, flow=False), ValueError, "changes nothing with flow=False"),
        ("frames", dict(end=99), ValueError, "end must be in"),
        ("frames", dict(stepz=1), TypeError, r"unknown option\(s\) \['stepz'\]; style options are: style_weights, "),
        ("frames", dict(size=8), ValueError, "below what the network needs"),
        ("frames", dict(size=40), ValueError, "working size 40x27 is below"),  # taken: padded to 48x32
        ("frames", dict(out="x.avi"), ValueError, "unknown video extension"),
    ],
)
def test_bad_inputs_write_nothing(tmp_path, style, make, kw, exc, words):
    src = tmp_path / "missing"
    if make == "clip.xyz":
        src = tmp_path / make
        src.write_bytes(b"x")
    elif make == "frames":
        src.mkdir()
        for k in range(3):
            Image.new("RGB", (48, 32), (50 * k, 0, 0)).save(src / f"{k}.png")
    kw = dict(kw)
    out = tmp_path / kw.pop("out", "out.gif")
    style = tmp_path / "missing.png" if kw.pop("style", None) == "MISSING" else style
    masks = {"ZERO": [np.zeros((32, 48))], "TWO": [np.ones((32, 48))] * 2}.get(kw.get("masks"), kw.get("masks"))
    if masks is not None:
        kw["masks"] = masks
    before = sorted(p.name for p in tmp_path.iterdir())
    with pytest.raises(exc, match=words):
        fd.style_video(src, style, out, octaves=1, steps=1, **kw)
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_the_subject_from_a_checkpoint_in_the_shell(clip, style, tmp_path):
    from fastdream.cutout import train_unet
    from fastdream.data import make_cutout_dataset
    from tests.helpers import UNET_TINY

    data = make_cutout_dataset(tmp_path / "cutouts", 8, size=48, seed=0)
    ckpt = train_unet(data.images, data.masks, tmp_path / "unet.pt", epochs=1, **UNET_TINY)
    style.save(tmp_path / "a.png")
    style.rotate(90).save(tmp_path / "b.png")
    Image.fromarray(clip[1][0]).save(tmp_path / "photo.png")
    quick = ["--octaves", "1", "--steps", "2", "--seed", "0", "-q"]
    args = ["style", str(tmp_path / "photo.png"), str(tmp_path / "a.png"), str(tmp_path / "b.png")]
    assert main([*args, "--subject-from", str(ckpt), "-o", str(tmp_path / "out.png"), *quick]) == 0
    py = fd.style_transfer(
        str(tmp_path / "photo.png"),
        [str(tmp_path / "a.png"), str(tmp_path / "b.png")],
        masks="subject",
        cutout_model=str(ckpt),
        octaves=1,
        steps=2,
        seed=0,
    )
    assert np.array_equal(np.asarray(Image.open(tmp_path / "out.png")), np.asarray(py))
    video = ["style-video", str(clip[0]), str(tmp_path / "a.png"), str(tmp_path / "b.png"), "--end", "2"]
    assert main([*video, "--subject-from", str(ckpt), "-o", str(tmp_path / "v.gif"), *quick]) == 0
    settings = json.loads((tmp_path / "v_frames" / sv.SETTINGS_NAME).read_text())
    assert "subject" in settings["key"]["masks"]
    assert main([*video, "--masks", str(ckpt), "--subject-from", str(ckpt), "-o", str(tmp_path / "w.gif")]) == 2


def test_picture_entering_a_pan_is_styled_as_strongly_as_the_first_frame(style, tmp_path):
    """A pan's new strips got only the full-size octave, then the temporal term held them so: by
    the 8th frame of a 12 px/frame pan the right side was half as styled as the first frame's."""
    from skimage import data

    big = np.asarray(Image.fromarray(data.astronaut()).resize((200, 200)))
    frames = [big[40:136, 12 * k : 12 * k + 96] for k in range(8)]
    (tmp_path / "in").mkdir()
    for k, f in enumerate(frames):
        Image.fromarray(f).save(tmp_path / "in" / f"{k}.png")
    fd.style_video(tmp_path / "in", style, tmp_path / "pan.gif", frames_dir=tmp_path / "f", seed=0)
    styled = lambda k: np.asarray(Image.open(tmp_path / "f" / f"frame_{k:05d}.png").convert("RGB")).astype(float)
    right = lambda k: np.abs(styled(k) - frames[k])[:, -36:].mean()  # what entered after frame 4
    assert right(7) > 0.8 * right(0), (right(0), right(7))


def test_a_still_frame_of_odd_size_takes_no_extra_pass(style, tmp_path, monkeypatch):
    """The padding to the network's stride counted as entering picture: a 1920x1080 frame (0.74%
    padding) took the smallest-octave pass on every later frame, with nothing entering."""
    frame = (np.random.default_rng(0).random((70, 90, 3)) * 255).astype(np.uint8)  # 80x96 at work
    (tmp_path / "in").mkdir()
    for k in range(3):
        Image.fromarray(frame).save(tmp_path / "in" / f"{k}.png")
    calls = []
    paint = sv.Stylizer.paint
    monkeypatch.setattr(sv.Stylizer, "paint", lambda self, *a, **k: calls.append(a[1]) or paint(self, *a, **k))
    fd.style_video(tmp_path / "in", style, tmp_path / "still.gif", frames_dir=tmp_path / "f", **FAST)
    assert len(calls) == 3, calls  # one transfer a frame


def test_a_stop_is_heard_during_the_pass_for_entering_picture(style, tmp_path, monkeypatch):
    """The smallest-octave pass for picture entering a pan took no step hook: a Stop waited for it."""
    from skimage import data

    big = np.asarray(Image.fromarray(data.astronaut()).resize((200, 200)))
    (tmp_path / "in").mkdir()
    for k in range(3):
        Image.fromarray(big[40:136, 24 * k : 24 * k + 96]).save(tmp_path / "in" / f"{k}.png")
    sizes = []
    paint = sv.Stylizer.paint
    monkeypatch.setattr(sv.Stylizer, "paint", lambda self, *a, **k: sizes.append(tuple(a[1])) or paint(self, *a, **k))
    seen = []

    def stop_in_frame_1(state):
        seen.append((state.frame, state.step, state.image().size))
        return state.frame != 1

    with pytest.raises(fd.Cancelled) as stopped:
        fd.style_video(
            tmp_path / "in", style, tmp_path / "pan.gif", steps=2, octaves=2, seed=0, callback=stop_in_frame_1
        )
    assert len(sizes) == 2 and sizes[1] != sizes[0], sizes  # stopped in frame 1's pass, before its full size
    first_of_1 = next(s for s in seen if s[0] == 1)
    assert first_of_1[1] == 4 and first_of_1[2] == (96, 96)  # no step of its own; the frame as it starts
    assert stopped.value.image.size == (96, 96)


def test_the_default_octaves_are_recorded_as_a_number(clip, style, tmp_path):
    """octaves=None (a still's default: as many as fit) was recorded as null: a folder begun with
    3 (the old default) was refused as made with other settings, where its frames were the same."""
    fd.style_video(clip[0], style, tmp_path / "v.gif", end=1, octaves=None, steps=1, seed=0)
    settings = json.loads((tmp_path / "v_frames" / sv.SETTINGS_NAME).read_text())
    assert settings["key"]["style"]["octaves"] == 1  # (the clip's frames are under 102 px: one octave)


def test_frames_of_the_even_blend_are_not_resumed_from_older_ones(clip, style, tmp_path):
    """The styles' blend and color matching changed their pixels (twelfth session) under the same
    settings: an older folder resumed would have mixed two looks in one video."""
    fd.style_video(
        clip[0], [style, style.rotate(90)], tmp_path / "v.gif", end=1, octaves=1, steps=1, seed=0, color_match=True
    )
    key = json.loads((tmp_path / "v_frames" / sv.SETTINGS_NAME).read_text())["key"]["style"]
    assert key["blend"] == "even" and key["color_match_floor"] is True
