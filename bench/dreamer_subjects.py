"""Dream your own subjects, measured: train a dreamer on subjects cut from public-domain pictures,
dream a photo the subjects do not contain toward each, and compare each result's Gram statistics
with every subject's pictures, with the features of the ORIGINAL ImageNet EfficientNet-Lite0 (not
the fine-tuned network the dream climbs).

    python bench/dreamer_subjects.py OUT_DIR [--minutes 10] [--side 384] [--recipes default,logit,...]

Writes OUT_DIR/subjects/ (the folders), OUT_DIR/dreamer.pt, one picture per recipe and subject,
OUT_DIR/sheet.png (the contact sheet of the default recipe) and OUT_DIR/results.json; prints the
tables that go into bench/RESULTS.md ("Dream your own subjects").

The measure: each picture is resized to 224 px on its short side; at each layer L, its Gram
matrix G_L (channels x channels, averaged over positions) is compared with the mean Gram matrix
of each subject's pictures by the cosine distance 1 - <G, C> / (|G| |C|) (scale-free: a dream's
extra contrast alone does not count); a result passes when its own subject is the nearest and
nearer than the undreamed photo was. Layers: the style layers (_blocks.0, 2, 4, 7: colors,
edges, textures) and deeper ones (_blocks.10, 12, 15: parts).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import fastdream as fd  # noqa: E402
from fastdream import io  # noqa: E402
from fastdream.dreamer.samples import make_subject_folders  # noqa: E402
from fastdream.models.efficientnet_lite import efficientnet_lite0  # noqa: E402
from fastdream.models.taps import LayerTaps  # noqa: E402
from fastdream.training import list_images  # noqa: E402

LAYERS = ("_blocks.0", "_blocks.2", "_blocks.4", "_blocks.7", "_blocks.10", "_blocks.12", "_blocks.15")
STYLE = LAYERS[:4]
#: The recipes compared (keys of the dreamer's recipe replaced for the dream).
RECIPES = {
    "default": {},
    "texture1": {"texture": {"_blocks.1": 1.0, "_blocks.3": 1.0, "_blocks.5": 1.0}},
    "guide": {"texture": {}},
    "texture": {"guide": {}},
    "channels": {"guide": {}, "texture": {}, "channels": {"_blocks.5": 1.0}},
    "logit": {"guide": {}, "texture": {}, "logit": 1.0},
}


def sources() -> dict:
    """The subjects: textures and objects that ship with scikit-image and scikit-learn."""
    import skimage.data as d
    from sklearn.datasets import load_sample_images

    flower = load_sample_images().images[1]
    return {
        "brick": d.brick(),
        "cat": d.chelsea(),
        "cells": d.immunohistochemistry(),
        "coffee": d.coffee(),
        "dahlia": flower[60:400, 170:520],
    }


class Grams:
    """Gram matrices of the original backbone's layers."""

    def __init__(self):
        net = efficientnet_lite0(pretrained=True)
        self.taps = LayerTaps(net, LAYERS)
        self.mean = torch.tensor(net.input_mean).view(1, 3, 1, 1)
        self.std = torch.tensor(net.input_std).view(1, 3, 1, 1)

    @torch.no_grad()
    def __call__(self, image, side: int = 224) -> list[torch.Tensor]:
        x = io.load(image).rgb[:1]
        h, w = x.shape[-2:]
        s = side / min(h, w)
        x = F.interpolate(x, size=(round(h * s), round(w * s)), mode="bilinear", antialias=True, align_corners=False)
        out = []
        for a in self.taps((x - self.mean) / self.std):
            f = a[0].flatten(1)
            out.append(f @ f.T / f.shape[1])
        return out


def distance(g, c, layers) -> float:
    idx = [LAYERS.index(n) for n in layers]
    return sum(1 - float((g[i] * c[i]).sum() / (g[i].norm() * c[i].norm())) for i in idx) / len(idx)


def measure(results: dict, photo, centroids: dict, grams: Grams, layers) -> dict:
    """For each subject's dream: the distance to every subject, the photo's, the nearest, pass."""
    g0 = grams(photo)
    rows = {}
    for s, image in results.items():
        g = grams(image)
        d = {n: distance(g, c, layers) for n, c in centroids.items()}
        base = distance(g0, centroids[s], layers)
        near = min(d, key=d.get)
        rows[s] = dict(distances=d, photo=base, nearest=near, passed=near == s and d[s] < base)
    return rows


def per_layer(results: dict, photo, centroids: dict, grams: Grams) -> dict:
    return {n: sum(r["passed"] for r in measure(results, photo, centroids, grams, (n,)).values()) for n in LAYERS}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("out", type=Path)
    p.add_argument("--minutes", type=float, default=10.0, help="training budget")
    p.add_argument("--side", type=int, default=384, help="the photo's size when dreamed")
    p.add_argument("--recipes", default=",".join(RECIPES))
    p.add_argument("--per-subject", type=int, default=80)
    p.add_argument("--tune-from", type=int, help="train_dreamer's tune_from (default: the library's)")
    p.add_argument("--keep", type=float, help="train_dreamer's keep (default: the library's)")
    p.add_argument("--subjects", type=Path, help="reuse these subject folders")
    a = p.parse_args()
    a.out.mkdir(parents=True, exist_ok=True)
    folders = a.subjects or a.out / "subjects"
    if not folders.is_dir():
        make_subject_folders(folders, sources(), per_subject=a.per_subject, size=192, seed=0)
    ckpt = a.out / "dreamer.pt"
    t = time.monotonic()
    extra = {k: v for k, v in (("tune_from", a.tune_from), ("keep", a.keep)) if v is not None}
    fd.train_dreamer(folders, ckpt, max_minutes=a.minutes, seed=0, progress=True, **extra)
    trained = time.monotonic() - t
    state = torch.load(ckpt, weights_only=True)
    model = fd.models.load(ckpt)
    photo = io.load_pil(io.SAMPLE_IMAGE).convert("RGB").resize((a.side, a.side))
    grams = Grams()
    centroids = {}
    for s in model.subjects:
        gs = [grams(f) for f in list_images(folders / s)[:40]]
        centroids[s] = [torch.stack([g[i] for g in gs]).mean(0) for i in range(len(LAYERS))]
    report = dict(
        train_seconds=trained,
        history=[{k: v for k, v in h.items() if k != "val_acc_per_subject"} for h in state["history"]],
        config={k: state["config"][k] for k in ("epochs", "image_size", "tune_from", "keep", "lr", "backbone_lr")},
        dream_settings=model.dream_settings,
        recipes={},
    )
    base_recipe = dict(model.recipe)
    for name in a.recipes.split(","):
        model.recipe = {**base_recipe, **RECIPES[name]}
        t, results = time.monotonic(), {}
        for s in model.subjects:
            results[s] = fd.dream(photo, model=model, subject=s, seed=0)
            results[s].save(a.out / f"{name}_{s}.png")
        seconds = time.monotonic() - t
        rows = measure(results, photo, centroids, grams, STYLE)
        deep = measure(results, photo, centroids, grams, LAYERS)
        report["recipes"][name] = dict(
            seconds=seconds, style=rows, all=deep, per_layer=per_layer(results, photo, centroids, grams)
        )
        print(
            f"{name}: style layers {sum(r['passed'] for r in rows.values())}/5, all layers "
            f"{sum(r['passed'] for r in deep.values())}/5, per layer {report['recipes'][name]['per_layer']} ({seconds:.0f} s)"
        )
    model.recipe = base_recipe
    io.save_image(fd.dreamer.subject_sheet(model, photo, size=256, seed=0), a.out / "sheet.png")
    io.write_json(report, a.out / "results.json")
    print(json.dumps({k: v for k, v in report.items() if k != "recipes"}, indent=1))


if __name__ == "__main__":
    main()
