"""Proof sheets (fastdream.proof_sheet, fastdream sheet): every combination of the varied options,
one cell per channel, captions, the JSON that remakes any cell, and errors before any work."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageFont

import fastdream as fd
from fastdream.cli import main
from fastdream.sheet import layout
from fastdream.sheet import vary as V

IMG = (np.random.default_rng(0).random((60, 90, 3)) * 255).astype(np.uint8)
FAST = ["--octaves", "1", "--steps", "1", "--size", "48", "-q"]


@pytest.fixture
def photo(tmp_path):
    path = tmp_path / "photo.png"
    Image.fromarray(IMG).save(path)
    return path


def test_two_varied_options_of_two_values_make_a_2x2_sheet_and_4_cells(tmp_path, photo):
    out = tmp_path / "sheet.png"
    args = ["sheet", str(photo), "-o", str(out), "--vary", "steps=1,2", "--vary", "step_size=0.01,0.04"]
    assert main([*args, "--octaves", "1", "--size", "48", "--seed", "5", "-q"]) == 0
    record = json.loads(out.with_suffix(".json").read_text())
    cells = record["cells"]
    assert [(c["steps"], c["step_size"]) for c in cells] == [(1, 0.01), (1, 0.04), (2, 0.01), (2, 0.04)]
    assert all(c["seed"] == 5 and c["octaves"] == 1 for c in cells) and record["size"] == [48, 32]
    sheet = Image.open(out)
    assert sheet.width == layout.GAP + 2 * (48 + layout.GAP)  # two columns: step_size along a row, steps down
    # the shell's sheet is Python's, and any cell is remade from its settings at the sheet's size
    python = fd.proof_sheet(photo, vary={"steps": [1, 2], "step_size": [0.01, 0.04]}, size=48, octaves=1, seed=5)
    assert np.array_equal(np.asarray(sheet), np.asarray(python.image)) and python.cells == cells
    small = Image.open(photo).resize(tuple(record["size"]), Image.LANCZOS)
    assert np.array_equal(np.asarray(fd.dream(small, **cells[3])), np.asarray(python.pictures[3]))


def test_channels_make_one_cell_per_channel_strongest_first(tmp_path, photo):
    out = tmp_path / "channels.jpg"
    assert main(["sheet", str(photo), "-o", str(out), "--channels", "_blocks.3", "--top", "5", *FAST]) == 0
    cells = json.loads(out.with_suffix(".json").read_text())["cells"]
    layers = [c["layers"] for c in cells]
    assert len(cells) == 5 and all(len(spec) == 1 and spec[0].startswith("_blocks.3:") for spec in layers)
    sheet = fd.proof_sheet(photo, channels="_blocks.3", top="all", size=48, octaves=1, steps=1, seed=0)
    assert len(sheet.cells) == 40  # every channel of block 3
    assert [c["layers"] for c in sheet.cells[:5]] == layers  # the same ranking, strongest response first
    one = fd.proof_sheet(photo, channels="_blocks.3", top=1, size=48, octaves=1, seed=0)
    assert one.cells[0]["steps"] == fd.sheet.CHANNEL_DEFAULTS["steps"]  # a channel's motif needs longer


def test_an_objective_cell_is_recorded_by_its_expression(tmp_path):
    """The JSON said "<_Term>": the cell could not be made again from it."""
    term = fd.objectives.channel("_blocks.10", 3)
    fd.proof_sheet(IMG, tmp_path / "o.png", vary={"objective": [term, "mean"]}, size=48, octaves=1, steps=1)
    cells = json.loads((tmp_path / "o.json").read_text())["cells"]
    assert [c["objective"] for c in cells] == ["channel('_blocks.10', 3)", "mean"]
    assert repr(eval(cells[0]["objective"], vars(fd.objectives))) == repr(term)


def test_every_channel_of_a_wide_layer_is_too_many_cells(photo):
    with pytest.raises(ValueError, match=r"all 320 channels of _blocks.15 make 320 cells, at most 100"):
        fd.proof_sheet(photo, channels="_blocks.15", top="all", size=48, octaves=1, steps=1, seed=0)


def test_a_named_model_is_named_in_each_cell(tmp_path, photo):
    """Made with --model, the JSON said "<GoogLeNet>": no cell could be dreamed again from it."""
    out = tmp_path / "sheet.png"
    args = ["sheet", str(photo), "-o", str(out), "--model", "googlenet", "--vary", "step_size=0.01,0.02", *FAST]
    assert main(args) == 0
    cells = json.loads(out.with_suffix(".json").read_text())["cells"]
    assert [c["model"] for c in cells] == ["googlenet", "googlenet"]
    small = Image.open(photo).resize(json.loads(out.with_suffix(".json").read_text())["size"], Image.LANCZOS)
    with pytest.warns(UserWarning, match="random weights"):  # (googlenet without its weights file)
        again = fd.dream(small, **cells[1])  # from its JSON alone, and the same picture (seeded weights too)
        python = fd.proof_sheet(
            photo,
            vary={"step_size": [0.01, 0.02]},
            size=48,
            octaves=1,
            steps=1,
            model="googlenet",
            seed=cells[1]["seed"],
        )
    assert np.array_equal(np.asarray(again), np.asarray(python.pictures[1]))


def test_the_notes_name_the_model_that_weights_of_a_preset_are_for(tmp_path):
    """With --preset tutorial --weights PATH the notes held only the weights: the README's
    ``fd.models.load(notes["model"], weights=notes["weights"])`` was a KeyError."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # random weights
        torch.save(fd.models.load("inception_v3").state_dict(), tmp_path / "v3.pth")
    out, big = tmp_path / "sheet.png", tmp_path / "big.png"
    Image.fromarray(IMG).resize((120, 80)).save(big)  # (InceptionV3 takes 75 px a side or more)
    args = ["sheet", str(big), "-o", str(out), "--preset", "tutorial", "--weights", str(tmp_path / "v3.pth")]
    assert main([*args, "--vary", "steps=1,2", "--octaves", "1", "--size", "120", "-q"]) == 0
    notes = json.loads(out.with_suffix(".json").read_text())["notes"]
    assert notes == {"model": "inception_v3", "weights": str(tmp_path / "v3.pth")}
    assert type(fd.models.load(notes["model"], weights=notes["weights"])).__name__ == "InceptionV3"


def test_channels_of_a_users_own_model(photo):
    """channels= names the layer: a custom model (which has no default layers) needs nothing more."""
    from torch import nn

    net = nn.Sequential(nn.Conv2d(3, 6, 3, padding=1), nn.ReLU(), nn.Conv2d(6, 6, 3, padding=1), nn.ReLU()).eval()
    sheet = fd.proof_sheet(photo, channels="3", top="all", model=net, size=48, octaves=1, steps=1, seed=0)
    assert sorted(c["layers"][0] for c in sheet.cells) == [f"3:{k}" for k in range(6)]


def test_the_step_hook_and_progress_count_over_the_whole_sheet():
    states = []
    fd.proof_sheet(IMG, vary={"steps": [1, 2]}, size=48, octaves=1, seed=0, callback=states.append)
    assert [(s.frame, s.frames, s.step, s.total) for s in states] == [(0, 2, 1, 3), (1, 2, 2, 3), (1, 2, 3, 3)]


@pytest.mark.parametrize(
    "vary, message",
    [
        ("speed=1,2", "unknown option 'speed'"),
        ("speed=1,2", "varies are: preset, layers, octaves, octave-scale, steps, step-size, jitter, tile, objective"),
        ("steps=1,x", "'steps=1,x': 'x' is not a whole number"),
        ("steps", "is not NAME=VALUE1,VALUE2,... (e.g. 'steps=5,10')"),  # it said "e.g. --steps 5,10"
        ("norm=std,wavy", "norm must be one of 'std', 'mean_abs', 'laplacian', got 'wavy'"),
        ("jitter=4,-1", "jitter must be >= 0, got -1"),
        ("layers=_blocks.5,_blocks.99", "unknown layer name(s) ['_blocks.99']"),
        ("jitter=4,4", "vary: jitter repeats 4; give each value once"),  # two identical cells, no word
    ],
)
def test_bad_vary_is_one_clear_error_and_nothing_is_written(tmp_path, photo, capsys, vary, message):
    out = tmp_path / "s.png"
    assert main(["sheet", str(photo), "-o", str(out), "--vary", vary, *FAST]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["photo.png"]


def test_a_bad_layer_in_the_last_cell_fails_before_the_first_dream():
    """Layer names are checked for every cell up front: a typo in the last value of a long sheet
    must not cost the other cells' dreams first."""
    states = []
    with pytest.raises(ValueError, match="unknown layer name"):
        fd.proof_sheet(
            IMG, vary={"layers": [["_blocks.5"], ["_blocks.6:top2", "_blocks.x"]]}, size=48, callback=states.append
        )
    assert states == []


def test_captions_stay_in_their_cell_and_the_title_names_only_what_is_fixed(monkeypatch):
    """A long layer spec wraps inside the cell (it ran into the next one); a varied seed is not
    also shown as the sheet's seed; a 1 px wide picture still gets a column its captions fit."""
    from PIL import ImageDraw

    draw = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    font = layout._font(layout.FONT_SIZE)
    long = "layers=_blocks.5:top8+_blocks.10:30-40, octave_scale=1.3"
    lines = layout._wrap(draw, long, font, 64)
    assert "".join(lines).replace(" ", "") == long.replace(" ", "")
    assert all(draw.textlength(line, font=font) <= 64 for line in lines)
    titles = []
    real = layout.contact_sheet
    monkeypatch.setattr(layout, "contact_sheet", lambda *a: titles.append(a[3]) or real(*a))
    sheet = fd.proof_sheet(IMG, vary={"seed": [1, 2]}, size=48, octaves=1, steps=1)
    assert [c["seed"] for c in sheet.cells] == [1, 2]
    assert titles == ["image: octaves=1, steps=1"]
    thin = real([Image.new("RGB", (1, 40))] * 2, ["steps=1", "steps=2"], 2, "a title")
    assert thin.width == layout.GAP + 2 * (layout.MIN_CELL + layout.GAP)


def test_vary_values_with_commas_are_separated_by_semicolons(tmp_path, photo):
    out = tmp_path / "s.png"
    varied = "layers=_blocks.10:30-40,77;_blocks.12"
    assert main(["sheet", str(photo), "-o", str(out), "--vary", varied, *FAST]) == 0
    cells = json.loads(out.with_suffix(".json").read_text())["cells"]
    assert [c["layers"] for c in cells] == [["_blocks.10:30-40,77"], ["_blocks.12"]]


def test_a_guides_cell_is_remade_from_the_json(tmp_path, photo, monkeypatch):
    """The shell's sheet recorded the guide as "<Image>": the README's remake of a cell failed."""
    guide = tmp_path / "guide.png"
    Image.fromarray(IMG[::-1].copy()).save(guide)
    out = tmp_path / "s.png"
    assert main(["sheet", str(photo), "-o", str(out), "--vary", "seed=1,2", "--guide", str(guide), *FAST]) == 0
    cells = json.loads(out.with_suffix(".json").read_text())["cells"]
    assert [c["guide"] for c in cells] == [str(guide)] * 2
    titles = []  # ... and its title names the file only (the path ran over 8 lines, showing the user's folders)
    real = layout.contact_sheet
    monkeypatch.setattr(layout, "contact_sheet", lambda *a: titles.append(a[3]) or real(*a))
    assert (
        main(["sheet", str(photo), "-o", str(tmp_path / "t.png"), "--vary", "seed=1,2", "--guide", str(guide), *FAST])
        == 0
    )
    assert "guide=guide.png" in titles[0] and str(tmp_path) not in titles[0], titles
    monkeypatch.chdir(tmp_path.parent)  # (from any folder)
    cell = fd.dream(Image.open(photo).resize((48, 48 * IMG.shape[0] // IMG.shape[1]), Image.LANCZOS), **cells[1])
    assert cell.size[0] == 48


def test_usage_errors(tmp_path, photo, capsys):
    cases = [
        ([], "give --vary"),
        (["--vary", "steps=1,2", "--channels", "_blocks.3"], "alternatives"),
        (["--vary", "steps=1,2", "--steps", "3"], "steps is both given (--steps 3) and varied"),
        (["--channels", "_blocks.99"], "unknown layer name"),
        (
            ["--vary", "steps=1", "--vary", "steps=2"],
            "'steps' is varied twice; give all its values at once: 'steps=V1,V2,...'",
        ),
        (["--channels", "_blocks.3", "--layers", "_blocks.5"], "--layers: a channel sheet dreams each channel"),
        # (it said --layers, which was not given)
        (["--vary", "layers=_blocks.10:top8,_blocks.10:999"], "--vary: layers: _blocks.10 has 112 channels"),
        (["--channels", "_blocks.3", "--top", "41"], "_blocks.3 has 40 channels; --top 41 asks for more"),
        (["--channels", "_blocks.15", "--top", "101"], "--top: a sheet holds at most 100 cells, got --top 101"),
    ]
    for extra, message in cases:
        assert main(["sheet", str(photo), "-o", str(tmp_path / "s.png"), *extra, "--size", "48", "-q"]) == 2, extra
        assert message in capsys.readouterr().err
    assert main(["sheet", str(photo), "-o", str(photo), "--vary", "steps=1,2", *FAST]) == 2
    assert "is the input" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["photo.png"]


def test_vary_values_from_the_command_line():
    assert V.parse(["layers=_blocks.5+_blocks.10,_blocks.12", "octaves=auto,2", "tile_size=0,256"]) == {
        "layers": [["_blocks.5", "_blocks.10"], ["_blocks.12"]],
        "octaves": ["auto", 2],
        "tile_size": [None, 256],
    }
    assert V.parse(["preserve-colors=on,off", "preset=subtle,deep"]) == {
        "preserve_colors": [True, False],
        "preset": ["subtle", "deep"],
    }
    with pytest.raises(ValueError, match="at most 100"):
        V.check({"steps": list(range(1, 12)), "jitter": list(range(10))}, {})


def test_vary_takes_numpy_arrays_and_tensors_of_values():
    """np.linspace(...) was "vary: step_size must be a non-empty list of values, got array(...)"."""
    got = V.check({"step_size": np.array([0.01, 0.02, 0.03]), "steps": torch.tensor([1, 2])}, {})
    assert got == {"step_size": [0.01, 0.02, 0.03], "steps": [1, 2]}
    assert all(type(v) is float for v in got["step_size"]) and all(type(v) is int for v in got["steps"])


def test_lap_levels_serve_the_laplacian_cells_of_a_varied_norm():
    """--vary norm=std,laplacian --lap-levels 2 was refused: "change nothing with norm='std'"."""
    s = fd.proof_sheet(IMG, vary={"norm": ["std", "laplacian"]}, lap_levels=2, size=48, octaves=1, steps=1, seed=0)
    assert [(c["norm"], c.get("lap_levels")) for c in s.cells] == [("std", None), ("laplacian", 2)]
    with pytest.raises(ValueError, match="change nothing with norm='std'"):  # no Laplacian cell: still said
        fd.proof_sheet(IMG, vary={"norm": ["std", "mean_abs"]}, lap_levels=2, size=48, octaves=1, steps=1)


def test_presets_side_by_side():
    sheet = fd.proof_sheet(IMG, vary={"preset": ["subtle", "classic"]}, size=48, octaves=1, steps=1, seed=0)
    a, b = (np.asarray(p) for p in sheet.pictures)
    assert not np.array_equal(a, b) and sheet.cells[0]["preset"] == "subtle"


@settings(max_examples=60, deadline=None)
@given(text=st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=120), width=st.integers(8, 200))
def test_any_caption_wraps_within_its_cell_and_keeps_its_words(text, width):
    from PIL import ImageDraw

    draw = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    font = layout._font(layout.FONT_SIZE)
    lines = layout._wrap(draw, text, font, width)
    widest_char = max((draw.textlength(c, font=font) for c in text), default=0)
    assert all(draw.textlength(line, font=font) <= max(width, widest_char) for line in lines)
    assert "".join(lines).replace(" ", "") == text.replace(" ", "")


def test_vary_takes_the_command_lines_names(tmp_path, photo, capsys):
    """--vary tile=... was refused while the error listed --tile (and tile_size, which worked, nowhere)."""
    out = tmp_path / "s.png"
    assert (
        main(["sheet", str(photo), "-o", str(out), "--vary", "tile=0,64", "--vary", "step-size=0.01,0.02", *FAST]) == 0
    )
    cells = json.loads(out.with_suffix(".json").read_text())["cells"]
    assert [(c["tile_size"], c["step_size"]) for c in cells] == [(None, 0.01), (None, 0.02), (64, 0.01), (64, 0.02)]


def test_a_stopped_sheet_keeps_its_finished_cells_on_a_partial_sheet(tmp_path, photo, monkeypatch, capsys):
    """Ctrl-C at cell 11 of 64 said "nothing was written": minutes of finished cells were lost."""
    out = tmp_path / "s.png"
    stop_in_cell_2 = lambda state: state.frame < 2
    with pytest.raises(fd.Cancelled) as stopped:
        fd.proof_sheet(photo, out, vary={"steps": [1, 2], "seed": [1, 2]}, size=48, octaves=1, callback=stop_in_cell_2)
    partial = tmp_path / "s-partial.png"
    assert stopped.value.kept == f"the 2 finished cells of 4 are in {partial} (and its .json); a rerun starts over"
    assert len(json.loads(partial.with_suffix(".json").read_text())["cells"]) == 2
    assert not out.exists() and Image.open(partial).width == layout.GAP + 2 * (48 + layout.GAP)
    # The shell says so, and a second stopped sheet does not write over the first's.
    from fastdream import sheet as S

    dream_all = S._dream_all

    def interrupted_after_one(picture, opts, progress, callback, pictures):
        dream_all(picture, opts[:1], progress, callback, pictures)
        raise KeyboardInterrupt

    monkeypatch.setattr(S, "_dream_all", interrupted_after_one)
    assert main(["sheet", str(photo), "-o", str(out), "--vary", "seed=1,2", *FAST]) == 130
    partial2 = tmp_path / "s-partial-2.png"
    assert (
        capsys.readouterr()
        .err.strip()
        .endswith(f"the finished cell of 2 is in {partial2} (and its .json); a rerun starts over")
    )  # (not "1 cells")
    assert partial2.is_file() and partial.is_file()


def test_a_varied_value_the_dream_refuses_is_said_of_vary(tmp_path, capsys):
    """Its error named the option itself (--subject, --objective), which the command line was not given."""
    with pytest.raises(ValueError, match=r"^vary: subject='cat': the default backbone has no subjects"):
        fd.proof_sheet(IMG, vary={"subject": ["cat"]}, size=48, steps=1)
    Image.fromarray(IMG).save(tmp_path / "in.png")
    assert (
        main(
            ["sheet", str(tmp_path / "in.png"), "-o", str(tmp_path / "s.png"), "--vary", "objective=mean,bogus", *FAST]
        )
        == 2
    )
    assert "error: --vary: objective='bogus': " in capsys.readouterr().err


def test_a_varied_layer_the_model_lacks_is_said_of_vary(tmp_path, capsys):
    """It was said of --layers, which the command line had not been given, and its list of valid
    names began with ``_blocks`` (a list of blocks, with no output to dream)."""
    with pytest.raises(ValueError, match=r"^vary: layers=\['_blocks.99'\]: unknown layer name\(s\) \['_blocks.99'\]"):
        fd.proof_sheet(IMG, vary={"layers": [["_blocks.5"], ["_blocks.99"]]}, size=48, steps=1)
    Image.fromarray(IMG).save(tmp_path / "in.png")
    args = ["sheet", str(tmp_path / "in.png"), "-o", str(tmp_path / "s.png"), "--vary", "layers=_blocks.5,_blocks.99"]
    assert main([*args, *FAST]) == 2
    said = capsys.readouterr().err
    assert "error: --vary: layers=['_blocks.99']: unknown layer name(s)" in said and "--layers" not in said
    assert "valid names are: _conv_stem, _bn0, _blocks.0, " in said
    assert not (tmp_path / "s.png").exists()


def test_a_seed_of_none_is_drawn_once_for_every_cell_and_recorded(tmp_path):
    """seed=None, given, left each cell to draw its own, recorded as null: no cell could be made again."""
    sheet = fd.proof_sheet(IMG, tmp_path / "s.png", vary={"steps": [1, 2]}, size=48, octaves=1, seed=None)
    seeds = {c["seed"] for c in json.loads((tmp_path / "s.json").read_text())["cells"]}
    assert len(seeds) == 1 and isinstance(next(iter(seeds)), int)
    again = fd.dream(sheet.picture, **sheet.cells[1])
    assert np.array_equal(np.asarray(again), np.asarray(sheet.pictures[1]))


def test_weights_with_varied_presets_go_to_the_network_they_share(tmp_path, capsys):
    """They were loaded into the default backbone, which InceptionV3's weights do not fit; presets
    of two networks are one clear refusal. The notes keep the weights' full path."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.save(fd.models.load("inception_v3").state_dict(), tmp_path / "iv3.pth")
    photo = tmp_path / "big.png"  # (InceptionV3 takes at least 75 px a side)
    Image.fromarray(IMG).resize((150, 100)).save(photo)
    args = ["sheet", str(photo), "-o", str(tmp_path / "s.png"), "--weights", str(tmp_path / "iv3.pth")]
    assert main([*args, "--vary", "preset=classic,tutorial", *FAST[:-3], "--size", "80", "-q"]) == 2
    said = capsys.readouterr().err
    assert "--weights with --vary preset: these presets dream with different networks" in said
    assert "efficientnet_lite0, inception_v3" in said and not (tmp_path / "s.png").exists()
    (tmp_path / "run").mkdir()
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(tmp_path / "run")  # a relative --weights
        rel = ["sheet", str(photo), "-o", "s.png", "--weights", "../iv3.pth", "--vary", "preset=tutorial"]
        assert main([*rel, *FAST[:-3], "--size", "120"]) == 0
    assert "(1 cell) and" in capsys.readouterr().out
    notes = json.loads((tmp_path / "run" / "s.json").read_text())["notes"]
    assert notes == {"model": "inception_v3", "weights": str(tmp_path / "iv3.pth")}


def test_spaces_around_a_cells_layers_are_not_part_of_their_names():
    assert V.parse(["layers=_blocks.5 + _blocks.10,_blocks.12"]) == {
        "layers": [["_blocks.5", "_blocks.10"], ["_blocks.12"]]
    }


def test_auto_and_all_are_read_in_any_case_and_named_when_a_value_is_neither():
    assert V.parse(["octaves=AUTO,2"]) == {"octaves": ["auto", 2]}
    with pytest.raises(ValueError, match=r"'many' is not a whole number or auto"):
        V.parse(["octaves=many,2"])
    with pytest.raises(ValueError, match=r"^top must be a whole number or 'all', got 'most'"):
        fd.proof_sheet(IMG, channels="_blocks.5", top="most", size=48)


def test_captions_beyond_ascii_are_drawn_in_a_font_that_has_their_letters():
    """Pillow's own font has no é, ж or Ω: a photo named café.jpg was captioned "caf▯.jpg"."""
    import os

    text = "café.jpg, жук, Ωmega"
    assert layout._missing(layout._font(13), text) == ["é", "ж", "у", "к", "Ω"]  # (why: the built-in font)
    if not any(os.path.isfile(p) for p in layout.SYSTEM_FONTS):
        pytest.skip("no system font with these letters here")
    assert layout._missing(layout._font(13, text), text) == []
    assert layout._font(13, "plain ascii") is not layout._font(13, text)
    # Pillow before 10.1: a bitmap font that takes Latin-1 only (every sheet failed on its box letter)
    old = ImageFont.load_default_imagefont()
    assert layout._missing(old, "plain") == [] and layout._missing(old, "café 日") == ["日"]


@pytest.mark.parametrize(
    "kw, exc, words",
    [
        (dict(notes={"where": Path("x")}), TypeError, r"^notes must hold only what JSON holds"),
        (dict(notes=torch.tensor([1.0, 2.0])), TypeError, r"^notes must be a dict"),
        (dict(vary=torch.tensor([1.0, 2.0])), TypeError, r"^vary must be a dict"),
        (dict(vary={"steps": [1, 2]}, top=float("nan")), ValueError, r"^top is for a channel sheet"),
        (dict(vary={"steps": [1, 2]}, top=500), ValueError, r"^top is for a channel sheet \(channels=LAYER\)"),
        (dict(channels="_blocks.5", top=-1), ValueError, r"^top must be >= 1"),
        (dict(vary={"steps": [1, 2]}, notes={1: "a", "b": 2}), TypeError, r"^notes must hold only what JSON"),
        (dict(channels=["_blocks.5"]), TypeError, r"^channels must be a layer name"),
    ],
)
def test_bad_sheet_arguments_are_refused_before_any_cell_is_dreamed(kw, exc, words, monkeypatch):
    """notes that JSON cannot hold failed after every cell; a tensor as vary or notes raised torch's
    "Boolean value of Tensor"; top was not looked at beside vary."""
    from fastdream import sheet as S

    monkeypatch.setattr(S, "_dream_all", lambda *a, **k: pytest.fail("a cell was dreamed"))
    with pytest.raises(exc, match=words):
        fd.proof_sheet(IMG, None, size=48, **kw)


def test_cells_smaller_than_the_network_takes_are_said_of_size():
    """A channel sheet of InceptionV3 at size 96 said "takes images of at least 75x75 px, got
    96x64", of a picture the user never gave."""
    from torch import nn

    net = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU())
    net.min_input_side = 40
    img = np.zeros((60, 90, 3), np.uint8)
    for kw in (dict(channels="1", top=2), dict(vary={"jitter": [1, 2]}, layers=["1"])):
        with pytest.raises(
            ValueError,
            match=r"^size: the cells are 48x32 px, and Sequential takes at least 40 px a side; pass size=60 or more$",
        ):
            fd.proof_sheet(img, None, size=48, model=net, octaves=1, steps=1, **kw)
        # A picture smaller than the network takes is not enlarged: a larger size would not help.
        with pytest.raises(ValueError, match=r"^image: the picture is 45x30 px, and Sequential takes at least 40"):
            fd.proof_sheet(img[::2, ::2], None, size=256, model=net, octaves=1, steps=1, **kw)
