"""Issue 27's targets: style by regions and styled videos, measured.

    python bench/style_regions_video.py regions   # two halves, two styles: each half's Gram distances
    python bench/style_regions_video.py video     # a pan over a photo: flicker and style, flow vs alone
    python bench/style_regions_video.py speed     # seconds per frame at 256 and 512 px
    python bench/style_regions_video.py           # all three
    python bench/style_regions_video.py gallery --out docs/gallery   # the pictures of docs/gallery.md

- regions: the astronaut at 256x256, the left half's mask with the IHC stain's style, the right
  half's with the Hubble deep field's, the library's defaults (3 octaves x 100 steps), seed 0.
  The style distance (relative Gram error, mean over the style layers) of each half of the
  result to each style, and of the photo itself.
- video: a 256x192 window panning 3 px a frame over the astronaut (12 frames), the IHC style,
  :data:`fastdream.video.styled.STYLE_DEFAULTS`, seed 0, ``flow=True`` against ``flow=False``.
  The motion-compensated change of the stylization (output - input) from frame to frame (the
  previous frame's moved with the pan, 8 px borders left out), and the mean style distance.
  Targets: change (flow) <= 0.7 x change (alone); distance (flow) <= 1.25 x distance (alone).
- speed: the same pan at 256x192 and 512x384 (5 frames): seconds for the first frame (the
  octaves) and per later frame (the full size from the last frame), flow=True, from the step hook.

Pictures (the regions result, the video strips) go to ``--out`` (default ``/tmp/style_bench``).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

import fastdream as fd
from fastdream import io
from fastdream.style import StyleOptions, Stylizer
from fastdream.style import engine as E
from fastdream.video.styled import STYLE_DEFAULTS

PAN = 3


def _sk(name: str, size) -> Image.Image:
    from skimage import data

    return Image.fromarray(getattr(data, name)()).resize(size, Image.BICUBIC)


def distances(x, styles, masks=None) -> np.ndarray:
    """Style distance of ``x`` (any image kind; sides multiples of 16) to each style (columns),
    over the whole picture or inside each mask (rows)."""
    x01 = io.load(x).rgb
    with Stylizer([x01], StyleOptions.create(1), torch.device("cpu")) as st:
        rows = [None] if masks is None else [torch.as_tensor(m, dtype=torch.float32)[None, None] for m in masks]
        return np.array(
            [[E.style_distance(st.feats, x01, io.load(s).rgb, st.o.style_layers, m) for s in styles] for m in rows]
        )


def regions(out: Path) -> None:
    content = _sk("astronaut", (256, 256))
    styles = [_sk("immunohistochemistry", (256, 256)), _sk("hubble_deep_field", (256, 256))]
    left = np.zeros((256, 256), np.float32)
    left[:, :128] = 1
    masks = [left, 1 - left]
    t = time.perf_counter()
    result = fd.style_transfer(content, styles, masks=masks, seed=0)
    took = time.perf_counter() - t
    io.save_image(result, out / "regions_halves.png")
    d, d0 = distances(result, styles, masks), distances(content, styles, masks)
    print(f"regions: {took:.1f} s; style distance, rows = left/right half, columns = IHC/Hubble")
    print(f"  photo:  left {d0[0].round(3).tolist()}  right {d0[1].round(3).tolist()}")
    print(f"  result: left {d[0].round(3).tolist()}  right {d[1].round(3).tolist()}")
    ok = d[0, 0] < d[0, 1] and d[1, 1] < d[1, 0]
    print(f"  each half nearer its own style: {ok}")


def pan(out: Path, w: int, h: int, n: int, photo: str = "astronaut", scale: float = 2.0):
    """A folder of n frames: a w x h window moving PAN px a frame to the right over a photo
    ``scale`` times the window's width (its aspect kept); the folder and the frames."""
    from skimage import data

    raw = getattr(data, photo)()
    big = np.asarray(_sk(photo, (round(scale * w), round(scale * w * raw.shape[0] / raw.shape[1]))))
    root = out / f"pan_{photo}_{w}x{h}"
    root.mkdir(parents=True, exist_ok=True)
    y0, x0 = (big.shape[0] - h) // 3, w // 4
    frames = [big[y0 : y0 + h, x0 + PAN * k : x0 + PAN * k + w].copy() for k in range(n)]
    for k, f in enumerate(frames):
        Image.fromarray(f).save(root / f"{k:03d}.png")
    return root, frames


def change_along_the_pan(outs, frames, border: int = 8) -> float:
    d = [o.astype(np.float32) - f.astype(np.float32) for o, f in zip(outs, frames)]
    w, b = d[0].shape[1], border
    return float(
        np.mean(
            [np.abs(d[k][b:-b, b : w - PAN - b] - d[k - 1][b:-b, PAN + b : w - b]).mean() for k in range(1, len(d))]
        )
    )


def change_map(outs, frames, gain: float = 8.0) -> np.ndarray:
    """Where the stylization changes from frame to frame along the pan: the mean over the frames
    of |change| (output - input, the previous frame's moved with the pan), x ``gain``, as a gray
    picture of a frame's size (black: steady); the strip of PAN px entering at the right is black."""
    d = [o.astype(np.float32) - f.astype(np.float32) for o, f in zip(outs, frames)]
    w = d[0].shape[1]
    m = np.zeros(d[0].shape[:2], np.float32)
    for k in range(1, len(d)):
        m[:, : w - PAN] += np.abs(d[k][:, : w - PAN] - d[k - 1][:, PAN:]).mean(-1)
    g = np.clip(m / (len(d) - 1) * gain, 0, 255).astype(np.uint8)
    return np.repeat(g[..., None], 3, -1)


def _frames(folder: Path, n: int) -> list[np.ndarray]:
    return [np.asarray(Image.open(folder / f"frame_{k:05d}.png")) for k in range(n)]


def video(out: Path, n: int = 12) -> None:
    root, frames = pan(out, 256, 192, n)
    style = _sk("immunohistochemistry", (256, 256))
    res = {}
    for name, flow in (("flow", True), ("alone", False)):
        t = time.perf_counter()
        fd.style_video(
            root, style, out / f"video_{name}.gif", frames_dir=out / f"video_{name}", flow=flow, resume=False, seed=0
        )
        took = (time.perf_counter() - t) / n
        outs = _frames(out / f"video_{name}", n)
        res[name] = (change_along_the_pan(outs, frames), float(np.mean([distances(o, [style])[0, 0] for o in outs])))
        print(f"video {name}: change {res[name][0]:.2f} levels, style distance {res[name][1]:.4f}, {took:.1f} s/frame")
        strip = np.concatenate([outs[k] for k in (0, n // 3, 2 * n // 3, n - 1)], 1)
        Image.fromarray(strip).save(out / f"strip_{name}.png")
    ratio, dist = res["flow"][0] / res["alone"][0], res["flow"][1] / res["alone"][1]
    print(f"  change ratio {ratio:.2f} (target <= 0.7), distance ratio {dist:.2f} (target <= 1.25)")


def speed(out: Path, n: int = 5) -> None:
    """Seconds per frame from the step hook's times: the setup (network, halo, the style's Gram
    matrices) to the first step, the first frame, and the median of the later frames (the median
    keeps out the bursts of other work on a shared machine)."""
    style = _sk("immunohistochemistry", (256, 256))
    for w, h in ((256, 192), (512, 384)):
        root, _ = pan(out, w, h, n)
        log: list[tuple[int, float]] = []
        t0 = time.perf_counter()
        fd.style_video(
            root,
            style,
            out / f"speed_{w}.gif",
            frames_dir=out / f"speed_{w}",
            resume=False,
            seed=0,
            callback=lambda state, log=log: log.append((state.frame, time.perf_counter())),
        )
        ends = [t0] + [max(t for f, t in log if f == k) for k in range(n)]
        per = np.diff(ends)
        setup = log[0][1] - t0
        print(
            f"speed {w}x{h}: setup {setup:.1f} s, first frame {per[0] - setup:.1f} s "
            f"({STYLE_DEFAULTS['octaves']} octaves x {STYLE_DEFAULTS['steps']} steps), later frames "
            f"{np.median(per[1:]):.2f} s each, fastest {per[1:].min():.2f} s ({STYLE_DEFAULTS['steps']} steps; "
            f"{per[1:].round(2).tolist()}); "
            f"load average {os.getloadavg()[0]:.1f}"
        )


def cup_masks(w: int, h: int) -> list[np.ndarray]:
    """The coffee photo's cup and saucer (two ellipses, soft edges), and the table (the rest)."""
    from PIL import ImageDraw, ImageFilter

    k = w / 300  # drawn on a 300 x 200 sketch of the photo
    m = Image.new("L", (w, h), 0)
    d = ImageDraw.Draw(m)
    d.ellipse([36 * k, 45 * k, 242 * k, 196 * k], fill=255)  # the saucer
    d.ellipse([84 * k, 5 * k, 210 * k, 135 * k], fill=255)  # the cup
    cup = np.asarray(m.filter(ImageFilter.GaussianBlur(4 * k / 1.6)), np.float32) / 255
    return [cup, 1 - cup]


def gallery(out: Path) -> None:
    """docs/gallery.md's pictures: the coffee in two regions (photo | mask | result), and a styled
    pan over the cat (flow=True above, flow=False below: every 3rd of 12 frames, then the change
    map), as JPEGs in ``out``, with the two masks as PNGs (for the command line)."""
    w, h = 480, 320
    photo = _sk("coffee", (w, h))
    styles = [_sk(GALLERY_STYLES[0], (512, 512)), _sk(GALLERY_STYLES[1], (512, 512))]
    masks = [out / "cup_mask.png", out / "table_mask.png"]  # the files the command line takes
    for path, m in zip(masks, cup_masks(w, h)):
        Image.fromarray((m * 255).round().astype(np.uint8)).save(path)
    result = fd.style_transfer(photo, styles, masks=masks, seed=0)
    panels = [np.asarray(photo), np.asarray(Image.open(masks[0]).convert("RGB")), np.asarray(result)]
    io.save_image(Image.fromarray(np.concatenate(panels, 1)), out / "style_regions_coffee.jpg", quality=88)
    style, rows = _sk(GALLERY_STYLES[2], (256, 256)), []
    with tempfile.TemporaryDirectory() as tmp:
        root, frames = pan(Path(tmp), 256, 192, 12, "chelsea", scale=1.45)
        for flow in (True, False):
            fd.style_video(root, style, Path(tmp) / f"{flow}.gif", flow=flow, seed=0)
            outs = _frames(Path(tmp) / f"{flow}_frames", 12)
            rows.append(np.concatenate([*outs[::3], change_map(outs, frames)], 1))
    io.save_image(Image.fromarray(np.concatenate(rows, 0)), out / "style_video_strip.jpg", quality=88)


#: The gallery's styles: the cup's, the table's, and the video's (scikit-image's photos).
GALLERY_STYLES = ("immunohistochemistry", "hubble_deep_field", "immunohistochemistry")


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("what", nargs="*", help="regions, video, speed, gallery (default: the first three)")
    p.add_argument("--out", default="/tmp/style_bench", help="where the pictures go")
    a = p.parse_args()
    if set(a.what) - {"regions", "video", "speed", "gallery"}:
        p.error(f"unknown measurement(s) {sorted(set(a.what) - {'regions', 'video', 'speed', 'gallery'})}")
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    print(f"torch threads {torch.get_num_threads()}, load average {os.getloadavg()[0]:.1f}")
    for what in a.what or ["regions", "video", "speed"]:
        globals()[what](out)
