"""The dreamer's data: one subfolder per subject, its pictures decoded once, a split stratified by
subject, epochs balanced over the subjects, and the augmented views the network trains on."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from fastdream import io
from fastdream._warnings import warn
from fastdream.training import IMAGE_EXTENSIONS, list_images

#: A subject needs this many readable pictures: one to train on and one to validate with.
MIN_IMAGES = 2
#: Pictures are kept with their short side at this multiple of the training size, so a crop of
#: a part of the picture still has the pixels of a full view.
KEEP_SCALE = 1.5


@dataclass
class Subjects:
    """What a folder of subjects holds: the subjects (sorted by name) and their picture files,
    and what was left out (empty subfolders, pictures outside any subfolder, unreadable files)."""

    names: list[str]
    files: list[list[Path]]
    empty: list[str] = field(default_factory=list)
    loose: list[Path] = field(default_factory=list)
    bad: list[str] = field(default_factory=list)


def find_subjects(images_dir: Path) -> Subjects:
    """The subjects of ``images_dir``: each subfolder (not hidden) with its images, nested
    folders included. Clear errors for a missing folder; empty subfolders are listed in ``empty``."""
    root = Path(images_dir)
    loose = list_images(root, recursive=False)  # also the missing-folder / not-a-folder errors
    names, files, empty = [], [], []
    for sub in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        found = list_images(sub)
        if found:
            names.append(sub.name)
            files.append(found)
        else:
            empty.append(sub.name)
    return Subjects(names, files, empty, loose)


#: Characters a subject's name cannot hold: ``--subject cat=2``, ``--vary subject=cat,dog+brick``.
RESERVED = "=,;+"


def unusable_name(name: str) -> str | None:
    """Why ``name`` could be trained as a subject but never dreamed by it, or None.

    Examples:
        >>> unusable_name("my cat"), unusable_name("a=b"), unusable_name(" cat ")
        (None, 'holds one of = , ; +, which subject lists use (NAME=WEIGHT, names joined by , ; or +)', 'begins or ends with a space, which a subject list drops')
    """
    if any(c in name for c in RESERVED):
        return f"holds one of {' '.join(RESERVED)}, which subject lists use (NAME=WEIGHT, names joined by , ; or +)"
    if name != name.strip():
        return "begins or ends with a space, which a subject list drops"
    return None


def check_subjects(s: Subjects, images_dir: Path) -> None:
    """At least two subjects, each with :data:`MIN_IMAGES` pictures; else a ``ValueError`` that
    says what the folder holds and what is needed."""
    if len(s.names) < 2:
        held = f"only {s.names[0]!r}" if s.names else "none"
        extra = f" ({len(s.loose)} image(s) lie directly in it)" if s.loose else ""
        raise ValueError(
            f"images_dir: a dreamer learns to tell subjects apart, so {images_dir} needs at least 2 subfolders "
            f"of images, one per subject (named for it); found {held}{extra}. Looked for "
            f"{' '.join(IMAGE_EXTENSIONS)}"
        )
    odd = [(n, why) for n in s.names if (why := unusable_name(n))]
    if odd:  # a subject named a=b trained, then could never be dreamed: "the weight in 'a=b' is not a number"
        raise ValueError(f"images_dir: subject folder {odd[0][0]!r} {odd[0][1]}; rename the folder")
    few = [f"{n} ({len(f)})" for n, f in zip(s.names, s.files) if len(f) < MIN_IMAGES]
    if few:
        raise ValueError(
            f"images_dir: every subject needs at least {MIN_IMAGES} readable images (one to train on, one to "
            f"validate with); too few in: {', '.join(few)}"
        )


def warn_skipped(s: Subjects, images_dir: Path, stacklevel: int = 3) -> None:
    """One warning that counts and names what is left out."""
    parts = []
    if s.empty:
        parts.append(f"{len(s.empty)} empty subject folder(s) ({', '.join(s.empty[:5])})")
    if s.loose:
        parts.append(f"{len(s.loose)} image(s) directly in {images_dir}, in no subject folder")
    if s.bad:
        parts.append(f"{len(s.bad)} unreadable file(s) ({'; '.join(s.bad[:3])})")
    if parts:  # (one clause a kind: "and" ran three of them together)
        warn(f"train_dreamer: skipping {'; '.join(parts)}")


def decode(path: Path, side: int) -> torch.Tensor:
    """A picture as uint8 RGB (3, h, w) with its short side ``side`` (gray, palette and alpha
    pictures converted, transparency on white; EXIF orientation applied)."""
    im = io.flatten(io.load_pil(path)).convert("RGB")  # clear pixels on white, not their junk colors
    w, h = im.size
    s = side / min(w, h)
    size = (max(side, round(w * s)), max(side, round(h * s)))
    if size != (w, h):
        im = im.resize(size, Image.BICUBIC, reducing_gap=3.0 if s < 1 else None)
    return io.uint8_from_pil(im)


def load_all(s: Subjects, side: int, skip_bad: bool) -> list[list[torch.Tensor]]:
    """Every subject's pictures decoded (:func:`decode`); an unreadable one is a ``ValueError``, or
    with ``skip_bad`` left out and counted in ``s.bad`` (its subject keeps the others)."""
    pictures = []
    for k, files in enumerate(s.files):
        kept, good = [], []
        for f in files:
            try:
                kept.append(decode(f, side))
                good.append(f)
            except ValueError as exc:
                if not skip_bad:
                    raise ValueError(f"images_dir: {exc} (skip_bad=True leaves such files out)") from None
                s.bad.append(str(exc).removeprefix("image: "))
        s.files[k] = good
        pictures.append(kept)
    return pictures


def split(s: Subjects, root: Path, val_split: float, seed: int, stored=None) -> set[str]:
    """The held-out pictures (paths relative to ``root``): the checkpoint's ``stored`` ones when
    they still fit the data, else a seeded ``val_split`` of each subject (at least one per
    subject, at least one of each left to train on)."""
    keys = [[f.relative_to(root).as_posix() for f in files] for files in s.files]
    if stored:
        stored = set(stored)
        if all(0 < len(stored & set(k)) < len(k) for k in keys) and stored <= {x for k in keys for x in k}:
            return stored
        warn("train_dreamer: the data changed since the checkpoint; drawing a new validation split")
    rng = np.random.default_rng(seed)
    held = set()
    for k in keys:
        n = min(max(1, round(len(k) * val_split)), len(k) - 1)
        held |= {k[i] for i in rng.permutation(len(k))[:n]}
    return held


def epoch_order(counts: list[int], seed: int, epoch: int, rank: int, world: int) -> list[tuple[int, int]]:
    """This rank's (subject, picture) draws for ``epoch``: every subject drawn equally often (as
    often as the mean subject has pictures; a small subject's pictures repeat, a large one's are
    sampled), shuffled; the same for a given (seed, epoch) whatever the run, so a resumed run
    draws what an uninterrupted one would.

    Examples:
        >>> order = epoch_order([2, 6], seed=0, epoch=0, rank=0, world=1)
        >>> len(order), sorted(k for k, _ in order).count(0)
        (8, 4)
    """
    rng = np.random.default_rng([seed, epoch])
    per = math.ceil(sum(counts) / len(counts))
    draws = []
    for k, n in enumerate(counts):
        idx = np.concatenate([rng.permutation(n) for _ in range(math.ceil(per / n))])[:per]
        draws += [(k, int(i)) for i in idx]
    draws = [draws[i] for i in rng.permutation(len(draws))]
    draws += draws[: (-len(draws)) % world]  # every rank the same number of steps (DDP needs it)
    return draws[rank::world]


def view(img: torch.Tensor, size: int, gen: torch.Generator | None) -> torch.Tensor:
    """A float (3, size, size) view in [0, 1] of a uint8 picture: with a generator, a random
    crop of 25% to 100% of the picture's area (aspect 3:4 to 4:3), flipped left-right half the
    time, brightness, contrast and saturation jittered by up to 20%; without one, the central
    square (validation).

    Examples:
        >>> pic = torch.randint(0, 256, (3, 90, 120), dtype=torch.uint8)
        >>> view(pic, 64, None).shape, view(pic, 64, torch.Generator().manual_seed(0)).shape
        (torch.Size([3, 64, 64]), torch.Size([3, 64, 64]))
    """
    _, h, w = img.shape
    if gen is None:
        s = min(h, w)
        top, left, ch, cw = (h - s) // 2, (w - s) // 2, s, s
    else:
        r = torch.rand(8, generator=gen).tolist()
        area = h * w * (0.25 + 0.75 * r[0])
        aspect = math.exp(math.log(3 / 4) + r[1] * math.log(16 / 9))
        ch = min(h, max(8, round(math.sqrt(area / aspect))))
        cw = min(w, max(8, round(math.sqrt(area * aspect))))
        top, left = int(r[2] * (h - ch + 1)), int(r[3] * (w - cw + 1))
    x = io.from_uint8(img[:, top : top + ch, left : left + cw])[None]
    x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=True)[0]
    if gen is None:
        return x.clamp_(0, 1)
    if r[4] < 0.5:
        x = x.flip(-1)
    x = x * (0.8 + 0.4 * r[5])  # brightness
    mean = x.mean()
    x = (x - mean) * (0.8 + 0.4 * r[6]) + mean  # contrast
    gray = x.mean(0, keepdim=True)
    return ((x - gray) * (0.8 + 0.4 * r[7]) + gray).clamp_(0, 1)  # saturation
