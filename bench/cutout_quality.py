"""Background removal on a kind of data the generator does not make (bench/cutout_kinds.py):
300 training images, the train_unet defaults, a time budget; mean IoU on 60 held-out images.

    python bench/cutout_quality.py --minutes 10 [--out DIR] [train_unet options]

Prints the command, the training time and epochs, and the held-out mean IoU (predict_mask cut at
0.5, without and with flip test-time augmentation). The target: IoU >= 0.9 within 10 minutes of
training on a 2-core CPU.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # see bench/gan_digits.py

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from bench.cutout_kinds import make
from fastdream.cutout import load_unet, predict_mask, read_mask, train_unet


def evaluate(ckpt, images: Path, masks: Path, tta: bool) -> tuple[float, float]:
    model = load_unet(ckpt, device="cpu")
    ious = []
    for img in sorted(images.glob("*.png")):
        target = torch.from_numpy(read_mask(masks / img.name))
        with Image.open(img) as im:
            pred = predict_mask(im, model, tta=tta, refine=False) >= 0.5
        inter, union = (pred & target).sum().item(), (pred | target).sum().item()
        ious.append(inter / union if union else 1.0)
    return float(np.mean(ious)), float(np.min(ious))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--minutes", type=float, default=10.0)
    p.add_argument("--out", type=Path, default=None)
    p.add_argument("--train", type=int, default=300)
    p.add_argument("--holdout", type=int, default=60)
    p.add_argument("--size", type=int, default=160, help="side of the generated images")
    p.add_argument("--backbone", default="efficientnet_lite0", help="efficientnet_lite0 or none")
    p.add_argument("--no-augment", action="store_true")
    p.add_argument("--encoder-lr", type=float, default=0.1)
    p.add_argument("--freeze-epochs", type=int, default=0)
    p.add_argument("--image-size", type=int, default=None, help="train_unet's image_size (default: its default)")
    p.add_argument("--epochs", type=int, default=None)
    p.add_argument("--no-progress", action="store_true")
    args = p.parse_args(argv)
    tmp = None
    if args.out is None:
        tmp = tempfile.TemporaryDirectory(prefix="cutout_quality_")
        args.out = Path(tmp.name)
    train_images, train_masks = make(args.out / "train", args.train, args.size, seed=0)
    held_images, held_masks = make(args.out / "held", args.holdout, args.size, seed=1)
    kw = dict(
        backbone=None if args.backbone == "none" else args.backbone,
        augment=not args.no_augment,
        encoder_lr=args.encoder_lr,
        freeze_epochs=args.freeze_epochs,
        epochs=args.epochs,
    )
    if args.image_size:
        kw["image_size"] = args.image_size
    t = time.perf_counter()
    ckpt = train_unet(
        train_images,
        train_masks,
        args.out / "unet.pt",
        resume=False,
        max_minutes=args.minutes,
        device="cpu",
        progress=not args.no_progress,
        **kw,
    )
    t_train = time.perf_counter() - t
    state = torch.load(ckpt, weights_only=True)
    iou, worst = evaluate(ckpt, held_images, held_masks, tta=False)
    iou_tta, worst_tta = evaluate(ckpt, held_images, held_masks, tta=True)
    cmd = "python bench/cutout_quality.py " + " ".join(argv if argv is not None else sys.argv[1:])
    print(
        f"- `{cmd.strip()}`: {t_train:.0f} s, {state['epoch']} epochs of {state['config']['epochs']}, "
        f"image_size {state['config']['image_size']}; held-out IoU {iou:.4f} (worst {worst:.3f}), "
        f"with flip TTA {iou_tta:.4f} (worst {worst_tta:.3f})"
    )
    if tmp is not None:
        tmp.cleanup()
    return 0 if max(iou, iou_tta) >= 0.9 and t_train <= 600 else 1


if __name__ == "__main__":
    sys.exit(main())
