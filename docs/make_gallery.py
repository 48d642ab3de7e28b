"""Remakes the pictures of docs/gallery.md: each creative control of dream beside the plain
dream, and style transfers.

    python docs/make_gallery.py            # all of them, into docs/gallery/
    python docs/make_gallery.py guide top8 # some of them

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
    "guide": (dict(layers=["_blocks.10"], guide="CAT"), "--layers _blocks.10 --guide chelsea.png"),
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


def make_style(name: str) -> Path:
    content, styles, options = STYLES[name]
    out = fd.style_transfer(_sk(content), [_sk(s, 512) for s in styles], seed=0, **options)
    OUT.mkdir(exist_ok=True)
    return io.save_image(out, OUT / f"{name}.jpg", quality=88)


def make(name: str) -> Path:
    if name in STYLES:
        return make_style(name)
    options, _ = CONTROLS[name]
    options = {k: (_guide() if v == "CAT" else v) for k, v in options.items()}
    photo = Image.open(io.SAMPLE_IMAGE).convert("RGB").resize((SIZE, SIZE), Image.BICUBIC)
    out = fd.dream(photo, **BASE, **options)
    OUT.mkdir(exist_ok=True)
    return io.save_image(out, OUT / f"{name}.jpg", quality=88)


if __name__ == "__main__":
    known = list(CONTROLS) + list(STYLES)
    names = sys.argv[1:] or known
    unknown = [n for n in names if n not in known]
    if unknown:
        sys.exit(f"unknown gallery entries {unknown}; known: {', '.join(known)}")
    for n in names:
        print("wrote", make(n))
