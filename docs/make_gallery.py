"""Remakes the pictures of docs/gallery.md: the default dream before and after issue 25 on ten
photos, each creative control of dream beside the plain dream, and style transfers.

    python docs/make_gallery.py            # all of them, into docs/gallery/
    python docs/make_gallery.py guide top8 # some of them
    python docs/make_gallery.py defaults_china

Every dream picture is the bundled sample photo (scikit-image's public-domain astronaut) at 320 px,
dreamed with the settings below and the same seed, so the pictures differ only by the control. The
style transfers use scikit-image's public-domain photos (the test extra) as content and style.
"""

from __future__ import annotations

import sys
from pathlib import Path

from PIL import Image

import fastdream as fd
from fastdream import io
from fastdream import objectives as O

OUT = Path(__file__).with_name("gallery")
SIZE = 320
BASE = dict(octaves=4, steps=20, step_size=0.02, seed=0)


def _guide() -> Image.Image:
    from skimage import data  # the test extra; the guide is scikit-image's public-domain cat

    return Image.fromarray(data.chelsea())


#: name -> (dream options, the equivalent command line)
CONTROLS = {
    "plain": ({}, ""),
    "channel": (dict(layers=["_blocks.10:37"]), "--layers _blocks.10:37"),
    "weights": (dict(layers={"_blocks.5": 1.0, "_blocks.10": 0.2}), "--layers _blocks.5=1 _blocks.10=0.2"),
    "top8": (dict(layers=["_blocks.10:top8"]), "--layers _blocks.10:top8"),
    "guide": (dict(layers=["_blocks.10"], guide="CAT"), "--layers _blocks.10 --guide cat.png"),
    "laplacian": (dict(norm="laplacian"), "--norm laplacian"),
    "smooth": (dict(smooth=1.5), "--smooth 1.5"),
    "preserve_colors": (dict(preserve_colors=True), "--preserve-colors"),
    "color_match": (dict(color_match=True), "--color-match"),
    "expression": (dict(objective=O.channel("_blocks.10", 37) + 0.5 * O.layer_l2("_blocks.5")), None),
}


def _sk(name: str, width: int = 320) -> Image.Image:
    from skimage import data

    im = Image.fromarray(getattr(data, name)())
    return im.resize((width, round(width * im.height / im.width)), Image.BICUBIC)


#: name -> (content, style(s), style_transfer options)
STYLES = {
    "style_astronaut_ihc": ("astronaut", ["immunohistochemistry"], {}),
    "style_cat_hubble": ("chelsea", ["hubble_deep_field"], {}),
    "style_rocket_retina": ("rocket", ["retina"], {}),
    "style_astronaut_blend": ("astronaut", ["immunohistochemistry", "hubble_deep_field"], dict(style_weights=[1, 1])),
    "style_cat_hubble_colors": ("chelsea", ["hubble_deep_field"], dict(preserve_colors=True)),
}


#: The photos of the before/after sheet of the default dream: name -> (source, long side in px).
#: scikit-image's and scikit-learn's bundled, public-domain or freely licensed photos.
DEFAULT_PHOTOS = {
    "astronaut": ("sample", 512),  # a portrait, the README's first dream
    "camera": ("camera", 256),  # a gray portrait, small
    "chelsea": ("chelsea", 451),  # an animal
    "coffee": ("coffee", 600),  # an object, warm
    "motorcycle": ("stereo_motorcycle", 741),  # an object, busy
    "rocket": ("rocket", 640),  # a landscape at dusk, dark
    "flower": ("flower", 640),  # saturated colors on black
    "ihc": ("immunohistochemistry", 512),  # bright, a texture
    "hubble": ("hubble_deep_field", 1000),  # almost black
    "china": ("china", 2048),  # a bright landscape, enlarged from 640 px
}
#: The default of dream() before issue 25 (4 octaves x 10 steps of 0.01): the "before" column.
OLD_DEFAULTS = dict(octaves=4, steps=10, step_size=0.01)
THUMB = 300  # width of each picture of a row


def _photo(source: str, long_side: int) -> Image.Image:
    from skimage import data
    from sklearn.datasets import load_sample_images

    if source == "sample":
        im = Image.open(io.SAMPLE_IMAGE)
    elif source in ("china", "flower"):
        im = Image.fromarray(load_sample_images().images[("china", "flower").index(source)])
    elif source == "stereo_motorcycle":
        im = Image.fromarray(data.stereo_motorcycle()[0])
    else:
        im = Image.fromarray(getattr(data, source)())
    s = long_side / max(im.size)
    im = im if s == 1 else im.resize((round(im.width * s), round(im.height * s)), Image.LANCZOS)
    return im.convert("RGB") if im.mode not in ("RGB", "L") else im


def make_defaults(name: str) -> Path:
    """One row: the photo, the old default dream, the new default dream (and, for a photo over
    800 px, a 300 px crop of the new one at full size: the detail a thumbnail hides)."""
    from PIL import ImageDraw, ImageFont

    photo = _photo(*DEFAULT_PHOTOS[name[len("defaults_") :]])
    before, after = fd.dream(photo, seed=0, **OLD_DEFAULTS), fd.dream(photo, seed=0)
    cells = [photo, before, after]
    labels = [f"{photo.width}x{photo.height}", "before: 4 x 10 steps of 0.01", "after: the new default"]
    if max(photo.size) > 800:
        x, y = photo.width // 2 - THUMB // 2, photo.height // 2 - THUMB // 2
        cells.append(after.crop((x, y, x + THUMB, y + THUMB)))
        labels.append("after, 1:1 detail")
    h = round(THUMB * photo.height / photo.width)
    row = Image.new("RGB", (len(cells) * (THUMB + 4), max(h, THUMB if len(cells) == 4 else 0) + 18), "white")
    draw, font = ImageDraw.Draw(row), ImageFont.load_default(size=13)
    for k, (cell, label) in enumerate(zip(cells, labels)):
        thumb = cell if cell.width == THUMB and k == 3 else cell.resize((THUMB, h), Image.LANCZOS)
        row.paste(thumb.convert("RGB"), (k * (THUMB + 4), 18))
        draw.text((k * (THUMB + 4) + 2, 2), label, fill=(20, 20, 20), font=font)
    OUT.mkdir(exist_ok=True)
    return io.save_image(row, OUT / f"{name}.jpg", quality=85)


def make_style(name: str) -> Path:
    content, styles, options = STYLES[name]
    out = fd.style_transfer(_sk(content), [_sk(s, 512) for s in styles], seed=0, **options)
    OUT.mkdir(exist_ok=True)
    return io.save_image(out, OUT / f"{name}.jpg", quality=88)


#: Frames of the zoom comparison: the sample photo at 256 px, 40 frames of 1.05x, 1 octave x 4 steps.
ZOOM_FRAMES = (0, 13, 26, 39)


def make_zoom_resampling(name: str) -> Path:
    """Two rows of zoom frames: bilinear resampling between frames (above), bicubic (below)."""
    import tempfile

    photo = Image.open(io.SAMPLE_IMAGE).convert("RGB").resize((256, 256), Image.LANCZOS)
    sheet = Image.new("RGB", (len(ZOOM_FRAMES) * 260, 2 * 260), "white")
    with tempfile.TemporaryDirectory() as tmp:
        for r, mode in enumerate(("bilinear", "bicubic")):
            out = Path(tmp) / f"{mode}.gif"
            fd.zoom_video(photo, out, frames=40, steps=4, octaves=1, seed=0, interpolation=mode)
            for k, f in enumerate(ZOOM_FRAMES):
                sheet.paste(Image.open(Path(tmp) / f"{mode}_frames" / f"frame_{f:05d}.png"), (k * 260, r * 260))
    OUT.mkdir(exist_ok=True)
    return io.save_image(sheet, OUT / f"{name}.jpg", quality=88)


def make(name: str) -> Path:
    if name == "zoom_resampling":
        return make_zoom_resampling(name)
    if name in STYLES:
        return make_style(name)
    if name.startswith("defaults_"):
        return make_defaults(name)
    options, _ = CONTROLS[name]
    options = {k: (_guide() if v == "CAT" else v) for k, v in options.items()}
    photo = Image.open(io.SAMPLE_IMAGE).convert("RGB").resize((SIZE, SIZE), Image.BICUBIC)
    out = fd.dream(photo, **BASE, **options)
    OUT.mkdir(exist_ok=True)
    return io.save_image(out, OUT / f"{name}.jpg", quality=88)


if __name__ == "__main__":
    known = list(CONTROLS) + list(STYLES) + [f"defaults_{n}" for n in DEFAULT_PHOTOS] + ["zoom_resampling"]
    names = sys.argv[1:] or known
    unknown = [n for n in names if n not in known]
    if unknown:
        sys.exit(f"unknown gallery entries {unknown}; known: {', '.join(known)}")
    for n in names:
        print("wrote", make(n))
