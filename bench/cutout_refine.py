"""Mask edges at full resolution: plain upsampling vs the guided-filter refinement
(fastdream.cutout.refine), on 1024 px images with exact soft alpha (bench/cutout_kinds.py with
blurred edges and hair-like strands).

    python bench/cutout_refine.py [--model UNET.pt] [--n 12] [--size 1024] [--grid]

Two sources of the working-size mask: the exact alpha shrunk to the working size (what the
refinement can do with a perfect low-resolution mask), and, with ``--model``, a trained U-Net's
prediction (what users get). Figures, in a band of 8 px around the true edge (0.02 < alpha < 0.98,
dilated): the mean absolute alpha error; and the boundary F-measure, the edges of the masks cut at
0.5 matched within 2 px. ``--grid`` also scans the filter's radius and epsilon.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
import torch.nn.functional as F

from bench.cutout_kinds import render
from fastdream.cutout import refine as R

WORKING = 160


def _edges(m: torch.Tensor) -> torch.Tensor:
    b = m >= 0.5
    er = -F.max_pool2d(-b.float()[None, None], 3, 1, 1)[0, 0] > 0.5
    return b & ~er


def _dilate(m: torch.Tensor, r: int) -> torch.Tensor:
    return F.max_pool2d(m.float()[None, None], 2 * r + 1, 1, r)[0, 0] > 0.5


def scores(pred: torch.Tensor, alpha: torch.Tensor) -> tuple[float, float]:
    band = _dilate((alpha > 0.02) & (alpha < 0.98) | _edges(alpha), 8)
    mae = float((pred - alpha).abs()[band].mean())
    ep, ea = _edges(pred), _edges(alpha)
    precision = float((ep & _dilate(ea, 2)).sum()) / max(1, int(ep.sum()))
    recall = float((ea & _dilate(ep, 2)).sum()) / max(1, int(ea.sum()))
    f = 2 * precision * recall / max(1e-9, precision + recall)
    return mae, f


def _picture(path, img, up, ref, alpha, side=256):
    from PIL import Image

    ys, xs = np.nonzero(((alpha > 0.02) & (alpha < 0.98)).numpy())
    k = len(ys) // 2
    y0 = int(np.clip(ys[k] - side // 2, 0, alpha.shape[0] - side))
    x0 = int(np.clip(xs[k] - side // 2, 0, alpha.shape[1] - side))
    crop = (slice(y0, y0 + side), slice(x0, x0 + side))
    gray = [np.repeat((m[crop].numpy()[..., None] * 255).astype(np.uint8), 3, 2) for m in (up, ref, alpha)]
    panels = [(img[crop] * 255).astype(np.uint8), *gray]
    Image.fromarray(np.concatenate(panels, 1)).save(path)
    print(f"wrote {path} (photo | bilinear | guided | exact alpha, a {side} px crop at ({x0}, {y0}))")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default=None)
    p.add_argument("--n", type=int, default=12)
    p.add_argument("--size", type=int, default=1024)
    p.add_argument("--grid", action="store_true")
    p.add_argument(
        "--picture",
        default=None,
        help="write crops (photo | bilinear | guided | exact alpha) as PATH.exact.png / PATH.unet.png",
    )
    args = p.parse_args(argv)
    cases = [render(np.random.default_rng([5, i, 77]), args.size, soft=3.0, strands=40) for i in range(args.n)]
    sources = {"exact alpha at 160 px": None}
    model = None
    if args.model:
        from fastdream.cutout import load_unet
        from fastdream.cutout.predict import _predict_small

        model = load_unet(args.model, device="cpu")
        sources["U-Net prediction"] = model
    settings = [(R.RADIUS, R.EPS)]
    if args.grid:
        settings = [(r, e) for r in (1, 2, 4, 8) for e in (1e-4, 1e-3, 1e-2)]
    print(f"{args.n} images at {args.size}², working size {WORKING}")
    print("| working mask | edges | alpha MAE in the band | boundary F (2 px) | ms per image |")
    print("|---|---|---|---|---|")
    for label, net in sources.items():
        rows = {}
        for img, alpha in cases:
            full = torch.from_numpy(img).permute(2, 0, 1)[None]
            a = torch.from_numpy(alpha)
            if net is None:
                small = F.interpolate(a[None, None], size=(WORKING, WORKING), mode="area")
            else:
                from PIL import Image

                rgb = Image.fromarray(np.round(img * 255).astype(np.uint8))
                small = _predict_small(rgb, net, torch.device("cpu"), WORKING, False)[None, None]
            t = time.perf_counter()
            up = F.interpolate(small, size=a.shape, mode="bilinear", align_corners=False)[0, 0].clamp(0, 1)
            seconds = time.perf_counter() - t  # the edges alone, not the scoring
            rows.setdefault("bilinear", []).append((*scores(up, a), seconds))
            for r, e in settings:
                t = time.perf_counter()
                ref = R.refine(full, small, r, e)[0, 0]
                seconds = time.perf_counter() - t
                rows.setdefault(f"guided r={r} eps={e:g}", []).append((*scores(ref, a), seconds))
            if args.picture and img is cases[0][0]:  # one picture per source: NAME.exact.png, NAME.unet.png
                stem, _, ext = args.picture.rpartition(".")
                _picture(f"{stem}.{'exact' if net is None else 'unet'}.{ext}", img, up, R.refine(full, small)[0, 0], a)
        for name, vals in rows.items():
            v = np.array(vals)
            print(f"| {label} | {name} | {v[:, 0].mean():.4f} | {v[:, 1].mean():.3f} | {1000 * v[:, 2].mean():.0f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
