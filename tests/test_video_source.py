"""Input videos as the video commands read them (``fastdream.video.source``): a variable-rate MP4
read whole at one rate, WebP and GIF timing, frames in the order of their numbers, transparency
on white, and the sound left out (with a word) where it would play out of step."""

import subprocess
import warnings

import numpy as np
import pytest
from PIL import Image

import fastdream as fd
from fastdream.video import source

imageio_ffmpeg = pytest.importorskip("imageio_ffmpeg")

COLORS = [(200, 30, 30), (30, 200, 30), (30, 30, 200), (220, 220, 40)]


def _ffmpeg(*args):
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-loglevel", "error", "-y", *args], check=True)


def _plain(color, size=(32, 24)):
    return Image.new("RGB", size, color)


def _nearest(frame) -> int:
    """Which of COLORS a decoded frame shows."""
    mean = np.asarray(frame, float).reshape(-1, 3).mean(0)
    return int(np.argmin([np.abs(mean - c).sum() for c in COLORS]))


@pytest.fixture
def variable_rate(tmp_path):
    """A phone-like MP4: four pictures held 0.1, 0.1, 1.0 and 0.8 s (stored as 4 frames)."""
    lines = []
    for k, secs in enumerate([0.1, 0.1, 1.0, 0.8]):
        _plain(COLORS[k]).save(tmp_path / f"p{k}.png")
        lines += [f"file 'p{k}.png'", f"duration {secs}"]
    (tmp_path / "list.txt").write_text("\n".join([*lines, "file 'p3.png'"]) + "\n")
    out = tmp_path / "vfr.mp4"
    _ffmpeg("-f", "concat", "-i", str(tmp_path / "list.txt"), "-fps_mode", "vfr", "-pix_fmt", "yuv420p", str(out))
    return out


def test_a_variable_rate_video_is_read_whole_at_one_rate(variable_rate):
    with pytest.warns(UserWarning, match="variable frame rate; it is read at a constant"):
        src = source.open_source(variable_rate)
    frames = list(src.frames())
    assert len(frames) == src.count  # the count is what is read (it counted the 4 stored frames)
    shown = [_nearest(f) for f in frames]
    assert sorted(set(shown)) == [0, 1, 2, 3]  # every picture, none cut off at the end
    held = {k: shown.count(k) / src.fps for k in range(4)}  # each picture's time on screen
    assert held[2] == pytest.approx(1.0, abs=0.15) and held[3] >= 0.6, held


def test_webp_and_gif_keep_their_frame_timing(tmp_path):
    ims = [_plain(c) for c in COLORS]
    for ext in ("webp", "gif"):
        ims[0].save(tmp_path / f"even.{ext}", save_all=True, append_images=ims[1:], duration=40, loop=0)
        with warnings.catch_warnings():
            warnings.simplefilter("error", UserWarning)  # even frames: nothing to say
            assert source.open_source(tmp_path / f"even.{ext}").fps == pytest.approx(25)  # WebP: was 10
        ims[0].save(tmp_path / f"odd.{ext}", save_all=True, append_images=ims[1:], duration=[100, 500, 100, 1000])
        with pytest.warns(UserWarning, match="last from 100 to 1000 ms; the video shows each for the mean, 425 ms"):
            assert source.open_source(tmp_path / f"odd.{ext}").fps == pytest.approx(1000 / 425)


def test_a_folder_plays_in_the_order_of_its_numbers_without_hidden_files(tmp_path):
    for k in range(12):
        _plain(COLORS[k % 4]).save(tmp_path / f"{k + 1}.png")  # 1.png .. 12.png, no leading zeros
    _plain((0, 0, 0)).save(tmp_path / ".1.png")  # a hidden file (a Mac's ._1.png): not a frame
    (tmp_path / "._2.png").write_bytes(b"\x00\x05\x16\x07 resource fork")
    (tmp_path / "Thumbs.db").write_bytes(b"a system's file: no word")
    (tmp_path / "zoom_settings.json").write_text("{}")  # (a zoom's frames folder, dreamed as a video)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        src = source.open_source(tmp_path)
    assert [f.name for f in src.files] == [f"{k}.png" for k in range(1, 13)]
    assert [_nearest(f) for f in src.frames()] == [k % 4 for k in range(12)]
    # A frame misnamed (13.PNG.txt) was left out of the video without a word
    (tmp_path / "13.PNG.txt").write_bytes((tmp_path / "1.png").read_bytes())
    with pytest.warns(UserWarning, match=r"^input: 1 file\(s\) in .* are not pictures and are left out \(13.PNG.txt\)"):
        assert source.open_source(tmp_path).count == 12


def test_transparent_frames_are_put_on_white_with_a_word(tmp_path):
    frame = Image.new("RGBA", (32, 24), (255, 0, 0, 0))  # clear, red underneath
    frame.paste((0, 0, 255, 255), (0, 0, 16, 24))
    folder = tmp_path / "frames"
    folder.mkdir()
    for k in range(2):
        frame.save(folder / f"{k}.png")
    frame.save(tmp_path / "clip.gif", save_all=True, append_images=[frame], duration=100)
    frame.save(tmp_path / "clip.webp", save_all=True, append_images=[frame], duration=100, lossless=True)
    for path in (folder, tmp_path / "clip.gif", tmp_path / "clip.webp"):
        with pytest.warns(UserWarning, match="is put on white"):
            src = source.open_source(path)
            source.check_frames(src, 0, src.count)  # (a folder's frames are all looked at here)
        first = next(src.frames())
        assert first[:, 20:].min() >= 250, path  # white, not the red (or black) under clear pixels
        assert tuple(first[0, 0]) == (0, 0, 255), path
    # Only the first frame's transparency was said: a clear frame further on came out washed out.
    Image.new("RGB", (32, 24), (9, 9, 9)).save(folder / "0.png")
    src = source.open_source(folder)
    with pytest.warns(UserWarning, match=r"^input: the transparency of 1 of 2 frames \(1.png\) is put on white"):
        source.check_frames(src, 0, src.count)


@pytest.fixture
def with_sound(tmp_path):
    out = tmp_path / "sound.mp4"
    lavfi = ["-f", "lavfi", "-i", "testsrc=size=64x48:rate=10", "-f", "lavfi", "-i", "sine=frequency=440"]
    _ffmpeg(*lavfi, "-t", "0.4", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", str(out))
    return out


def _has_sound(path) -> bool:
    gen = imageio_ffmpeg.read_frames(str(path))
    try:
        return bool(next(gen).get("audio_codec"))
    finally:
        gen.close()


@pytest.mark.parametrize(
    "name, kw, words",
    [
        ("fast.mp4", dict(fps=20), "sound is left out: at 20 fps instead of the input's 10 the pictures play faster"),
        ("out.gif", {}, "GIF holds no sound: the input's sound is left out"),
    ],
)
def test_the_sound_is_left_out_with_a_word_where_it_would_not_fit(with_sound, tmp_path, name, kw, words):
    with pytest.warns(UserWarning, match=words):
        out = fd.dream_video(with_sound, tmp_path / name, octaves=1, steps=1, seed=0, **kw)
    if name.endswith(".mp4"):
        assert not _has_sound(out)
    with warnings.catch_warnings():  # at its own rate, into an MP4: kept, nothing said
        warnings.simplefilter("error", UserWarning)
        assert _has_sound(fd.dream_video(with_sound, tmp_path / "same.mp4", octaves=1, steps=1, seed=0, fps=10))


def test_another_kind_of_videos_frames_folder_is_named(tmp_path):
    photo = tmp_path / "photo.png"
    _plain((120, 80, 40), (48, 32)).save(photo)
    fd.zoom_video(photo, tmp_path / "v.gif", frames=2, octaves=1, steps=1, seed=0, progress=False)
    clip = tmp_path / "clip"
    clip.mkdir()
    for k in range(2):
        _plain(COLORS[k], (48, 32)).save(clip / f"{k}.png")
    with pytest.raises(ValueError, match=r"holds the frames of another kind of video \(zoom_settings.json\)"):
        fd.dream_video(clip, tmp_path / "v.mp4", octaves=1, steps=1, seed=0)


def test_reading_an_mp4_closes_ffmpeg_s_pipes(with_sound):
    """Frames read to the end left ffmpeg's pipes open: 'unclosed file' warnings, which the web
    app showed as notes under every MP4 it dreamed."""
    import gc

    src = source.open_source(with_sound)
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        assert len(list(src.frames())) == src.count
        partly = src.frames()
        next(partly)
        partly.close()
        gc.collect()
    assert not [w for w in said if issubclass(w.category, ResourceWarning)], [str(w.message) for w in said]


def test_a_phones_rotated_video_is_read_upright_without_a_stray_line(tmp_path, caplog):
    """imageio-ffmpeg printed "The frame size for reading (72, 96) is different from the source
    frame size (96, 72)." twice on stderr, with no name, even under -q."""
    _ffmpeg(
        "-f", "lavfi", "-i", "testsrc=size=96x72:rate=10", "-t", "0.3", "-pix_fmt", "yuv420p", str(tmp_path / "v.mp4")
    )
    _ffmpeg("-display_rotation", "90", "-i", str(tmp_path / "v.mp4"), "-c", "copy", str(tmp_path / "rot.mp4"))
    src = source.open_source(tmp_path / "rot.mp4")
    frames = list(src.frames())
    assert src.size == (72, 96) and frames[0].shape == (96, 72, 3)
    assert not [r for r in caplog.records if "frame size" in r.getMessage()]
