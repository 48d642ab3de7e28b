"""Image/mask pairs for training a U-Net: pairing two folders by file name, checking and decoding
the pairs, and the dataset of random training crops."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor
from torch.utils.data import Dataset
from tqdm.auto import tqdm

from fastdream import io, ops
from fastdream._checks import torch_seed
from fastdream.cutout.masks import read_mask, working_size
from fastdream.training import IMAGE_EXTENSIONS, header_size, list_images

#: Training crops zoom in by a random factor in [1, MAX_ZOOM] (log-uniform), as far as the
#: source has the pixels: crops are only ever shrunk to ``image_size``, never enlarged.
MAX_ZOOM = 1.5
_MAX_LISTED = 5  # file names listed in one message


def names(paths, limit: int = _MAX_LISTED) -> str:
    """Up to ``limit`` paths, comma-separated, and how many more there are."""
    paths = [str(p) for p in paths]
    more = f" and {len(paths) - limit} more" if len(paths) > limit else ""
    return ", ".join(paths[:limit]) + more


def stored_size(h: int, w: int, size: int, zoom: float) -> tuple[int, int]:
    """Size a pair is kept at: the working size for ``zoom=1``; for training, up to ``zoom`` times
    larger when the source has that many pixels, so zoomed-in crops need no enlarging."""
    short = min(h, w)
    return working_size(h, w, min(max(short, size), round(size * zoom)))


def load_pair(img_path: Path, mask_path: Path, size: int, zoom: float = 1.0) -> tuple[Tensor, Tensor]:
    """Image and mask at :func:`_stored_size`: uint8 (3, h, w) and uint8 (1, h, w) (0..255, soft edges)."""
    im = io.flatten(io.load_pil(img_path, "images_dir")).convert("RGB")  # clear pixels on white
    m = read_mask(mask_path, "masks_dir")
    if m.shape != (im.height, im.width):
        raise ValueError(_mismatch(img_path, (im.width, im.height), mask_path, (m.shape[1], m.shape[0])))
    h, w = stored_size(im.height, im.width, size, zoom)
    if (h, w) != (im.height, im.width):
        im = im.resize((w, h), Image.BILINEAR, reducing_gap=3.0)
    mask = Image.fromarray(m.astype(np.uint8) * 255, "L")
    if (h, w) != mask.size[::-1]:
        mask = mask.resize((w, h), Image.BILINEAR)
    return io.uint8_from_pil(im), io.uint8_from_pil(mask)


def _mismatch(img_path, isize, mask_path, msize) -> str:
    return (
        f"masks_dir: mask {mask_path} is {msize[0]}x{msize[1]} but image {img_path} is {isize[0]}x{isize[1]}; "
        "a mask must have its image's size"
    )


def check_pair(ip: Path, mp: Path) -> tuple[int, int]:
    """(width, height) of a pair from the file headers; ValueError naming the file if unreadable or mismatched."""
    isize = header_size(ip, "images_dir")
    msize = header_size(mp, "masks_dir")
    if isize != msize:
        raise ValueError(_mismatch(ip, isize, mp, msize))
    return isize


def _keyed(files: list[Path], root: Path, name: str) -> dict[str, Path]:
    """Files by relative path without extension ('a/b' for 'a/b.png'); duplicates are an error."""
    out: dict[str, Path] = {}
    for f in files:
        key = f.relative_to(root).with_suffix("").as_posix()
        if key in out:
            raise ValueError(f"{name}: {out[key]} and {f} have the same name; keep one of them")
        out[key] = f
    return out


def find_pairs(images_dir: Path, masks_dir: Path) -> tuple[list[tuple[str, Path, Path]], list[Path], list[Path]]:
    imgs = list_images(images_dir, "images_dir")
    masks = list_images(masks_dir, "masks_dir")
    ia, ma = images_dir.resolve(), masks_dir.resolve()
    if ia == ma:
        raise ValueError(
            f"images_dir and masks_dir are the same folder ({images_dir}); keep the masks in their own folder"
        )
    # A masks folder inside the images folder (or the other way round) is not part of the outer one
    # (only the outer one loses the inner's files: every mask of photos/masks is under photos/).
    if ia in ma.parents:
        imgs = [f for f in imgs if ma not in f.resolve().parents]
    if ma in ia.parents:
        masks = [f for f in masks if ia not in f.resolve().parents]
    exts = " ".join(IMAGE_EXTENSIONS)
    if not imgs:
        raise ValueError(f"images_dir: no images found in {images_dir} or its subfolders (looked for {exts})")
    if not masks:
        raise ValueError(f"masks_dir: no masks found in {masks_dir} or its subfolders (looked for {exts})")
    ik, mk = _keyed(imgs, images_dir, "images_dir"), _keyed(masks, masks_dir, "masks_dir")
    pairs = [(k, ik[k], mk[k]) for k in sorted(ik.keys() & mk.keys())]
    lone_i = [ik[k] for k in sorted(ik.keys() - mk.keys())]
    lone_m = [mk[k] for k in sorted(mk.keys() - ik.keys())]
    if not pairs:
        raise ValueError(
            f"no image in {images_dir} has a mask of the same name in {masks_dir} (images and masks pair by "
            f"file name without extension, e.g. images/cat.jpg with masks/cat.png); images: "
            f"{names([p.name for p in imgs], 3)}; masks: {names([p.name for p in masks], 3)}"
        )
    return pairs, lone_i, lone_m


class PairDataset(Dataset):
    """Pairs for training (``zoom=MAX_ZOOM``) or validation (``zoom=1``). ``dataset[i]`` is a
    random training crop (float image (3, S, S) and mask (1, S, S) in [0, 1]); :meth:`whole` is the
    pair as stored (for validation: the whole image at the working size).

    Every crop is zoomed in by up to ``zoom`` and flipped left-right half the time; with
    ``augment`` it is also turned by up to ``MAX_TURN`` degrees (image and mask together, edges
    mirrored) and the image alone gets a brightness, contrast and saturation change: what varies
    between photos of arbitrary subjects, and not their masks."""

    def __init__(self, pairs, size: int, seed: int, zoom: float, cache: dict | None, augment: bool = False):
        self.pairs, self.size, self.seed, self.zoom, self.cache = pairs, size, seed, zoom, cache
        self.augment = augment
        self.epoch = 0

    def __len__(self):
        return len(self.pairs)

    def whole(self, i: int) -> tuple[Tensor, Tensor]:
        key, img, mask = self.pairs[i]
        if self.cache is not None:
            return self.cache[key]
        return load_pair(img, mask, self.size, self.zoom)

    def __getitem__(self, i: int) -> tuple[Tensor, Tensor]:
        img, mask = self.whole(i)
        # One generator per (seed, epoch, item): the same crops whatever the order, the number of
        # loader workers or processes, so a resumed run sees what an uninterrupted one would.
        gen = torch.Generator().manual_seed(
            torch_seed((self.seed * 1_000_003 + self.epoch * 100_003 + i) % 2**63, of=self.seed)
        )
        r = torch.rand(4, generator=gen).tolist()
        s, (h, w) = self.size, img.shape[-2:]
        # Zoom: a square of the short side / z, z log-uniform in [1, zmax], where zmax keeps the
        # square at least S pixels: it is only ever shrunk. Enlarging would blur the crop, and
        # blur is a cue the model must read the same way here as on the images it will cut out.
        short = min(h, w)
        zmax = min(self.zoom, short / s)
        side = short if zmax <= 1 else round(short / math.exp(r[0] * math.log(zmax)))
        side = min(max(side, min(s, short)), short)
        y, x = round(r[1] * (h - side)), round(r[2] * (w - side))
        both = io.from_uint8(torch.cat([img, mask]))[None, :, y : y + side, x : x + side]
        if side != s:
            both = F.interpolate(both, size=(s, s), mode="bilinear", align_corners=False, antialias=side > s)
        if r[3] < 0.5:
            both = both.flip(-1)
        both = both[0].clamp_(0.0, 1.0)
        if self.augment:
            return _jitter(both, torch.rand(4, generator=gen).tolist())
        return both[:3], both[3:]


#: Augmentation strengths (see :class:`PairDataset`).
MAX_TURN = 20.0
BRIGHTNESS, CONTRAST, SATURATION = 0.15, 0.25, 0.3


def _jitter(both: Tensor, r: list[float]) -> tuple[Tensor, Tensor]:
    turned = ops.zoom_shift(both, angle=(2 * r[0] - 1) * MAX_TURN, padding="reflect").clamp_(0.0, 1.0)
    img, mask = turned[:3], turned[3:]
    img = img + (2 * r[1] - 1) * BRIGHTNESS
    mean = img.mean()
    img = (img - mean) * (1 + (2 * r[2] - 1) * CONTRAST) + mean
    gray = img.mean(0, keepdim=True)
    img = (img - gray) * (1 + (2 * r[3] - 1) * SATURATION) + gray
    return img.clamp_(0.0, 1.0), mask


class Rejects:
    """Bad pairs: raised at once, or with ``skip_bad`` collected and counted."""

    def __init__(self, skip_bad: bool):
        self.skip_bad, self.bad = skip_bad, []

    def __call__(self, exc: ValueError) -> None:
        if not self.skip_bad:
            raise ValueError(f"{exc} (pass skip_bad=True to skip such pairs)") from None
        self.bad.append(str(exc))


def checked(pairs, reject: Rejects) -> tuple[list, dict]:
    """The pairs whose headers read and whose sizes match, and their (width, height)s."""
    good, sizes = [], {}
    for key, ip, mp in pairs:  # headers only: fast, and enough for the size checks
        try:
            sizes[key] = check_pair(ip, mp)
        except ValueError as exc:
            reject(exc)
            continue
        good.append((key, ip, mp))
    return good, sizes


def decoded(good, sizes, size: int, zoom_of, reject: Rejects, budget: int, show=False) -> tuple[dict | None, list]:
    """A dataset that fits in ``budget`` bytes decoded now, once: a truncated or corrupt file then
    surfaces here, before anything is written, rather than in the middle of training. Returns the
    cache (None when it does not fit) and the pairs that decoded."""
    pixels = 0
    for key, _, _ in good:
        w, h = sizes[key]
        hs, ws = stored_size(h, w, size, zoom_of(key))
        pixels += hs * ws
    if pixels * 4 > budget:
        return None, good
    cache, kept = {}, []
    for key, ip, mp in tqdm(good, desc="loading pairs", leave=False, disable=not show or len(good) < 500):
        try:
            cache[key] = load_pair(ip, mp, size, zoom_of(key))
        except ValueError as exc:
            reject(exc)
            continue
        kept.append((key, ip, mp))
    return cache, kept
