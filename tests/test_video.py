"""fastdream.video.zoom_video: frames, formats, resume, refusals, bad values (tiny images, 1 octave)."""

import json
import os
import sys

import numpy as np
import pytest
import torch
from PIL import Image

import fastdream as fd
from fastdream import io, video
from fastdream.video import maker, zoom_video

W, H = 64, 48
ZOOM = 1.1
FAST = dict(octaves=1, steps=2, jitter=4, tile_size=64, seed=3)


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    # These dreams are tiny (~15 ms); with 2 threads on a shared 2-core machine OpenMP waiting
    # costs 10-50x that. One thread keeps the file fast and does not change what is tested.
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def photo():
    return Image.open(io.SAMPLE_IMAGE).convert("RGB").resize((W, H), Image.BICUBIC)


@pytest.fixture(scope="module")
def made(tmp_path_factory, photo):
    """One uninterrupted 6-frame run, shared by the tests that only read its outputs."""
    d = tmp_path_factory.mktemp("made")
    out = zoom_video(photo, d / "zoom.gif", frames=6, zoom=ZOOM, fps=10, **FAST)
    return out


def _frames_of(frames_dir, n):
    return [np.asarray(Image.open(frames_dir / video.FRAME_NAME.format(k)), dtype=np.float64) for k in range(n)]


def _decoded(path):
    out = []
    with Image.open(path) as im:
        for i in range(im.n_frames):
            im.seek(i)
            im.load()  # WebP sets each frame's duration on load
            out.append((np.asarray(im.convert("RGB"), dtype=np.float64), im.info.get("duration")))
        loop = im.info.get("loop")
    return out, loop


def _leftovers(folder):
    return sorted(n for n in os.listdir(folder) if n.startswith("."))


def test_gif_has_the_frames_size_fps_and_loops(made):
    assert made.name == "zoom.gif" and made.is_file()
    frames, loop = _decoded(made)
    assert len(frames) == 6
    assert all(f.shape == (H, W, 3) for f, _ in frames)
    assert [d for _, d in frames] == [100] * 6  # fps=10
    assert loop == 0
    frames_dir = made.with_name("zoom_frames")  # the default folder, beside the video
    assert sorted(os.listdir(frames_dir)) == [video.FRAME_NAME.format(k) for k in range(6)] + [video.SETTINGS_NAME]
    assert _leftovers(made.parent) == [] and _leftovers(frames_dir) == []


def test_webp_fps_and_frames_from_the_stored_folder(made, photo, monkeypatch):
    # The frames exist, so nothing is dreamed again: another fps / format only re-encodes.
    monkeypatch.setattr(maker, "run", _fail)
    out = zoom_video(
        photo,
        made.with_name("zoom15.webp"),
        frames=6,
        zoom=ZOOM,
        fps=15,
        frames_dir=made.with_name("zoom_frames"),
        **FAST,
    )
    frames, loop = _decoded(out)
    assert len(frames) == 6 and frames[0][0].shape == (H, W, 3) and loop == 0
    durations = [d for _, d in frames]
    assert set(durations) <= {66, 67} and sum(durations) == 400  # 6 frames at 15 fps, exactly on average


def _fail(*a, **k):
    raise AssertionError("dream should not run")


def test_frames_differ_and_zoom_inward(made):
    fr = _frames_of(made.with_name("zoom_frames"), 6)
    for a, b in zip(fr, fr[1:]):
        x = torch.from_numpy(a).permute(2, 0, 1)[None]
        zin = fd.ops.zoom_shift(x, zoom=ZOOM)[0].permute(1, 2, 0).numpy()
        zout = fd.ops.zoom_shift(x, zoom=1 / ZOOM)[0].permute(1, 2, 0).numpy()
        same, inward, outward = (np.abs(b - c).mean() for c in (a, zin, zout))
        assert same > 1.0  # consecutive frames differ visibly (mean over 0..255 levels)
        # The next frame is the zoomed-in previous one plus a little dream: the inward zoom
        # explains it far better than no motion or an outward zoom.
        assert inward < 0.25 * same and inward < 0.25 * outward


def test_frame_0_is_the_dreamed_input(made, photo):
    f0 = _frames_of(made.with_name("zoom_frames"), 1)[0]
    expected = np.asarray(fd.dream(photo, **FAST), dtype=np.float64)  # seed + 0
    assert np.array_equal(f0, expected)


def test_reverse_plays_the_frames_backwards(made, photo, monkeypatch):
    monkeypatch.setattr(maker, "run", _fail)
    rev = zoom_video(
        photo,
        made.with_name("rev.gif"),
        frames=6,
        zoom=ZOOM,
        fps=10,
        reverse=True,
        frames_dir=made.with_name("zoom_frames"),
        **FAST,
    )
    fwd, _ = _decoded(made)
    back, _ = _decoded(rev)
    assert len(back) == 6
    for i in range(6):
        assert np.abs(back[i][0] - fwd[5 - i][0]).mean() < 1.0  # GIF palettes: equal up to quantization
    assert np.abs(back[0][0] - fwd[0][0]).mean() > 2.0


_REAL_RUN = maker.run


def _stopping_after(n, calls):
    """A dream that raises (like Ctrl-C) when asked for frame n, counting its calls."""

    def run(x, options, **k):
        calls.append(options.seed)
        if n is not None and len(calls) > n:
            raise KeyboardInterrupt
        return _REAL_RUN(x, options, **k)

    return run


def test_resume_after_interruption_is_byte_identical(made, photo, tmp_path, monkeypatch):
    out = tmp_path / "zoom.gif"
    calls = []
    monkeypatch.setattr(maker, "run", _stopping_after(3, calls))
    with pytest.raises(KeyboardInterrupt):
        zoom_video(photo, out, frames=6, zoom=ZOOM, fps=10, **FAST)
    frames_dir = tmp_path / "zoom_frames"
    assert sorted(os.listdir(frames_dir)) == [video.FRAME_NAME.format(k) for k in range(3)] + [video.SETTINGS_NAME]
    assert not out.exists() and _leftovers(tmp_path) == [] and _leftovers(frames_dir) == []

    calls.clear()
    monkeypatch.setattr(maker, "run", _stopping_after(None, calls))
    zoom_video(photo, out, frames=6, zoom=ZOOM, fps=10, **FAST)
    assert calls == [FAST["seed"] + k for k in (3, 4, 5)]  # only the missing frames were dreamed
    assert out.read_bytes() == made.read_bytes()
    for k in range(6):
        name = video.FRAME_NAME.format(k)
        assert (frames_dir / name).read_bytes() == (made.with_name("zoom_frames") / name).read_bytes()


def test_resume_without_a_seed_reuses_the_stored_one(photo, tmp_path, monkeypatch):
    opts = {k: v for k, v in FAST.items() if k != "seed"}
    calls = []
    monkeypatch.setattr(maker, "run", _stopping_after(2, calls))
    with pytest.raises(KeyboardInterrupt):
        zoom_video(photo, tmp_path / "a.gif", frames=4, zoom=ZOOM, **opts)
    monkeypatch.setattr(maker, "run", _stopping_after(None, []))
    zoom_video(photo, tmp_path / "a.gif", frames=4, zoom=ZOOM, **opts)
    seed = json.loads((tmp_path / "a_frames" / video.SETTINGS_NAME).read_text())["key"]["seed"]
    assert isinstance(seed, int) and calls[0] == seed
    zoom_video(photo, tmp_path / "b.gif", frames=4, zoom=ZOOM, seed=seed, **opts)
    assert (tmp_path / "a.gif").read_bytes() == (tmp_path / "b.gif").read_bytes()


def test_more_frames_extend_and_fewer_reuse(photo, tmp_path, monkeypatch):
    zoom_video(photo, tmp_path / "v.gif", frames=3, zoom=ZOOM, **FAST)
    calls = []
    monkeypatch.setattr(maker, "run", _stopping_after(None, calls))
    zoom_video(photo, tmp_path / "v.gif", frames=5, zoom=ZOOM, **FAST)
    assert calls == [FAST["seed"] + 3, FAST["seed"] + 4]
    zoom_video(photo, tmp_path / "w.gif", frames=2, zoom=ZOOM, frames_dir=tmp_path / "v_frames", **FAST)
    assert len(calls) == 2 and len(_decoded(tmp_path / "w.gif")[0]) == 2


@pytest.mark.parametrize(
    "change, message",
    [
        (dict(zoom=1.2), "zoom: stored 1.1, now 1.2"),
        (dict(steps=3), "dream.steps: stored 2, now 3"),
        (dict(seed=4), "seed: stored 3, now 4"),
        (dict(angle=2.0), "angle: stored 0.0, now 2.0"),
        (dict(color_drift=10), "color_drift: stored None, now 10.0"),
        (dict(layers="_blocks.6"), "dream.layers"),
        (dict(image="flipped"), "input: its contents differ"),
    ],
)
def test_other_settings_are_refused_and_nothing_changes(made, photo, change, message):
    frames_dir = made.with_name("zoom_frames")
    before = {n: (frames_dir / n).read_bytes() for n in os.listdir(frames_dir)}
    kw = {**FAST, "zoom": ZOOM, **change}
    image = photo.transpose(Image.FLIP_LEFT_RIGHT) if kw.pop("image", None) else photo
    out = made.with_name("other.gif")
    with pytest.raises(ValueError, match="made with other settings") as e:
        zoom_video(image, out, frames=6, frames_dir=frames_dir, **kw)
    assert message in str(e.value) and "resume=False" in str(e.value)
    assert not out.exists()
    assert {n: (frames_dir / n).read_bytes() for n in os.listdir(frames_dir)} == before


def test_resume_false_starts_over(photo, tmp_path):
    zoom_video(photo, tmp_path / "v.gif", frames=2, zoom=ZOOM, **FAST)
    old = (tmp_path / "v_frames" / video.FRAME_NAME.format(1)).read_bytes()
    with pytest.raises(ValueError, match="other settings"):
        zoom_video(photo, tmp_path / "v.gif", frames=2, zoom=1.3, **FAST)
    zoom_video(photo, tmp_path / "v.gif", frames=2, zoom=1.3, resume=False, **FAST)
    assert (tmp_path / "v_frames" / video.FRAME_NAME.format(1)).read_bytes() != old
    zoom_video(photo, tmp_path / "v.gif", frames=2, zoom=1.3, **FAST)  # now stored: resumes fine


def test_a_start_over_stopped_before_its_first_frame_keeps_the_earlier_frames(photo, tmp_path):
    """A stop in the first seconds of a `--no-resume` run deleted the whole finished set at once
    (a trainer keeps its old checkpoint until a new one exists)."""
    zoom_video(photo, tmp_path / "v.gif", frames=3, zoom=ZOOM, **FAST)
    frames = tmp_path / "v_frames"
    before = {p.name: p.read_bytes() for p in frames.iterdir()}
    with pytest.raises(fd.Cancelled):
        zoom_video(photo, tmp_path / "v.gif", frames=3, zoom=1.3, resume=False, callback=lambda s: False, **FAST)
    assert {p.name: p.read_bytes() for p in frames.iterdir()} == before  # settings file too: it resumes
    zoom_video(photo, tmp_path / "v.gif", frames=3, zoom=ZOOM, **FAST)
    # Once the new run has a frame, the earlier ones are gone (a resume continues the new run).
    stop_in_frame_1 = lambda s: s.frame < 1
    with pytest.raises(fd.Cancelled):
        zoom_video(photo, tmp_path / "v.gif", frames=3, zoom=1.3, resume=False, callback=stop_in_frame_1, **FAST)
    assert sorted(p.name for p in frames.iterdir()) == [video.FRAME_NAME.format(0), "zoom_settings.json"]
    assert json.loads((frames / "zoom_settings.json").read_text())["key"]["zoom"] == 1.3


def test_frames_set_aside_by_a_killed_start_over_are_put_back_by_the_next_run(photo, tmp_path):
    """kill -9 between setting the earlier frames aside and the first new frame left them in
    .replaced, where the next run deleted them."""
    first = zoom_video(photo, tmp_path / "v.gif", frames=3, zoom=ZOOM, **FAST).read_bytes()
    frames = tmp_path / "v_frames"
    aside = frames / video.frames.REPLACED
    aside.mkdir()
    for p in list(frames.glob("*.png")) + [frames / "zoom_settings.json"]:
        os.replace(p, aside / p.name)
    (frames / "zoom_settings.json").write_text('{"key": {"zoom": 1.3}, "info": {"written": 0}}')  # the killed run's
    steps = []
    again = zoom_video(photo, tmp_path / "v.gif", frames=3, zoom=ZOOM, callback=steps.append, **FAST)
    assert again.read_bytes() == first and steps == []  # put back, not dreamed again
    assert not aside.exists() and len(list(frames.glob("frame_*.png"))) == 3


def test_foreign_frames_without_settings_are_refused(photo, tmp_path):
    d = tmp_path / "frames"
    d.mkdir()
    photo.save(d / video.FRAME_NAME.format(0))
    with pytest.raises(ValueError, match="no zoom_settings.json"):
        zoom_video(photo, tmp_path / "v.gif", frames=2, frames_dir=d, **FAST)
    assert sorted(os.listdir(tmp_path)) == ["frames"] and os.listdir(d) == [video.FRAME_NAME.format(0)]


def test_color_drift():
    m = maker.color_matrix(120.0)
    assert torch.allclose(m @ m @ m, torch.eye(3, dtype=torch.float64), atol=1e-12)  # 3 x 120 deg = identity
    gray = torch.full((3,), 0.4, dtype=torch.float64)
    assert torch.allclose(m @ gray, gray)  # grays stay gray
    red, green = torch.eye(3, dtype=torch.float64)[:2]
    assert torch.allclose(m @ red, green, atol=1e-12)  # +120 deg: red -> green
    gains = maker.color_matrix([1.1, 1.0, 0.9])
    assert torch.equal(gains, torch.diag(torch.tensor([1.1, 1.0, 0.9], dtype=torch.float64)))


def test_color_drift_gains_warm_the_frames(photo, tmp_path):
    zoom_video(photo, tmp_path / "v.gif", frames=4, zoom=1.0, color_drift=(1.15, 1.0, 0.85), **FAST)
    fr = _frames_of(tmp_path / "v_frames", 4)
    ratio = [f[..., 0].mean() / f[..., 2].mean() for f in fr]
    assert all(b > a * 1.1 for a, b in zip(ratio, ratio[1:]))


def test_padding_and_interpolation_choose_the_edges_and_the_sharpness(photo, tmp_path):
    """A zoom out shows what lies past the picture's edges (mirrored, repeated, or black), and
    frames resample bicubically by default: bilinear softened the photo a little every frame."""
    out = {}
    for padding, interpolation in [("reflect", "bicubic"), ("zeros", "bicubic"), ("reflect", "bilinear")]:
        name = f"{padding}-{interpolation}"
        kw = dict(padding=padding, interpolation=interpolation, **FAST)
        zoom_video(photo, tmp_path / f"{name}.gif", frames=2, zoom=0.8, **kw)
        out[name] = _frames_of(tmp_path / f"{name}_frames", 2)[1]
        key = json.loads((tmp_path / f"{name}_frames" / "zoom_settings.json").read_text())["key"]
        assert (key["padding"], key["interpolation"]) == (padding, interpolation)
    corner = (slice(0, 4), slice(0, 4))
    assert out["zeros-bicubic"][corner].mean() < out["reflect-bicubic"][corner].mean() - 40
    lap = [[0, 1, 0], [1, -4, 1], [0, 1, 0]]

    def detail(f):
        g = f.mean(-1)
        return sum(lap[i][j] * g[i : i + H - 2, j : j + W - 2] for i in range(3) for j in range(3)).var()

    assert detail(out["reflect-bicubic"]) > detail(out["reflect-bilinear"])
    with pytest.raises(ValueError, match="interpolation"):  # another sharpness is another video
        zoom_video(photo, tmp_path / "reflect-bicubic.gif", frames=3, zoom=0.8, interpolation="bilinear", **FAST)
    with pytest.raises(ValueError, match="interpolation: stored 'bilinear', now 'bicubic'"):
        zoom_video(photo, tmp_path / "reflect-bilinear.gif", frames=3, zoom=0.8, **FAST)
    # Frames made before bicubic resampling recorded none: they were bilinear, and go on as such.
    settings = tmp_path / "reflect-bilinear_frames" / "zoom_settings.json"
    record = json.loads(settings.read_text())
    del record["key"]["interpolation"]
    settings.write_text(json.dumps(record))
    old = tmp_path / "reflect-bilinear_frames" / "frame_00001.png"
    made = old.stat().st_mtime_ns
    zoom_video(photo, tmp_path / "reflect-bilinear.gif", frames=3, zoom=0.8, interpolation="bilinear", **FAST)
    assert old.stat().st_mtime_ns == made and (old.parent / "frame_00002.png").exists()  # made longer
    with pytest.raises(IsADirectoryError, match="ends with a slash"):
        zoom_video(photo, str(tmp_path / "z.gif") + "/", frames=2, **FAST)
    assert not (tmp_path / "z.gif").exists()
    for bad in (dict(padding="wrap"), dict(interpolation="nearest")):
        with pytest.raises(ValueError, match=next(iter(bad))):
            zoom_video(photo, tmp_path / "bad.gif", frames=2, **bad, **FAST)


def test_mp4(photo, tmp_path):
    imageio_ffmpeg = pytest.importorskip("imageio_ffmpeg")
    odd = photo.resize((47, 35))  # odd sizes are padded to even for yuv420p
    out = zoom_video(odd, tmp_path / "v.mp4", frames=6, zoom=ZOOM, fps=12, **FAST)
    gen = imageio_ffmpeg.read_frames(str(out))
    meta = next(gen)
    n = sum(1 for _ in gen)
    assert n == 6 and meta["fps"] == 12 and tuple(meta["size"]) == (48, 36)
    assert _leftovers(tmp_path) == []


def test_mp4_without_imageio_ffmpeg_names_the_extra(photo, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "imageio_ffmpeg", None)  # import now fails
    with pytest.raises(ImportError, match=r"fastdream\[video\]"):
        zoom_video(photo, tmp_path / "v.mp4", frames=2, **FAST)
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize(
    "kw, exc, match",
    [
        (dict(frames=0), ValueError, "frames must be >= 1, got 0"),
        (dict(frames=2.5), TypeError, "frames must be an integer"),
        (dict(frames=True), TypeError, "frames must be an integer"),
        (dict(zoom=0), ValueError, r"zoom must be a finite number in \[0.5, 2\], got 0.0"),
        (dict(zoom=-1.05), ValueError, "zoom must be a finite number in"),
        (dict(zoom=float("nan")), ValueError, "zoom must be a finite number in"),
        (dict(zoom=1e-308), ValueError, "zoom must be a finite number in"),  # black frames
        (dict(zoom=3), ValueError, "zoom must be a finite number in"),
        (dict(angle=1e308), ValueError, r"angle must be a finite number in \[-180, 180\]"),
        (dict(shift=(1e308, 0)), ValueError, r"shift\[0\] must be a finite number in \[-4096, 4096\]"),
        (dict(zoom="1.05"), TypeError, "zoom must be a number"),
        (dict(out="v.avi"), ValueError, r"unknown video extension '.avi'.*\.gif, \.webp or \.mp4"),
        (dict(out="v.png"), ValueError, "unknown video extension '.png'"),
        (dict(out="v"), ValueError, "unknown video extension ''"),
        (dict(out="missing/v.gif"), FileNotFoundError, "out_path: the folder .*missing does not exist"),
        (dict(out="adir.gif"), IsADirectoryError, "is a folder"),
        (dict(out="adir"), IsADirectoryError, r"adir is a folder; give a video file in it \(.gif, .webp or .mp4\)"),
        (dict(fps=0), ValueError, "fps must be a finite number > 0"),
        (dict(fps=60), ValueError, r"fps must be in \[0.01, 50\] for GIF output"),
        (dict(shift=(1.0,)), TypeError, "shift must be a pair"),
        (dict(shift=(1.0, float("inf"))), ValueError, r"shift\[1\] must be a finite number"),
        (dict(angle="3"), TypeError, "angle must be a number"),
        (dict(color_drift=(1.0, 1.0)), ValueError, "color_drift as gains must have 3 values"),
        (dict(color_drift=(1.0, 0.0, 1.0)), ValueError, r"color_drift\[1\] must be a finite number in \(0, 2\]"),
        (dict(color_drift="red"), TypeError, "color_drift must be None, a hue rotation"),
        (dict(color_drift=(1.0, 1.0, 1e300)), ValueError, r"color_drift\[2\] must be a finite number in \(0, 2\]"),
        (dict(color_drift=1e300), ValueError, r"color_drift must be a finite number in \[-180, 180\]"),
        (dict(resume="yes"), TypeError, "resume must be True or False"),
        (dict(octaves=0), ValueError, "octaves must be >= 1"),
        (dict(steps=-1), ValueError, "steps must be >= 1"),
        (dict(stepz=2), TypeError, r"unknown option\(s\) \['stepz'\]; dream options are: layers"),
        (dict(layers=["_blocks.99"]), ValueError, "unknown layer name"),
        (dict(objective="max"), ValueError, "objective must be 'l2' or 'mean'"),
        (dict(objective=3), TypeError, "objective must be 'l2' or 'mean'"),
        (dict(seed=-1), ValueError, "seed must be >= 0"),
        (dict(frames_dir="afile"), NotADirectoryError, "exists and is not a folder"),
        (dict(image=np.zeros((2, 3, H, W), np.float32)), ValueError, "numpy array must be HxW or HxWxC"),
        (dict(image=torch.zeros(2, 3, H, W)), ValueError, "image: one image at a time, got a batch of 2"),
        (dict(image=torch.full((3, H, W), 2.0)), ValueError, r"in \[0, 1\]"),
        (dict(image="nofile.png"), FileNotFoundError, "no such file"),
    ],
)
def test_bad_values_are_refused_and_nothing_is_written(photo, tmp_path, kw, exc, match):
    (tmp_path / "adir.gif").mkdir()
    (tmp_path / "adir").mkdir()
    (tmp_path / "afile").write_text("x")
    kw = dict(kw)
    out = tmp_path / kw.pop("out", "v.gif")
    image = kw.pop("image", photo)
    if isinstance(image, str):
        image = tmp_path / image
    if "frames_dir" in kw:
        kw["frames_dir"] = tmp_path / kw["frames_dir"]
    before = sorted(os.listdir(tmp_path))
    with pytest.raises(exc, match=match):
        zoom_video(image, out, **{"frames": 2, **FAST, **kw})
    assert sorted(os.listdir(tmp_path)) == before


def test_the_input_file_is_never_the_output(photo, tmp_path):
    src = tmp_path / "in.gif"
    photo.save(src)
    data = src.read_bytes()
    with pytest.raises(ValueError, match="is the input image"):
        zoom_video(src, src, frames=2, **FAST)
    assert src.read_bytes() == data and sorted(os.listdir(tmp_path)) == ["in.gif"]


@pytest.mark.skipif(os.geteuid() == 0 if hasattr(os, "geteuid") else True, reason="root can write anywhere")
def test_unwritable_folder(photo, tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        with pytest.raises(PermissionError, match="not writable"):
            zoom_video(photo, ro / "v.gif", frames=2, **FAST)
        assert os.listdir(ro) == []
    finally:
        ro.chmod(0o755)


def test_tensor_input_and_frames_stay_float_in_range(tmp_path):
    x = torch.rand(3, H, W)
    out = zoom_video(x, tmp_path / "t.webp", frames=2, zoom=ZOOM, **FAST)
    frames, _ = _decoded(out)
    assert len(frames) == 2 and frames[0][0].shape == (H, W, 3)


def test_a_white_image_survives_the_zoom(tmp_path):
    # Bilinear resampling of 1.0 can give 1 + 1 ulp, which dream refuses unless it is clamped.
    out = zoom_video(np.full((H, W, 3), 255, np.uint8), tmp_path / "w.gif", frames=2, zoom=ZOOM, **FAST)
    assert len(_decoded(out)[0]) == 2


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message on a machine without CUDA")
def test_cuda_without_a_gpu_is_a_clear_error(photo, tmp_path):
    with pytest.raises(ValueError, match="CUDA is not available"):
        zoom_video(photo, tmp_path / "v.gif", frames=2, device="cuda", **FAST)
    assert os.listdir(tmp_path) == []


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_run_keeps_the_frame_on_the_gpu(photo, tmp_path, monkeypatch):
    devices = []

    def run(x, options, **k):
        devices.append(x.device.type)
        return _REAL_RUN(x, options, **k)

    monkeypatch.setattr(maker, "run", run)
    out = zoom_video(photo, tmp_path / "v.gif", frames=3, zoom=ZOOM, device="cuda", **FAST)
    assert devices == ["cuda"] * 3 and len(_decoded(out)[0]) == 3


def test_a_transparent_picture_zooms_on_white_not_on_its_hidden_colors(tmp_path):
    """The frames took the RGB under clear pixels (often junk: here red) and the video showed it."""
    a = np.zeros((48, 48, 4), np.uint8)
    a[..., 0] = 255  # red, hidden under alpha 0 ...
    a[24:, :, :3], a[24:, :, 3] = 100, 255  # ... above an opaque gray half
    with pytest.warns(UserWarning, match="transparency is put on white"):
        out = fd.zoom_video(a, tmp_path / "z.gif", frames=2, steps=1, octaves=1, seed=0)
    with Image.open(out) as im:
        top = np.asarray(im.convert("RGB"))[:6].astype(int)
    assert top.min() > 200  # white, not red


def test_an_animated_picture_says_only_its_first_frame_is_dreamed(tmp_path):
    from fastdream.models.unet import UNet

    frames = [Image.new("RGB", (32, 32), (60 * i, 0, 0)) for i in range(3)]
    frames[0].save(tmp_path / "a.gif", save_all=True, append_images=frames[1:])
    with pytest.warns(UserWarning, match="has 3 frames; the first is used .dream-video works on every frame."):
        fd.dream(str(tmp_path / "a.gif"), steps=1, octaves=1)
    with pytest.warns(UserWarning, match=r"style: .* has 3 frames; the first is used$"):  # no dream-video there
        io.load_pil(tmp_path / "a.gif", "style")
    with pytest.warns(UserWarning, match=r"content: .* the first is used .style-video works on every frame.$"):
        io.load_pil(tmp_path / "a.gif", "content")  # (a style's content: it said dream-video)
    with pytest.warns(UserWarning, match=r"image: .* has 3 frames; the first is used$"):  # a cutout's: none
        fd.cutout(str(tmp_path / "a.gif"), UNet(base_channels=8, depth=2))


def test_the_zoom_command_says_a_pictures_warning_once(tmp_path, capsys):
    from fastdream.cli import main

    frames = [Image.new("RGB", (32, 32), (60 * i, 0, 0)) for i in range(3)]
    frames[0].save(tmp_path / "a.gif", save_all=True, append_images=frames[1:])
    args = ["zoom", str(tmp_path / "a.gif"), "-o", str(tmp_path / "z.gif"), "--frames", "2", "--steps", "1"]
    assert main([*args, "--octaves", "1", "-q"]) == 0
    assert capsys.readouterr().err.count("has 3 frames") == 1  # the command's own early look said it too


def test_a_frames_folder_that_cannot_be_written_is_refused_before_the_work(photo, tmp_path):
    """A read-only --frames-dir failed after the checks with the system's '[Errno 30] Read-only
    file system' (and, resuming, with a temporary file's name), naming no option."""
    with pytest.raises(PermissionError, match=r"^frames_dir: the folder /proc cannot be written"):
        zoom_video(photo, tmp_path / "v.gif", frames=2, frames_dir="/proc/fastdream-frames", **FAST)
    assert not (tmp_path / "v.gif").exists()


def test_a_video_inside_its_own_frames_folder_is_refused_from_the_first_run(tmp_path):
    """-o fr/v.gif --frames-dir fr was taken, and its rerun refused as writing into a frames folder."""
    (tmp_path / "fr").mkdir()
    img = np.full((32, 32, 3), 128, np.uint8)
    with pytest.raises(ValueError, match=r"^out_path: .*v.gif lies inside frames_dir .*fr; write the video beside"):
        fd.zoom_video(img, tmp_path / "fr" / "v.gif", frames=2, steps=1, frames_dir=tmp_path / "fr")
    assert not list((tmp_path / "fr").iterdir())
