"""No command writes over a file it reads: not the input, nor the guide, a style, a weights file,
a checkpoint or the images of a walk; and the refusals come before any work, in one line."""

import hashlib

import numpy as np
import pytest
from PIL import Image

from fastdream.cli import main

QUICK = ["--steps", "1", "-q"]


@pytest.fixture
def files(tmp_path):
    rng = np.random.default_rng(0)
    picture = Image.fromarray((rng.random((48, 64, 3)) * 255).astype(np.uint8))
    for name in ("in.png", "guide.png", "style.png", "a.webp", "b.webp"):
        picture.save(tmp_path / name)
    picture.save(tmp_path / "guide.gif")
    (tmp_path / "w.pth").write_bytes(b"not read: the output is refused first")
    (tmp_path / "vae.pt").write_bytes(b"not read either")
    return tmp_path


def _digests(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir() if p.is_file()}


@pytest.mark.parametrize(
    "args",
    [
        ["dream", "in.png", "-o", "guide.png", "--guide", "guide.png"],
        ["dream", "in.png", "-o", "guide.png", "--guide", "guide.png", "--overwrite"],  # that is for the input
        ["zoom", "in.png", "-o", "guide.gif", "--guide", "guide.gif", "--frames", "2"],
        ["sheet", "in.png", "-o", "guide.png", "--guide", "guide.png", "--vary", "seed=1,2", "--size", "48"],
        ["style", "in.png", "style.png", "-o", "style.png"],
        ["style", "in.png", "guide.png", "style.png", "-o", "style.png"],
        ["dream", "in.png", "-o", "w.pth", "--model", "vgg16", "--weights", "w.pth"],
        ["vae-walk", "vae.pt", "--between", "a.webp", "b.webp", "-o", "b.webp"],
    ],
    ids=["dream-guide", "dream-guide-overwrite", "zoom-guide", "sheet-guide", "style", "style-2nd", "weights", "walk"],
)
def test_no_output_is_a_file_the_command_reads(files, monkeypatch, capsys, args):
    monkeypatch.chdir(files)
    before = _digests(files)
    assert main([*args, *([] if args[0] == "vae-walk" else QUICK)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "input" in err[0], err
    assert _digests(files) == before and sorted(p.name for p in files.iterdir()) == sorted(before)


def test_overwrite_replaces_the_input_even_when_it_is_also_the_guide(files, monkeypatch, capsys):
    monkeypatch.chdir(files)
    assert main(["dream", "in.png", "-o", "in.png", "--guide", "in.png", "--overwrite", "--octaves", "1", *QUICK]) == 0
    assert main(["dream", "in.png", "-o", "in.png", "--guide", "guide.png", "--overwrite", *QUICK]) == 0
    Image.new("RGBA", (48, 40)).save(files / "clear.png")  # a sheet is RGB, whatever its picture
    assert (
        main(["sheet", "clear.png", "-o", "s.jpg", "--vary", "seed=1,2", "--size", "32", "--octaves", "1", *QUICK]) == 0
    )


@pytest.mark.parametrize("kind", ["gif", "webp", "tiff"])
@pytest.mark.parametrize("command", ["dream", "style"])
def test_overwrite_never_replaces_an_animation_by_its_first_frame(files, monkeypatch, capsys, kind, command):
    """`dream anim.gif -o anim.gif --overwrite` wrote a still over a 4-frame GIF: the other frames
    were gone (a warning said only the first is used; the run went ahead)."""
    monkeypatch.chdir(files)
    frames = [Image.open("in.png").rotate(10 * k) for k in range(3)]
    frames[0].save(f"anim.{kind}", save_all=True, append_images=frames[1:])
    before = _digests(files)
    styles = ["style.png"] if command == "style" else []
    assert main([command, f"anim.{kind}", *styles, "-o", f"anim.{kind}", "--overwrite", *QUICK]) == 2
    err = capsys.readouterr().err.strip()
    assert "holds 3 frames" in err and f"fastdream {command}-video works on every frame" in err, err
    assert _digests(files) == before


def test_the_input_refused_as_output_names_the_right_remedy(files, monkeypatch, capsys):
    """--overwrite is the remedy where it exists (dream); zoom never writes over its input."""
    monkeypatch.chdir(files)
    assert main(["dream", "in.png", "-o", "in.png", *QUICK]) == 2
    assert "pass --overwrite" in capsys.readouterr().err
    assert main(["zoom", "guide.gif", "-o", "guide.gif", "--frames", "2", *QUICK]) == 2
    err = capsys.readouterr().err
    assert "never writes over" in err and "--overwrite" not in err


def test_an_empty_output_name_is_refused_not_replaced_by_the_default(files, monkeypatch, capsys):
    monkeypatch.chdir(files)
    assert main(["dream", "in.png", "-o", "", *QUICK]) == 2
    assert "output: the name is empty" in capsys.readouterr().err
    assert not (files / "dream.png").exists()


@pytest.mark.parametrize(
    "line, named",
    [
        (["dream", ""], "input"),  # dreamed the sample photo
        (["dream-video", ""], "input"),  # dreamed every picture in the working folder as frames
        (["dream", "in.png", "--mask", ""], "--mask"),  # dropped: the whole picture dreamed
        (["dream", "in.png", "--guide", ""], "--guide"),
        (["dream", "in.png", "--mask-from", ""], "--mask-from"),
        (["style", "in.png", ""], "STYLE"),
    ],
)
def test_an_empty_input_name_is_refused(files, monkeypatch, capsys, line, named):
    """An unset "$VAR" as a path: each was taken as something else, without a word."""
    monkeypatch.chdir(files)
    with pytest.raises(SystemExit) as stop:
        main([*line, "-o", "out.gif" if "video" in line[0] or line[0] == "zoom" else "out.png"])
    assert stop.value.code == 2
    assert f"{named}: the name is empty" in capsys.readouterr().err
    assert not list(files.glob("out.*"))


def test_a_tilde_the_shell_left_is_the_home_folder(files, monkeypatch, capsys):
    """The shell expands ``~`` only at a word's start: ``--output=~/x`` and ``--guide=~/g.png``
    reached the command as written and were refused as "folder does not exist: ~"."""
    home = files / "home"
    home.mkdir()
    (home / "g.png").write_bytes((files / "guide.png").read_bytes())
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(files)
    assert main(["dream", "in.png", "--output=~/out.png", "--guide=~/g.png", "--octaves", "1", *QUICK]) == 0
    assert (home / "out.png").is_file() and not (files / "~").exists()


def test_an_output_link_is_checked_where_it_points(files, monkeypatch, capsys):
    """Outputs are written through links: a link into a missing folder failed after the dream."""
    from fastdream.dream import engine

    monkeypatch.chdir(files)
    monkeypatch.setattr(engine.Dream, "step", lambda *a: pytest.fail("dreamed before the output was checked"))
    (files / "dangling.png").symlink_to(files / "nowhere" / "x.png")
    assert main(["dream", "in.png", "-o", "dangling.png", "--octaves", "1", *QUICK]) == 2
    assert f"--output: the folder {files / 'nowhere'} does not exist" in capsys.readouterr().err
    (files / "self.png").symlink_to(files / "self.png")  # (Python's "Symlink loop": an internal error, exit 1)
    assert main(["dream", "in.png", "-o", "self.png", "--octaves", "1", *QUICK]) == 2
    assert "--output: self.png is a link that leads back to itself" in capsys.readouterr().err


def test_a_folder_dream_into_a_name_like_an_image_is_refused(files, monkeypatch, capsys):
    (files / "photos").mkdir()
    (files / "in.png").rename(files / "photos" / "in.png")
    monkeypatch.chdir(files)
    assert main(["dream", "photos", "-o", "out.png", *QUICK]) == 2
    assert "out.png is named as a file, but it is a folder for" in capsys.readouterr().err
    assert not (files / "out.png").exists()


@pytest.mark.parametrize(
    "args",
    [
        ["sample-gan", "gan/checkpoint.pt", "-o", "samples.png"],
        ["sample-vae", "vae/checkpoint.pt", "-o", "samples.webp"],
        ["train-gan", "photos", "-o", "gan.pt", "--epochs", "1"],
        ["train-vae", "photos", "-o", "vae.pth", "--epochs", "1"],
    ],
    ids=["sample-gan", "sample-vae", "train-gan", "train-vae"],
)
def test_a_folder_named_as_a_file_is_refused_for_samples_and_training(files, monkeypatch, capsys, args):
    """`sample-gan ... -o samples.png` made a folder samples.png; `train-gan ... -o gan.pt` a folder gan.pt."""
    (files / "photos").mkdir()
    monkeypatch.chdir(files)
    before = sorted(p.name for p in files.iterdir())
    assert main([*args, "-q"]) == 2
    assert f"{args[3]} is named as a file, but it is a folder for" in capsys.readouterr().err
    assert sorted(p.name for p in files.iterdir()) == before


@pytest.mark.parametrize("command", ["train-gan", "train-vae"])
def test_gray_with_three_channels_is_refused(files, monkeypatch, capsys, command):
    """--gray --channels 3 trained a gray model without a word (--gray won)."""
    (files / "photos").mkdir()
    monkeypatch.chdir(files)
    before = sorted(p.name for p in files.iterdir())
    assert main([command, "photos", "-o", "run", "--gray", "--channels", "3", "--epochs", "1", "-q"]) == 2
    assert "--gray is --channels 1, which --channels 3 contradicts" in capsys.readouterr().err
    assert sorted(p.name for p in files.iterdir()) == before


def test_the_library_refuses_them_too(files):
    """The same from Python: a zoom, a sheet and a styled video never write over their guide or styles."""
    import fastdream as fd

    before = _digests(files)
    with pytest.raises(ValueError, match="never writes into its inputs"):
        fd.zoom_video(files / "in.png", files / "guide.gif", guide=files / "guide.gif", frames=2, steps=1)
    with pytest.raises(ValueError, match="never writes into its inputs"):
        fd.proof_sheet(files / "in.png", files / "guide.png", guide=files / "guide.png", vary={"seed": [1, 2]})
    frames = files / "frames"
    frames.mkdir()
    for k in range(2):
        Image.open(files / "in.png").save(frames / f"{k}.png")
    with pytest.raises(ValueError, match="never writes into its inputs"):
        fd.style_video(frames, [files / "style.png", files / "a.webp"], files / "a.webp", steps=1)
    assert _digests(files) == before


def test_a_videos_own_rate_beyond_what_gif_plays_is_brought_down_with_a_warning(tmp_path):
    """A GIF of 10 ms frames (100 fps) dreamed into a GIF: 50 fps and a warning, where it failed
    with "fps (the input's) must be in [0.01, 50]"; an fps the user gives is still checked."""
    import fastdream as fd

    clip = tmp_path / "fast.gif"
    pictures = [Image.new("RGB", (64, 48), (60 * k, 90, 40)) for k in range(3)]
    pictures[0].save(clip, save_all=True, append_images=pictures[1:], duration=10, loop=0)
    with pytest.warns(UserWarning, match="plays at 100 fps and GIF at most 50"):
        out = fd.dream_video(clip, tmp_path / "out.gif", steps=1, octaves=1, flow=False)
    with Image.open(out) as im:
        assert im.n_frames == 3 and im.info["duration"] == 20
    with pytest.raises(ValueError, match=r"fps must be in \[0.01, 50\] for GIF output, got 100"):
        fd.dream_video(clip, tmp_path / "again.gif", fps=100, steps=1, octaves=1, flow=False)


@pytest.mark.parametrize("name", ["c.gif", "c.jpg", "c.bmp"])  # (a BMP's refusal did not say --bg-color)
def test_a_cutout_into_a_format_without_soft_alpha_is_refused_up_front(files, monkeypatch, capsys, name):
    """GIF keeps only on/off transparency, and Pillow dropped the cutout's soft alpha altogether:
    the "RGBA" GIF was opaque everywhere. --bg-color (no alpha left) may still go into either."""
    monkeypatch.chdir(files)
    assert main(["cutout", "in.png", "-o", name, "--model", "vae.pt"]) == 2
    err = capsys.readouterr().err
    assert f"--output: {name} is a" in err and "transparency (its alpha)" in err
    assert "or pass --bg-color R G B" in err and not (files / name).exists()
    assert main(["cutout", "in.png", "-o", name, "--model", "vae.pt", "--bg-color", "0", "0", "0"]) == 2
    assert "not a fastdream checkpoint" in capsys.readouterr().err  # past the format check, to the model
    assert main(["cutout", "in.png", "-o", name, "--model", "vae.pt", "--hard"]) == 2  # on/off alpha: a GIF keeps it
    err = capsys.readouterr().err
    assert ("not a fastdream checkpoint" if name.endswith(".gif") else "cannot hold the cutout's transparency") in err


def test_train_dreamer_checks_its_sheet_before_training(files, monkeypatch, capsys):
    """A bad --sheet-image was found after the whole training; a sheet among the pictures (one
    of them, or inside their folder) replaced a training picture."""
    subjects = files / "subjects"
    (subjects / "cat").mkdir(parents=True)
    Image.open(files / "in.png").save(subjects / "cat" / "cat_0.png")
    (files / "notimg.png").write_text("hello")
    monkeypatch.chdir(files)
    before = _digests(subjects / "cat")
    cases = [
        (["--sheet", "s.png", "--sheet-image", "notimg.png"], "--sheet-image: notimg.png is not an image"),
        (["--sheet-image", "in.png"], "pass --sheet too"),
        (["--sheet-steps", "3"], "--sheet-steps is for --sheet SHEET.png; pass --sheet too"),
        (["--sheet", "s.png", "--sheet-size", "8"], "--sheet-size must be >= 32, got 8"),
        (["--sheet", "s.png", "--sheet-steps", "0"], "--sheet-steps must be >= 1, got 0"),
        (["--sheet", "subjects/cat/cat_0.png"], "input"),
        (["--sheet", "subjects/cat/new.png"], "lies inside the input folder"),
    ]
    for extra, words in cases:
        assert main(["train-dreamer", "subjects", "-o", "d.pt", "--epochs", "1", "-q", *extra]) == 2
        err = capsys.readouterr().err
        assert words in err and len(err.strip().splitlines()) == 1, err
    assert _digests(subjects / "cat") == before and not (files / "d.pt").exists()


def _rgba(path, soft: bool):
    a = np.zeros((24, 32, 4), np.uint8)
    a[..., :3] = 90
    a[..., 3] = np.linspace(0, 255, 32).astype(np.uint8)[None] if soft else 255 * (np.arange(32) > 15)[None]
    Image.fromarray(a).save(path)
    return np.asarray(Image.open(path))[..., 3]


@pytest.mark.parametrize(
    "make, output, words",
    [
        (None, "x" * 252 + ".png", "the name is 256 bytes, more than the 255 a name may have"),
        ("soft", "o.gif", "o.gif is a GIF, which cannot hold soft transparency"),
        ("wide", "o.jpg", "o.jpg is a JPEG, which stores at most 65500 pixels a side, and the picture is 66000x2"),
        ("wide", "o.webp", "stores at most 16383 pixels a side"),
        ("big", "o.ico", "o.ico is an ICO, which stores at most 256 pixels a side"),
        (None, "-", "- (standard output) is not supported"),
        (None, "in.png/x.png", "output: in.png is a file, not a folder"),
        ("fifo", "pipe.png", "exists and is not a regular file"),
    ],
)
def test_outputs_that_could_not_be_written_are_refused_before_the_work(files, monkeypatch, capsys, make, output, words):
    """Each of these was found only when the picture was written, after the work (a JPEG wider
    than 65500, a WebP over 16383), or never (a soft alpha in a GIF came out opaque, an ICO was
    shrunk to 256, a named pipe was replaced), or as a traceback (a name over 255 bytes)."""
    import os

    monkeypatch.chdir(files)
    source = "in.png"
    if make == "soft":
        _rgba(files / "soft.png", soft=True)
        source = "soft.png"
    elif make in ("wide", "big"):
        Image.new("RGB", (66000, 2) if make == "wide" else (300, 300)).save(files / "wide.png")
        source = "wide.png"
    elif make == "fifo":
        os.mkfifo(files / "pipe.png")
    before = _digests(files)
    assert main(["dream", source, "-o", output, *QUICK]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and words in err[0], err
    assert _digests(files) == before


def test_alpha_that_a_format_holds_is_written_there(files, monkeypatch, capsys):
    """An on/off alpha goes into a GIF, and ICO and AVIF keep soft alpha (a 2x2 probe said not)."""
    monkeypatch.chdir(files)
    hard = _rgba(files / "hard.png", soft=False)
    assert main(["dream", "hard.png", "-o", "hard.gif", *QUICK]) == 0
    assert np.array_equal(np.asarray(Image.open("hard.gif").convert("RGBA"))[..., 3], hard)
    soft = _rgba(files / "soft.png", soft=True)
    for name in ("soft.ico", "soft.avif"):
        assert main(["dream", "soft.png", "-o", name, *QUICK]) == 0, capsys.readouterr().err
        assert np.abs(np.asarray(Image.open(name).convert("RGBA"))[..., 3].astype(int) - soft).max() <= 8


def test_a_sheet_writes_its_settings_over_no_file_of_the_users(files, monkeypatch, capsys):
    """`sheet -o guide.png --guide guide.json` replaced the guide with the settings, and any
    user.json beside user.png was overwritten; a sheet's own earlier settings still are."""
    monkeypatch.chdir(files)
    Image.open("in.png").save("guide.json", format="PNG")  # a picture named .json: still an input
    (files / "user.json").write_text('{"mine": 1}')
    before = _digests(files)
    sheet = ["--vary", "seed=1,2", "--size", "48", "--octaves", "1", *QUICK]
    assert main(["sheet", "in.png", "-o", "guide.png", "--guide", "guide.json", *sheet]) == 2
    assert "input" in capsys.readouterr().err
    assert main(["sheet", "in.png", "-o", "user.png", *sheet]) == 2
    assert (
        "user.json (where the sheet's settings go) exists and is not a sheet's settings file" in capsys.readouterr().err
    )
    assert _digests(files) == before
    assert main(["sheet", "in.png", "-o", "mine.png", *sheet]) == 0
    assert main(["sheet", "in.png", "-o", "mine.png", *sheet]) == 0  # its own settings: replaced


def test_a_sheet_of_a_picture_too_wide_for_its_format_is_still_made(files, monkeypatch, capsys):
    """The format's size limit holds for the picture a command writes: a sheet's cells are small."""
    monkeypatch.chdir(files)
    Image.new("RGB", (17000, 24)).save(files / "wide.png")
    assert main(["dream", "wide.png", "-o", "w.webp", *QUICK]) == 2  # a dream keeps the size: refused
    assert "stores at most 16383 pixels a side" in capsys.readouterr().err
    sheet = ["--vary", "seed=1,2", "--size", "48", "--octaves", "1", *QUICK]
    assert main(["sheet", "wide.png", "-o", "s.webp", *sheet]) == 0, capsys.readouterr().err


def test_a_missing_input_is_said_before_what_the_output_would_hit(files, monkeypatch, capsys):
    """`sheet nothere.json -o nothere.png`: a typo in the input was said to be the sheet's own
    settings file ("--output: nothere.json is the input nothere.json")."""
    monkeypatch.chdir(files)
    assert main(["sheet", "nothere.json", "-o", "nothere.png", "--vary", "seed=1,2", *QUICK]) == 2
    assert capsys.readouterr().err.strip() == "fastdream sheet: error: input: no such file: nothere.json"


def test_a_walk_into_a_folder_that_is_not_there_is_refused_before_its_work(files, monkeypatch, capsys):
    """gan-walk --dream dreamed every frame, then failed: "output folder does not exist: nodir"."""
    monkeypatch.chdir(files)
    assert main(["gan-walk", "vae.pt", "-o", "nodir/x.gif", "--frames", "3", "--dream"]) == 2
    assert capsys.readouterr().err.strip() == "fastdream gan-walk: error: --output: the folder nodir does not exist"
    assert main(["vae-walk", "vae.pt", "-o", "in.png/x.gif", "--frames", "3"]) == 2
    assert capsys.readouterr().err.strip() == "fastdream vae-walk: error: --output: in.png is a file, not a folder"
