r"""Synthetic datasets for demos, tests and benchmarks.

:func:`make_cutout_dataset` writes images of foreground objects pasted on backgrounds, with the
exact foreground mask of each: the mask is the very alpha the objects were composited with, so it
is right to the pixel, edges included (anti-aliased, sometimes feathered).

Backgrounds are crops of real photos and textures bundled with scikit-image (astronaut, coffee,
rocket, brick, grass, gravel, ...) and scikit-learn (china, flower) when those packages are
installed, and procedural textures (colored noise, gradients) otherwise and in addition. They
are out of focus, as behind the subject of a portrait: that is the cue that tells a pasted object
from the objects of the photo, without which "foreground" would be ambiguous and no model could
be scored on it. Foregrounds are shapes (ellipses, rotated rectangles, regular polygons, stars,
random blobs), silhouettes (scikit-image's horse, a person built from primitives), digits and
letters (Pillow's font), each filled with a solid color, a gradient, stripes or checkers, or a
photo texture, and kept apart from the background they cover by a minimum color difference.

The output depends only on ``seed`` and the image index (and on which of the optional packages
are installed): image ``i`` is the same whatever ``n`` is.
"""

from __future__ import annotations

import functools
import math
from pathlib import Path
from typing import NamedTuple

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from fastdream import _checks
from fastdream._checks import integer as _int
from fastdream.io import output_folder, save_image

__all__ = ["CutoutDataset", "make_cutout_dataset"]

#: Masks are drawn this many times larger, then box-filtered down: exact anti-aliased coverage.
SUPERSAMPLE = 4
#: The largest image side (a training set's pictures; the U-Net trains on 256-512 px crops).
MAX_SIZE = 8192
#: A fill whose pixels differ from the background they cover by less than this on average (RGB
#: in [0, 1], Euclidean) is redrawn: an object of the background's own colors has no visible
#: edge and no right answer.
MIN_CONTRAST = 0.35
#: Background blur, Gaussian radius in pixels at 128 px (scaled with the image size).
BACKGROUND_BLUR = (3.0, 5.0)


class CutoutDataset(NamedTuple):
    """Folders written by :func:`make_cutout_dataset` (unpacks as ``images, masks``)."""

    images: Path
    masks: Path


# --------------------------------------------------------------------------------------------
# sources


@functools.lru_cache(maxsize=1)
def photos() -> tuple:
    """Bundled photos and textures as float32 HxWx3 arrays in [0, 1]; gray ones flagged."""
    out = []
    try:
        import skimage.data as sk

        for name in ("astronaut", "chelsea", "coffee", "rocket", "immunohistochemistry", "hubble_deep_field"):
            out.append((np.asarray(getattr(sk, name)(), np.float32)[..., :3] / 255.0, False))
        for name in ("brick", "grass", "gravel", "camera", "moon", "coins", "clock", "page", "text"):
            g = np.asarray(getattr(sk, name)(), np.float32) / 255.0
            out.append((np.repeat(g[..., None], 3, axis=2), True))
    except Exception:  # not installed, or a file needing a download: procedural textures only
        pass
    try:
        from sklearn.datasets import load_sample_images

        for im in load_sample_images().images:
            out.append((np.asarray(im, np.float32) / 255.0, False))
    except Exception:
        pass
    return tuple(out)


@functools.lru_cache(maxsize=1)
def _horse() -> np.ndarray | None:
    try:
        import skimage.data as sk

        # skimage's horse is black on white; the silhouette is the black part.
        return ~np.asarray(sk.horse(), bool)
    except Exception:
        return None


@functools.lru_cache(maxsize=8)
def _font(px: int):
    try:
        return ImageFont.load_default(size=px)
    except TypeError:  # Pillow < 10.1 or no FreeType: the small bitmap font (scaled up below)
        return ImageFont.load_default()


def _color(rng) -> np.ndarray:
    return rng.random(3).astype(np.float32)


def value_noise(rng, size: int) -> np.ndarray:
    """Colored multi-octave value noise, HxWx3 in [0, 1]."""
    acc = np.zeros((size, size, 3), np.float32)
    amp, total = 1.0, 0.0
    for cells in (2, 4, 8, 16):
        small = (rng.random((cells + 1, cells + 1, 3)) * 255).astype(np.uint8)
        up = Image.fromarray(small).resize((size, size), Image.BICUBIC)
        acc += amp * np.asarray(up, np.float32) / 255.0
        total += amp
        amp *= 0.55
    acc /= total
    lo, hi = acc.min(), acc.max()
    return (acc - lo) / max(hi - lo, 1e-6)


def _gradient(rng, size: int) -> np.ndarray:
    a, b = _color(rng), _color(rng)
    theta = rng.uniform(0, 2 * math.pi)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / max(size - 1, 1)
    t = (xx - 0.5) * math.cos(theta) + (yy - 0.5) * math.sin(theta)
    t = (t - t.min()) / max(t.max() - t.min(), 1e-6)
    return a * (1 - t[..., None]) + b * t[..., None]


def _pattern(rng, size: int) -> np.ndarray:
    """Stripes or checkers of two colors, at a random angle and period."""
    a, b = _color(rng), _color(rng)
    period = rng.uniform(4, max(6, size / 4))
    theta = rng.uniform(0, math.pi)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    u = xx * math.cos(theta) + yy * math.sin(theta)
    v = -xx * math.sin(theta) + yy * math.cos(theta)
    if rng.random() < 0.5:
        t = (np.floor(u / period) % 2).astype(np.float32)
    else:
        t = ((np.floor(u / period) + np.floor(v / period)) % 2).astype(np.float32)
    return a * (1 - t[..., None]) + b * t[..., None]


def _photo_crop(rng, size: int) -> np.ndarray | None:
    bundled = photos()
    if not bundled:
        return None
    arr, gray = bundled[rng.integers(len(bundled))]
    h, w = arr.shape[:2]
    side = int(rng.uniform(0.25, 1.0) * min(h, w))
    side = max(side, 8)
    y, x = rng.integers(0, h - side + 1), rng.integers(0, w - side + 1)
    crop = arr[y : y + side, x : x + side]
    im = Image.fromarray((crop * 255).astype(np.uint8)).resize((size, size), Image.BILINEAR)
    out = np.asarray(im, np.float32) / 255.0
    if rng.random() < 0.5:
        out = out[:, ::-1]
    if gray:  # tint gray textures so they are not all gray
        out = out * (0.4 + 0.6 * _color(rng))
    return np.ascontiguousarray(out)


def _background(rng, size: int) -> np.ndarray:
    r = rng.random()
    bg = _photo_crop(rng, size) if r < 0.65 else None
    if bg is None:
        # Stripes and checkers are kept for the objects: as a background they read as objects.
        bg = value_noise(rng, size) * (0.3 + 0.7 * _color(rng)) if rng.random() < 0.6 else _gradient(rng, size)
    # Out of focus and flatter, as behind the subject of a portrait (see the module documentation).
    radius = rng.uniform(BACKGROUND_BLUR[0], BACKGROUND_BLUR[1]) * size / 128
    im = Image.fromarray(np.round(np.clip(bg, 0, 1) * 255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(radius))
    bg = np.asarray(im, np.float32) / 255.0
    bg = (bg - bg.mean()) * rng.uniform(0.5, 0.9) + bg.mean() + rng.uniform(-0.1, 0.1)
    return np.clip(bg, 0, 1).astype(np.float32)


def _fill(rng, size: int) -> np.ndarray:
    r = rng.random()
    if r < 0.45:
        base = np.broadcast_to(_color(rng), (size, size, 3)).astype(np.float32)
        return np.clip(base + rng.normal(0, 0.02, (size, size, 1)).astype(np.float32), 0, 1)
    if r < 0.7:
        return _gradient(rng, size)
    if r < 0.85:
        return _pattern(rng, size)
    tex = _photo_crop(rng, size)
    return tex if tex is not None else value_noise(rng, size)


# --------------------------------------------------------------------------------------------
# shapes (drawn at SUPERSAMPLE x size, in L mode, 255 inside)


def _regular(cx, cy, r, k, rot, inner=None):
    """A regular k-gon, or a k-pointed star whose inner vertices are at ``inner * r``."""
    n = 2 * k if inner else k
    pts = []
    for i in range(n):
        rr = r * inner if inner and i % 2 else r
        a = rot + i * 2 * math.pi / n
        pts.append((cx + rr * math.cos(a), cy + rr * math.sin(a)))
    return pts


def _draw_shape(rng, draw: ImageDraw.ImageDraw, cx, cy, r) -> None:
    kind = rng.integers(5)
    rot = rng.uniform(0, 2 * math.pi)
    if kind == 0:  # ellipse, rotated by drawing a polygon
        ax, ay = r, r * rng.uniform(0.45, 1.0)
        pts = [
            (
                cx + ax * math.cos(t) * math.cos(rot) - ay * math.sin(t) * math.sin(rot),
                cy + ax * math.cos(t) * math.sin(rot) + ay * math.sin(t) * math.cos(rot),
            )
            for t in np.linspace(0, 2 * math.pi, 180, endpoint=False)
        ]
    elif kind == 1:  # rotated rectangle
        w, h = r, r * rng.uniform(0.4, 1.0)
        corners = [(-w, -h), (w, -h), (w, h), (-w, h)]
        c, s = math.cos(rot), math.sin(rot)
        pts = [(cx + x * c - y * s, cy + x * s + y * c) for x, y in corners]
    elif kind == 2:  # regular polygon
        pts = _regular(cx, cy, r, int(rng.integers(3, 8)), rot)
    elif kind == 3:  # star
        pts = _regular(cx, cy, r, int(rng.integers(4, 8)), rot, inner=rng.uniform(0.4, 0.65))
    else:  # smooth random blob: radius as a low-order Fourier series of the angle
        t = np.linspace(0, 2 * math.pi, 180, endpoint=False)
        rad = np.ones_like(t)
        for k in range(2, 6):
            rad += rng.normal(0, 0.25 / k) * np.cos(k * t + rng.uniform(0, 2 * math.pi))
        rad = r * np.clip(rad, 0.35, 1.4) / max(rad.max(), 1.0)
        pts = list(zip(cx + rad * np.cos(t), cy + rad * np.sin(t)))
    draw.polygon(pts, fill=255)


def _draw_person(rng, draw: ImageDraw.ImageDraw, cx, cy, r) -> None:
    """A standing figure from primitives: head, torso, arms, legs (thick lines)."""
    s = r / 1.0
    lw = max(int(0.26 * s), 2)
    head = 0.22 * s
    top = cy - s
    draw.ellipse([cx - head, top, cx + head, top + 2 * head], fill=255)
    neck = top + 2 * head
    hip = neck + 0.85 * s
    draw.rounded_rectangle([cx - 0.28 * s, neck, cx + 0.28 * s, hip], radius=int(0.1 * s), fill=255)
    for side in (-1, 1):
        ang = rng.uniform(0.2, 1.2)
        draw.line(
            [
                (cx + side * 0.22 * s, neck + 0.1 * s),
                (cx + side * (0.22 * s + 0.7 * s * math.sin(ang)), neck + 0.1 * s + 0.7 * s * math.cos(ang)),
            ],
            fill=255,
            width=lw,
        )
        spread = rng.uniform(0.05, 0.45)
        draw.line(
            [(cx + side * 0.14 * s, hip - 0.05 * s), (cx + side * spread * s, min(cy + s, hip + 0.95 * s))],
            fill=255,
            width=lw,
        )


def _draw_glyph(rng, canvas: Image.Image, cx, cy, r) -> None:
    ch = str(rng.integers(10)) if rng.random() < 0.7 else chr(int(rng.integers(ord("A"), ord("Z") + 1)))
    px = max(int(2.2 * r), 8)
    font = _font(px)
    glyph = Image.new("L", (int(3 * r) + 8, int(3 * r) + 8), 0)
    d = ImageDraw.Draw(glyph)
    d.text(
        (glyph.width / 2, glyph.height / 2),
        ch,
        font=font,
        fill=255,
        anchor="mm",
        stroke_width=max(int(0.12 * r), 1),
        stroke_fill=255,
    )
    bbox = glyph.getbbox()
    if bbox is None:
        return
    glyph = glyph.crop(bbox)
    scale = 2 * r / max(glyph.size)  # the bitmap fallback font is tiny: scale to the wanted size
    glyph = glyph.resize((max(int(glyph.width * scale), 1), max(int(glyph.height * scale), 1)), Image.BILINEAR)
    glyph = glyph.rotate(rng.uniform(-25, 25), resample=Image.BILINEAR, expand=True)
    canvas.paste(255, (int(cx - glyph.width / 2), int(cy - glyph.height / 2)), glyph)


def _draw_horse(rng, canvas: Image.Image, cx, cy, r) -> bool:
    horse = _horse()
    if horse is None:
        return False
    im = Image.fromarray(horse.astype(np.uint8) * 255, "L").crop(Image.fromarray(horse.astype(np.uint8)).getbbox())
    if rng.random() < 0.5:
        im = im.transpose(Image.FLIP_LEFT_RIGHT)
    scale = 2 * r / max(im.size)
    im = im.resize((max(int(im.width * scale), 1), max(int(im.height * scale), 1)), Image.BILINEAR)
    im = im.rotate(rng.uniform(-20, 20), resample=Image.BILINEAR, expand=True)
    canvas.paste(255, (int(cx - im.width / 2), int(cy - im.height / 2)), im)
    return True


def _object_alpha(rng, size: int) -> np.ndarray:
    """One object's coverage in [0, 1] (float32 HxW), exact to the supersampling."""
    big = size * SUPERSAMPLE
    canvas = Image.new("L", (big, big), 0)
    draw = ImageDraw.Draw(canvas)
    r = rng.uniform(0.24, 0.42) * big
    cx, cy = rng.uniform(0.22, 0.78) * big, rng.uniform(0.22, 0.78) * big
    kind = rng.random()
    if kind < 0.5:
        _draw_shape(rng, draw, cx, cy, r)
    elif kind < 0.65:
        if not _draw_horse(rng, canvas, cx, cy, r):
            _draw_shape(rng, draw, cx, cy, r)
    elif kind < 0.8:
        _draw_person(rng, draw, cx, cy, r)
    else:
        _draw_glyph(rng, canvas, cx, cy, r)
    alpha = canvas.resize((size, size), Image.BOX)
    if rng.random() < 0.4:  # feathered edge, as hair, fur or motion blur give
        alpha = alpha.filter(ImageFilter.GaussianBlur(rng.uniform(0.4, 1.2)))
    return np.asarray(alpha, np.float32) / 255.0


def _render(rng, size: int) -> tuple[np.ndarray, np.ndarray]:
    """One composite image (HxWx3 float) and its mask (HxW float), both in [0, 1]."""
    bg = _background(rng, size)
    img = bg.copy()
    cover = np.zeros((size, size), np.float32)  # 1 - prod(1 - alpha_i): the union's coverage
    count = 1 + int(rng.random() < 0.3)
    for _ in range(count):
        a = _object_alpha(rng, size)
        if a.max() <= 0:
            continue
        w = a[..., None]
        wsum = float(w.sum())
        for _attempt in range(8):
            fg = _fill(rng, size)
            if float((np.linalg.norm(fg - img, axis=2) * a).sum()) / wsum >= MIN_CONTRAST:
                break
        else:  # still too close: push the fill away from what it covers
            under = (img * w).sum((0, 1)) / wsum
            fg = np.clip(fg + np.where(under > 0.5, -0.45, 0.45).astype(np.float32), 0, 1)
        img = fg * w + img * (1 - w)
        cover = 1 - (1 - cover) * (1 - a)
    noise = rng.normal(0, rng.uniform(0, 0.02), img.shape).astype(np.float32)
    return np.clip(img + noise, 0, 1), cover


# --------------------------------------------------------------------------------------------


def make_cutout_dataset(out_dir, n: int, *, size: int = 128, seed: int = 0) -> CutoutDataset:
    r"""Writes ``n`` synthetic images and their exact foreground masks, for :func:`fastdream.train_unet`.

    Each image has 1 or 2 objects (shapes, silhouettes, digits or letters; solid, gradient,
    striped or photo-textured) pasted on a background (a photo or texture crop, or procedural
    noise or a gradient; blurred and flattened, as out of focus), with light sensor noise. Object edges are
    anti-aliased (drawn at 4x and box-filtered) and in 40% of objects feathered by a small blur.
    The mask is the exact alpha the objects were composited with: 255 inside, 0 outside, partial
    on the edges.

    Files: ``out_dir/images/NNNNN.png`` (RGB) and ``out_dir/masks/NNNNN.png`` (8-bit gray), paired
    by name. Existing files of the same names are replaced (each atomically); others are kept.

    Args:
        out_dir: folder to write into (created if missing).
        n: number of images (>= 1).
        size: side of the square images in pixels (>= 16).
        seed: the dataset is a deterministic function of ``seed`` (and, through the photos, of
            whether scikit-image / scikit-learn are installed); image ``i`` does not depend on ``n``.

    Returns:
        ``CutoutDataset(images, masks)``: the two folders.

    Examples:
        >>> images, masks = make_cutout_dataset("synthetic", 200, size=128)  # doctest: +SKIP
        >>> ckpt = fastdream.train_unet(images, masks, "unet.pt")            # doctest: +SKIP
    """
    out_dir = output_folder("out_dir", _checks.path("out_dir", out_dir), what="its images/ and masks/")
    n = _int("n", n, 1, cap=_checks.COUNT_MAX)
    size = _int("size", size, 16, cap=MAX_SIZE)
    seed = _checks.seed("seed", seed)  # (10**400 was taken: seeds stay below 2**63)
    _checks.fits(f"size={size} (each image drawn at {SUPERSAMPLE}x)", (SUPERSAMPLE * size) ** 2 * 4 * 8)
    _checks.fits_on_disk(f"n={n} images and masks of {size}x{size}", n * size * size * 4 / 2, out_dir)
    images, masks = out_dir / "images", out_dir / "masks"
    images.mkdir(parents=True, exist_ok=True)
    masks.mkdir(parents=True, exist_ok=True)
    width = max(5, len(str(n - 1)))
    for i in range(n):
        rng = np.random.default_rng([seed, i])
        img, mask = _render(rng, size)
        name = f"{i:0{width}d}.png"
        save_image(Image.fromarray(np.round(img * 255).astype(np.uint8), "RGB"), images / name)
        save_image(Image.fromarray(np.round(mask * 255).astype(np.uint8), "L"), masks / name)
    return CutoutDataset(images, masks)
