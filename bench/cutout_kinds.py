"""A cutout dataset of a kind ``fastdream.data.make_cutout_dataset`` does not make, for measuring
how background removal does on data like the users' own.

Foregrounds are Gielis "superformula" silhouettes (organic, flower-, leaf-, starfish- and
shell-like outlines, none of the generator's ellipses, polygons, stars, blobs, horses, people
or glyphs), one or two per image, each filled with a texture: colored value noise or a crop of a
photo, shifted in color away from what it covers. Backgrounds are crops of the photos bundled with
scikit-image and scikit-learn, only slightly out of focus (the generator's are strongly blurred,
which makes its task easier). Masks are the exact alpha, anti-aliased at 4x.

    python bench/cutout_kinds.py OUT_DIR N [--size 160] [--seed 0]
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from fastdream.cutout.synthetic import photos, value_noise  # the same photos and noise as the generator
from fastdream.io import save_image

SUPERSAMPLE = 4


def _superformula(rng, cx, cy, r, n_pts=720):
    m = int(rng.integers(3, 9))
    n1, n2, n3 = rng.uniform(0.3, 4.0), rng.uniform(0.5, 6.0), rng.uniform(0.5, 6.0)
    a = b = 1.0
    rot = rng.uniform(0, 2 * math.pi)
    t = np.linspace(0, 2 * math.pi, n_pts, endpoint=False)
    rr = (np.abs(np.cos(m * t / 4) / a) ** n2 + np.abs(np.sin(m * t / 4) / b) ** n3) ** (-1 / n1)
    rr = rr / rr.max()
    rr = 0.35 + 0.65 * rr  # never thinner than a third of the radius: a silhouette, not a web
    sx, sy = rng.uniform(0.7, 1.0), rng.uniform(0.7, 1.0)
    return [(cx + r * sx * q * math.cos(u + rot), cy + r * sy * q * math.sin(u + rot)) for q, u in zip(rr, t)]


def _crop(rng, size):
    arr, gray = photos()[rng.integers(len(photos()))]
    h, w = arr.shape[:2]
    side = max(8, int(rng.uniform(0.3, 1.0) * min(h, w)))
    y, x = rng.integers(0, h - side + 1), rng.integers(0, w - side + 1)
    im = Image.fromarray((arr[y : y + side, x : x + side] * 255).astype(np.uint8)).resize((size, size), Image.BILINEAR)
    out = np.asarray(im, np.float32) / 255
    return out * (0.4 + 0.6 * rng.random(3).astype(np.float32)) if gray else out


def _strands(rng, draw, outline, count: int, scale: float) -> None:
    """Hair: thin random walks from points of the outline, outward-ish, 1-3 px wide at the output."""
    cx = sum(p[0] for p in outline) / len(outline)
    cy = sum(p[1] for p in outline) / len(outline)
    for _ in range(count):
        x, y = outline[int(rng.integers(len(outline)))]
        heading = math.atan2(y - cy, x - cx) + rng.uniform(-0.6, 0.6)
        pts = [(x, y)]
        for _ in range(int(rng.integers(6, 20))):
            heading += rng.normal(0, 0.25)
            x, y = x + 6 * scale * math.cos(heading), y + 6 * scale * math.sin(heading)
            pts.append((x, y))
        draw.line(pts, fill=255, width=max(1, int(rng.uniform(1, 3) * scale)))


def render(rng, size: int, soft: float = 0.0, strands: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """One image and its exact alpha. ``soft``: the silhouettes' edges blurred by up to this many
    pixels (sigma); ``strands``: hair-like strands drawn out of each silhouette (both off for the
    training and held-out sets, so those draw the same numbers as ever)."""
    bg = _crop(rng, size)
    bg = np.asarray(Image.fromarray((bg * 255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(rng.uniform(0, 1.5))),
                    np.float32) / 255  # fmt: skip
    img, cover = bg.copy(), np.zeros((size, size), np.float32)
    for _ in range(1 + int(rng.random() < 0.3)):
        big = size * SUPERSAMPLE
        canvas = Image.new("L", (big, big), 0)
        cx, cy = rng.uniform(0.3, 0.7) * big, rng.uniform(0.3, 0.7) * big
        outline = _superformula(rng, cx, cy, rng.uniform(0.18, 0.4) * big)
        draw = ImageDraw.Draw(canvas)
        draw.polygon(outline, fill=255)
        if strands:
            _strands(rng, draw, outline, strands, SUPERSAMPLE * size / 1024)
        canvas = canvas.resize((size, size), Image.BOX)
        if soft:
            canvas = canvas.filter(ImageFilter.GaussianBlur(rng.uniform(0, soft)))
        a = np.asarray(canvas, np.float32) / 255
        if a.max() <= 0:
            continue
        fill = (
            value_noise(rng, size) * (0.3 + 0.7 * rng.random(3).astype(np.float32))
            if rng.random() < 0.5
            else _crop(rng, size)
        )
        under = (img * a[..., None]).sum((0, 1)) / max(a.sum(), 1e-6)
        if np.linalg.norm((fill * a[..., None]).sum((0, 1)) / max(a.sum(), 1e-6) - under) < 0.35:
            fill = np.clip(fill + np.where(under > 0.5, -0.4, 0.4).astype(np.float32), 0, 1)
        img = fill * a[..., None] + img * (1 - a[..., None])
        cover = 1 - (1 - cover) * (1 - a)
    return np.clip(img + rng.normal(0, 0.01, img.shape).astype(np.float32), 0, 1), cover


def make(out_dir, n: int, size: int = 160, seed: int = 0):
    out_dir = Path(out_dir)
    (out_dir / "images").mkdir(parents=True, exist_ok=True)
    (out_dir / "masks").mkdir(parents=True, exist_ok=True)
    for i in range(n):
        img, mask = render(np.random.default_rng([seed, i, 77]), size)
        save_image(Image.fromarray(np.round(img * 255).astype(np.uint8)), out_dir / "images" / f"{i:05d}.png")
        save_image(Image.fromarray(np.round(mask * 255).astype(np.uint8), "L"), out_dir / "masks" / f"{i:05d}.png")
    return out_dir / "images", out_dir / "masks"


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("out", type=Path)
    p.add_argument("n", type=int)
    p.add_argument("--size", type=int, default=160)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    print(make(a.out, a.n, a.size, a.seed))
