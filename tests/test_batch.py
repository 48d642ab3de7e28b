"""fastdream.batch.run_folder: resumable folder runs, their counts, and file-system lookups in O(N)."""

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from fastdream import batch
from fastdream.training.distributed import Dist

CPU = torch.device("cpu")


def write_folder(root: Path, n: int) -> Path:
    """n tiny images (some in a subfolder) and one file that claims to be an image but is not."""
    rng = np.random.default_rng(0)
    (root / "sub").mkdir(parents=True)
    for i in range(n):
        Image.fromarray(rng.integers(0, 256, (4, 5, 3), dtype=np.uint8)).save(
            root / ("sub" if i % 3 else ".") / f"{i:02d}.png"
        )
    (root / "broken.png").write_bytes(b"not a png")
    return root


def invert(im: Image.Image) -> Image.Image:
    return Image.fromarray(255 - np.asarray(im.convert("RGB")))


def test_counts_and_resume(tmp_path, capsys):
    src, out = write_folder(tmp_path / "in", 6), tmp_path / "out"
    first = batch.run_folder(src, out, None, invert, device=CPU, progress=False, name="test")
    assert (len(first.written), len(first.skipped), len(first.failed)) == (6, 0, 1)
    err = capsys.readouterr().err
    assert "skipping" in err and first.failed[0][0].name == "broken.png"
    assert err.count("broken.png") == 1, err  # the file named once in its line
    assert (out / "sub" / "01.png").is_file()
    assert np.array_equal(np.asarray(Image.open(out / "00.png")), 255 - np.asarray(Image.open(src / "00.png")))
    (out / "sub" / "04.png").unlink()
    again = batch.run_folder(src, out, None, invert, device=CPU, progress=False, name="test")
    assert (len(again.written), len(again.skipped), len(again.failed)) == (1, 5, 1)
    assert again.written == [out / "sub" / "04.png"]
    # Outputs damaged since (cut short, emptied) were counted as done: the folder said complete
    whole = (out / "00.png").read_bytes()
    (out / "00.png").write_bytes(whole[:-20])
    (out / "sub" / "01.png").write_bytes(b"")
    capsys.readouterr()
    mended = batch.run_folder(src, out, None, invert, device=CPU, progress=False, name="test")
    assert sorted(mended.written) == [out / "00.png", out / "sub" / "01.png"] and len(mended.skipped) == 4
    assert (out / "00.png").read_bytes() == whole
    assert capsys.readouterr().err.count("is there but cannot be read (cut short?); making it again") == 2
    as_jpg = batch.run_folder(src, tmp_path / "jpg", "jpg", invert, device=CPU, progress=False, name="test")
    assert sorted(p.name for p in as_jpg.written)[:2] == ["00.jpg", "01.jpg"]
    jpg = tmp_path / "jpg" / "00.jpg"
    jpg.write_bytes(jpg.read_bytes()[:-30])  # (a JPEG's header reads whole however short the rest)
    again = batch.run_folder(src, tmp_path / "jpg", "jpg", invert, device=CPU, progress=False, name="test")
    assert again.written == [jpg]
    for fmt in ("tiff", "bmp", "gif"):  # (Pillow's verify checks nothing of these)
        batch.run_folder(src, tmp_path / fmt, fmt, invert, device=CPU, progress=False, name="test")
        cut = tmp_path / fmt / f"00.{fmt}"
        cut.write_bytes(cut.read_bytes()[: cut.stat().st_size // 2])
        again = batch.run_folder(src, tmp_path / fmt, fmt, invert, device=CPU, progress=False, name="test")
        assert again.written == [cut], fmt
    jpg.unlink()
    jpg.mkdir()  # (made again, then its write failed: "Is a directory")
    with pytest.raises(IsADirectoryError, match=r"^output_dir: .*00.jpg is a folder where an output goes"):
        batch.run_folder(src, tmp_path / "jpg", "jpg", invert, device=CPU, progress=False, name="test")


def test_the_input_folder_is_never_the_output(tmp_path):
    src = write_folder(tmp_path / "in", 1)
    with pytest.raises(ValueError, match="never writes into its inputs"):
        batch.run_folder(src, src, None, invert, device=CPU, progress=False, name="test")
    with pytest.raises(ValueError, match="lies inside the input folder"):
        batch.run_folder(src, src / "out", None, invert, device=CPU, progress=False, name="test")
    with pytest.raises(ValueError, match="contains the input"):
        batch.run_folder(src, tmp_path, None, invert, device=CPU, progress=False, name="test")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in"] and not (src / "out").exists()


def test_an_output_folder_under_a_file_is_said_so(tmp_path):
    """It was the system's "[Errno 20] Not a directory: 'afile/sub'", naming no option."""
    src = write_folder(tmp_path / "in", 1)
    (tmp_path / "afile").write_bytes(b"x")
    with pytest.raises(
        ValueError, match=r"^output_dir: .*afile is a file, not a folder: .*afile/sub/deeper cannot be made"
    ):
        batch.run_folder(src, tmp_path / "afile" / "sub" / "deeper", None, invert, device=CPU, progress=False, name="t")
    (tmp_path / "gone").symlink_to(tmp_path / "nowhere")  # (mkdir said "[Errno 17] File exists")
    for out in (tmp_path / "gone", tmp_path / "gone" / "sub"):
        with pytest.raises(ValueError, match=r"^output_dir: .*gone is a link to nothing \(.*nowhere\); remove it"):
            batch.run_folder(src, out, None, invert, device=CPU, progress=False, name="t")
    with pytest.raises(ValueError, match=r"^output_dir: .*\.png is named as a file, but it is a folder"):
        batch.run_folder(src, tmp_path / ".png", None, invert, device=CPU, progress=False, name="t")  # (-o .png)


def test_two_inputs_one_format_names_alike_are_refused_before_any_work(tmp_path):
    """a.jpg and a.png as png would be one output: the second was counted as done and never made."""
    src = tmp_path / "in"
    (src / "sub").mkdir(parents=True)
    for name in ("a.png", "a.jpg", "b.jpg", "sub/a.jpg"):
        Image.new("RGB", (4, 4)).save(src / name)
    with pytest.raises(ValueError, match=r"a\.jpg and .*a\.png would both be written as .*a\.png"):
        batch.run_folder(src, tmp_path / "out", "png", invert, device=CPU, progress=False, name="test")
    assert not (tmp_path / "out").exists()
    kept = batch.run_folder(src, tmp_path / "kept", None, invert, device=CPU, progress=False, name="test")
    assert len(kept.written) == 4  # each input's own format: four names, four outputs
    with pytest.raises(ValueError, match="named as a file, but it is a folder"):
        batch.run_folder(src, tmp_path / "out.png", None, invert, device=CPU, progress=False, name="test")
    assert (
        len(batch.run_folder(src, tmp_path / "scans.pdf", None, invert, device=CPU, progress=False, name="t").written)
        == 4
    )
    cased = tmp_path / "cased"
    cased.mkdir()
    for name in ("b.jpg", "B.png"):  # one file on disks whose names ignore case (macOS, Windows)
        Image.new("RGB", (4, 4)).save(cased / name)
    with pytest.raises(ValueError, match=r"would both be written as .*\.png \(png\)"):
        batch.run_folder(cased, tmp_path / "cased_out", "png", invert, device=CPU, progress=False, name="test")


class _TwoRanks(Dist):
    """Rank 0 of 2, without a process group: the other rank is played by ``make`` below."""

    def barrier(self) -> None:
        pass

    def sum(self, t):
        return t


@pytest.mark.parametrize("n", [10, 30])
def test_each_output_is_looked_for_a_bounded_number_of_times(tmp_path, monkeypatch, n):
    # Under torchrun, rank 0's progress bar counts the other ranks' outputs on disk: counting all
    # of them after every image made O(N^2) lookups. Here rank 1 keeps pace with rank 0 (each of
    # rank 0's images also writes rank 1's next output); outputs must be looked up O(N) times.
    src, out = write_folder(tmp_path / "in", n), tmp_path / "out"
    files = sorted(p for p in src.rglob("*.png"))
    targets = {out / f.relative_to(src) for f in files}
    partner = iter(out / f.relative_to(src) for f in files[1::2])

    def make(im):
        other = next(partner, None)
        if other is not None:
            other.parent.mkdir(parents=True, exist_ok=True)
            other.write_bytes(b"done by rank 1")
        return im

    lookups = []
    exists = Path.exists
    monkeypatch.setattr(Path, "exists", lambda p: (lookups.append(p) if p in targets else None, exists(p))[1])
    monkeypatch.setattr(batch, "distributed", lambda device: _TwoRanks(0, 2))
    report = batch.run_folder(src, out, None, make, device=CPU, progress=True, name="test")
    assert len(report.written) + len(report.failed) == len(files[::2])
    assert len(lookups) <= 2 * len(files), f"{len(lookups)} lookups of {len(files)} outputs"
    assert max(lookups.count(t) for t in targets) <= 3


@pytest.mark.parametrize("fmt", ["bmp", "gif", "jpg"])
def test_pictures_with_alpha_are_put_on_white_in_formats_without_it(tmp_path, fmt, capsys):
    """--format bmp/gif failed half-way through a folder at its first picture with alpha."""
    src = tmp_path / "in"
    src.mkdir()
    Image.new("RGB", (6, 4), (10, 200, 30)).save(src / "a.png")
    soft = np.zeros((4, 6, 4), np.uint8)
    soft[..., 3] = np.arange(6, dtype=np.uint8)[None] * 40  # soft alpha: GIF holds none of it
    Image.fromarray(soft).save(src / "b.png")
    report = batch.run_folder(src, tmp_path / "out", fmt, lambda im: im, device=CPU, progress=False, name="test")
    assert len(report.written) == 2 and report.flattened == 1
    assert capsys.readouterr().err.count("cannot hold these images' transparency: they are put on white") == 1
    assert Image.open(tmp_path / "out" / f"b.{fmt}").convert("RGB").getpixel((0, 0))[0] >= 250  # clear: white


def test_a_folder_of_which_nothing_could_be_read_is_an_error(tmp_path, capsys):
    """It was a success: exit 0, "dreamed 0 image(s)", and no output folder."""
    src = tmp_path / "in"
    src.mkdir()
    (src / "zero.png").write_bytes(b"")
    (src / "text.png").write_text("not a picture")
    (src / "sub").mkdir()
    (src / "sub" / "bad.jpg").write_text("not a picture either")
    with pytest.raises(ValueError, match=r"none of the 3 image file\(s\) in .* could be read"):
        out = tmp_path / "out" / "deeper"
        batch.run_folder(src, out, None, invert, device=CPU, progress=False, name="test", settings={"look": 1})
    assert capsys.readouterr().err.count("skipping") == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in"]  # out/deeper/ and its settings file stayed


def test_a_rerun_with_other_settings_does_not_finish_the_folder_with_another_look(tmp_path):
    """A stopped folder run rerun with other settings skipped the images done and made the rest
    with the new ones: one folder, two looks, nothing said."""
    import fastdream as fd

    src = write_folder(tmp_path / "in", 3)
    out = tmp_path / "out"
    quick = dict(octaves=1, seed=0)
    first = fd.dream_folder(src, out, steps=2, **quick)
    (out / "00.png").unlink()  # as if stopped before it
    with pytest.raises(ValueError, match=r"made with other settings \(dream.steps: stored 2, now 3\)"):
        fd.dream_folder(src, out, steps=3, **quick)
    again = fd.dream_folder(src, out, steps=2, **quick)  # the same settings finish it
    assert len(first.written) == 3 and [p.name for p in again.written] == ["00.png"]
    assert (out / batch.SETTINGS_NAME).is_file()
    # Without a seed, the stored one finishes it (it was refused: "seed: stored 0, now None"), as a
    # video's rerun does; and the image is the one the seeded run makes.
    made = (out / "00.png").read_bytes()
    (out / "00.png").unlink()
    assert [p.name for p in fd.dream_folder(src, out, steps=2, octaves=1).written] == ["00.png"]
    assert (out / "00.png").read_bytes() == made


def test_files_named_as_the_results_with_no_record_are_not_taken_as_done(tmp_path):
    """A photo of the user's own in the output folder under a result's name was counted "already
    done", kept as the result, and the record written then claimed it."""
    import fastdream as fd

    src = write_folder(tmp_path / "in", 2)
    out = tmp_path / "out"
    out.mkdir()
    theirs = (src / "sub" / "01.png").read_bytes()
    (out / "00.png").write_bytes(theirs)
    with pytest.raises(ValueError, match=r"already holds 1 file\(s\) named as this run's results \(00.png\)"):
        fd.dream_folder(src, out, octaves=1, steps=1, seed=0)
    assert (out / "00.png").read_bytes() == theirs and not (out / batch.SETTINGS_NAME).exists()


def test_a_broken_link_among_the_pictures_is_counted_as_unreadable(tmp_path, capsys):
    src = write_folder(tmp_path / "in", 2)
    (src / "gone.png").symlink_to(tmp_path / "nowhere.png")
    report = batch.run_folder(src, tmp_path / "out", None, invert, device=CPU, progress=False, name="test")
    assert len(report.written) == 2 and sorted(p.name for p, _ in report.failed) == ["broken.png", "gone.png"]
    assert "skipping" in capsys.readouterr().err


def test_a_folder_dreamed_without_a_seed_draws_one_for_all_records_it_and_says_it(tmp_path):
    """Each image drew a seed of its own, recorded nowhere and said nowhere: no picture of the batch
    could be made again (the help says "default: drawn, and said with the result")."""
    import fastdream as fd

    src, out = write_folder(tmp_path / "in", 3), tmp_path / "out"
    report = fd.dream_folder(src, out, octaves=1, steps=2)
    assert isinstance(report.seed, int) and batch.stored_settings(out)["seed"] == report.seed
    assert report.summary("dreamed", out).endswith(f"(0 already done, 1 unreadable and skipped, seed {report.seed})")
    for name in ("00.png", "sub/01.png"):  # each the dream of its image alone with that seed
        with Image.open(src / name) as im:
            alone = fd.dream(im, octaves=1, steps=2, seed=report.seed)
        assert np.array_equal(np.asarray(alone), np.asarray(Image.open(out / name)))


def test_a_folder_begun_before_seeds_were_recorded_is_finished_as_it_was_begun(tmp_path):
    """Its record says "seed": null: a drawn seed made every rerun "other settings", and no --seed
    could match it."""
    import json

    import fastdream as fd

    src, out = write_folder(tmp_path / "in", 2), tmp_path / "out"
    fd.dream_folder(src, out, octaves=1, steps=1)
    record = json.loads((out / batch.SETTINGS_NAME).read_text())
    (out / batch.SETTINGS_NAME).write_text(json.dumps({**record, "seed": None}))  # as an older release wrote it
    (out / "00.png").unlink()
    again = fd.dream_folder(src, out, octaves=1, steps=1)
    assert [p.name for p in again.written] == ["00.png"] and again.seed is None


def test_an_animation_cut_short_is_not_whole(tmp_path):
    """Its first frame decoded whole, so a GIF cut to 30% was taken as done."""
    from fastdream import io

    rng = np.random.default_rng(0)
    frames = [Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)) for _ in range(6)]
    frames[0].save(tmp_path / "a.gif", save_all=True, append_images=frames[1:], duration=100)
    (tmp_path / "cut.gif").write_bytes((tmp_path / "a.gif").read_bytes()[: (tmp_path / "a.gif").stat().st_size // 3])
    assert io.whole_picture(tmp_path / "a.gif") and not io.whole_picture(tmp_path / "cut.gif")
    frames[0].save(tmp_path / "a.jpg")  # a JPEG an editor appended bytes to is whole (it was remade over)
    (tmp_path / "a.jpg").write_bytes((tmp_path / "a.jpg").read_bytes() + b"appended")
    assert io.whole_picture(tmp_path / "a.jpg")
