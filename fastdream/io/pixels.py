"""Images kept as they came (8-bit stays 8-bit), read and written a band of rows at a time: the
input and output of the low-memory dream (:mod:`fastdream.dream.huge`).

:func:`fastdream.io.load` turns every image into float32 (12 bytes per pixel, several copies on
the way); a 16384² print is 268 megapixels, so that alone is 3.2 GB a copy. :class:`Pixels` keeps
the input's own buffer (a uint8 image costs 3 bytes per pixel, read in place), hands out rows as
float32 in [0, 1] on demand, and collects the result in a buffer of the input's kind.
"""

from __future__ import annotations

import os
import warnings

import numpy as np
import torch
from PIL import Image

from fastdream import _checks, _malloc
from fastdream._warnings import warn
from fastdream.io.convert import back_to_mode, deep_gray, from_uint8, quantize, standard
from fastdream.io.images import check_pixels, check_range, is_channels_last, load_pil, opened, upright
from fastdream.io.profile import returned_profile, with_profile
from fastdream.ops.luma import luma

#: Memory of the low-memory dream per pixel of its input, all told (bench/RESULTS.md: 21-27 bytes).
LOW_MEMORY_BYTES = 27


class Pixels:
    """An image as (N, H, W, C) rows: uint8 or float32, C in 1..4 (gray, gray+alpha, RGB, RGBA).

    Shape:
        :meth:`rgb` returns (N, 3, len(rows), W) float32 in [0, 1] (channels_last); :meth:`write`
        takes the same for the output rows.

    Examples:
        >>> import numpy as np
        >>> p = Pixels.of(np.full((4, 5, 3), 255, np.uint8))
        >>> p.size, tuple(p.rgb(torch.tensor([1, 2])).shape)
        ((4, 5), (1, 3, 2, 5))
    """

    def __init__(self, data: torch.Tensor, finish, owned: bool = False):
        self.data = data  # (N, H, W, C), the input's own memory where it can be
        self.n, self.h, self.w, self.c = data.shape
        # A copy of our own (a decoded PIL image) takes the output in place: each band of rows is
        # read before it is written, and nothing reads it after.
        self.out = data if owned else None
        self._finish = finish

    @property
    def size(self) -> tuple[int, int]:
        return self.h, self.w

    @classmethod
    def of(cls, image, name: str = "image") -> Pixels:
        """The pixels of a path, PIL image, numpy array or tensor (the kinds ``fastdream.dream`` takes)."""
        if isinstance(image, (str, os.PathLike)):
            with opened(image, name) as im:  # its work's memory too, from the header: before decoding
                check_pixels(name, image, im.size, im.mode, LOW_MEMORY_BYTES)
            image = load_pil(image, name, keep_mode=True)  # (a 16-bit file came back 8-bit, its PIL image 16-bit)
        if isinstance(image, Image.Image):
            check_pixels(name, "the image", image.size, image.mode, LOW_MEMORY_BYTES, decoded=True)
            kept, back = returned_profile(image), back_to_mode(image)
            if deep_gray(image):  # (automatic over 4096x4096: a print's tones were posterized without a word)
                warn(
                    f"{name}: low_memory dreams {image.mode} gray in 8 bits: the result comes back in its mode, "
                    "with 256 levels; pass low_memory=False to keep its depth (more memory)"
                )
            image = standard(upright(image, name), name)  # 16-bit scaled, palette transparency kept as alpha
            mode = image.mode
            arr = np.array(image)
            arr = arr[..., None] if arr.ndim == 2 else arr
            finish = lambda out: with_profile(back(Image.fromarray(_squeeze(out[0].numpy()), mode)), kept)
            return cls(torch.from_numpy(arr)[None], finish, True)
        if isinstance(image, np.ndarray):
            if image.ndim not in (2, 3):
                raise ValueError(f"{name} as a numpy array must be HxW or HxWxC, got shape {image.shape}")
            _fits(name, image.shape[0] * image.shape[1])
            gray2d = image.ndim == 2
            arr = image[..., None] if gray2d else image
            if arr.dtype == np.uint8:
                t = _read_only(np.ascontiguousarray(arr))
            elif np.issubdtype(arr.dtype, np.floating):
                t = check_range(torch.from_numpy(np.ascontiguousarray(arr, dtype=np.float32)), name)
            else:
                raise TypeError(f"{name} as a numpy array must be uint8 or float in [0, 1], got dtype {arr.dtype}")
            dtype = image.dtype

            def finish_array(out):
                y = (out[0, ..., 0] if gray2d else out[0]).numpy().astype(dtype, copy=False)
                if not gray2d and arr.shape[-1] in (2, 4) and dtype not in (np.uint8, np.float32):
                    y[..., -1] = arr[..., -1]  # the input's own alpha, not its float32 copy
                return y

            return cls(t[None], finish_array)
        if isinstance(image, torch.Tensor):
            if not image.is_floating_point():
                raise TypeError(f"{name} as a tensor must be float in [0, 1], got {image.dtype}")
            if image.dim() not in (3, 4):
                raise ValueError(
                    f"{name} as a tensor must be (C, H, W) or (N, C, H, W), got shape {tuple(image.shape)}"
                )
            _fits(name, image.shape[-1] * image.shape[-2] * (image.shape[0] if image.dim() == 4 else 1))
            batched, dtype, device = image.dim() == 4, image.dtype, image.device
            x_in = image if batched else image[None]
            x = check_range(x_in.detach().float(), name)  # float32: a copy only for other float types
            t = x.permute(0, 2, 3, 1)

            # The rows are written channels last; the result comes back in the input's layout.
            plain = not (batched and is_channels_last(image))

            def finish(out):
                y = out.permute(0, 3, 1, 2).to(device=device, dtype=dtype)
                if y.shape[1] in (2, 4) and dtype != torch.float32:
                    y[:, -1] = x_in[:, -1].detach()  # the input's own alpha, not its float32 copy
                y = y if batched else y[0]
                return y.contiguous() if plain else y

            return cls(t, finish)
        raise TypeError(f"{name} must be a path, PIL image, numpy array or torch tensor, got {type(image).__name__}")

    def rgb(self, rows: torch.Tensor, device=None) -> torch.Tensor:
        """Rows ``rows`` (1-d index tensor) as RGB float32 in [0, 1], (N, 3, len(rows), W)."""
        t = self.data.index_select(1, rows.to(self.data.device))
        t = t.to(device) if device is not None else t  # 8-bit rows travel as a quarter of the bytes
        t = from_uint8(t) if t.dtype == torch.uint8 else t.float()
        t = t[..., :3] if self.c >= 3 else t[..., :1].expand(-1, -1, -1, 3)
        return t.permute(0, 3, 1, 2)

    def write(self, rows: torch.Tensor, rgb01: torch.Tensor) -> None:
        """Output rows ``rows`` from RGB float (N, 3, len(rows), W) in [0, 1]; alpha kept as it came."""
        if self.out is None:  # the input's dtype and layout (float input: float32)
            dtype = torch.uint8 if self.data.dtype == torch.uint8 else torch.float32
            self.out = _empty(self.data.shape, dtype, self.data.device)
        y = rgb01.detach().float().to(self.data.device)
        if self.c < 3:
            y = luma(y)
        y = y.permute(0, 2, 3, 1)
        if self.out.dtype == torch.uint8:
            y = quantize(y).to(torch.uint8)
        idx = rows.to(self.data.device)
        ch = 3 if self.c >= 3 else 1
        self.out[:, idx, :, :ch] = y
        if self.c in (2, 4):
            self.out[:, idx, :, ch:] = self.data.index_select(1, idx)[..., ch:].to(self.out.dtype)

    def restore_resized(self, rgb01: torch.Tensor):
        """RGB float (N, 3, h, w) in [0, 1] of any size as an image of the input's kind and
        channels, the alpha resized to it (bilinear): a preview of work in progress."""
        n, _, h, w = rgb01.shape
        data = torch.zeros((n, h, w, self.c), dtype=self.data.dtype)
        if self.c in (2, 4):
            alpha = self.data[..., -1:].permute(0, 3, 1, 2).float()
            alpha = torch.nn.functional.interpolate(alpha, size=(h, w), mode="bilinear", antialias=True)
            data[..., -1:] = (
                alpha.permute(0, 2, 3, 1).round_().to(data.dtype)
                if data.dtype == torch.uint8
                else alpha.permute(0, 2, 3, 1)
            )
        small = Pixels(data, self._finish, owned=True)
        small.write(torch.arange(h), rgb01.cpu())
        return small.result()

    def result(self):
        """The output in the input's kind (PIL image, array or tensor)."""
        out, self.out = self.out, None
        return self._finish(out)


def _fits(name: str, pixels: int) -> None:
    if pixels < 1:
        raise ValueError(f"{name} is empty: an image needs at least one pixel")
    _checks.fits(f"{name}: a low-memory dream of {pixels / 1e6:.0f} megapixels", pixels * LOW_MEMORY_BYTES)


def _empty(shape, dtype, device) -> torch.Tensor:
    if device.type == "cpu":
        return _malloc.mapped_empty(shape, dtype)  # freed with the result, not kept by the heap
    return torch.empty(shape, dtype=dtype, device=device)


def _read_only(a: np.ndarray) -> torch.Tensor:
    # The user's array, not a copy; fastdream only reads it (torch warns about read-only arrays).
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return torch.from_numpy(a)


def _squeeze(a: np.ndarray) -> np.ndarray:
    return a[..., 0] if a.shape[-1] == 1 else a
