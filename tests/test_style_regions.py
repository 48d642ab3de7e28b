"""Style by regions: each style inside its own mask, exact masked Gram matrices across tiles, the
content kept where no mask covers, the subject from a U-Net, the shell, and clear mask errors."""

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
from fastdream.style import regions as R

FAST = dict(octaves=1, steps=30, seed=0)
W = dict(style=3.0, content=1.0, tv=1.0)


@pytest.fixture(scope="module")
def images():
    from skimage import data

    def im(a, w):
        p = Image.fromarray(a)
        return p.resize((w, round(w * p.height / p.width)), Image.BICUBIC)

    left = np.zeros((96, 128), np.float32)
    left[:, :64] = 1
    return dict(
        content=im(data.astronaut(), 128).resize((128, 96)),
        ihc=im(data.immunohistochemistry(), 96),
        hubble=im(data.hubble_deep_field(), 96),
        left=left,
    )


@pytest.fixture(scope="module")
def stylizer():
    o = StyleOptions.create(1)
    with Stylizer([torch.rand(1, 3, 64, 64)], o, torch.device("cpu")) as st:
        yield st


def _distances(st, out, styles, masks) -> np.ndarray:
    """Style distance of each region (rows) to each style (columns)."""
    x = io.load(out).rgb
    return np.array(
        [
            [
                E.style_distance(st.feats, x, io.load(s).rgb, st.o.style_layers, torch.from_numpy(m)[None, None])
                for s in styles
            ]
            for m in masks
        ]
    )


@pytest.fixture(scope="module")
def halves(images):
    masks = [images["left"], 1 - images["left"]]
    styles = [images["ihc"], images["hubble"]]
    return fd.style_transfer(images["content"], styles, masks=masks, **FAST), styles, masks


def test_each_half_takes_its_own_style(images, halves, stylizer):
    out, styles, masks = halves
    d = _distances(stylizer, out, styles, masks)
    start = _distances(stylizer, images["content"], styles, masks)
    assert d[0, 0] < d[0, 1] and d[1, 1] < d[1, 0], d  # each half nearer its own style
    assert d[0, 0] < 0.5 * start[0, 0] and d[1, 1] < 0.5 * start[1, 1], (start, d)


def test_the_subject_from_a_unet_is_the_first_style(images, halves, stylizer):
    class LeftIsSubject(nn.Module):  # any module giving (1, 1, h, w) logits is a cutout model
        def forward(self, x):
            logits = torch.full_like(x[:, :1], -20.0)
            logits[..., : x.shape[-1] // 2] = 20.0
            return logits

    out = fd.style_transfer(images["content"], halves[1], masks="subject", cutout_model=LeftIsSubject(), **FAST)
    d = _distances(stylizer, out, halves[1], halves[2])
    assert d[0, 0] < d[0, 1] and d[1, 1] < d[1, 0], d


def test_uncovered_pixels_keep_the_content_and_soft_edges_fade(images):
    ramp = np.clip((80 - np.arange(128)) / 40, 0, 1).astype(np.float32)  # 1 up to x=40, 0 from x=80
    mask = np.broadcast_to(ramp, (96, 128)).copy()
    out = np.asarray(fd.style_transfer(images["content"], images["ihc"], masks=[mask], **FAST), np.float32)
    src = np.asarray(images["content"], np.float32)
    change = np.abs(out - src).mean(axis=(0, 2))
    assert np.array_equal(out[:, 80:], src[:, 80:])  # no mask: exactly the content
    thirds = [change[:40].mean(), change[45:60].mean(), change[65:80].mean()]
    assert thirds[0] > thirds[1] > 2 * thirds[2] > 0, thirds  # the style fades out along the ramp


def test_a_style_of_weight_0_leaves_its_region_the_photo(images):
    """Its region took the other style's texture (14 levels of change): weight 0 is no style."""
    left = np.zeros((96, 128), np.float32)
    left[:, :64] = 1
    styles = [images["ihc"], images["hubble"]]
    out = fd.style_transfer(images["content"], styles, masks=[left, 1 - left], style_weights=[1, 0], **FAST)
    out, src = np.asarray(out, np.float32), np.asarray(images["content"], np.float32)
    assert np.array_equal(out[:, 64:], src[:, 64:]) and np.abs(out[:, :60] - src[:, :60]).mean() > 2


def test_one_mask_over_everything_is_the_plain_transfer(images):
    plain = fd.style_transfer(images["content"], images["ihc"], octaves=1, steps=5, seed=0)
    full = fd.style_transfer(images["content"], images["ihc"], masks=np.ones((96, 128)), octaves=1, steps=5, seed=0)
    assert np.array_equal(np.asarray(plain), np.asarray(full))


def test_masked_gram_loss_and_gradient_are_exact_across_tiles(stylizer):
    f, o = stylizer.feats, stylizer.o
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(1, 3, 224, 288, generator=gen)
    soft = torch.linspace(0, 1, 288).expand(1, 1, 224, 288).contiguous()  # a soft edge across the tiles
    styles = [torch.rand(1, 3, 160, 160, generator=gen), torch.rand(1, 3, 128, 128, generator=gen)]
    grams = [E.grams(f, s, o.style_layers, None) for s in styles]
    regions = R.build(grams, (1.0, 0.5), [soft, 1 - soft], f.strides)
    t1 = E.Targets(f, x, regions, o.style_layers, o.content_layers, None)
    t2 = E.Targets(f, x, regions, o.style_layers, o.content_layers, 256)  # 4 x 5 tiles
    y = (x + 0.1 * torch.randn(x.shape, generator=gen)).clamp(0, 1)
    l1, p1, g1 = E.loss_and_grad(y, t1, W)
    l2, p2, g2 = E.loss_and_grad(y, t2, W)
    assert abs(l1 - l2) < 1e-5 * l1 and abs(p1["style"] - p2["style"]) < 1e-5 * p1["style"]
    assert float((g1 - g2).abs().max() / g1.abs().max()) < 1e-4


def test_the_shell_makes_the_same_picture(images, tmp_path):
    paths = {}
    for name in ("content", "ihc", "hubble"):
        paths[name] = tmp_path / f"{name}.png"
        images[name].save(paths[name])
    for name, m in (("m1", images["left"]), ("m2", 1 - images["left"])):
        paths[name] = tmp_path / f"{name}.png"
        Image.fromarray((m * 255).astype(np.uint8)).save(paths[name])
    args = f"style {paths['content']} {paths['ihc']} {paths['hubble']} --masks {paths['m1']} {paths['m2']}"
    assert (
        main([*args.split(), "-o", str(tmp_path / "out.png"), "--octaves", "1", "--steps", "2", "--seed", "0", "-q"])
        == 0
    )
    py = fd.style_transfer(
        str(paths["content"]),
        [str(paths["ihc"]), str(paths["hubble"])],
        masks=[str(paths["m1"]), str(paths["m2"])],
        octaves=1,
        steps=2,
        seed=0,
    )
    assert np.array_equal(np.asarray(Image.open(tmp_path / "out.png")), np.asarray(py))


@pytest.mark.parametrize(
    "masks, kwargs, exc, words",
    [
        ("ONE", {}, ValueError, r"masks: 1 mask\(s\) for 2 style image\(s\)"),
        ("TEXT", {}, ValueError, r"masks\[1\] \(notes.png\): .* is not an image"),
        ("MISSING", {}, FileNotFoundError, r"masks\[0\] \(missing.png\): no such file"),
        ("ZERO", {}, ValueError, r"masks\[1\] is 0 everywhere: style number 2 would have no region"),
        ("STACK", {}, ValueError, r"masks\[1\] is 0 everywhere"),  # a numpy (S, H, W) stack: one per style
        ("RGB", {}, ValueError, r"masks\[0\] must be a single-channel HxW mask"),
        ("RANGE", {}, ValueError, r"masks\[0\] values must be finite and in \[0, 1\]"),
        ("subject", {}, ValueError, "needs cutout_model="),
        (None, dict(cutout_model="unet.pt"), ValueError, "cutout_model is used with masks='subject' only"),
        ("DICT", {}, TypeError, r"masks\[0\] must be a path, PIL image, numpy array or tensor"),
    ],
)
def test_bad_masks_are_clear_errors(images, tmp_path, masks, kwargs, exc, words):
    ok = images["left"]
    (tmp_path / "notes.png").write_text("not an image")
    masks = {
        "ONE": [ok],
        "TEXT": [ok, str(tmp_path / "notes.png")],
        "MISSING": [tmp_path / "missing.png", ok],
        "ZERO": [ok, np.zeros_like(ok)],
        "STACK": np.stack([ok, np.zeros_like(ok)]),
        "RGB": [np.zeros((96, 128, 3), np.float32), ok],
        "RANGE": [ok * 2, ok],
        "DICT": [{"a": 1}, ok],
    }.get(masks, masks)
    with pytest.raises(exc, match=words):
        fd.style_transfer(images["content"], [images["ihc"], images["hubble"]], masks=masks, **kwargs, **FAST)


def test_the_subject_split_needs_two_styles(images):
    with pytest.raises(ValueError, match="give 2 style images, got 1"):
        fd.style_transfer(images["content"], images["ihc"], masks="subject", cutout_model=nn.Identity(), **FAST)


def test_a_bad_cutout_model_is_said_of_cutout_model_and_subject_from(images, tmp_path, capsys):
    """A missing or wrong checkpoint was said of --model, an option style does not have."""
    two = [images["ihc"], images["ihc"]]
    with pytest.raises(FileNotFoundError, match="^cutout_model: no such file"):
        fd.style_transfer(images["content"], two, masks="subject", cutout_model=tmp_path / "nope.pt", **FAST)
    Image.new("RGB", (48, 40), (90, 120, 30)).save(tmp_path / "c.png")
    args = ["style", str(tmp_path / "c.png"), str(tmp_path / "c.png"), str(tmp_path / "c.png")]
    assert main([*args, "--subject-from", str(tmp_path / "nope.pt"), "-o", str(tmp_path / "o.png")]) == 2
    assert "error: --subject-from: no such file" in capsys.readouterr().err


def test_an_animated_mask_says_its_first_frame_is_used_and_names_no_video_command(images, tmp_path):
    """It said "(dream-video works on every frame)": a style's region is one picture."""
    frames = [Image.fromarray((images["left"] * v).astype(np.uint8)) for v in (255, 128)]
    frames[0].save(tmp_path / "moving.gif", save_all=True, append_images=frames[1:])
    with pytest.warns(UserWarning, match=r"^masks\[0\] \(moving.gif\): .*moving.gif has 2 frames; the first is used$"):
        fd.style_transfer(images["content"], [images["ihc"]], masks=[tmp_path / "moving.gif"], octaves=1, steps=1)


def test_equal_weights_take_two_styles_of_unequal_contrast_equally():
    """Mixed as they were, the Gram matrix of more contrast took over: stripes and bricks at 1:1
    looked like the stripes alone (and at 5:1 too)."""
    gen = torch.Generator().manual_seed(0)
    fa, fb = (
        torch.rand(8, 50, generator=gen, dtype=torch.float64),
        torch.rand(8, 50, generator=gen, dtype=torch.float64),
    )
    a, b = fa @ fa.T, 25 * (fb @ fb.T)  # the second style 25x the first's strength

    def cos(x, y):
        return float((x * y).sum() / (x.norm() * y.norm()))

    half, more_a = R.blend([a, b], [1, 1]), R.blend([a, b], [3, 1])
    assert abs(cos(half, a / a.norm() - b / b.norm())) < 1e-9  # as near the one as the other
    assert cos(more_a, a) > cos(half, a) and float(half.norm()) == pytest.approx((a.norm() + b.norm()) / 2)
