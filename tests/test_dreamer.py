"""Dream your own subjects: train_dreamer on folders of subjects, models.load of its checkpoint,
dream(..., subject=), the contact sheet, the command line; tiny data, a second or two per run."""

import re

import numpy as np
import pytest
import torch
from PIL import Image

import fastdream as fd
from fastdream.cli import main
from fastdream.dreamer import make_subject_folders, subject_sheet, train_dreamer
from fastdream.models.dreamer import Dreamer
from tests.helpers import ctrl_c_after_first_checkpoint

TINY = dict(image_size=64, batch_size=8, seed=0, recipe={"exemplars": 32})
QUICK = dict(octaves=1, steps=2, seed=0)


@pytest.fixture(scope="module")
def subjects(tmp_path_factory):
    import skimage.data as d

    root = tmp_path_factory.mktemp("subjects") / "pictures"
    pictures = {"brick": d.brick(), "cat": d.chelsea(), "coffee": d.coffee()}
    return make_subject_folders(root, pictures, per_subject=6, size=80, seed=0)


@pytest.fixture(scope="module")
def dreamer(subjects, tmp_path_factory):
    return train_dreamer(subjects, tmp_path_factory.mktemp("ckpt") / "dreamer.pt", epochs=2, **TINY)


def _photo():
    return (np.random.default_rng(1).random((48, 56, 3)) * 255).astype(np.uint8)


def test_train_load_dream(dreamer, tmp_path):
    state = torch.load(dreamer, weights_only=True)
    assert state["format"] == "fastdream.dreamer" and state["subjects"] == ["brick", "cat", "coffee"]
    assert state["input"]["image_size"] == 64 and state["recipe"]["exemplars"] == 32
    assert [h["epoch"] for h in state["history"]] == [1, 2] and all("val_acc" in h for h in state["history"])
    assert state["config"]["train"] + state["config"]["val"] == 18 and state["config"]["val"] == 3
    m = fd.models.load(dreamer)
    assert isinstance(m, Dreamer) and m.subjects == ("brick", "cat", "coffee") and not m.training
    assert m.style_layers and m.dream_layers and m.stats["_blocks.5"]["exemplars"].shape == (3, 32, 80)
    photo = _photo()
    out = fd.dream(photo, model=m, subject="cat", **QUICK)
    assert out.shape == photo.shape and np.abs(out.astype(int) - photo).mean() > 1
    # the path works as the model; several subjects with weights; the layers' terms added
    mixed = fd.dream(photo, model=str(dreamer), subject=["cat=2", "brick"], **QUICK)
    assert not np.array_equal(mixed, out)
    assert not np.array_equal(fd.dream(photo, model=m, subject="cat", layers="_blocks.3", **QUICK), out)
    # a subject dream starts from the dreamer's settings; the options given win over them
    assert fd.dream(photo, model=m, subject="cat", seed=0, octaves=1, steps=2).shape == photo.shape
    # the low-memory path, asked for, takes the subject with its own normalization
    assert fd.dream(photo, model=m, subject="cat", low_memory=True, **QUICK).shape == photo.shape
    # zoom videos take the dream's options, the subject too
    video = fd.zoom_video(photo, tmp_path / "z.gif", frames=2, model=m, subject="coffee", octaves=1, steps=1, seed=0)
    assert video.is_file()


def test_unknown_subject_and_wrong_models(dreamer, tmp_path, capsys):
    m = fd.models.load(dreamer)
    with pytest.raises(ValueError, match=r"unknown subject\(s\) 'dog'; this dreamer knows: brick, cat, coffee"):
        fd.dream(_photo(), model=m, subject="dog")
    with pytest.raises(ValueError, match="the default backbone has no subjects"):
        fd.dream(_photo(), subject="cat")
    from fastdream.cli import main

    Image.fromarray(_photo()).save(tmp_path / "p.png")
    assert main(["dream", str(tmp_path / "p.png"), "--subject", "cat", "-o", str(tmp_path / "o.png")]) == 2
    err = capsys.readouterr().err  # in the shell's words (it said "pass model= ... fastdream.models.load")
    assert err.endswith("has no subjects; pass --model dreamer.pt, a dreamer written by fastdream train-dreamer\n"), err
    with pytest.raises(ValueError, match="subject is the objective"):
        fd.dream(_photo(), model=m, subject="cat", guide=_photo())
    with pytest.raises(ValueError, match="weight of 'cat' must be a finite number"):
        fd.dream(_photo(), model=m, subject={"cat": float("nan")})
    with pytest.raises(ValueError, match="every weight is 0"):  # the picture came back unchanged
        fd.dream(_photo(), model=m, subject=["cat=0", "brick=0"])
    with pytest.raises(ValueError, match="'cat' named twice"):  # which weight? (the two were added)
        fd.dream(_photo(), model=m, subject=["cat", "cat=3"])
    with pytest.raises(ValueError, match="'cat=' has no weight after '='"):  # taken as 1 before
        fd.dream(_photo(), model=m, subject="cat=")
    with pytest.raises(ValueError, match="subject: the weight of 'cat' must be 0 or between 1e-06 and 1e[+]06"):
        fd.dream(_photo(), model=m, subject=["cat=1e7"])
    from fastdream.dreamer.options import _recipe

    with pytest.raises(ValueError, match=r"recipe: the weight of \"guide\['_blocks.5'\]\" must be 0 or between"):
        _recipe({"guide": {"_blocks.5": 1e7}})  # accepted, it made a dreamer that every subject dream refused
    with pytest.raises(ValueError, match="holds its own weights"):
        fd.models.load(dreamer, weights=dreamer)
    with pytest.raises(ValueError, match="is not a fastdream checkpoint"):
        bad = dreamer.parent / "bad.pt"
        bad.write_bytes(b"not a checkpoint")
        fd.models.load(bad)


def _edit(state, path, value):
    """``state`` with the entry at ``path`` (keys) set to ``value`` (``...``: removed)."""
    *outer, last = path
    d = state
    for k in outer:
        d = d[k]
    if value is ...:
        del d[last]
    else:
        d[last] = value
    return state


DAMAGE = [  # (where, new value, words of the one-line error)
    (("subjects",), ["cat", "cat", "brick"], "subjects must be distinct"),
    (("stats",), {}, "guide names '_blocks.5', which has no stats"),
    (("stats", "_blocks.5", "gram"), ..., "must hold exactly means, std, gram, exemplars"),
    (("stats", "_blocks.5", "means"), torch.zeros(3, 7), "does not match the others"),
    (("stats", "_blocks.5", "std"), torch.full((80,), float("nan")), "NaN or infinite"),
    (("stats", "_blocks.5", "exemplars"), "x", "exemplars must be a float tensor"),
    (("recipe", "guide", "_blocks.5"), "five", "must be a finite number"),
    (("recipe", "texture"), {"_blocks.9": 1.0}, "'_blocks.9', which has no stats"),
    (("recipe",), "abc", "recipe must be a dict"),
    (("dream_settings",), {"stepz": 3}, "dream_settings must be a dict with keys among"),
    (("dream_layers",), ["nope"], "dream_layers must be a list of the network's layers"),
]


@pytest.mark.parametrize("where, value, words", DAMAGE, ids=lambda v: ".".join(v) if isinstance(v, tuple) else None)
def test_a_damaged_checkpoint_is_one_clear_error_at_load(dreamer, tmp_path, where, value, words):
    """Not a KeyError or a shape error half way into the first dream."""
    state = _edit(torch.load(dreamer, weights_only=True), where, value)
    path = tmp_path / "damaged.pt"
    torch.save(state, path)
    with pytest.raises(ValueError, match="damaged dreamer checkpoint: .*" + re.escape(words)):
        fd.models.load(path)


def test_statistics_of_a_layer_with_other_channels_are_refused(dreamer, tmp_path):
    state = torch.load(dreamer, weights_only=True)
    st = state["stats"]["_blocks.5"]
    state["stats"]["_blocks.5"] = {k: v[..., :7] if k != "gram" else v[..., :7, :7] for k, v in st.items()}
    torch.save(state, tmp_path / "d.pt")
    with pytest.raises(ValueError, match=r"stats\['_blocks.5'\] have 7 channels, the layer has 80"):
        fd.models.load(tmp_path / "d.pt")


def test_resume_gives_the_uninterrupted_model(subjects, tmp_path):
    with ctrl_c_after_first_checkpoint():
        train_dreamer(subjects, tmp_path / "a.pt", epochs=2, **TINY)
    again = torch.load(train_dreamer(subjects, tmp_path / "a.pt", epochs=2, **TINY), weights_only=True)
    whole = torch.load(train_dreamer(subjects, tmp_path / "b.pt", epochs=2, **TINY), weights_only=True)
    assert again["epoch"] == whole["epoch"] == 2 and again["config"]["val_files"] == whole["config"]["val_files"]
    for k, v in whole["model"].items():
        torch.testing.assert_close(again["model"][k], v, rtol=0, atol=1e-6, msg=k)
    torch.testing.assert_close(again["stats"]["_blocks.5"]["gram"], whole["stats"]["_blocks.5"]["gram"])
    with pytest.raises(ValueError, match="image_size=64, not image_size=96"):
        train_dreamer(subjects, tmp_path / "a.pt", epochs=3, **{**TINY, "image_size": 96})


def test_a_resume_says_what_it_keeps_and_what_changes(subjects, tmp_path):
    """Another seed and val_split were taken into the record without a word (the split stayed the
    first run's), keep and weight_decay changed unsaid, and the weight decay given was replaced by
    the stored one with the optimizer's state."""
    out = tmp_path / "a.pt"
    train_dreamer(subjects, out, epochs=1, **TINY)
    first = torch.load(out, weights_only=True)["config"]
    with pytest.warns(UserWarning) as said:
        train_dreamer(
            subjects, out, epochs=2, **{**TINY, "seed": 3, "val_split": 0.5, "keep": 2.0, "weight_decay": 0.1}
        )
    text = " | ".join(str(w.message) for w in said)
    assert "keeps what its first run drew (seed: stored 0, now 3)" in text
    assert f"(val_split: stored {first['val_split']}, now 0.5)" in text
    assert "weight_decay" in text and "keep" in text  # from here on
    state = torch.load(out, weights_only=True)
    assert state["config"]["seed"] == 0 and state["config"]["val_split"] == first["val_split"]
    assert state["config"]["val_files"] == first["val_files"]
    assert {g["weight_decay"] for g in state["optimizer"]["param_groups"]} == {0.1}


@pytest.mark.parametrize(
    "where, value, words",
    [
        (("optimizer",), None, "optimizer must be an optimizer's state dict"),
        (("model",), {}, "the model in .* do not fit"),
        (("config", "seed"), "x", "config.seed must be an integer"),
        (("epoch",), -1, "epoch must be an integer"),
        (("stats",), 5, "stats must be a dict"),
    ],
)
def test_resuming_a_damaged_checkpoint_is_one_line_and_keeps_it(dreamer, tmp_path, subjects, where, value, words):
    path = tmp_path / "d.pt"
    torch.save(_edit(torch.load(dreamer, weights_only=True), where, value), path)
    before = path.read_bytes()
    with pytest.raises(ValueError, match=words):
        train_dreamer(subjects, path, epochs=3, **TINY)
    assert path.read_bytes() == before


@pytest.mark.parametrize(
    "recipe",
    [
        {"guide": {}, "texture": {}, "logit": 1.0},  # the logit alone: no statistics to keep
        {"guide": {"_blocks.5": np.float64(5.0)}, "texture": {}},  # a numpy weight, saved as a float
    ],
    ids=["logit-only", "numpy-weight"],
)
def test_unusual_recipes_train_load_and_dream(subjects, tmp_path, recipe):
    ckpt = train_dreamer(subjects, tmp_path / "r.pt", epochs=1, **{**TINY, "recipe": {**TINY["recipe"], **recipe}})
    m = fd.models.load(ckpt)  # torch.load(weights_only=True) inside: plain numbers only
    assert fd.dream(_photo(), model=m, subject="cat", **QUICK).shape == _photo().shape


def _folder(root, layout: dict):
    """``layout``: subject -> number of pictures (a str: that many, one of them not an image)."""
    rng = np.random.default_rng(0)
    for name, n in layout.items():
        (root / name).mkdir(parents=True)
        for i in range(int(n)):
            Image.fromarray((rng.random((40, 50, 3)) * 255).astype(np.uint8)).save(root / name / f"{i}.png")
        if isinstance(n, str):
            (root / name / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    return root


def test_the_checkpoint_may_not_be_or_lie_among_the_pictures(subjects):
    """train-dreamer PICTURES -o PICTURES/cat/x.jpg --no-resume replaced a picture by the checkpoint."""
    picture = sorted((subjects / "cat").iterdir())[0]
    before = picture.read_bytes()
    for out in (picture, subjects / "cat" / "new.pt", subjects / "dreamer.pt"):
        with pytest.raises(ValueError, match="out_path: .* (is the input|lies inside the input folder)"):
            train_dreamer(subjects, out, epochs=1, resume=False, **TINY)
    assert picture.read_bytes() == before and not (subjects / "cat" / "new.pt").exists()


def test_a_sheet_inside_the_pictures_is_refused_as_the_sheet(subjects, tmp_path, capsys):
    """--sheet subj/cat/x.png was refused as "--output", which was elsewhere."""
    from fastdream.cli import main

    inside = sorted((subjects / "cat").iterdir())[0]
    assert main(["train-dreamer", str(subjects), "-o", str(tmp_path / "d.pt"), "--sheet", str(inside)]) == 2
    err = capsys.readouterr().err
    assert "--sheet" in err and "--output" not in err and "inside the input folder" in err, err
    # The checkpoint's own name, not there yet: it said "d.pt is the input d.pt"
    assert main(["train-dreamer", str(subjects), "-o", str(tmp_path / "d.pt"), "--sheet", str(tmp_path / "d.pt")]) == 2
    assert "--sheet " in (err := capsys.readouterr().err) and "is the --output checkpoint's name" in err, err


def test_folder_errors_and_counted_skips(tmp_path):
    with pytest.raises(ValueError, match="at least 2 subfolders of images, one per subject .* found only 'a'"):
        train_dreamer(_folder(tmp_path / "one", {"a": 3}), tmp_path / "x.pt", **TINY)
    with pytest.raises(ValueError, match=r"at least 2 readable images .* too few in: b \(1\)"):
        train_dreamer(_folder(tmp_path / "few", {"a": 3, "b": 1}), tmp_path / "x.pt", **TINY)
    with pytest.raises(FileNotFoundError, match="images_dir: no such folder"):
        train_dreamer(tmp_path / "missing", tmp_path / "x.pt", **TINY)
    # A subject named a=b trained, then could not be dreamed ("the weight in 'a=b' is not a number").
    with pytest.raises(ValueError, match=r"subject folder 'a=b' holds one of = , ; \+.*rename the folder"):
        train_dreamer(_folder(tmp_path / "eq", {"a=b": 3, "c": 3}), tmp_path / "x.pt", **TINY)
    # " cat " trained, and every dream of it (and the contact sheet) said "unknown subject 'cat'"
    with pytest.raises(ValueError, match=r"subject folder ' cat ' begins or ends with a space.*rename the folder"):
        train_dreamer(_folder(tmp_path / "sp", {" cat ": 3, "c": 3}), tmp_path / "x.pt", **TINY)
    assert not (tmp_path / "x.pt").exists()
    for name in ("a=b", " cat", "", "a/b", ".."):  # (it wrote folders train_dreamer refused or could not dream)
        with pytest.raises(ValueError, match=r"^sources: subject .* name it otherwise"):
            fd.data.make_subject_folders(tmp_path / "made", {name: np.zeros((32, 32, 3), np.uint8)}, per_subject=2)
    with pytest.raises(TypeError, match=r"^sources: a subject's name must be a string, got 5"):
        fd.data.make_subject_folders(tmp_path / "made", {5: np.zeros((32, 32, 3), np.uint8)}, per_subject=2)
    with pytest.raises(ValueError, match=r"^sources: the name is 309 bytes"):
        fd.data.make_subject_folders(tmp_path / "made", {"c" * 300: np.zeros((32, 32, 3), np.uint8)}, per_subject=2)
    assert not (tmp_path / "made").exists()
    # an empty subject and an unreadable file: skipped, counted in the warning and the checkpoint
    root = _folder(tmp_path / "skips", {"a": 3, "b": "3", "empty": 0})
    with pytest.warns(UserWarning, match=r"1 empty subject folder\(s\) \(empty\); 1 unreadable file"):
        ckpt = train_dreamer(root, tmp_path / "s.pt", epochs=1, **TINY)
    c = torch.load(ckpt, weights_only=True)["config"]
    assert c["subjects"] == ["a", "b"] and c["skipped_counts"] == dict(empty=1, loose=0, bad=1)
    with pytest.raises(ValueError, match="broken.jpg"):
        train_dreamer(root, tmp_path / "t.pt", epochs=1, skip_bad=False, **TINY)


def test_sheets(dreamer):
    sheet = subject_sheet(dreamer, _photo(), size=40, octaves=1, steps=1)
    assert sheet.size == (4 * 40, 40 * 48 // 56 + 18)  # the picture and three subjects, captioned
    bigger = subject_sheet(dreamer, _photo(), size=70, octaves=1, steps=1)  # (past the picture's 56: it stayed 56)
    assert bigger.size == (4 * 70, 60 + 18)
    proof = fd.proof_sheet(
        _photo(), vary={"subject": ["brick", "cat"]}, model=fd.models.load(dreamer), size=40, **QUICK
    )
    assert [c["subject"] for c in proof.cells] == ["brick", "cat"]  # the proof sheet varies subjects too


def test_cli_equals_python(subjects, dreamer, tmp_path, capsys):
    args = ["--epochs", "1", "--seed", "0", "--image-size", "64", "--batch-size", "8", "-q"]
    assert main(["train-dreamer", str(subjects), "-o", str(tmp_path / "cli.pt"), *args]) == 0
    py = train_dreamer(subjects, tmp_path / "py.pt", epochs=1, seed=0, image_size=64, batch_size=8)
    a, b = torch.load(tmp_path / "cli.pt", weights_only=True), torch.load(py, weights_only=True)
    assert a["config"] == {**b["config"]} and all(torch.equal(a["model"][k], v) for k, v in b["model"].items())
    # The sheet at a size and steps of one's own (it took 2 minutes at 256 px x 30 steps on a shared CPU)
    sheet = ["--sheet", str(tmp_path / "s.png"), "--sheet-size", "40", "--sheet-steps", "1"]
    assert main(["train-dreamer", str(subjects), "-o", str(tmp_path / "cli.pt"), *args, *sheet]) == 0
    assert Image.open(tmp_path / "s.png").width == 4 * 40  # the picture and three subjects
    Image.fromarray(_photo()).save(tmp_path / "in.png")
    dream = ["--model", str(dreamer), "--subject", "cat=2", "brick", "--octaves", "1", "--steps", "2", "--seed", "0"]
    assert main(["dream", str(tmp_path / "in.png"), "-o", str(tmp_path / "out.png"), *dream, "-q"]) == 0
    expected = fd.dream(
        Image.open(tmp_path / "in.png"), model=fd.models.load(dreamer), subject=["cat=2", "brick"], **QUICK
    )
    assert np.array_equal(np.asarray(Image.open(tmp_path / "out.png")), np.asarray(expected))
    assert main(["dream", "--model", str(dreamer), "--subject", "dog", "-o", str(tmp_path / "o.png")]) == 2
    assert "this dreamer knows: brick, cat, coffee" in capsys.readouterr().err
    assert main(["dream", "--model", str(dreamer), "--list-layers"]) == 0
    assert "subjects (--subject): brick, cat, coffee" in capsys.readouterr().out


def test_the_bar_shows_validation_accuracy_once_measured():
    from types import SimpleNamespace

    from fastdream.dreamer.trainer import DreamerTrainer

    first = SimpleNamespace(metrics={})  # validation runs at each epoch's end: none yet
    assert DreamerTrainer.postfix(first, {"loss": 0.5}) == {"loss": "0.500"}
    later = SimpleNamespace(metrics={"val_acc": 0.75})
    assert DreamerTrainer.postfix(later, {"loss": 0.5}) == {"loss": "0.500", "val_acc": "0.750"}


def test_a_resume_on_renamed_subject_folders_says_to_name_them_as_before(subjects, tmp_path):
    """It said "pass subjects=[...] to resume", an argument no command has: subjects are folders."""
    import shutil

    mine = tmp_path / "pictures"
    shutil.copytree(subjects, mine)
    train_dreamer(mine, tmp_path / "d.pt", epochs=1, **TINY)
    (mine / "cat").rename(mine / "kitten")
    with pytest.raises(
        ValueError, match=r"was trained on the subjects \[.*'cat'.*\], and the folder now holds .*'kitten'"
    ):
        train_dreamer(mine, tmp_path / "d.pt", epochs=2, **TINY)


def test_another_kind_of_fastdream_checkpoint_is_named_in_words_not_by_its_inner_name():
    """It said "model: u.pt is a 'fastdream.unet' checkpoint", the file's inner name."""
    from fastdream.models.dreamer import dreamer_from_state

    with pytest.raises(ValueError, match=r"^model: u.pt is a fastdream U-Net checkpoint \(written by train_unet\); a"):
        dreamer_from_state({"format": "fastdream.unet", "version": 1}, "u.pt")
