"""Files of every kind an input can be: images of every mode, depth and size class, truncated
and corrupt files, decompression bombs, broken EXIF blocks, pipes, crafted checkpoints.

Each image maker returns what a correct reader must give back (:class:`Expect`), so a fuzz test
can check the result, not only the absence of a crash.
"""

from __future__ import annotations

import io
import os
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

#: (mode, formats that write it) for the images a user may have.
MODES = {
    "1": ("png", "bmp", "tiff"),
    "L": ("png", "jpg", "bmp", "gif", "tiff", "webp", "pgm"),
    "LA": ("png", "tiff", "webp"),
    "P": ("png", "gif", "bmp", "tiff"),
    "P+t": ("png", "gif"),
    "PA": ("png",),
    "RGB": ("png", "jpg", "bmp", "tiff", "webp", "ppm"),
    "RGB+t": ("png",),
    "RGBA": ("png", "tiff", "webp"),
    "CMYK": ("jpg", "tiff"),
    "I;16": ("png", "tiff"),
    "I16pgm": ("pgm",),
    "F": ("tiff",),
}
SIZES = [(1, 1), (1, 7), (9, 1), (2, 3), (17, 9), (40, 33)]
LOSSLESS = ("png", "bmp", "gif", "tiff", "pgm", "ppm")


@dataclass
class Expect:
    """What the float path must read: 8-bit RGB levels (H, W, 3) and alpha (H, W) or None; a
    lossy format is compared within ``tol`` levels."""

    rgb: np.ndarray
    alpha: np.ndarray | None
    tol: int


def _pixels(rng: np.random.Generator, w: int, h: int, c: int) -> np.ndarray:
    return rng.integers(0, 256, (h, w, c), dtype=np.uint8)


def write_image(path: Path, mode: str, size: tuple[int, int], seed: int) -> Expect:
    """An image of ``mode`` and ``size`` (w, h) in ``path``'s format, and what reading it gives
    (for a lossy format, what Pillow decodes back)."""
    want = _write_image(path, mode, size, seed)
    if path.suffix.lstrip(".") in LOSSLESS:
        return want
    with Image.open(path) as im:
        back = np.asarray(im.convert("RGBA"))
    return Expect(back[..., :3], None if want.alpha is None else back[..., 3], 1)


def _write_image(path: Path, mode: str, size: tuple[int, int], seed: int) -> Expect:
    rng = np.random.default_rng(seed)
    w, h = size
    fmt = path.suffix.lstrip(".")
    tol = 0 if fmt in LOSSLESS else 48
    rgb = _pixels(rng, w, h, 3)
    gray = np.asarray(Image.fromarray(rgb).convert("L"))
    alpha = None
    if mode == "1":
        bits = rng.integers(0, 2, (h, w)).astype(bool)
        Image.fromarray(bits).save(path)
        v = bits.astype(np.uint8) * 255
        return Expect(np.repeat(v[..., None], 3, 2), None, tol)
    if mode in ("L", "LA"):
        im = Image.fromarray(gray, "L")
        if mode == "LA":
            alpha = rng.integers(0, 256, (h, w), dtype=np.uint8)
            im = Image.merge("LA", [im, Image.fromarray(alpha)])
        im.save(path)
        return Expect(np.repeat(gray[..., None], 3, 2), alpha, tol)
    if mode in ("P", "P+t", "PA"):
        palette = rng.integers(0, 256, (256, 3), dtype=np.uint8)
        idx = rng.integers(0, 256 if fmt != "bmp" else 256, (h, w), dtype=np.uint8)
        im = Image.fromarray(idx, "P")
        im.putpalette(palette.reshape(-1).tolist())
        want = palette[idx]
        if mode == "P+t":
            idx[0, 0] = 7
            im = Image.fromarray(idx, "P")
            im.putpalette(palette.reshape(-1).tolist())
            im.info["transparency"] = 7
            want = palette[idx]
            alpha = np.where(idx == 7, 0, 255).astype(np.uint8)
            im.save(path, transparency=7)
            return Expect(want, alpha, tol)
        if mode == "PA":
            alpha = rng.integers(0, 256, (h, w), dtype=np.uint8)
            im = im.convert("PA")
            im.putalpha(Image.fromarray(alpha))
        im.save(path)
        return Expect(want, alpha, tol)
    if mode in ("RGB", "RGBA", "RGB+t"):
        im = Image.fromarray(rgb, "RGB")
        if mode == "RGBA":
            alpha = rng.integers(0, 256, (h, w), dtype=np.uint8)
            im = Image.fromarray(np.dstack([rgb, alpha]), "RGBA")
        if mode == "RGB+t":
            key = tuple(int(v) for v in rgb[0, 0])
            alpha = np.where((rgb == np.array(key)).all(2), 0, 255).astype(np.uint8)
            im.save(path, transparency=key)
            return Expect(rgb, alpha, tol)
        im.save(path)
        return Expect(rgb, alpha, tol)
    if mode == "CMYK":
        im = Image.fromarray(rgb, "RGB").convert("CMYK")
        im.save(path)
        return Expect(np.asarray(im.convert("RGB")), None, max(tol, 2))
    if mode in ("I;16", "I16pgm"):
        wide = rng.integers(0, 65536, (h, w), dtype=np.uint16)
        if mode == "I16pgm":
            path.write_bytes(f"P5\n{w} {h}\n65535\n".encode() + wide.astype(">u2").tobytes())
        else:
            Image.fromarray(wide).save(path)
        v = ((wide.astype(np.int64) * 255 + 32767) // 65535).astype(np.uint8)
        return Expect(np.repeat(v[..., None], 3, 2), None, tol)
    if mode == "F":
        f = rng.random((h, w), dtype=np.float32)
        Image.fromarray(f, "F").save(path)
        v = np.clip(np.rint(f.astype(np.float64) * 255), 0, 255).astype(np.uint8)
        return Expect(np.repeat(v[..., None], 3, 2), None, 1)
    raise ValueError(mode)


def png_claiming(width: int, height: int, mode: str = "L") -> bytes:
    """A small PNG whose header claims ``width`` x ``height`` (a decompression bomb's header)."""
    buf = io.BytesIO()
    Image.new(mode, (8, 8)).save(buf, format="PNG")
    data = buf.getvalue()
    ihdr = struct.pack(">II", width, height) + data[24:29]
    return data[:16] + ihdr + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr)) + data[33:]


def zlib_bomb(width: int, height: int) -> bytes:
    """A real gray PNG of ``width`` x ``height`` black pixels, a few hundred kB on disk."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    comp = zlib.compressobj(9)
    row = b"\0" * (width + 1)
    out = [comp.compress(row) for _ in range(height)]
    out.append(comp.flush())
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", b"".join(out)) + chunk(b"IEND", b"")


def bad_exif(path: Path, seed: int) -> None:
    """A JPEG (or PNG) whose EXIF block is garbage after a valid-looking header."""
    rng = np.random.default_rng(seed)
    im = Image.fromarray(_pixels(rng, 12, 10, 3))
    junk = bytes(rng.integers(0, 256, int(rng.integers(4, 60)), dtype=np.uint8))
    heads = [b"MM\x00\x2a\x00\x00\x00\x08\xff\xff", b"II\x2a\x00\x08\x00\x00\x00\x05\x00\x12\x01", b"MM\x00\x2a"]
    exif = b"Exif\x00\x00" + heads[seed % len(heads)] + junk
    fmt = "JPEG" if path.suffix == ".jpg" else "PNG"
    im.save(path, format=fmt, exif=exif)


def damage(data: bytes, how: str, seed: int) -> bytes:
    """``data`` truncated, with bytes flipped, or emptied."""
    rng = np.random.default_rng(seed)
    if how == "truncated":
        return data[: int(rng.integers(0, max(1, len(data) - 1)))]
    if how == "flipped":
        b = bytearray(data)
        for i in rng.integers(0, len(b), max(1, len(b) // 50)):
            b[i] ^= int(rng.integers(1, 256))
        return bytes(b)
    return b""


def fifo(path: Path) -> Path:
    os.mkfifo(path)
    return path
