"""Background removal: the synthetic dataset, train_unet (CPU, tiny), cutout/predict_mask,
mask reading and bad inputs (the shared training behaviour: test_training.py)."""

import json
import warnings
from unittest import mock

import numpy as np
import pytest
import torch
from PIL import Image

from fastdream import io
from fastdream.cutout import cutout, load_unet, predict_mask, read_mask, train_unet
from fastdream.cutout import pairs as cp
from fastdream.cutout import train as ct
from fastdream.data import make_cutout_dataset, make_subject_folders
from fastdream.models.unet import UNet
from tests.helpers import UNET_TINY

TINY = UNET_TINY


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return make_cutout_dataset(tmp_path_factory.mktemp("cutouts"), 12, size=48, seed=0)


@pytest.fixture(scope="module")
def trained(data, tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "unet.pt"
    return train_unet(data.images, data.masks, out, epochs=2, **TINY)


def _arr(path):
    with Image.open(path) as im:
        return np.asarray(im).copy(), im.mode, im.size


# ---------------------------------------------------------------- synthetic data


def test_dataset_files_modes_and_masks(data):
    images = sorted(p.name for p in data.images.iterdir())
    assert images == sorted(p.name for p in data.masks.iterdir()) == [f"{i:05d}.png" for i in range(12)]
    fractions, soft = [], 0
    for name in images:
        img, mode, size = _arr(data.images / name)
        mask, mmode, msize = _arr(data.masks / name)
        assert (mode, size, mmode, msize) == ("RGB", (48, 48), "L", (48, 48))
        fractions.append((mask >= 128).mean())
        soft += ((mask > 0) & (mask < 255)).sum()
        # The object differs from what is around it: inside and outside means are apart.
        inside, outside = img[mask >= 128].mean(0), img[mask == 0].mean(0)
        assert np.abs(inside - outside).max() > 5
    assert min(fractions) > 0.01 and max(fractions) < 0.9  # every image has an object, none fills it
    assert soft > 0  # anti-aliased / feathered edges


def test_dataset_is_deterministic_and_independent_of_n(data, tmp_path):
    again = make_cutout_dataset(tmp_path / "a", 3, size=48, seed=0)
    other = make_cutout_dataset(tmp_path / "b", 3, size=48, seed=1)
    for i in range(3):
        name = f"{i:05d}.png"
        assert np.array_equal(_arr(again.images / name)[0], _arr(data.images / name)[0])
        assert np.array_equal(_arr(again.masks / name)[0], _arr(data.masks / name)[0])
        assert not np.array_equal(_arr(other.masks / name)[0], _arr(data.masks / name)[0])


def test_dataset_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="n must be >= 1, got 0"):
        make_cutout_dataset(tmp_path / "x", 0)
    with pytest.raises(TypeError, match="size must be an integer"):
        make_cutout_dataset(tmp_path / "x", 2, size=32.0)
    with pytest.raises(TypeError, match="out_dir must be a path"):
        make_cutout_dataset(None, 2)
    # A billion images wrote 159,050 files (1.3 GB) in 30 s; size=10**6 ran out of memory.
    with pytest.raises(ValueError, match=r"n=1000000000 images and masks of 32x32 need about .* free there"):
        make_cutout_dataset(tmp_path / "x", 10**9, size=32)
    with pytest.raises(ValueError, match="size must be <= 8192, got 1000000"):
        make_cutout_dataset(tmp_path / "x", 4, size=10**6)
    with pytest.raises(ValueError, match=r"per_subject=1000000000 crops of 16x16 need about .* free there"):
        make_subject_folders(tmp_path / "x", {"a": np.zeros((32, 32, 3), np.uint8)}, per_subject=10**9, size=16)
    assert not (tmp_path / "x").exists()


# ---------------------------------------------------------------- mask reading rule


def test_read_mask_rule(tmp_path):
    fg = np.zeros((6, 5), bool)
    fg[1:4, 2:] = True
    cases = {
        "zero_one.png": Image.fromarray(fg.astype(np.uint8), "L"),  # 0/1: looks black
        "zero_255.png": Image.fromarray(fg.astype(np.uint8) * 255, "L"),
        "gray.png": Image.fromarray(np.where(fg, 200, 60).astype(np.uint8), "L"),
        "red.png": Image.fromarray(np.stack([fg * 255, 0 * fg, 0 * fg], -1).astype(np.uint8), "RGB"),
        "bits.png": Image.fromarray(fg),
        "sixteen.png": Image.fromarray(np.where(fg, 40000, 1000).astype(np.uint16)),
    }
    rgba = np.zeros((6, 5, 4), np.uint8)
    rgba[..., :3] = 255  # white everywhere: only the alpha tells the object
    rgba[..., 3] = fg * 255
    cases["cutout.png"] = Image.fromarray(rgba, "RGBA")
    for name, im in cases.items():
        im.save(tmp_path / name)
        assert np.array_equal(read_mask(tmp_path / name), fg), name
    # An opaque alpha channel carries no mask: the color does.
    opaque = np.concatenate([np.repeat(fg[..., None] * 255, 3, -1), np.full((6, 5, 1), 255)], -1).astype(np.uint8)
    Image.fromarray(opaque, "RGBA").save(tmp_path / "opaque.png")
    assert np.array_equal(read_mask(tmp_path / "opaque.png"), fg)


# ---------------------------------------------------------------- training


def test_a_few_steps_reduce_the_loss(data):
    # The training step of train_unet (crops, loss, Adam) on one fixed batch: 15 steps must cut the loss.
    pairs = [(f"{i:05d}", data.images / f"{i:05d}.png", data.masks / f"{i:05d}.png") for i in range(8)]
    ds = cp.PairDataset(pairs, 32, 0, cp.MAX_ZOOM, None)
    x, y = (torch.stack(t) for t in zip(*(ds[i] for i in range(8))))
    net = ct.build_model(dict(base_channels=8, depth=2, backbone=None), seed=0)
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    losses = []
    for _ in range(15):
        bce, dice = ct.loss_terms(net(x), y)
        opt.zero_grad()
        (bce + dice).backward()
        opt.step()
        losses.append((bce + dice).item())
    assert losses[-1] < 0.7 * losses[0], losses


def test_training_writes_a_checkpoint_with_metrics(data, tmp_path):
    ckpt = train_unet(data.images, data.masks, tmp_path / "sub" / "u.pt", epochs=4, lr=3e-3, **TINY)
    assert ckpt == tmp_path / "sub" / "u.pt"
    state = torch.load(ckpt, weights_only=True)
    assert state["format"] == "fastdream.unet" and state["epoch"] == 4
    c = state["config"]
    assert (c["pairs"], c["train"], c["val"]) == (12, 11, 1)
    assert c["model"]["base_channels"] == 8 and c["model"]["depth"] == 2 and c["image_size"] == 32
    losses = [h["loss"] for h in state["history"]]
    assert losses[-1] < 0.95 * losses[0], losses
    assert set(state["metrics"]) == {"loss", "val_loss", "val_iou", "val_dice"}
    assert 0.0 <= state["metrics"]["val_iou"] <= state["metrics"]["val_dice"] <= 1.0
    assert len(state["val_keys"]) == 1
    assert [h["iterations"] for h in state["history"]] == [3] * 4  # 11 crops in batches of 4
    assert not list(ckpt.parent.glob(".*"))  # no temporary files left behind


# ---------------------------------------------------------------- inference


def test_cutout_size_mode_and_only_mask(trained, data):
    src = data.images / "00003.png"
    with Image.open(src) as im:
        big = im.resize((70, 50))
    out = cutout(big, trained)
    assert out.mode == "RGBA" and out.size == (70, 50)
    assert np.array_equal(np.asarray(out)[..., :3], np.asarray(big))  # colors untouched
    mask = cutout(big, trained, only_mask=True)
    assert mask.mode == "L" and mask.size == (70, 50)
    assert np.array_equal(np.asarray(out)[..., 3], np.asarray(mask))
    hard = np.asarray(cutout(src, trained, soft=False, only_mask=True))
    assert set(np.unique(hard)) <= {0, 255}
    # The soft mask is predict_mask's probability in 8 bits (threshold 0.5: no remapping).
    p = predict_mask(big, trained)
    assert p.shape == (50, 70) and p.dtype == torch.float32 and p.min() >= 0 and p.max() <= 1
    assert np.abs(np.asarray(mask, np.float32) - p.numpy() * 255).max() <= 2.0
    # A higher threshold makes the mask tighter, soft or hard.
    assert np.asarray(cutout(big, trained, threshold=0.8, only_mask=True)).sum() < np.asarray(mask).sum()
    hard_p = predict_mask(big, trained, threshold=0.5, soft=False)
    assert set(hard_p.unique().tolist()) <= {0.0, 1.0}


def test_cutout_inputs_exif_alpha_arrays_and_model(trained, data, tmp_path):
    with Image.open(data.images / "00001.png") as im:
        rgb = im.convert("RGB")
    # EXIF orientation 6 (rotate 90): the cutout is of the upright image.
    exif = Image.Exif()
    exif[0x0112] = 6
    exif[0x010F] = "TestCam"
    rgb.resize((40, 30)).save(tmp_path / "rot.jpg", exif=exif)
    assert cutout(tmp_path / "rot.jpg", trained).size == (30, 40)
    # The photo's camera kept in every kind of cutout (a mask, a color, decontaminated lost it)
    for kw in ({}, dict(background=(0, 0, 0)), dict(only_mask=True), dict(decontaminate=True)):
        io.save_image(cutout(tmp_path / "rot.jpg", trained, **kw), tmp_path / "c.png")
        kept = Image.open(tmp_path / "c.png").getexif()
        assert kept.get(0x010F) == "TestCam" and 0x0112 not in kept, kw  # (upright: no turn for viewers to redo)
    # An input alpha multiplies the mask: transparent stays transparent.
    rgba = rgb.convert("RGBA")
    a = np.full((48, 48), 255, np.uint8)
    a[:, :10] = 0
    rgba.putalpha(Image.fromarray(a))
    assert np.asarray(cutout(rgba, trained))[:, :10, 3].max() == 0
    # numpy / tensor inputs and a model object give the same mask as the PIL image.
    model = load_unet(trained)
    assert model.image_size == 32 and not model.training
    ref = predict_mask(rgb, trained)
    torch.testing.assert_close(predict_mask(np.asarray(rgb), model), ref, rtol=0, atol=1e-6)
    t = torch.from_numpy(np.asarray(rgb).copy()).permute(2, 0, 1).float() / 255
    torch.testing.assert_close(predict_mask(t, model), ref, rtol=0, atol=1e-6)
    assert cutout(np.asarray(rgb), model).mode == "RGBA"


def test_a_deep_gray_or_rgba_palette_pil_image_is_cut_out_as_its_file_is(trained, data, tmp_path):
    """A 16-bit or float gray PIL image came back in two levels (white or black), converted by
    Pillow alone; a palette of RGBA colors (quantize() of an RGBA picture) lost its clear part."""
    with Image.open(data.images / "00002.png") as im:
        gray = np.asarray(im.convert("L"))
    want = np.asarray(cutout(Image.fromarray(gray), trained))
    for deep in (Image.fromarray(gray.astype(np.uint16) * 257), Image.fromarray(gray.astype(np.float32) / 255, "F")):
        got = np.asarray(cutout(deep, trained))
        assert np.abs(got.astype(int) - want).max() <= 1, deep.mode
    rgba = np.zeros((48, 48, 4), np.uint8)
    rgba[..., 0], rgba[..., 3] = 200, 255
    rgba[:, :20, 3] = 0
    assert np.asarray(cutout(Image.fromarray(rgba, "RGBA").quantize(), trained))[:, :20, 3].max() == 0


def test_large_image_is_predicted_at_the_training_resolution(trained):
    model = load_unet(trained)
    seen = []
    model.register_forward_pre_hook(lambda m, args: seen.append(tuple(args[0].shape)))
    big = Image.fromarray(np.random.default_rng(0).integers(0, 256, (1500, 2000, 3), dtype=np.uint8))
    out = cutout(big, model)
    assert out.size == (2000, 1500)
    assert seen == [(1, 3, 32, 43)]  # short side 32 (the checkpoint's image_size), aspect kept
    # A panorama: the long side is capped at 4x the short side.
    seen.clear()
    predict_mask(np.zeros((10, 400, 3), np.uint8), model)
    assert seen == [(1, 3, 3, 128)]
    # Resolution can be chosen per call.
    seen.clear()
    predict_mask(big, model, resolution=48)
    assert seen == [(1, 3, 48, 64)]


def test_inference_bad_inputs(trained, tmp_path):
    img = np.zeros((20, 20, 3), np.uint8)
    with pytest.raises(ValueError, match=r"threshold must be a finite number in \(0, 1\), got 1.0"):
        cutout(img, trained, threshold=1.0)
    with pytest.raises(TypeError, match="only_mask must be True or False"):
        cutout(img, trained, only_mask="yes")
    with pytest.raises(TypeError, match="model_or_checkpoint must be a UNet"):
        cutout(img, 42)
    # Another kind of network: torch's "Padding size 4 is not supported..." from deep inside.
    with pytest.raises(TypeError, match=r"Sequential is not a cutout network \(it gave \(1, 10\)\)"):
        cutout(img, torch.nn.Sequential(torch.nn.Flatten(), torch.nn.LazyLinear(10)))
    with pytest.raises(TypeError, match=r"Conv2d is not a cutout network \(it gave \(1, 2, "):
        cutout(img, torch.nn.Conv2d(3, 2, 1))
    with pytest.raises(TypeError, match="Sequential is not a cutout network .* mask for a"):
        cutout(img, torch.nn.Sequential(torch.nn.Conv2d(3, 1, 1), torch.nn.MaxPool2d(2)))
    with pytest.raises(FileNotFoundError, match="no such file"):
        cutout(img, tmp_path / "missing.pt")
    with pytest.raises(ValueError, match="one image at a time, got a batch of 2"):
        predict_mask(torch.rand(2, 3, 8, 8), trained)
    bogus = tmp_path / "bogus.pt"
    torch.save({"format": "something else"}, bogus)
    with pytest.raises(ValueError, match="not a fastdream U-Net checkpoint"):
        load_unet(bogus)
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="is not a fastdream checkpoint"):
        cutout(img, tmp_path / "junk.pt")
    with pytest.raises(FileNotFoundError, match="image: no such file"):
        cutout(tmp_path / "nope.jpg", trained)
    # a working size of 10**12 pixels went to the U-Net and the machine swapped until killed
    with pytest.raises(ValueError, match="resolution must be <= 8192"):
        cutout(img, trained, resolution=10**6)
    small_machine = mock.patch("fastdream._room.memory_budget", lambda: 2**30)
    with small_machine, pytest.raises(ValueError, match=r"resolution=8000 \(a 8000x8000 working size\) needs about"):
        cutout(img, trained, resolution=8000)


# ---------------------------------------------------------------- bad training inputs


def _copy_pairs(data, root, n=4):
    (root / "img").mkdir(parents=True)
    (root / "msk").mkdir()
    for i in range(n):
        name = f"{i:05d}.png"
        (root / "img" / name).write_bytes((data.images / name).read_bytes())
        (root / "msk" / name).write_bytes((data.masks / name).read_bytes())
    return root / "img", root / "msk"


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        (dict(epochs=0), ValueError, "epochs must be >= 1, got 0"),
        (dict(batch_size="4"), TypeError, "batch_size must be an integer, got '4'"),
        (dict(val_split=1.0), ValueError, r"val_split must be a finite number in \(0, 1\), got 1.0"),
        (dict(image_size=8), ValueError, "image_size must be >= 16 with depth=2"),
        (dict(lr=-1), ValueError, "lr must be a finite number > 0, got -1.0"),
        (dict(amp="yes"), TypeError, "amp must be True or False"),
        (dict(backbone="resnet"), ValueError, "backbone must be None"),
        (dict(device=3), TypeError, "device must be None"),
        (dict(max_minutes=0), ValueError, "max_minutes must be a finite number > 0, got 0.0"),
    ],
)
def test_bad_arguments_write_nothing(data, tmp_path, kwargs, exc, match):
    out = tmp_path / "new" / "u.pt"
    with pytest.raises(exc, match=match):
        train_unet(data.images, data.masks, out, **{**TINY, "epochs": 1, **kwargs})
    assert not out.parent.exists()


def test_bad_folders(data, tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("no images here")
    out = tmp_path / "u.pt"
    with pytest.raises(FileNotFoundError, match="images_dir: no such folder"):
        train_unet(tmp_path / "missing", data.masks, out, **TINY)
    with pytest.raises(ValueError, match="images_dir: no images found in"):
        train_unet(tmp_path / "empty", data.masks, out, **TINY)
    with pytest.raises(ValueError, match="masks_dir: no masks found in"):
        train_unet(data.images, tmp_path / "empty", out, **TINY)
    with pytest.raises(ValueError, match="same folder"):
        train_unet(data.images, data.images, out, **TINY)
    (tmp_path / "afile").write_text("x")
    with pytest.raises(ValueError, match="afile is a file, so .* cannot be written"):
        train_unet(data.images, data.masks, tmp_path / "afile" / "u.pt", **TINY)
    with pytest.raises(ValueError, match="exists and is not a file"):
        train_unet(data.images, data.masks, tmp_path / "empty", **TINY)
    # Masks whose names match no image.
    (tmp_path / "other").mkdir()
    Image.new("L", (48, 48)).save(tmp_path / "other" / "cat.png")
    with pytest.raises(ValueError, match="no image in .* has a mask of the same name.*masks: cat.png"):
        train_unet(data.images, tmp_path / "other", out, **TINY)
    assert not out.exists()


def test_corrupt_image_and_wrong_mask_size(data, tmp_path):
    images, masks = _copy_pairs(data, tmp_path)
    out = tmp_path / "u.pt"
    (images / "00001.png").write_bytes(b"\x89PNG garbage")
    with pytest.raises(ValueError, match=r"images_dir: .*00001\.png is not an image Pillow can read"):
        train_unet(images, masks, out, **TINY)
    with Image.open(data.images / "00001.png") as im:
        im.save(images / "00001.png")
    # Truncated: the header reads, the pixels do not.
    (images / "00002.png").write_bytes((data.images / "00002.png").read_bytes()[:300])
    with pytest.raises(ValueError, match=r"00002\.png could not be read"):
        train_unet(images, masks, out, **TINY)
    (images / "00002.png").write_bytes((data.images / "00002.png").read_bytes())
    Image.new("L", (40, 48)).save(masks / "00003.png")
    with pytest.raises(ValueError, match=r"mask .*00003\.png is 40x48 but image .*00003\.png is 48x48"):
        train_unet(images, masks, out, **TINY)
    assert not out.exists()
    # skip_bad: the bad pair is left out, counted, and warned about.
    with pytest.warns(UserWarning, match="skipping 1 bad pair"):
        train_unet(images, masks, out, epochs=1, skip_bad=True, **dict(TINY, batch_size=2))
    c = torch.load(out, weights_only=True)["config"]
    assert (c["pairs"], c["skipped_bad"]) == (3, 1)


def test_unpaired_files_are_skipped_with_a_warning(data, tmp_path):
    images, masks = _copy_pairs(data, tmp_path)
    Image.new("RGB", (48, 48)).save(images / "lonely.jpg")
    Image.new("L", (48, 48)).save(masks / "orphan.png")
    match = r"1 image\(s\) without a mask \(.*lonely\.jpg\) and 1 mask\(s\) without an image"
    with pytest.warns(UserWarning, match=match):
        out = train_unet(images, masks, tmp_path / "u.pt", epochs=1, **TINY)
    c = torch.load(out, weights_only=True)["config"]
    assert (c["pairs"], c["skipped_unpaired"], c["train"], c["val"]) == (4, 2, 3, 1)


def test_too_few_pairs(data, tmp_path):
    images, masks = _copy_pairs(data, tmp_path, n=1)
    with pytest.raises(ValueError, match="^images_dir: train_unet needs at least 2 image/mask pairs"):
        train_unet(images, masks, tmp_path / "u.pt", **TINY)


def test_backbone_training_smoke(data, tmp_path):
    out = train_unet(
        data.images,
        data.masks,
        tmp_path / "b.pt",
        epochs=1,
        backbone="efficientnet_lite0",
        image_size=64,
        batch_size=4,
        progress=False,
    )
    model = load_unet(out)
    assert isinstance(model, UNet) and model.config["encoder"] == "efficientnet_lite0"
    assert cutout(data.images / "00000.png", model).size == (48, 48)


# ---------------------------------------------------------------- torchrun / DDP


def test_no_warnings_on_a_clean_run(data, tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        train_unet(data.images, data.masks, tmp_path / "u.pt", epochs=1, **TINY)


# ---------------------------------------------------------------- small-data defaults, edges, folders


def test_augmented_crops_keep_image_and_mask_together(data):
    pairs = [(f"{i:05d}", data.images / f"{i:05d}.png", data.masks / f"{i:05d}.png") for i in range(4)]
    plain = cp.PairDataset(pairs, 32, 0, cp.MAX_ZOOM, None, augment=False)
    aug = cp.PairDataset(pairs, 32, 0, cp.MAX_ZOOM, None, augment=True)
    for i in range(4):
        (xa, ya), (xb, yb) = plain[i], aug[i]
        assert xb.shape == xa.shape and yb.shape == ya.shape and xb.min() >= 0 and xb.max() <= 1
        assert not torch.equal(xa, xb)  # turned and recolored
        assert torch.equal(aug[i][0], xb)  # the same crop for the same (seed, epoch, item)
        # the mask turned with the image: its area is kept (to the turn's resampling)
        assert abs(float(yb.mean()) - float(ya.mean())) < 0.15


def test_refine_keeps_size_and_range_and_follows_the_edges():
    from fastdream.cutout.refine import decontaminate, refine

    rng = np.random.default_rng(0)
    h, w = 200, 260
    yy, xx = np.mgrid[0:h, 0:w]
    alpha = np.clip((70 - np.hypot(yy - 100, xx - 130)) / 3, 0, 1).astype(np.float32)  # a disc, soft edge
    fg, bg = np.array([0.9, 0.2, 0.1], np.float32), np.array([0.1, 0.3, 0.8], np.float32)
    img = alpha[..., None] * fg + (1 - alpha[..., None]) * bg + rng.normal(0, 0.01, (h, w, 3)).astype(np.float32)
    image = torch.from_numpy(np.clip(img, 0, 1)).permute(2, 0, 1)[None]
    a = torch.from_numpy(alpha)[None, None]
    small = torch.nn.functional.interpolate(a, size=(40, 52), mode="area")
    sharp = refine(image, small)
    assert sharp.shape == a.shape and sharp.min() >= 0 and sharp.max() <= 1
    up = torch.nn.functional.interpolate(small, size=(h, w), mode="bilinear", align_corners=False)
    band = torch.nn.functional.max_pool2d(((a > 0.01) & (a < 0.99)).float(), 9, 1, 4) > 0
    assert (sharp - a).abs()[band].mean() < 0.5 * (up - a).abs()[band].mean()
    clean = decontaminate(image, a)
    edge = ((a > 0.2) & (a < 0.8))[0, 0]
    raw_err = (image[0, :, edge] - torch.from_numpy(fg)[:, None]).abs().mean()
    assert (clean[0, :, edge] - torch.from_numpy(fg)[:, None]).abs().mean() < 0.5 * raw_err  # the blue is gone


def test_tta_background_and_decontaminated_cutouts(trained, data):
    src = data.images / "00003.png"
    p = predict_mask(src, trained, tta=True, refine=False)
    model = load_unet(trained)
    a = predict_mask(src, model, refine=False)
    b = predict_mask(Image.open(src).transpose(Image.FLIP_LEFT_RIGHT), model, refine=False).flip(-1)
    torch.testing.assert_close(p, (a + b) / 2, atol=1e-5, rtol=0)
    on_white = cutout(src, trained, background=(255, 255, 255))
    assert on_white.mode == "RGB" and on_white.size == Image.open(src).size
    mask = np.asarray(cutout(src, trained, only_mask=True))
    arr = np.asarray(on_white)
    assert (arr[mask == 0] == 255).all()  # pure background where the mask is empty
    half = cutout(src, trained, background=(0, 0, 0, 128))
    assert half.mode == "RGBA"
    assert cutout(src, trained, decontaminate=True).mode == "RGBA"
    with pytest.raises(ValueError, match=r"background must be a color, \(R, G, B\) or \(R, G, B, A\), got \(1, 2\)"):
        cutout(src, trained, background=(1, 2))
    for ignored in (dict(background=(1, 2, 3)), dict(decontaminate=True)):  # they did nothing, without a word
        with pytest.raises(ValueError, match="only_mask gives the mask alone"):
            cutout(src, trained, only_mask=True, **ignored)
    with pytest.raises(ValueError, match=r"background\[0\] must be in \[0, 255\]"):
        cutout(src, trained, background=(300, 0, 0))
    # an array of three numbers is a color too ("must be a color, (R, G, B) ..., got array([255, 255, 255])")
    for same in (np.array([255, 255, 255]), torch.tensor([255, 255, 255]), "white", "#ffffff"):
        assert np.array_equal(np.asarray(cutout(src, trained, background=same)), arr)
    assert cutout(src, trained, background="#00000080").mode == "RGBA"
    with pytest.raises(ValueError, match="background: 'whit' is not a color name"):
        cutout(src, trained, background="whit")


def test_cutout_folder_resumes_and_skips_bad_files(trained, data, tmp_path, capsys):
    from fastdream.cutout import cutout_folder

    src = tmp_path / "in"
    src.mkdir()
    for i in range(3):
        (src / f"{i}.png").write_bytes((data.images / f"{i:05d}.png").read_bytes())
    (src / "bad.png").write_text("nope")
    r = cutout_folder(src, tmp_path / "out", trained, background=(0, 255, 0))
    assert sorted(p.name for p in (tmp_path / "out").glob("*.png")) == ["0.png", "1.png", "2.png"]
    assert len(r.written) == 3 and len(r.failed) == 1 and "skipping" in capsys.readouterr().err
    (tmp_path / "out" / "2.png").unlink()
    r = cutout_folder(src, tmp_path / "out", trained, background=(0, 255, 0))
    assert [p.name for p in r.written] == ["2.png"] and len(r.skipped) == 2
    # A default spelled out is the same settings (it was refused: "threshold: not recorded before")
    (tmp_path / "out" / "2.png").unlink()
    r = cutout_folder(src, tmp_path / "out", trained, background=(0, 255, 0), threshold=0.5, soft=True, refine=True)
    assert [p.name for p in r.written] == ["2.png"] and len(r.skipped) == 2
    # ... and so is the color in other words (it was recorded as given: "stored '(0, 255, 0)', now 'array(...)'")
    for same in (np.array([0, 255, 0]), "#00ff00", [0, 255, 0], (0, 255, 0, 255), "#00ff00ff"):
        (tmp_path / "out" / "2.png").unlink()
        r = cutout_folder(src, tmp_path / "out", trained, background=same)
        assert [p.name for p in r.written] == ["2.png"] and len(r.skipped) == 2
    # ... and folders recorded as fastdream did: the shell's --bg-color as a list, a default spelled out
    record = tmp_path / "out" / ".fastdream-settings.json"
    for key, older in (("background", "[0, 255, 0]"), ("threshold", "0.5")):
        kept = json.loads(record.read_text())
        kept["cutout"][key] = older
        record.write_text(json.dumps(kept))
        (tmp_path / "out" / "2.png").unlink()
        r = cutout_folder(src, tmp_path / "out", trained, background=(0, 255, 0))
        assert [p.name for p in r.written] == ["2.png"] and len(r.skipped) == 2
    with pytest.raises(ValueError, match="background must be"):
        cutout_folder(src, tmp_path / "o2", trained, background=(1,))
    assert not (tmp_path / "o2").exists()
    # hard cutouts go into GIFs as a single file's do (the folder run said GIF cannot hold them)
    r = cutout_folder(src, tmp_path / "gifs", trained, format="gif", soft=False)
    assert len(r.written) == 3 and Image.open(r.written[0]).format == "GIF"
    with pytest.raises(ValueError, match="gif cannot hold the cutouts' soft transparency"):
        cutout_folder(src, tmp_path / "soft", trained, format="gif")
    with pytest.raises(
        ValueError, match=r"bmp cannot hold .* or pass background=\(R, G, B\)"
    ):  # (only JPEG and GIF were)
        cutout_folder(src, tmp_path / "bmp", trained, format="bmp")


@pytest.mark.parametrize("inner", ["masks", "images"])
def test_a_folder_inside_the_other_is_only_left_out_of_the_outer(data, tmp_path, inner):
    """photos/ with its masks in photos/masks/ was "no masks found": every mask lies under photos/,
    so all were dropped (and the other way round, every image)."""
    import shutil

    from fastdream.cutout.pairs import find_pairs

    outer, nested = tmp_path / "outer", tmp_path / "outer" / inner
    shutil.copytree(data.masks if inner == "masks" else data.images, nested)
    for f in (data.images if inner == "masks" else data.masks).iterdir():
        shutil.copy(f, outer / f.name)
    images, masks = (outer, nested) if inner == "masks" else (nested, outer)
    pairs = find_pairs(images, masks)[0]
    assert len(pairs) == 12 and all(img.parent == images and m.parent == masks for _, img, m in pairs)


def test_a_resume_with_other_settings_says_so(data, tmp_path):
    """train_unet resumed with another batch size and learning rate without a word (the other
    trainers say it), and its checkpoint then recorded them as the whole run's."""
    out = tmp_path / "u.pt"
    train_unet(data.images, data.masks, out, epochs=1, **TINY)
    with pytest.warns(
        UserWarning,
        match=r"train_unet: resuming .* with other settings from here on \(lr: .*batch_size: stored 4, now 2\)",
    ):
        train_unet(data.images, data.masks, out, epochs=2, **{**TINY, "batch_size": 2, "lr": 0.01})


def test_a_resume_keeps_its_validation_split_and_says_so(data, tmp_path):
    """Another val_split on resume was ignored without a word (the split is the checkpoint's)."""
    out = tmp_path / "u.pt"
    train_unet(data.images, data.masks, out, epochs=1, **TINY)
    stored = torch.load(out, weights_only=True)["config"]["val_split"]
    with pytest.warns(
        UserWarning,
        match=rf"train_unet: resuming .* keeps what its first run drew \(val_split: stored {stored}, now 0.5\)",
    ):
        train_unet(data.images, data.masks, out, epochs=2, **{**TINY, "val_split": 0.5})
    assert torch.load(out, weights_only=True)["config"]["val_split"] == stored  # the record says the split it used


def test_encoder_options_without_an_encoder_are_refused(data, tmp_path, capsys):
    """--backbone none --freeze-epochs 1 --encoder-lr 0.2 trained the plain U-Net without a word."""
    from fastdream.cli import main

    with pytest.raises(ValueError, match="freeze_epochs is for a pretrained encoder"):
        train_unet(data.images, data.masks, tmp_path / "u.pt", freeze_epochs=1, **TINY)
    args = ["train-unet", str(data.images), str(data.masks), "-o", str(tmp_path / "u.pt"), "--backbone", "none"]
    assert main([*args, "--encoder-lr", "0.2"]) == 2
    assert "--encoder-lr and --freeze-epochs are for the pretrained encoder" in capsys.readouterr().err
    assert not (tmp_path / "u.pt").exists()


def test_a_cutout_datasets_seed_past_64_bits_is_refused_before_anything_is_drawn(tmp_path):
    """10**400 was taken (every other seed stays below 2**63)."""
    with pytest.raises(ValueError, match=r"^seed must be <= 9223372036854775807"):
        make_cutout_dataset(tmp_path / "d", 2, size=32, seed=10**400)
    assert not (tmp_path / "d").exists()


def test_a_bad_checkpoint_is_said_of_model_or_checkpoint(tmp_path, capsys):
    """cutout(img, '') and cutout(img, 'nope.pt') named "checkpoint:", which is load_unet's
    argument, not cutout's; the command line said it of no option it has (--model)."""
    from fastdream.cli import main

    Image.new("RGB", (40, 32)).save(tmp_path / "p.png")
    (tmp_path / "fake.pt").write_text("not a checkpoint")
    for given, exc, words in [
        ("", ValueError, "the path is empty"),
        (tmp_path / "nope.pt", FileNotFoundError, "no such file"),
        (tmp_path / "fake.pt", ValueError, "is not a fastdream checkpoint"),
    ]:
        with pytest.raises(exc, match=f"^model_or_checkpoint: .*{words}"):
            cutout(tmp_path / "p.png", given)
    assert (
        main(["cutout", str(tmp_path / "p.png"), "--model", str(tmp_path / "nope.pt"), "-o", str(tmp_path / "o.png")])
        == 2
    )
    assert f"error: --model: no such file: {tmp_path / 'nope.pt'}" in capsys.readouterr().err


def test_a_folders_arguments_are_checked_before_its_checkpoint_is_read(tmp_path):
    """cutout_folder read (and built) the U-Net before it looked at its folders and switches."""
    from fastdream.cutout import cutout_folder

    (tmp_path / "in").mkdir()
    with pytest.raises(ValueError, match="output_dir: .* lies inside the input folder"):
        cutout_folder(tmp_path / "in", tmp_path / "in" / "out", tmp_path / "no-such.pt")
    with pytest.raises(TypeError, match="progress must be True or False"):
        cutout_folder(tmp_path / "in", tmp_path / "out", tmp_path / "no-such.pt", progress="yes")
