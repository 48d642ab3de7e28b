"""What a script or notebook user meets at the edges of the Python API: the kinds that come back,
masks of labels, objectives that cannot climb, grad modes, callbacks, and where warnings point."""

from __future__ import annotations

import warnings
from contextlib import nullcontext

import numpy as np
import pytest
import torch
from PIL import Image

import fastdream as fd

FAST = dict(octaves=1, steps=2, jitter=8, seed=0)


@pytest.fixture(scope="module")
def photo():
    import skimage.data

    return np.array(Image.fromarray(skimage.data.astronaut()).resize((64, 48)))


def test_a_mask_of_0_and_1_labels_dreams_where_it_is_1(photo):
    """(seg > 0).astype(np.uint8) was read as 1/255: the dream changed nothing, silently."""
    m = np.zeros(photo.shape[:2], np.uint8)
    m[:, :32] = 1
    out = fd.dream(photo, mask=m, **FAST)
    assert (out[:, :32] != photo[:, :32]).any() and (out[:, 32:] == photo[:, 32:]).all()
    assert (fd.dream(photo, mask=m * 255, **FAST) == out).all()
    three = np.repeat(m[..., None] * 255, 3, axis=2)  # cv2.imread of a mask file: HxWx3, refused
    assert (fd.dream(photo, mask=three, **FAST) == out).all()


def test_a_mask_of_small_class_labels_is_said_to_be_faint(photo):
    """Class 2 of a label map acted at 2/255: nothing changed, and the warning blamed step_size."""
    m = np.zeros(photo.shape[:2], np.uint8)
    m[:, :32] = 2
    with pytest.warns(UserWarning) as said:
        fd.dream(photo, mask=m, **FAST)
    assert [str(w.message) for w in said] == [
        "mask: its values reach only 2 of 255, so it acts at 1% strength; a label map? pass (labels == CLASS) or "
        "(labels > 0) as the mask"
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a gray mask of real levels says nothing
        fd.dream(photo, mask=(m * 100).astype(np.uint8), **FAST)


@pytest.mark.parametrize("low_memory", [False, True])
def test_arrays_come_back_in_c_order_and_tensors_in_their_layout(photo, low_memory):
    """The low-memory path (on by itself past 4096x4096) gave plain tensors back channels last:
    ``.view(-1)`` then failed far from the dream."""
    quick = dict(FAST, low_memory=low_memory)
    out = fd.dream(photo, **quick)  # a view of channel planes broke cv2.rectangle and ndarray.resize
    assert out.flags.c_contiguous and (low_memory or out.base is None or isinstance(out.base, np.ndarray))
    rgba = np.random.default_rng(0).random((24, 20, 4))
    back = fd.dream(rgba, **quick)
    assert back.flags.c_contiguous and back.dtype == np.float64
    assert np.array_equal(back[..., 3], rgba[..., 3])  # alpha untouched, not through float32
    t = torch.rand(2, 4, 24, 20, dtype=torch.float64).contiguous(memory_format=torch.channels_last)
    y = fd.dream(t, **quick)
    assert y.is_contiguous(memory_format=torch.channels_last) and torch.equal(y[:, 3], t[:, 3])
    for plain in (torch.rand(3, 24, 20), torch.rand(2, 3, 24, 20, dtype=torch.float16)):
        assert fd.dream(plain, **quick).is_contiguous()


@pytest.mark.parametrize("low_memory", [False, True])
@pytest.mark.parametrize("mode", ["I;16", "I", "F", "CMYK"])
def test_pil_images_come_back_in_their_own_mode(photo, mode, tmp_path, low_memory):
    gray = np.asarray(Image.fromarray(photo).convert("L"), np.float64) / 255
    made = {
        "I;16": lambda: Image.fromarray((gray * 65535).astype(np.uint16)),
        "I": lambda: Image.fromarray((gray * 65535).astype(np.int32)),
        "F": lambda: Image.fromarray(gray.astype(np.float32)),
        "CMYK": lambda: Image.fromarray(photo).convert("CMYK"),
    }[mode]()
    said = pytest.warns(fd.FastdreamWarning, match="in 8 bits") if low_memory and mode != "CMYK" else nullcontext()
    with said:  # (the low-memory path dreams deep gray in 8 bits, and says so)
        out = fd.dream(made, low_memory=low_memory, **FAST)
    assert out.mode == made.mode and out.size == made.size  # 16-bit came back 8-bit L
    a, b = np.asarray(out, np.float64), np.asarray(made, np.float64)
    top = {"I;16": 65535, "I": 65535, "F": 1.0, "CMYK": 255}[mode]
    change = np.abs(a - b).mean() / top
    assert 0.002 < change < 0.2  # dreamed, at the input's scale
    if mode in ("I;16", "I") and not low_memory:  # (the low-memory path reads them in 8 bits)
        assert len(np.unique(a)) > 300  # at full depth, not 256 levels scaled up
    for ext in ("png", "jpg"):  # saved as before (in 8 bits) where the format cannot hold the mode
        saved = Image.open(fd.io.save_image(out, tmp_path / f"out.{ext}"))
        assert saved.size == made.size and saved.mode in ("L", "RGB", "I;16", "I", "CMYK")


def test_a_16_bit_or_cmyk_file_comes_back_in_its_mode(photo, tmp_path):
    """Given as a path (the command line, a folder run), a 16-bit photo came back 8-bit, while the
    same file opened with PIL came back 16-bit."""
    gray = np.asarray(Image.fromarray(photo).convert("L"), np.float64) / 255
    Image.fromarray((gray * 65535).astype(np.uint16)).save(tmp_path / "deep.png")
    out = fd.dream(tmp_path / "deep.png", **FAST)
    assert out.mode == "I;16" and out.size == (photo.shape[1], photo.shape[0])
    assert len(np.unique(np.asarray(out))) > 300  # at full depth, not 256 levels scaled up
    with Image.open(tmp_path / "deep.png") as im:
        assert np.array_equal(np.asarray(fd.dream(im, **FAST)), np.asarray(out))  # the path's result is the PIL image's
    Image.fromarray(photo).convert("CMYK").save(tmp_path / "print.jpg")  # CMYK came back RGB, too
    assert fd.dream(tmp_path / "print.jpg", **FAST).mode == "CMYK"


def test_a_float_picture_just_over_1_says_how_it_is_read(photo):
    g = np.linspace(0, 1.01, 48 * 64, dtype=np.float32).reshape(48, 64)
    with pytest.warns(UserWarning, match=r"values up to 1.01 is read as 0-255 levels .* nearly black") as said:
        fd.dream(Image.fromarray(g), **FAST)
    assert {w.filename for w in said} == {__file__}  # the user's line, not torch's decorator
    assert len(said) == 1


def test_a_float_file_just_over_1_says_it_too(tmp_path):
    """Given as a path (the command line, a folder run), the same TIFF said nothing."""
    g = np.linspace(0, 1.2, 48 * 64, dtype=np.float32).reshape(48, 64)
    Image.fromarray(g).save(tmp_path / "over.tif")
    with pytest.warns(UserWarning, match=r"values up to 1.2 is read as 0-255 levels .* nearly black") as said:
        fd.dream(tmp_path / "over.tif", **FAST)
    assert len([w for w in said if "nearly black" in str(w.message)]) == 1


def test_a_float_picture_past_255_keeps_its_range_and_black_values_are_said(photo, tmp_path):
    """Float data past 255 (HDR, measurements) was clipped at 255 without a word: 71% of a 0-1020
    picture came back flat white. Its largest value is its white now, as for 32-bit I."""
    gray = np.asarray(Image.fromarray(photo).convert("L"), np.float32) * 4  # 0-1020
    Image.fromarray(gray, "F").save(tmp_path / "hdr.tif")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing to say of it
        out = np.asarray(fd.dream(tmp_path / "hdr.tif", **FAST))
    assert out.max() > 600 and (out >= out.max() - 1).mean() < 0.01  # not flattened at 255
    assert 0.002 < np.abs(out - gray).mean() / gray.max() < 0.2  # dreamed, at the input's scale
    signed = gray - 500
    signed[0, 0] = np.nan
    with pytest.warns(
        UserWarning, match=r"^image: 1 NaN pixel\(s\) and values below 0 \(down to -500\), read as black"
    ):
        fd.dream(Image.fromarray(signed, "F"), **FAST)
    bright = np.full((48, 64), 0.5, np.float32)
    bright[:4] = np.inf  # (it came back white without a word)
    with pytest.warns(UserWarning, match=r"^image: 256 infinite pixel\(s\), read as white$"):
        fd.dream(Image.fromarray(bright, "F"), **FAST)


def test_a_float_mask_just_over_1_is_named_as_the_mask(photo, tmp_path):
    """The warning said "image:" of a mask file, pointing the user at the wrong picture."""
    g = np.linspace(0, 1.2, 48 * 64, dtype=np.float32).reshape(48, 64)
    Image.fromarray(g).save(tmp_path / "mask.tif")
    with pytest.warns(UserWarning, match=r"^mask: a float .* nearly black") as said:
        fd.dream(photo, mask=tmp_path / "mask.tif", **FAST)
    assert not [w for w in said if str(w.message).startswith("image:")]


def test_a_closed_or_cut_pil_image_is_one_clear_error(photo, tmp_path):
    Image.fromarray(photo).save(tmp_path / "p.jpg")
    with Image.open(tmp_path / "p.jpg") as im:
        pass
    with pytest.raises(ValueError, match="image: the PIL image could not be read .*closed"):
        fd.dream(im, **FAST)  # a bare AssertionError, after a false warning about its EXIF block
    whole = (tmp_path / "p.jpg").read_bytes()
    (tmp_path / "cut.jpg").write_bytes(whole[: len(whole) * 2 // 3])  # the header, a part of the pixels
    with pytest.raises(ValueError, match="could not be read .*truncated"):
        fd.dream(Image.open(tmp_path / "cut.jpg"), **FAST)


def _total(acts):
    return sum(a.mean((1, 2, 3)) for a in acts.values())


@pytest.mark.parametrize(
    "objective, words",
    [
        (lambda acts: _total(acts) * float("nan"), r"returned \[nan\]; it must be finite"),
        (lambda acts: _total(acts).detach(), "does not depend on the activations"),
        # (a bare KeyError, and torch's "grad can be implicitly created only for real scalar outputs")
        (lambda acts: acts["_blocks.10"].mean((1, 2, 3)), r"reads '_blocks.10', which is not among .*\('_blocks.5'\)"),
        (lambda acts: _total(acts).to(torch.complex64), "must return real values, got torch.complex64"),
    ],
)
def test_a_callable_objective_that_cannot_climb_is_refused(photo, objective, words):
    with pytest.raises(ValueError, match=words):  # NaN changed nothing silently; detached: torch's words
        fd.dream(photo, objective=objective, layers=["_blocks.5"], **FAST)


def test_a_dream_that_changed_nothing_says_so(photo):
    with pytest.warns(UserWarning, match="the picture did not change: the objective's gradient was 0"):
        out = fd.dream(photo, objective=lambda acts: _total(acts) * 0, layers=["_blocks.5"], **FAST)
    assert (out == photo).all()


def test_dreams_run_under_inference_mode_and_a_float64_default(photo):
    with torch.inference_mode():  # a notebook cell's: "Inference tensors do not track version counter"
        a = fd.dream(photo, **FAST)
        net = fd.models.load("efficientnet_lite0")
    b = fd.dream(photo, model=net, layers=["_blocks.5", "_blocks.10"], **FAST)
    before = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        c = fd.dream(photo, **FAST)
        s = fd.style_transfer(photo, photo, octaves=1, steps=1, seed=0)
    finally:
        torch.set_default_dtype(before)
    assert (a == b).all() and (a == c).all() and s.shape == photo.shape


def test_the_callback_stops_on_any_false_but_none_and_its_state_ends_with_the_call(photo):
    kept = []
    fd.dream(photo, callback=kept.append, **FAST)  # None: go on
    assert len(kept) == 2 and "_picture" not in repr(kept[0])
    with pytest.raises(RuntimeError, match="has ended; keep the picture"):
        kept[0].image()  # was "'Dream' object has no attribute 'x'"
    with pytest.raises(fd.Cancelled, match="after step 1 of 2"):
        fd.dream(photo, callback=lambda s: np.bool_(False), **FAST)  # `return elapsed < limit` ran on
    with pytest.raises(TypeError, match="callback: return True or None to go on, False to stop"):
        fd.dream(photo, callback=lambda s: np.array([True, False]), **FAST)


@pytest.mark.parametrize("callback", [lambda: None, lambda s, t: None, lambda *, state: None])
def test_a_callback_that_cannot_take_the_state_is_refused_before_any_work(photo, callback):
    """It passed the check and failed after the network's build and a first step, with Python's
    own 'takes 0 positional arguments'."""
    with pytest.raises(
        TypeError, match="callback must be a function of one argument .*, which cannot be called with one"
    ):
        fd.dream(photo, callback=callback, **FAST)
    seen = []
    fd.dream(photo, callback=lambda s, extra=1, *more: seen.append(s), **FAST)  # one argument fits
    assert len(seen) == 2


def test_auto_octaves_do_not_warn_about_a_thin_strip(photo):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "using 1 of 3 octaves" of octaves the user never asked for
        fd.dream(np.full((20, 300, 3), 100, np.uint8), steps=1, seed=0)
    with pytest.warns(UserWarning, match="using 1 of 3 octaves"):
        fd.dream(np.full((20, 300, 3), 100, np.uint8), octaves=3, steps=1, seed=0)


def test_layers_in_one_string_say_they_go_in_a_list(photo):
    with pytest.raises(ValueError, match=r"several layers go in a list: \['_blocks.5', '_blocks.10'\]"):
        fd.dream(photo, layers="_blocks.5,_blocks.10", **FAST)


def test_a_gray_picture_stays_gray_and_a_clear_one_hides_its_pixels_in_sheets_and_zooms(photo, tmp_path):
    """A sheet's cells are fd.dream's of the picture: gray ones had color, and a cutout's hidden
    pixels (green here) showed; a zoom of a gray picture gained pink and green swirls."""
    gray = Image.fromarray(photo).convert("L")
    s = fd.proof_sheet(gray, tmp_path / "g.png", vary={"steps": [1, 2]}, size=48, octaves=1, seed=0)
    assert s.picture.mode == "L" and all(p.mode == "L" for p in s.pictures)
    assert np.array_equal(np.asarray(fd.dream(s.picture, **s.cells[1])), np.asarray(s.pictures[1]))
    cut = np.dstack([photo, np.full(photo.shape[:2], 255, np.uint8)])
    cut[:, 32:] = (0, 255, 0, 0)
    fd.proof_sheet(cut, tmp_path / "c.png", vary={"steps": [1, 2]}, size=48, octaves=1, seed=0)
    sheet = np.asarray(Image.open(tmp_path / "c.png"), np.int64)
    assert not ((sheet[..., 1] - sheet[..., 0] > 120) & (sheet[..., 1] - sheet[..., 2] > 120)).any()
    fd.zoom_video(gray, tmp_path / "z.gif", frames=2, steps=2, seed=0)
    for frame in sorted((tmp_path / "z_frames").glob("frame_*.png")):
        a = np.asarray(Image.open(frame).convert("RGB"), np.int64)
        assert (a.max(2) - a.min(2)).max() == 0


def test_a_float32_dream_too_big_for_memory_is_refused_before_its_work(monkeypatch):
    """12000x12000 with smooth= took the float32 path and was killed by the system at 21 GB."""
    from fastdream import _room
    from fastdream.dream import DreamOptions, engine, huge

    monkeypatch.setattr(_room, "memory_budget", lambda: 8e9)
    smooth = DreamOptions.create(smooth=1.0)
    with pytest.raises(ValueError, match=r"12000x12000 needs about 30.2 GB .* it can take the low-memory path"):
        engine.check_memory((1, 3, 12000, 12000), smooth)
    with pytest.raises(ValueError, match="dream it in tiles"):
        engine.check_memory((1, 3, 3000, 3000), DreamOptions.create(tile_size=None))
    engine.check_memory((1, 3, 4096, 4096), smooth)  # 3.5 GB: fits
    with pytest.warns(UserWarning, match="over 4096x4096 takes the float32 path, not the low-memory one: smooth"):
        assert not huge.wanted(smooth, np.zeros((4097, 4096, 3), np.uint8))


def test_a_model_that_takes_no_rgb_picture_is_one_line_naming_the_model(photo):
    """A 1-channel model gave torch's 'expected input[1, 3, 80, 96] to have 1 channels' from the
    middle of the first step."""
    from torch import nn

    gray_net = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU())
    with pytest.raises(ValueError, match=r"^model: it takes no RGB picture \(1, 3, H, W\) up to \['1'\]: .*1 channels"):
        fd.dream(photo, model=gray_net, layers=["1"], **FAST)


@pytest.mark.parametrize(
    "mean, std, words",
    [
        (
            (0.5, 0.5),
            (1, 1, 1),
            r"its input_mean must be 3 finite numbers \(R, G, B\) or one for all three, got \(0.5, 0.5\)",
        ),
        ("imagenet", (1, 1, 1), r"its input_mean must be 3 finite numbers"),
        ((0, 0, float("nan")), (1, 1, 1), r"its input_mean must be 3 finite numbers"),
        ((0, 0, 0), (0, 0, 0), r"its input_std must be above 0 for each channel"),
        ((0, 0, 0), (1, 1, -1), r"its input_std must be above 0 for each channel"),
    ],
)
def test_a_models_bad_input_convention_is_one_line_naming_it(photo, mean, std, words):
    """(0.5, 0.5) was torch's "shape '[1, 3, 1, 1]' is invalid", std 0 a ZeroDivisionError and
    "imagenet" float()'s error: none named the attribute."""
    from torch import nn

    net = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1))
    net.input_mean, net.input_std = mean, std
    with pytest.raises(ValueError, match="^model: " + words):
        fd.dream(photo, model=net, layers=["0"], **FAST)


def test_one_number_for_a_models_input_convention_is_taken_for_all_three(photo):
    from torch import nn

    net = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1))
    net.input_mean, net.input_std = 0.5, 0.25
    one = fd.dream(photo, model=net, layers=["0"], **FAST)
    net.input_mean, net.input_std = (0.5, 0.5, 0.5), (0.25, 0.25, 0.25)
    assert np.array_equal(one, fd.dream(photo, model=net, layers=["0"], **FAST))


@pytest.mark.parametrize(
    "call, words",
    [
        (lambda img: fd.dream(img, step_size=10**400), r"^step_size must be a finite number > 0, got 1000"),
        (lambda img: fd.dream(img, layers={"_blocks.5": 10**400}), r"^layers: the weight of '_blocks.5' must be"),
        (lambda img: fd.style_transfer(img, [img], lr=10**400), r"^lr must be a finite number > 0"),
        (lambda img: fd.zoom_video(img, "never.gif", zoom=-(10**400)), r"^zoom must be a finite number in"),
        (lambda img: fd.objectives.layer_l2("_blocks.5") + 10**400, r"^a constant added to an objective must be"),
        (lambda img: fd.objectives.layer_l2("_blocks.5") + float("nan"), r"^a constant added to an objective"),
        (lambda img: fd.proof_sheet(img, None, vary={"steps": [1, 2]}, size=10**400), r"^size must be <= 65536"),
    ],
)
def test_an_integer_past_a_floats_range_is_refused_naming_its_parameter(call, words):
    """float(10**400) raised OverflowError from every check of a real number (step_size, lr, zoom,
    a weight, fps, threshold...); a NaN added to an objective made the whole loss NaN."""
    with pytest.raises(ValueError, match=words):
        call(torch.rand(3, 32, 32))


@pytest.mark.parametrize(
    "call, exc, words",
    [
        (lambda: fd.objectives.channel("_blocks.5", range(10**9)), ValueError, r"1000000000 of them, more than"),
        (lambda: fd.objectives.channel("_blocks.5", 10**30), ValueError, r"channel numbers in \[0, 65535\]"),
        (lambda: fd.objectives.channel("_blocks.5", []), ValueError, r"^channel: channels is empty"),
        (lambda: fd.dream(torch.rand(3, 32, 32), smooth=[]), TypeError, r"^smooth must be a number, got \[\]"),
        (lambda: fd.dream(torch.rand(3, 32, 32), smooth=torch.ones(2)), TypeError, r"^smooth must be a number"),
    ],
)
def test_channel_lists_and_smooth_are_checked_as_what_they_are(call, exc, words):
    """range(10**9) was listed whole (the memory went), channel 10**30 failed at the first forward,
    and smooth=[] meant no smoothing without a word."""
    with pytest.raises(exc, match=words):
        call()


def test_a_bad_number_is_refused_before_a_named_model_is_built(monkeypatch):
    """model="vgg19" with steps=0 built all of VGG19 (and warned of its random weights) first."""
    from fastdream.models import registry

    monkeypatch.setattr(registry, "load", lambda *a, **k: pytest.fail("the model was built first"))
    with pytest.raises(ValueError, match=r"^steps must be >= 1, got 0"):
        fd.dream(torch.rand(3, 32, 32), model="vgg19", steps=0)


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda b, p, t: fd.dream(p, guide=b, **FAST), "guide"),
        (lambda b, p, t: fd.proof_sheet(b, vary={"steps": [1, 2]}, **FAST), "image"),
        (lambda b, p, t: fd.style_transfer(b, p, octaves=1, steps=1), "content"),
        (lambda b, p, t: fd.zoom_video(b, t / "z.gif", frames=2, **FAST), "image"),
    ],
)
def test_one_picture_parameters_refuse_a_batch_naming_themselves(photo, call, name, tmp_path):
    """Where one picture is painted, a batch's first picture alone was taken (a guide, a sheet's
    picture in other words); each now says the same line of its parameter."""
    batch = fd.io.load(photo).rgb.expand(2, -1, -1, -1)
    with pytest.raises(ValueError, match=rf"^{name}: one image at a time, got a batch of 2$"):
        call(batch, photo, tmp_path)


def test_a_subject_given_as_a_batch_is_its_pictures(photo, tmp_path):
    """An (N, C, H, W) tensor of a subject's pictures is its N pictures (the first alone was cropped)."""
    from fastdream.data import make_subject_folders

    one = fd.io.load(photo).rgb
    two = torch.cat([one, one.flip(-1) * 0 + 0.5])  # the second picture flat gray
    kw = dict(per_subject=2, size=16, seed=0)
    crops = sorted((make_subject_folders(tmp_path / "b", {"cat": two}, **kw) / "cat").glob("*.jpg"))
    same = sorted((make_subject_folders(tmp_path / "l", {"cat": [one, two[1:]]}, **kw) / "cat").glob("*.jpg"))
    assert [np.asarray(Image.open(p)).tolist() for p in crops] == [np.asarray(Image.open(p)).tolist() for p in same]
    assert np.asarray(Image.open(crops[1])).std() < 2  # the second crop is of the gray picture
