"""fastdream.io.images: every image kind to an RGB float tensor and back, unchanged in kind, size,
channels and dtype; masks; the errors; saving."""

import numpy as np
import pytest
import torch
from PIL import Image, ImageCms

from fastdream import io

H, W = 5, 7
RNG = np.random.default_rng(0)
PIXELS = {c: RNG.integers(0, 256, (H, W, c), dtype=np.uint8) for c in (1, 2, 3, 4)}
MODES = {"L": 1, "LA": 2, "RGB": 3, "RGBA": 4}


def pil(mode):
    a = PIXELS[MODES[mode]]
    return Image.fromarray(a[..., 0] if mode == "L" else a, mode)


def restored(image):
    loaded = io.load(image)
    assert loaded.rgb.shape == (loaded.rgb.shape[0], 3, H, W) and loaded.rgb.dtype == torch.float32
    assert loaded.rgb.is_contiguous() and loaded.rgb.min() >= 0 and loaded.rgb.max() <= 1
    return loaded, loaded.restore(loaded.rgb)


@pytest.mark.parametrize("mode", list(MODES))
def test_pil_images_come_back_identical(mode, tmp_path):
    im = pil(mode)
    loaded, out = restored(im)
    assert isinstance(out, Image.Image) and out.mode == mode and out.size == (W, H)
    assert np.array_equal(np.asarray(out), np.asarray(im))
    assert (loaded.alpha is not None) == (mode in ("LA", "RGBA"))
    im.save(tmp_path / "x.png")
    _, from_path = restored(tmp_path / "x.png")  # a path comes back as a PIL image
    assert from_path.mode == mode and np.array_equal(np.asarray(from_path), np.asarray(im))
    _, from_str = restored(str(tmp_path / "x.png"))
    assert isinstance(from_str, Image.Image)


def test_palette_images_work_in_rgb_or_rgba():
    p = pil("RGB").convert("P")
    _, out = restored(p)
    assert out.mode == "RGB" and np.array_equal(np.asarray(out), np.asarray(p.convert("RGB")))
    p.info["transparency"] = 0
    assert restored(p)[1].mode == "RGBA"


def test_gray_is_the_bt601_luma_of_the_result():
    loaded = io.load(pil("L"))
    red = torch.zeros_like(loaded.rgb)
    red[:, 0] = 1.0
    assert np.all(np.asarray(loaded.restore(red)) == 76)  # round(0.299 * 255), as Pillow's convert("L")
    assert np.all(np.asarray(Image.new("RGB", (1, 1), (255, 0, 0)).convert("L")) == 76)


@pytest.mark.parametrize("channels", ["HxW", 1, 2, 3, 4])
@pytest.mark.parametrize("dtype", [np.uint8, np.float32, np.float64])
def test_numpy_arrays_keep_shape_dtype_and_values(channels, dtype):
    a = PIXELS[channels] if channels != "HxW" else PIXELS[1][..., 0]
    a = a if dtype == np.uint8 else (a / 255).astype(dtype)
    loaded, out = restored(a)
    assert isinstance(out, np.ndarray) and out.shape == a.shape and out.dtype == a.dtype
    if dtype == np.float64:  # worked on in float32
        np.testing.assert_allclose(out, a, atol=1e-6)
    else:
        assert np.array_equal(out, a) if dtype == np.uint8 else np.allclose(out, a, atol=1e-6)
        if channels in (2, 4):
            assert np.array_equal(out[..., -1], a[..., -1])  # alpha passes through untouched


@pytest.mark.parametrize("shape", [(3, H, W), (1, H, W), (4, H, W), (2, 3, H, W), (2, 2, H, W)])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16])
def test_tensors_keep_shape_dtype_and_values(shape, dtype):
    t = torch.rand(shape, generator=torch.Generator().manual_seed(0)).to(dtype)
    loaded, out = restored(t)
    assert isinstance(out, torch.Tensor) and out.shape == t.shape and out.dtype == dtype
    assert loaded.rgb.shape[0] == (shape[0] if len(shape) == 4 else 1)
    torch.testing.assert_close(out, t, atol=1e-6 if dtype != torch.float16 else 1e-3, rtol=0)


def test_restore_takes_a_new_alpha_and_restore_resized_resizes_it():
    loaded = io.load(pil("RGBA"))
    out = loaded.restore(loaded.rgb, torch.ones(1, 1, H, W))
    assert np.all(np.asarray(out)[..., 3] == 255)
    small = loaded.restore_resized(torch.rand(1, 3, 3, 4))
    assert small.mode == "RGBA" and small.size == (4, 3)


def test_exif_orientation_is_applied(tmp_path):
    exif = Image.Exif()
    exif[0x0112] = 6  # rotated 90 degrees: shown as portrait
    pil("RGB").save(tmp_path / "r.jpg", exif=exif.tobytes())
    assert io.load(tmp_path / "r.jpg").rgb.shape[-2:] == (W, H)
    assert io.load_pil(tmp_path / "r.jpg").size == (H, W)


@pytest.mark.parametrize(
    "image, exc, words",
    [
        (np.zeros((2, 2, 3), np.int32), TypeError, "uint8 or float"),
        (np.zeros((2, 2, 2, 3), np.uint8), ValueError, "HxW or HxWxC"),
        (np.zeros((2, 2, 5), np.uint8), ValueError, "1, 2, 3 or 4 channels"),
        (np.full((2, 2, 3), 1.5, np.float32), ValueError, r"in \[0, 1\]"),
        (np.full((2, 2, 3), np.nan, np.float32), ValueError, "finite"),
        (torch.zeros(3, 2, 2, dtype=torch.uint8), TypeError, "float in"),
        (torch.zeros(2, 2), ValueError, r"\(C, H, W\)"),
        ([[0.0]], TypeError, "got list"),
    ],
)
def test_bad_images_are_refused_naming_the_parameter(image, exc, words):
    with pytest.raises(exc, match=words) as e:
        io.load(image, "content")
    assert "content" in str(e.value)


def test_bad_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file"):
        io.load(tmp_path / "missing.png")
    with pytest.raises(IsADirectoryError):
        io.load(tmp_path)
    (tmp_path / "x.png").write_bytes(b"not an image")
    with pytest.raises(ValueError, match="not an image"):
        io.load(tmp_path / "x.png")


def test_a_rounding_error_past_one_is_clamped_not_refused():
    assert io.check_range(torch.tensor([1.0 + 1e-6, -1e-6]), "x").tolist() == [1.0, 0.0]


def test_masks_from_every_kind_are_resized_to_the_image():
    m = io.load_mask(np.full((2 * H, 2 * W), 255, np.uint8), (H, W))  # the picture's shape at another scale
    assert m.shape == (1, 1, H, W) and torch.all(m == 1)
    with pytest.raises(ValueError, match=f"mask is 4x4 and the picture {W}x{H}: .* would be stretched"):
        io.load_mask(np.full((4, 4), 255, np.uint8), (H, W))
    for shape in ((1, 7), (7, 1), (1, 1, 7), (1, 7, 1), (1, 1, 1, 7)):  # a side of 1 is a side, not a channel
        side = (1, 7) if shape[-1] == 7 else (7, 1)
        assert io.load_mask(np.ones(shape), side).shape[-2:] == side
    assert torch.all(io.load_mask(np.ones((H, W), bool), (H, W)) == 1)
    assert torch.all(io.load_mask(Image.new("RGB", (W, H), (0, 0, 0)), (H, W)) == 0)


@pytest.mark.parametrize("mask", [np.zeros((0, 0)), torch.zeros(0, 0), np.zeros((5, 0), np.uint8)])
def test_a_mask_of_no_pixels_is_said_to_be_empty(mask):
    """Style's masks divided by its width (ZeroDivisionError); the dream's said "0 everywhere"."""
    with pytest.raises(ValueError, match=r"^masks\[0\] is empty: a mask of \d+x\d+ pixels"):
        io.load_mask(mask, (32, 32), "masks[0]", empty="nothing would be styled")


def test_a_mask_with_transparency_is_its_alpha_and_an_empty_one_can_be_refused():
    """A region painted on a clear layer (black paint, as editors export it) was read as its gray:
    0 everywhere, and the dream left the picture as it was."""
    painted = Image.new("RGBA", (W, H), (0, 0, 0, 0))
    painted.paste((0, 0, 0, 255), (0, 0, W // 2, H))
    m = io.load_mask(painted, (H, W))[0, 0]
    assert torch.all(m[:, : W // 2] == 1) and torch.all(m[:, W // 2 :] == 0)
    opaque = Image.new("RGBA", (W, H), (255, 255, 255, 255))  # alpha all opaque: its gray counts
    assert torch.all(io.load_mask(opaque, (H, W)) == 1)
    with pytest.raises(ValueError, match="mask is 0 everywhere: it would do nothing"):
        io.load_mask(np.zeros((H, W), np.uint8), (H, W), empty="it would do nothing")
    assert torch.equal(io.load_mask(torch.full((1, H, W), 0.5), (H, W)), torch.full((1, 1, H, W), 0.5))
    with pytest.raises(ValueError, match="single-channel"):
        io.load_mask(np.zeros((H, W, 3), np.float32), (H, W))


def test_save_image_writes_atomically_and_refuses_alpha_in_jpeg(tmp_path):
    assert io.save_image(pil("RGBA"), tmp_path / "a.png").is_file()
    with pytest.raises(ValueError, match="cannot hold transparency"):
        io.save_image(pil("RGBA"), tmp_path / "a.jpg")
    with pytest.raises(ValueError, match="unknown image extension"):
        io.save_image(pil("RGB"), tmp_path / "a.nope")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png"]


@pytest.mark.parametrize("ext", ["webp", "gif", "jpg", "bmp", "png", "tif"])
@pytest.mark.parametrize("mode", ["I;16", "F"])
def test_a_deep_gray_picture_is_written_in_8_bits_as_read_where_its_format_cannot_hold_it(tmp_path, mode, ext):
    """Into WebP and GIF, Pillow's own conversion clipped 16-bit gray at 255 (a picture all white)
    and float gray at 1 (all black), and the run said it had written it."""
    ramp = np.linspace(0, 1, 64 * 48).reshape(48, 64)
    deep = (
        Image.fromarray((ramp * 65535).astype(np.uint16))
        if mode == "I;16"
        else Image.fromarray(ramp.astype(np.float32))
    )
    with Image.open(io.save_image(deep, tmp_path / f"out.{ext}")) as back:
        levels = np.asarray(back.convert("L") if back.mode in ("RGB", "P") else back, np.float64)
        white = {"I;16": 65535, "F": 1.0}.get(back.mode, 255)
    assert np.abs(levels / white - ramp).max() < 0.03, (back.mode, levels.min(), levels.max())


@pytest.mark.parametrize("low_memory", [False, True])
def test_a_pictures_color_profile_reaches_the_output(tmp_path, low_memory):
    """The ICC profile was dropped: a wide-gamut photo's dream showed shifted colors."""
    import fastdream as fd

    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    Image.new("RGB", (40, 32), (200, 60, 30)).save(tmp_path / "in.jpg", icc_profile=icc)
    out = fd.dream(str(tmp_path / "in.jpg"), steps=1, octaves=1, low_memory=low_memory)
    assert out.info.get("icc_profile") == icc
    io.save_image(out, tmp_path / "out.png")
    assert Image.open(tmp_path / "out.png").info.get("icc_profile") == icc
    cmyk = Image.new("CMYK", (8, 8))
    cmyk.info["icc_profile"] = icc  # a CMYK profile does not describe the RGB it becomes
    assert io.color_profile(cmyk) is None


@pytest.mark.filterwarnings("ignore:image. low_memory dreams I;16 gray in 8 bits")  # (said, and tested, elsewhere)
@pytest.mark.parametrize("low_memory", [False, True])
@pytest.mark.parametrize("ext, mode", [(".png", "RGB"), (".jpg", "RGB"), (".tif", "RGB"), (".png", "I;16")])
def test_a_pictures_print_resolution_reaches_the_output(tmp_path, ext, mode, low_memory):
    """The dpi was dropped: a 300 dpi scan's dream printed at 72 dpi, four times its size."""
    import fastdream as fd

    src = tmp_path / f"in{ext}"
    Image.new(mode, (40, 32), 120).save(src, dpi=(300, 300))
    out = fd.dream(str(src), steps=1, octaves=1, low_memory=low_memory)
    for out_ext in (".png", ".jpg", ".tif"):
        io.save_image(out, tmp_path / f"out{out_ext}")
        assert Image.open(tmp_path / f"out{out_ext}").info["dpi"] == pytest.approx((300, 300), abs=0.01)


@pytest.mark.parametrize("low_memory", [False, True])
def test_a_photos_exif_record_reaches_the_output_upright(tmp_path, low_memory):
    """`dream photo.jpg -o photo.jpg --overwrite` dropped the camera, the date and the GPS of the
    photo it replaced; the result keeps them, without the orientation (it is upright) or the size."""
    import fastdream as fd

    exif = Image.Exif()
    exif[0x010F], exif[0x0112] = "MyCamera", 6  # make; orientation: turn 90 degrees
    exif.get_ifd(0x8769).update({0x9003: "2024:01:01 10:00:00", 0xA002: 40, 0xA003: 32})
    Image.new("RGB", (40, 32), (200, 60, 30)).save(tmp_path / "in.jpg", exif=exif.tobytes())
    out = fd.dream(str(tmp_path / "in.jpg"), steps=1, octaves=1, low_memory=low_memory)
    assert out.size == (32, 40)  # upright
    for ext in (".jpg", ".png", ".webp"):
        kept = Image.open(io.save_image(out, tmp_path / f"out{ext}")).getexif()
        assert kept.get(0x010F) == "MyCamera" and 0x0112 not in kept, ext
        assert dict(kept.get_ifd(0x8769)) == {0x9003: "2024:01:01 10:00:00"}, ext
    # A record over JPEG's 64 KB (a long comment) failed the save at the very end: left out there.
    exif[0x9286] = "x" * 70_000
    Image.new("RGB", (40, 32)).save(tmp_path / "long.png", exif=exif.tobytes())
    out = fd.dream(str(tmp_path / "long.png"), steps=1, octaves=1, low_memory=low_memory)
    assert io.save_image(out, tmp_path / "long.jpg").is_file()
    assert Image.open(io.save_image(out, tmp_path / "long2.png")).getexif().get(0x010F) == "MyCamera"


def test_a_resume_refusal_says_what_changed_of_a_file():
    """Every changed hash said "another file" (also of a picture given in memory), also where there was none before, or one fewer."""
    diff = io.settings_diff(
        {"guide_sha256": None, "mask_sha256": "ab", "input_sha256": "c", "styles_sha256": ["a", "b"]},
        {"guide_sha256": "fb", "mask_sha256": None, "input_sha256": "d", "styles_sha256": ["a"]},
    )
    assert diff == [
        "guide: none before, one now",
        "input: its contents differ",
        "mask: one before, none now",
        "styles: 2 before, 1 now",
    ]


def test_a_resized_result_keeps_the_print_size_not_the_resolution(tmp_path):
    """A style at 2x the scan's size was written at the scan's 300 dpi: it printed twice as large."""
    import fastdream as fd

    Image.new("RGB", (40, 32), (90, 120, 60)).save(tmp_path / "scan.png", dpi=(300, 300))
    style = Image.new("RGB", (32, 32), (200, 30, 30))
    out = fd.style_transfer(str(tmp_path / "scan.png"), style, size=80, steps=1, octaves=1, seed=0)
    assert out.size == (80, 64) and out.info["dpi"] == pytest.approx((600, 600), abs=0.1)


def test_no_output_goes_into_a_videos_frames_folder(tmp_path):
    """A dream-video written into a zoom's frames folder was taken for its last frame by the next
    video made of that folder."""
    frames = tmp_path / "z_frames"
    frames.mkdir()
    (frames / "frame_00000.png").write_bytes(b"")
    (frames / "zoom_settings.json").write_text("{}")
    with pytest.raises(
        ValueError, match=r"^out: .*in.gif would go into .*z_frames, a video's frames folder \(it holds"
    ):
        io.check_not_input("out", frames / "in.gif", [])
    with pytest.raises(ValueError, match=r"^out: .*z_frames is a video's frames folder"):  # a folder run into it
        io.check_frames_folder("out", frames)
    io.check_frames_folder("out", frames / "sub")  # (its listing is not recursive)
    assert io.check_not_input("out", frames, [], folder=True)  # (the video's own frames_dir is checked so)
    assert io.check_not_input("out", frames / "frame_00000.png", [])  # a frame touched up in place: one already
    (frames / "zoom_settings.json").unlink()  # (a folder of frames of the user's own: theirs to fill)
    (frames / "camera_settings.json").write_text("{}")  # (with a record of theirs, not a video's)
    assert io.check_not_input("out", frames / "in.gif", []) == frames / "in.gif"


def test_the_frames_folders_records_are_the_videos_own():
    from fastdream.video import coherent, styled, zoom

    assert set(io.FRAMES_RECORDS) == {zoom.SETTINGS_NAME, coherent.SETTINGS_NAME, styled.SETTINGS_NAME}
