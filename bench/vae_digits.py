"""VAE quality target: fastdream.train_vae on scikit-learn's digits, checked on held-out digits.

Writes the digits (8x8 upsampled to 32 px, bicubic, gray) with a held-out split aside (the split
of ``bench/gan_digits.py``), trains ``fastdream.train_vae`` under a wall-time budget, and
reports: the held-out ELBO per epoch (train_vae's own validation split), the KID of 1000 samples
against the held-out digits for the untrained and the trained model, and a grid of held-out
digits above their reconstructions (``recon_heldout.png`` in ``--out``). Target: trained KID <=
untrained KID / 3 within 10 minutes on a 2-core CPU.

    python bench/vae_digits.py --minutes 10 --out /tmp/q/vae
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # see bench/gan_digits.py

import argparse
import sys
import tempfile
import time
from pathlib import Path

import torch

import fastdream as fd
from bench.gan_digits import write_digits
from fastdream import io, metrics
from fastdream.models import VAE


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--minutes", type=float, default=10.0)
    p.add_argument("--out", type=Path, default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--holdout", type=float, default=300 / 1797)
    p.add_argument("--epochs", type=int, default=10_000)
    p.add_argument("--latent-dim", type=int, default=32)
    p.add_argument("--no-progress", action="store_true")
    args = p.parse_args(argv)
    tmp = None
    if args.out is None:
        tmp = tempfile.TemporaryDirectory(prefix="vae_digits_")
        args.out = Path(tmp.name)
    held, n_train = write_digits(args.out / "digits_train", args.holdout, args.seed)
    ref = metrics.features(held)

    with torch.random.fork_rng(devices=[]):  # the untrained model train_vae starts from
        torch.manual_seed(args.seed)
        untrained = VAE(image_size=32, channels=1, latent_dim=args.latent_dim).eval()
    z = torch.randn(1000, args.latent_dim, generator=torch.Generator().manual_seed(args.seed + 1))
    with torch.no_grad():
        kid_untrained = metrics.kid(ref, torch.sigmoid(untrained.decode(z)))

    t = time.perf_counter()
    ckpt = fd.train_vae(
        args.out / "digits_train",
        args.out / "run",
        image_size=32,
        latent_dim=args.latent_dim,
        epochs=args.epochs,
        max_minutes=args.minutes,
        seed=args.seed,
        resume=False,
        progress=not args.no_progress,
        device="cpu",
    )
    t_train = time.perf_counter() - t
    state = torch.load(ckpt, weights_only=True)
    model = fd.vae.load_vae(ckpt)
    with torch.no_grad():
        samples = torch.sigmoid(model.decode(z))
        kid_trained = metrics.kid(ref, samples)
        rec = torch.sigmoid(model.decode(model.encode(held[:32])[0]))
    io.save_image(io.grid(torch.stack([held[:32], rec], 1).flatten(0, 1), nrow=16), args.out / "recon_heldout.png")
    io.save_image(io.grid(samples[:64]), args.out / "samples.png")
    elbos = [round(h["val_elbo"], 1) for h in state["history"]]
    print(f"digits: {n_train} training (of which train_vae holds out 10%), {len(held)} held out for the KID")
    print(f"training: {t_train:.0f} s, {state['epoch']} epochs; held-out ELBO per epoch (nats): {elbos}")
    print(
        f"KID vs held-out (1000 samples): untrained {kid_untrained.mean:.4f}, trained {kid_trained.mean:.4f}, "
        f"ratio {kid_trained.mean / kid_untrained.mean:.3f} (target <= 0.333)"
    )
    print(f"pictures: {args.out / 'recon_heldout.png'}, {args.out / 'samples.png'}")
    return 0 if kid_trained.mean <= kid_untrained.mean / 3 else 1


if __name__ == "__main__":
    sys.exit(main())
