"""GAN quality targets on scikit-learn's 8x8 digits, with KID against held-out digits.

The scenario of issue 14, as a new user runs it: 1497 digits saved as 32 px gray PNGs (300 held
out), ``fastdream.train_gan(folder, out, image_size=32, epochs=1, batch_size=64, seed=0)``, then
the same call with ``epochs=25`` (a resume), other settings at their defaults. Reported: the KID
(EfficientNet-Lite0 features, see ``fastdream.metrics``) of 1000 samples against the held-out
digits after 1 and after 25 epochs (target: at most half), whether the resumed run equals an
uninterrupted 25-epoch run, and a run on 300 of the digits (augmentation on by default there) that
must improve over its first epoch. ``--recipe dcgan`` runs the same with the classic DCGAN.

Needs scikit-learn. Not a pytest benchmark; run it directly:

    python bench/gan_digits.py [--out DIR] [--recipe stable|dcgan]
"""

from __future__ import annotations

import os

# OpenMP threads that spin while they wait make torch 10-80x slower on a CPU shared with other
# processes (measured here: a DCGAN iteration 0.05 s -> 1.9 s on 2 busy cores). Passive waiting
# costs little when the machine is idle. Read once, when torch starts its thread pool.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from fastdream import gan, metrics


def write_digits(folder: Path, holdout: float, seed: int, size: int = 32):
    """Training digits as PNGs in ``folder``; returns the held-out ones as (N, 1, size, size) in [0, 1]."""
    from sklearn.datasets import load_digits

    images = load_digits().images  # (1797, 8, 8), values 0..16
    order = np.random.default_rng(seed).permutation(len(images))
    n_hold = int(round(len(images) * holdout))
    held, train = order[:n_hold], order[n_hold:]

    def up(i):
        im = Image.fromarray(np.round(images[i] * (255 / 16)).astype(np.uint8), "L")
        return im.resize((size, size), Image.BICUBIC)

    folder.mkdir(parents=True, exist_ok=True)
    for i in train:
        up(i).save(folder / f"digit_{i:04d}.png")
    held_t = torch.stack([torch.from_numpy(np.asarray(up(i), dtype=np.float32) / 255.0)[None] for i in held])
    return held_t, len(train)


def kid(ckpt, ref) -> float:
    fake = gan.sample_gan(ckpt, 1000, seed=1, device="cpu")
    return metrics.kid(ref, fake, subsets=50, seed=0).mean


def train(data, out, epochs, recipe):
    t = time.perf_counter()
    kw = dict(image_size=32, batch_size=64, seed=0, recipe=recipe, progress=False, device="cpu")
    try:
        ckpt = gan.train_gan(data, out, epochs=epochs, **kw)
    except gan.GANTrainingError as exc:
        print(f"  stopped: {exc}")
        ckpt = Path(out) / gan.CHECKPOINT_NAME
    return ckpt, time.perf_counter() - t


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, default=None, help="work folder (default: a temporary one)")
    p.add_argument("--recipe", default="stable", choices=gan.RECIPES)
    args = p.parse_args(argv)
    tmp = None
    if args.out is None:
        tmp = tempfile.TemporaryDirectory(prefix="gan_digits_")
        args.out = Path(tmp.name)
    data = args.out / "digits_train"
    held, n_train = write_digits(data, 300 / 1797, 0)
    ref = metrics.features(held)
    print(f"digits: {n_train} training, {len(held)} held out; 32 px gray; recipe {args.recipe}", flush=True)

    a = args.out / "resumed"
    ck1, t1 = train(data, a, 1, args.recipe)
    k1 = kid(ck1, ref)
    ck25, t25 = train(data, a, 25, args.recipe)
    s = torch.load(ck25, weights_only=True)
    k25 = kid(ck25, ref)
    print(
        f"- 1 epoch: KID {k1:.4f} ({t1:.0f} s); resumed to {s['epoch']} epochs: KID {k25:.4f} ({t25:.0f} s); "
        f"ratio {k25 / k1:.3f} (target <= 0.5); augment {s['config']['augment']}"
    )
    print(
        f"  per-epoch KID in the history (256 samples vs 256 training digits at 64 px): "
        f"{[round(h['kid'], 3) for h in s['history']]}"
    )
    ckw, _ = train(data, args.out / "whole", 25, args.recipe)
    w = torch.load(ckw, weights_only=True)
    same = w["epoch"] == s["epoch"] and all(torch.equal(s["generator"][k], v) for k, v in w["generator"].items())
    print(f"- resumed 1 -> 25 equals an uninterrupted 25-epoch run: {same}")

    small = args.out / "digits_300"
    small.mkdir(exist_ok=True)
    for f in sorted(data.glob("*.png"))[:300]:
        shutil.copy(f, small / f.name)
    c1, _ = train(small, args.out / "small", 1, args.recipe)
    k_small = kid(c1, ref)  # before the same checkpoint trains on
    c100, t100 = train(small, args.out / "small", 100, args.recipe)
    s100 = torch.load(c100, weights_only=True)
    print(
        f"- 300 digits: KID after 1 epoch {k_small:.4f}, after {s100['epoch']} epochs {kid(c100, ref):.4f} "
        f"({t100:.0f} s; augment {s100['config']['augment']})"
    )
    print(f"- sample grids: {a}/samples_epoch_025.png, {args.out / 'small'}/samples_epoch_100.png")
    if tmp is not None:
        tmp.cleanup()
    return 0 if k25 <= k1 / 2 and same else 1


if __name__ == "__main__":
    sys.exit(main())
