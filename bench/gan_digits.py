"""GAN quality target: DCGAN on scikit-learn's 8x8 digits, KID against held-out digits.

Writes the digits (upsampled to 32 px, bicubic) to a folder, keeping a held-out split aside,
trains ``fastdream.train_gan`` on the rest under a wall-time budget, and compares the KID
(EfficientNet-Lite0 features, see ``fastdream.metrics``) of the untrained and the trained
generator against the held-out digits. The target: trained KID <= untrained KID / 3 within
10 minutes on a 2-core CPU.

The untrained generator is the exact initial state of the training run (same seed). It is
measured both ways BatchNorm can run: eval mode (running statistics, how ``sample_gan``
samples; an untrained net then gives near-uniform gray) and train mode (batch statistics;
textured noise). The target is checked against the smaller, i.e. the harder baseline.

Needs scikit-learn (``pip install scikit-learn``). Not a pytest benchmark; run it directly:

    python bench/gan_digits.py --minutes 10 [--out DIR]
"""

from __future__ import annotations

import os

# OpenMP threads that spin while they wait make torch 10-80x slower on a CPU shared with other
# processes (measured here: a DCGAN iteration 0.05 s -> 1.9 s on 2 busy cores). Passive waiting
# costs little when the machine is idle. Read once, when torch starts its thread pool.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse
import platform
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch
from PIL import Image

import fastdream
from fastdream import gan, metrics
from fastdream.models.dcgan import Generator


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


@torch.no_grad()
def untrained_samples(cfg: dict, n: int, seed: int, train_mode: bool) -> torch.Tensor:
    # The same construction as train_gan: manual_seed(seed), then Generator(...) first.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg["seed"])
        g = Generator(cfg["nz"], cfg["ngf"], 1, 32)
    g.train(train_mode)
    gen = torch.Generator().manual_seed(seed)
    z = torch.stack([torch.randn(cfg["nz"], generator=gen) for _ in range(n)])
    return ((g(z) + 1) / 2).clamp(0, 1)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--minutes", type=float, default=10.0, help="training time budget (train_gan max_minutes)")
    p.add_argument("--out", type=Path, default=None, help="work folder (default: a temporary one)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--holdout", type=float, default=0.2, help="fraction of the digits kept for the KID")
    p.add_argument("--epochs", type=int, default=10_000, help="upper bound; the budget usually ends training")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--nz", type=int, default=100)
    p.add_argument("--ngf", type=int, default=64)
    p.add_argument("--ndf", type=int, default=64)
    p.add_argument("--lr", type=float, default=2e-4)
    p.add_argument("--fakes", type=int, default=1000, help="generated images per KID (subsets draw from them)")
    p.add_argument("--subsets", type=int, default=100, help="KID subsets")
    p.add_argument("--no-progress", action="store_true")
    args = p.parse_args(argv)

    tmp = None
    if args.out is None:
        tmp = tempfile.TemporaryDirectory(prefix="gan_digits_")
        args.out = Path(tmp.name)
    data_dir, run_dir = args.out / "digits_train", args.out / "run"
    held, n_train = write_digits(data_dir, args.holdout, args.seed)
    n = len(held)
    cfg = dict(seed=args.seed, nz=args.nz, ngf=args.ngf, ndf=args.ndf)
    print(f"digits: {n_train} for training, {n} held out; 32 px gray", flush=True)

    t = time.perf_counter()
    ref = metrics.features(held)
    kid_kw = dict(subsets=args.subsets, seed=args.seed)
    nf = args.fakes
    kid_eval = metrics.kid(ref, untrained_samples(cfg, nf, args.seed + 1, train_mode=False), **kid_kw)
    kid_train = metrics.kid(ref, untrained_samples(cfg, nf, args.seed + 1, train_mode=True), **kid_kw)
    t_metric = time.perf_counter() - t
    print(f"untrained KID: eval-mode {kid_eval.mean:.4f} ± {kid_eval.std:.4f}, "
          f"train-mode {kid_train.mean:.4f} ± {kid_train.std:.4f}  ({t_metric:.1f} s)", flush=True)  # fmt: skip

    t = time.perf_counter()
    stopped = None
    try:
        ckpt = gan.train_gan(
            data_dir, run_dir, image_size=32, nc=1, epochs=args.epochs, batch_size=args.batch_size, nz=args.nz,
            ngf=args.ngf, ndf=args.ndf, lr=args.lr, seed=args.seed, resume=False, max_minutes=args.minutes,
            progress=not args.no_progress, device="cpu",
        )  # fmt: skip
    except gan.GANTrainingError as exc:  # collapsed or diverged: measure the last good checkpoint
        stopped = str(exc)
        print(stopped, file=sys.stderr)
        ckpt = run_dir / gan.CHECKPOINT_NAME
        if not ckpt.is_file():
            return 1
    t_train = time.perf_counter() - t
    state = torch.load(ckpt, weights_only=True)
    epochs, iters = state["epoch"], sum(h["iterations"] for h in state["history"])

    fake = gan.sample_gan(ckpt, nf, seed=args.seed + 1, device="cpu")
    kid_trained = metrics.kid(ref, fake, **kid_kw)
    fid_untrained = metrics.fid(ref, untrained_samples(cfg, nf, args.seed + 1, train_mode=True))
    fid_trained = metrics.fid(ref, fake)
    baseline = min(kid_eval.mean, kid_train.mean)
    ratio = kid_trained.mean / baseline
    ok = ratio <= 1 / 3

    cmd = "python bench/gan_digits.py " + " ".join(argv if argv is not None else sys.argv[1:])
    print()
    print(f"## GAN quality target: DCGAN on scikit-learn digits ({datetime.now(timezone.utc):%Y-%m-%d})")
    print()
    print(f"- command: `{cmd.strip()}`")
    print(f"- machine: {platform.machine()}, {os.cpu_count()} CPUs, {torch.get_num_threads()} torch threads "
          f"(OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY')}), torch {torch.__version__}, "
          f"fastdream {fastdream.__version__}")  # fmt: skip
    print(f"- data: {n_train} training / {n} held-out digits, 8x8 upsampled to 32 px (bicubic), gray")
    print(f"- model: DCGAN 32 px, nz={args.nz}, ngf={args.ngf}, ndf={args.ndf}, batch {args.batch_size}, "
          f"lr {args.lr:g}, beta1 0.5")  # fmt: skip
    print(f"- training: {t_train:.1f} s wall (budget {args.minutes:g} min), {epochs} epochs, {iters} iterations"
          + (f"; stopped early, last good epoch used: {stopped}" if stopped else ""))  # fmt: skip
    print(f"- KID vs held-out ({n} held-out vs {nf} generated images, {args.subsets} subsets of {min(n, nf)}, "
          f"EfficientNet-Lite0 features at {metrics.DEFAULT_SIZE} px; not comparable to Inception KID):")  # fmt: skip
    print(f"  - untrained, eval-mode BN: {kid_eval.mean:.4f} ± {kid_eval.std:.4f}")
    print(f"  - untrained, train-mode BN: {kid_train.mean:.4f} ± {kid_train.std:.4f}")
    print(f"  - trained: {kid_trained.mean:.4f} ± {kid_trained.std:.4f}")
    print(f"  - ratio trained / min(untrained) = {ratio:.3f} (target <= 0.333): {'PASS' if ok else 'FAIL'}")
    print(f"- FID (same features, {n} vs {nf} images; biased at this size): untrained {fid_untrained:.1f}, "
          f"trained {fid_trained:.1f}")  # fmt: skip
    if args.out is not None and tmp is None:
        print(f"- outputs: {run_dir} (samples_epoch_NNN.png, checkpoint.pt)")
    if tmp is not None:
        tmp.cleanup()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
