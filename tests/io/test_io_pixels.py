"""fastdream.io.pixels: images kept as they came, read and written a band of rows at a time."""

import numpy as np
import pytest
import torch
from PIL import Image

from fastdream.io.pixels import Pixels


def test_pixels_read_rows_in_place():
    arr = np.arange(4 * 5 * 3, dtype=np.uint8).reshape(4, 5, 3)
    p = Pixels.of(arr)
    assert p.data.data_ptr() == torch.from_numpy(arr).data_ptr()  # the array itself, not a copy
    rows = p.rgb(torch.tensor([2, 0]))
    assert torch.equal(rows[0, :, 0] * 255, torch.from_numpy(arr[2]).permute(1, 0).float())


@pytest.mark.parametrize(
    "image",
    [
        np.random.default_rng(0).integers(0, 256, (6, 5, 4), dtype=np.uint8),
        np.random.default_rng(1).integers(0, 256, (6, 5), dtype=np.uint8),
        np.random.default_rng(2).random((6, 5, 2)).astype(np.float64),
        Image.fromarray(np.random.default_rng(3).integers(0, 256, (6, 5, 3), dtype=np.uint8)),
        Image.fromarray(np.random.default_rng(4).integers(0, 256, (6, 5), dtype=np.uint8)).convert("P"),
        torch.rand(2, 3, 6, 5, dtype=torch.float64),
        torch.rand(1, 6, 5),
    ],
    ids=["rgba-u8", "gray-u8", "la-f64", "pil-rgb", "pil-p", "tensor4d", "tensor3d"],
)
def test_rows_written_back_give_the_input_in_its_kind(image):
    # Reading every row and writing it back unchanged is the identity (up to float32).
    p = Pixels.of(image)
    for band in (torch.arange(0, 4), torch.arange(4, 6)):
        p.write(band, p.rgb(band))
    out = p.result()
    assert type(out) is type(image) or isinstance(out, Image.Image)
    if isinstance(image, Image.Image):
        want = image if image.mode != "P" else image.convert("RGB")
        assert out.mode == want.mode and np.array_equal(np.asarray(out), np.asarray(want))
    elif isinstance(image, np.ndarray):
        assert out.shape == image.shape and out.dtype == image.dtype
        np.testing.assert_allclose(out, image, atol=1e-6 if image.dtype != np.uint8 else 0)
    else:
        assert out.shape == image.shape and out.dtype == image.dtype
        torch.testing.assert_close(out, image, atol=1e-6, rtol=0)


def test_gray_output_is_the_luma():
    p = Pixels.of(np.zeros((2, 3), np.uint8))
    red = torch.zeros(1, 3, 2, 3)
    red[:, 0] = 1.0
    p.write(torch.arange(2), red)
    assert np.all(p.result() == 76)  # round(0.299 * 255), as Pillow's convert("L")


def test_restore_resized_gives_a_smaller_picture_of_the_input_kind_with_its_alpha():
    rgba = np.zeros((8, 10, 4), np.uint8)
    rgba[..., 3] = 200
    out = Pixels.of(rgba).restore_resized(torch.ones(1, 3, 4, 5))
    assert out.shape == (4, 5, 4) and out.dtype == np.uint8
    assert np.all(out[..., :3] == 255) and np.all(out[..., 3] == 200)
    t = Pixels.of(torch.rand(2, 1, 8, 10, dtype=torch.float64)).restore_resized(torch.zeros(2, 3, 4, 5))
    assert t.shape == (2, 1, 4, 5) and t.dtype == torch.float64
