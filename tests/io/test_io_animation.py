"""fastdream.io.animation: frame count, size and exact timing of GIF/WebP, MP4, and the errors."""

import numpy as np
import pytest
from PIL import Image, ImageSequence, features

from fastdream import io


def frames(n, size=(9, 6), mode="RGB"):
    rng = np.random.default_rng(0)
    return [
        Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)).convert(mode) for _ in range(n)
    ]


def read(path):
    with Image.open(path) as im:
        return [(f.copy(), f.info["duration"]) for f in ImageSequence.Iterator(im)], im.info.get("loop")


@pytest.mark.parametrize("fps", [15, 24, 50, 7.5])
def test_gif_has_every_frame_and_the_exact_mean_rate(tmp_path, fps):
    n = 12
    out = io.write_animation(frames(n), tmp_path / "a.gif", fps=fps)
    got, loop = read(out)
    assert len(got) == n and got[0][0].size == (9, 6) and loop == 0
    durations = [d for _, d in got]
    assert all(d % 10 == 0 for d in durations)  # GIF stores 1/100 s
    assert abs(sum(durations) - n * 1000 / fps) <= 5  # no drift: the total is the nearest 10 ms
    assert max(durations) - min(durations) <= 10


def test_durations_follow_the_running_total():
    d = io.durations(15, 15, 10)
    assert sum(d) == 1000 and set(d) == {60, 70}
    assert io.durations(3, 1000, 10) == [10, 10, 10]  # never 0 ms


def test_frames_may_be_files_and_gray_stays_gray(tmp_path):
    paths = []
    for i, f in enumerate(frames(3)):
        paths.append(tmp_path / f"{i}.png")
        f.save(paths[-1])
    got, _ = read(io.write_animation(paths, tmp_path / "files.gif", fps=10, loop=2))
    assert len(got) == 3 and [d for _, d in got] == [100, 100, 100]
    gray, _ = read(io.write_animation(frames(2, mode="L"), tmp_path / "gray.gif", fps=10))
    assert len(gray) == 2


@pytest.mark.skipif(not features.check("webp"), reason="Pillow without WebP")
def test_webp_keeps_milliseconds(tmp_path):
    got, _ = read(io.write_animation(frames(4), tmp_path / "a.webp", fps=15))
    assert len(got) == 4 and sum(d for _, d in got) == 267 and got[0][0].size == (9, 6)


def test_mp4_frames_and_odd_sizes(tmp_path):
    ffmpeg = pytest.importorskip("imageio_ffmpeg")
    with pytest.warns(UserWarning, match=r"a.mp4: an MP4 is even-sized: the 9x6 frames are 10x6 in it"):
        out = io.write_animation(frames(3), tmp_path / "a.mp4", fps=10)
    reader = ffmpeg.read_frames(str(out))
    meta = next(reader)
    assert meta["size"] == (10, 6) and meta["fps"] == 10  # padded to even sizes, not rescaled
    assert sum(1 for _ in reader) == 3


@pytest.mark.parametrize(
    "name, kwargs, exc, words",
    [
        ("a.avi", {}, ValueError, "unknown video extension"),
        ("a.gif", dict(fps=60), ValueError, r"fps must be in \[0.01, 50\] for GIF output"),
        ("a.gif", dict(fps=0), ValueError, "fps must be"),
        ("a.gif", dict(audio="song.mp3"), ValueError, "only .mp4"),
    ],
)
def test_errors_leave_nothing_behind(tmp_path, name, kwargs, exc, words):
    with pytest.raises(exc, match=words):
        io.write_animation(frames(2), tmp_path / name, **kwargs)
    with pytest.raises(ValueError, match="at least one frame"):
        io.write_animation([], tmp_path / "a.gif")
    assert list(tmp_path.iterdir()) == []


def test_a_frame_that_fails_leaves_no_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        io.write_animation([*frames(2), tmp_path / "missing.png"], tmp_path / "a.gif", fps=10)
    assert list(tmp_path.iterdir()) == []


def test_a_name_that_is_only_an_extension_is_said_so():
    """-o .gif said "unknown video extension ''", and -o .png "has no extension ...; use .png": the
    name was left out, not the extension."""
    from fastdream import io

    with pytest.raises(
        ValueError, match=r"^out_path: \.gif is only an extension; give the file a name, such as zoom\.gif$"
    ):
        io.animation_format(".gif")
    with pytest.raises(
        ValueError, match=r"^output: out/\.PNG is only an extension; give the file a name, such as dream\.png$"
    ):
        io.image_format("out/.PNG")


def test_deep_gray_frames_keep_their_levels(tmp_path):
    """16-bit gray PIL frames were converted by Pillow alone: every level over 255 clipped to white."""
    ramp = np.tile(np.arange(256, dtype=np.uint16), (4, 1))
    frames = [Image.fromarray(ramp * 257), Image.fromarray(ramp[:, ::-1].astype(np.float32) / 255, "F")]
    io.write_animation(frames, tmp_path / "a.gif", fps=5)
    with Image.open(tmp_path / "a.gif") as im:
        for k, want in enumerate((np.arange(256), np.arange(256)[::-1])):
            im.seek(k)
            assert np.array_equal(np.asarray(im.convert("L"))[0], want), k
