r"""Background removal: train a U-Net on your images and masks, predict masks, cut out to RGBA.

:func:`train_unet` trains a :class:`~fastdream.models.unet.UNet` (plain, or on the pretrained
EfficientNet-Lite0 encoder) on a folder of images and a folder of masks paired by file name;
:func:`load_unet` reads the checkpoint back; :func:`predict_mask` gives the foreground probability
of an image at its full size and :func:`cutout` an RGBA image (or the mask as an ``L`` image).

**Resolution.** Everything happens at a *working size*: the image scaled so its short side is
``image_size`` (the training resolution, kept in the checkpoint), with the long side capped at
``MAX_ASPECT * image_size`` (the short side then shrinks). Validation runs on whole images at
that size; inference predicts on a copy at that size and upsamples the mask (bilinear) to the
input's size, so memory and time do not grow with the input beyond the input and output images
themselves; training crops show the same scale, or up to ``MAX_ZOOM`` times closer.

**Masks.** A mask file is read with its EXIF orientation applied, like its image, and made binary:

- an image with a (not fully opaque) alpha channel: the alpha channel, so a cutout PNG is its own mask;
- RGB / palette: the brightest channel of each pixel (white, red, or any color on black is foreground);
- gray (8 or 16 bit) or bilevel: the value.

A value is foreground when it is at least half the mask's scale, the scale being 1 if the
largest value in the file is at most 1 (0/1 masks), 255 if at most 255 (0/255 and 8-bit gray
masks), else 65535 (16-bit).

Checkpoint layout (a plain dict, loadable with ``torch.load(..., weights_only=True)``)::

    format "fastdream.unet", version 1, epoch (completed epochs),
    config {model {in_channels, out_channels, base_channels, depth, bilinear, encoder}, image_size,
            epochs, batch_size, lr, val_split, seed, amp, world_size, pairs, train, val,
            skipped_unpaired, skipped_bad},
    model (state dict), optimizer, scaler, metrics {loss, val_loss, val_iou, val_dice} (last epoch),
    history [{epoch, loss, val_loss, val_iou, val_dice, lr, iterations, seconds}], val_keys

Examples:
    >>> import fastdream as fd                                                  # doctest: +SKIP
    >>> ckpt = fd.train_unet("photos/", "masks/", "unet.pt", epochs=30)         # doctest: +SKIP
    >>> fd.cutout("portrait.jpg", ckpt).save("portrait.png")                    # doctest: +SKIP
"""
from __future__ import annotations

import math
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from PIL import Image, ImageChops, ImageOps, UnidentifiedImageError
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset
from torch.utils.data.distributed import DistributedSampler
from tqdm.auto import tqdm

from fastdream import io
from fastdream._checks import boolean as _bool
from fastdream._checks import device as _check_device
from fastdream._checks import integer as _int
from fastdream._checks import path as _path
from fastdream._checks import real as _real
from fastdream.models.unet import BACKBONES, UNet
from fastdream.training import (
    IMAGE_EXTENSIONS,
    distributed,
    list_images,
    load_checkpoint,
    resolve_device,
    save_checkpoint,
)

__all__ = [
    "train_unet",
    "load_unet",
    "predict_mask",
    "cutout",
    "working_size",
    "read_mask",
    "UNetTrainingError",
    "DEFAULT_RESOLUTION",
]

FORMAT, VERSION = "fastdream.unet", 1
#: Working short side for a model that does not know its training resolution.
DEFAULT_RESOLUTION = 256
#: The long side of the working size is at most this many times the short side.
MAX_ASPECT = 4
#: Datasets whose working-size pixels fit in this many bytes are decoded once and kept in memory.
PRELOAD_BYTES = 1 << 30
#: Training crops zoom in by a random factor in [1, MAX_ZOOM] (log-uniform), as far as the
#: source has the pixels: crops are only ever shrunk to ``image_size``, never enlarged.
MAX_ZOOM = 1.5
#: The learning rate follows a cosine from ``lr`` down to ``lr * MIN_LR_FRACTION``.
MIN_LR_FRACTION = 0.02
# Settings that define the network (and the resolution it works at): resume needs the same.
_ARCH_KEYS = ("base_channels", "depth", "backbone", "image_size")
_MAX_LISTED = 5  # file names listed in one message


class UNetTrainingError(RuntimeError):
    """Training diverged (a NaN or infinite loss) and was stopped; the last good checkpoint is kept."""


# --------------------------------------------------------------------------------------------
# argument checks


def _device(device) -> torch.device | None:
    return _check_device("device", device)


def _train_device(device) -> torch.device:
    return resolve_device(_check_device("device", device))


def _names(paths, limit: int = _MAX_LISTED) -> str:
    paths = [str(p) for p in paths]
    more = f" and {len(paths) - limit} more" if len(paths) > limit else ""
    return ", ".join(paths[:limit]) + more


# --------------------------------------------------------------------------------------------
# sizes and masks


def working_size(h: int, w: int, resolution: int) -> tuple[int, int]:
    """(height, width) of an ``h`` x ``w`` image scaled so its short side is ``resolution``, with
    the long side capped at ``MAX_ASPECT * resolution`` (aspect ratio kept, sides >= 1)."""
    scale = resolution / min(h, w)
    scale = min(scale, MAX_ASPECT * resolution / max(h, w))
    return max(1, round(h * scale)), max(1, round(w * scale))


def read_mask(path) -> np.ndarray:
    """A mask file as a bool HxW array, by the rule in the module documentation (EXIF applied)."""
    im = io.load_pil(path)
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        alpha = np.asarray(im.convert("RGBA").getchannel("A"))
        if alpha.min() < 255:
            return alpha >= 128
    if im.mode == "1":
        return np.asarray(im, dtype=bool)
    if im.mode in ("RGB", "RGBA", "P", "PA", "CMYK", "YCbCr", "LAB", "HSV"):
        v = np.asarray(im.convert("RGB")).max(axis=2)
    elif im.mode in ("L", "LA"):
        v = np.asarray(im.getchannel(0))
    else:  # I;16, I, F: keep the full range
        v = np.asarray(im)
        if v.ndim == 3:
            v = v.max(axis=2)
    top = float(v.max()) if v.size else 0.0
    scale = 1.0 if top <= 1 else 255.0 if top <= 255 else 65535.0
    return v >= scale / 2


def _oriented_size(path: Path) -> tuple[int, int]:
    """(width, height) after EXIF orientation, from the header only; ValueError if unreadable."""
    try:
        with Image.open(path) as im:
            w, h = im.size
            # A PNG's EXIF may sit after the pixels, and reading it decodes them: only an EXIF
            # block seen in the header counts here (the full decode checks the size again).
            lazy = im.format == "PNG" and "exif" not in im.info
            orientation = 1 if lazy else im.getexif().get(0x0112, 1)
    except (UnidentifiedImageError, OSError) as exc:
        raise ValueError(f"{path} is not an image Pillow can read ({exc})") from None
    return (h, w) if orientation in (5, 6, 7, 8) else (w, h)


def _stored_size(h: int, w: int, size: int, zoom: float) -> tuple[int, int]:
    """Size a pair is kept at: the working size for ``zoom=1``; for training, up to ``zoom`` times
    larger when the source has that many pixels, so zoomed-in crops need no enlarging."""
    short = min(h, w)
    return working_size(h, w, min(max(short, size), round(size * zoom)))


def _load_pair(img_path: Path, mask_path: Path, size: int, zoom: float = 1.0) -> tuple[Tensor, Tensor]:
    """Image and mask at :func:`_stored_size`: uint8 (3, h, w) and uint8 (1, h, w) (0..255, soft edges)."""
    try:
        im = io.load_pil(img_path).convert("RGB")
    except ValueError as exc:
        raise ValueError(f"images_dir: {exc}") from None
    try:
        m = read_mask(mask_path)
    except ValueError as exc:
        raise ValueError(f"masks_dir: {exc}") from None
    if m.shape != (im.height, im.width):
        raise ValueError(_mismatch(img_path, (im.width, im.height), mask_path, (m.shape[1], m.shape[0])))
    h, w = _stored_size(im.height, im.width, size, zoom)
    if (h, w) != (im.height, im.width):
        im = im.resize((w, h), Image.BILINEAR, reducing_gap=3.0)
    mask = Image.fromarray(m.astype(np.uint8) * 255, "L")
    if (h, w) != mask.size[::-1]:
        mask = mask.resize((w, h), Image.BILINEAR)
    img_t = torch.from_numpy(np.array(im, dtype=np.uint8)).permute(2, 0, 1).contiguous()
    mask_t = torch.from_numpy(np.array(mask, dtype=np.uint8))[None]
    return img_t, mask_t


def _mismatch(img_path, isize, mask_path, msize) -> str:
    return (f"masks_dir: mask {mask_path} is {msize[0]}x{msize[1]} but image {img_path} is {isize[0]}x{isize[1]}; "
            f"a mask must have its image's size")  # fmt: skip


def _check_pair(ip: Path, mp: Path) -> tuple[int, int]:
    """(width, height) of a pair from the file headers; ValueError naming the file if unreadable or mismatched."""
    try:
        isize = _oriented_size(ip)
    except ValueError as exc:
        raise ValueError(f"images_dir: {exc}") from None
    try:
        msize = _oriented_size(mp)
    except ValueError as exc:
        raise ValueError(f"masks_dir: {exc}") from None
    if isize != msize:
        raise ValueError(_mismatch(ip, isize, mp, msize))
    return isize


# --------------------------------------------------------------------------------------------
# pairing


def _keyed(files: list[Path], root: Path, name: str) -> dict[str, Path]:
    """Files by relative path without extension ('a/b' for 'a/b.png'); duplicates are an error."""
    out: dict[str, Path] = {}
    for f in files:
        key = f.relative_to(root).with_suffix("").as_posix()
        if key in out:
            raise ValueError(f"{name}: {out[key]} and {f} have the same name; keep one of them")
        out[key] = f
    return out


def _pairs(images_dir: Path, masks_dir: Path) -> tuple[list[tuple[str, Path, Path]], list[Path], list[Path]]:
    imgs = list_images(images_dir, "images_dir")
    masks = list_images(masks_dir, "masks_dir")
    ia, ma = images_dir.resolve(), masks_dir.resolve()
    if ia == ma:
        raise ValueError(
            f"images_dir and masks_dir are the same folder ({images_dir}); keep the masks in their own folder"
        )
    # A masks folder inside the images folder (or the other way round) is not part of the other.
    imgs = [f for f in imgs if ma not in f.resolve().parents]
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
            f"{_names([p.name for p in imgs], 3)}; masks: {_names([p.name for p in masks], 3)}"
        )
    return pairs, lone_i, lone_m


# --------------------------------------------------------------------------------------------
# data


class _PairDataset(Dataset):
    """Pairs for training (``zoom=MAX_ZOOM``) or validation (``zoom=1``). ``dataset[i]`` is a
    random training crop (float image (3, S, S) and mask (1, S, S) in [0, 1]); :meth:`whole` is the
    pair as stored (for validation: the whole image at the working size)."""

    def __init__(self, pairs, size: int, seed: int, zoom: float, cache: dict | None):
        self.pairs, self.size, self.seed, self.zoom, self.cache = pairs, size, seed, zoom, cache
        self.epoch = 0

    def __len__(self):
        return len(self.pairs)

    def whole(self, i: int) -> tuple[Tensor, Tensor]:
        key, img, mask = self.pairs[i]
        if self.cache is not None:
            return self.cache[key]
        return _load_pair(img, mask, self.size, self.zoom)

    def __getitem__(self, i: int) -> tuple[Tensor, Tensor]:
        img, mask = self.whole(i)
        # One generator per (seed, epoch, item): the same crops whatever the order, the number of
        # loader workers or processes, so a resumed run sees what an uninterrupted one would.
        gen = torch.Generator().manual_seed((self.seed * 1_000_003 + self.epoch * 100_003 + i) % 2**63)
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
        both = torch.cat([img, mask]).float().div_(255.0)[None, :, y : y + side, x : x + side]
        if side != s:
            both = F.interpolate(both, size=(s, s), mode="bilinear", align_corners=False, antialias=side > s)
        if r[3] < 0.5:
            both = both.flip(-1)
        both = both[0].clamp_(0.0, 1.0)
        return both[:3], both[3:]


def _loss_terms(logits: Tensor, target: Tensor) -> tuple[Tensor, Tensor]:
    """BCE-with-logits and soft Dice loss (per-image Dice, averaged), in float32."""
    logits, target = logits.float(), target.float()
    bce = F.binary_cross_entropy_with_logits(logits, target)
    p = torch.sigmoid(logits).flatten(1)
    t = target.flatten(1)
    dice = 1 - (2 * (p * t).sum(1) + 1) / (p.sum(1) + t.sum(1) + 1)
    return bce, dice.mean()


def _iou_dice(prob: Tensor, target: Tensor) -> tuple[float, float]:
    """IoU and Dice of the foreground, prediction and target both cut at 0.5 (1.0 when both are empty)."""
    p, t = prob >= 0.5, target >= 0.5
    inter = (p & t).sum().item()
    ps, ts = p.sum().item(), t.sum().item()
    union = ps + ts - inter
    return (inter / union if union else 1.0), (2 * inter / (ps + ts) if ps + ts else 1.0)


def _lr(base: float, progress: float) -> float:
    progress = min(max(progress, 0.0), 1.0)
    return base * (MIN_LR_FRACTION + (1 - MIN_LR_FRACTION) * 0.5 * (1 + math.cos(math.pi * progress)))


# --------------------------------------------------------------------------------------------
# checkpoints


def _read_checkpoint(checkpoint, name: str = "checkpoint") -> dict:
    if isinstance(checkpoint, dict):
        state, where = checkpoint, "the given dict"
    else:
        path = _path(name, checkpoint)
        state, where = load_checkpoint(path), str(path)
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise ValueError(f"{name}: {where} is not a fastdream U-Net checkpoint (one written by train_unet)")
    if state.get("version", 0) > VERSION:
        raise ValueError(f"{name}: {where} has format version {state['version']}; this fastdream reads up to {VERSION}")
    return state


def _arch(config: dict) -> dict:
    m = config["model"]
    return dict(base_channels=m["base_channels"] if m.get("encoder") is None else None,
                depth=m["depth"] if m.get("encoder") is None else None, backbone=m.get("encoder"),
                image_size=config["image_size"])  # fmt: skip


def load_unet(checkpoint, *, device=None) -> UNet:
    """The trained model of a :func:`train_unet` checkpoint, in eval mode.

    Args:
        checkpoint: path of the checkpoint (loaded with ``weights_only=True``), or the loaded dict.
        device: where to put the model (default: the CPU).

    Returns:
        The :class:`~fastdream.models.unet.UNet`, with ``image_size`` set to its training resolution.

    Examples:
        >>> net = load_unet("unet.pt")  # doctest: +SKIP
        >>> net.image_size              # doctest: +SKIP
        256
    """
    dev = _device(device) or torch.device("cpu")
    state = _read_checkpoint(checkpoint)
    model = UNet.from_config(state["config"]["model"])
    model.load_state_dict(state["model"])
    model.image_size = int(state["config"]["image_size"])
    return model.to(dev).eval()


# --------------------------------------------------------------------------------------------
# training


def train_unet(
    images_dir,
    masks_dir,
    out_path,
    *,
    epochs: int = 20,
    batch_size: int = 8,
    image_size: int = 256,
    lr: float = 1e-3,
    val_split: float = 0.1,
    device=None,
    amp: bool = False,
    resume: bool = True,
    seed: int = 0,
    progress: bool = True,
    base_channels: int = 32,
    depth: int = 4,
    backbone: str | None = None,
    max_minutes: float | None = None,
    num_workers: int = 0,
    skip_bad: bool = False,
) -> Path:
    r"""Trains a U-Net to predict foreground masks; returns the checkpoint's path.

    **Data.** Images (``.png .jpg .jpeg .bmp .gif .tif .tiff .webp .ppm .pgm``, in
    ``images_dir`` and its subfolders) pair with the mask of the same relative path and name
    without extension in ``masks_dir`` (``images/a/cat.jpg`` with ``masks/a/cat.png``). Files
    without a partner are skipped with a warning that names them. Masks are made binary by the rule
    in the module documentation and must have their image's size (after EXIF orientation). Every
    pair is checked before training starts: an unreadable file or a size mismatch is a
    ``ValueError`` naming the files, or, with ``skip_bad=True``, a warning and a skipped pair.
    Skipped files are counted in the summary and the checkpoint.

    **Split.** A seeded random ``val_split`` of the pairs (at least one, and at least one left for
    training) is held out; its Dice and IoU are measured after every epoch, each image whole at the
    working size (see the module documentation), prediction and mask cut at 0.5, averaged over images.

    **Training.** Each step takes ``batch_size`` random square crops of ``image_size`` pixels,
    flipped left-right half the time, zoomed in by up to 1.5x where the image has the pixels
    for it (a crop is only ever shrunk to ``image_size``, never enlarged: enlarging blurs, and
    the model would learn blur as a cue it does not have at inference). Loss: BCE
    with logits + soft Dice. Adam, learning rate on a cosine from ``lr`` to ``lr/50`` over
    ``epochs`` (over the epochs that fit ``max_minutes`` when that is shorter). After every epoch
    the checkpoint (model config, weights, optimizer state, epoch, metrics, history) is written to
    ``out_path`` atomically, so a stopped run resumes from the last finished epoch.

    **Distributed.** Started by ``torchrun --nproc_per_node N``, each process trains on its share
    of every epoch (DistributedSampler) with DistributedDataParallel (nccl on CUDA, each process on
    its ``LOCAL_RANK`` GPU; gloo on the CPU); ``batch_size`` is per process. Validation is split
    between the processes and the sums combined; only rank 0 writes.

    Args:
        images_dir: folder of training images.
        masks_dir: folder of masks (not the same folder).
        out_path: checkpoint file to write (its folder is created if missing).
        epochs: total epochs; a resumed run continues up to this count.
        batch_size: crops per step and process (>= 1).
        image_size: training resolution (crop side, and short side of the working size): at
            least ``2**(depth+1)`` (and 64 for a backbone) so the deepest level is not 1x1.
        lr: Adam's learning rate at the start of the cosine.
        val_split: fraction of the pairs held out for validation, strictly between 0 and 1.
        device: where to train (default: CUDA when available, else the CPU).
        amp: float16 autocast with gradient scaling, on CUDA only. On another device it is ignored
            with a warning and training runs in float32 (the same command then works everywhere;
            CPU autocast brings these convolutions no speed).
        resume: continue from ``out_path`` when it exists (it must have the same
            ``base_channels``, ``depth``, ``backbone`` and ``image_size``); ``False`` starts over
            and replaces it.
        seed: seeds the initial weights, the split, the data order and the crops.
        progress: show a progress bar (loss, last val IoU) and a summary on stderr (rank 0 only).
        base_channels, depth: width and levels of the plain U-Net (ignored with a ``backbone``).
        backbone: ``None`` (plain U-Net) or ``"efficientnet_lite0"`` (pretrained encoder, better
            on small datasets; see :meth:`UNet.from_backbone`).
        max_minutes: wall-time budget since the call: before each epoch, training stops when the
            epoch would end past the budget (predicted from the mean epoch time so far; the first
            epoch always runs), and from the second epoch on the learning-rate cosine is fitted
            to the epochs that fit.
            ``None``: no budget (and a schedule that depends on the epoch count only).
        num_workers: DataLoader worker processes (0 loads in the training process).
        skip_bad: skip unreadable pairs and size mismatches with a warning instead of raising.

    Returns:
        ``Path(out_path)`` (on every rank).

    Raises:
        TypeError, ValueError: a bad argument, empty folders, no pairs, fewer than 2 pairs, an
            unreadable image or mask, a size mismatch, or a checkpoint at ``out_path`` made with
            other network settings; all checked before anything is written.
        FileNotFoundError, NotADirectoryError: a missing folder.
        UNetTrainingError: the loss became NaN or infinite (the last good checkpoint is kept).

    Examples:
        >>> from fastdream.data import make_cutout_dataset                             # doctest: +SKIP
        >>> images, masks = make_cutout_dataset("synthetic", 500, size=128)             # doctest: +SKIP
        >>> ckpt = train_unet(images, masks, "unet.pt", image_size=128, epochs=10)      # doctest: +SKIP
    """
    t_start = time.monotonic()
    # ---- every argument is checked before anything is read or written
    images_dir = _path("images_dir", images_dir)
    masks_dir = _path("masks_dir", masks_dir)
    out_path = _path("out_path", out_path)
    epochs = _int("epochs", epochs, 1)
    batch_size = _int("batch_size", batch_size, 1)
    if backbone is not None and backbone not in BACKBONES:
        raise ValueError(f"backbone must be None (plain U-Net) or one of {BACKBONES}, got {backbone!r}")
    if backbone is None:
        base_channels = _int("base_channels", base_channels, 1)
        depth = _int("depth", depth, 1, 8)
        min_size = max(16, 2 ** (depth + 1))
    else:
        base_channels, depth, min_size = None, None, 64
    image_size = _int("image_size", image_size, 1)
    if image_size < min_size:
        what = f"depth={depth}" if backbone is None else f"backbone={backbone!r}"
        raise ValueError(
            f"image_size must be >= {min_size} with {what} (the deepest level needs 2x2 pixels), got {image_size}"
        )
    lr = _real("lr", lr, lo=0.0)
    val_split = _real("val_split", val_split, lo=0.0, hi=1.0)
    amp, resume = _bool("amp", amp), _bool("resume", resume)
    progress, skip_bad = _bool("progress", progress), _bool("skip_bad", skip_bad)
    seed = _int("seed", seed, 0)
    if max_minutes is not None:
        max_minutes = _real("max_minutes", max_minutes, lo=0.0)
    num_workers = _int("num_workers", num_workers, 0)
    dev = _train_device(device)
    if out_path.exists() and not out_path.is_file():
        raise ValueError(f"out_path: {out_path} exists and is not a file")
    for parent in out_path.parents:  # the folder is created at the first checkpoint: it must be creatable
        if parent.exists():
            if not parent.is_dir():
                raise ValueError(f"out_path: {parent} is a file, so {out_path} cannot be written")
            break
    rank0 = int(os.environ.get("RANK", "0")) == 0

    # ---- the data: pairs, unpaired files, unreadable files and size mismatches
    pairs, lone_i, lone_m = _pairs(images_dir, masks_dir)
    if (lone_i or lone_m) and rank0:
        parts = []
        if lone_i:
            parts.append(f"{len(lone_i)} image(s) without a mask ({_names(lone_i)})")
        if lone_m:
            parts.append(f"{len(lone_m)} mask(s) without an image ({_names(lone_m)})")
        warnings.warn(f"train_unet: skipping {' and '.join(parts)}", UserWarning, stacklevel=2)
    good, bad = [], []

    def reject(exc: ValueError) -> None:
        if not skip_bad:
            raise ValueError(f"{exc} (pass skip_bad=True to skip such pairs)") from None
        bad.append(str(exc))

    sizes = {}
    for key, ip, mp in pairs:  # headers only: fast, and enough for the size checks
        try:
            sizes[key] = _check_pair(ip, mp)
        except ValueError as exc:
            reject(exc)
            continue
        good.append((key, ip, mp))
    if len(good) < 2:
        _too_few(good, images_dir, masks_dir)

    # ---- the split (the checkpoint's when resuming, so validation stays on unseen images)
    ckpt_state = None
    arch = dict(base_channels=base_channels, depth=depth, backbone=backbone, image_size=image_size)
    if resume and out_path.is_file():
        ckpt_state = _read_checkpoint(out_path, "out_path")
        old = _arch(ckpt_state["config"])
        for k in _ARCH_KEYS:
            if old[k] != arch[k]:
                raise ValueError(
                    f"out_path: {out_path} was trained with {k}={old[k]!r}, not {k}={arch[k]!r}; pass "
                    f"{k}={old[k]!r} to resume, resume=False to start over (replacing it), or another out_path"
                )
    keys = [k for k, _, _ in good]
    val_keys = None
    if ckpt_state is not None and ckpt_state.get("val_keys"):
        stored = list(ckpt_state["val_keys"])
        if set(stored) <= set(keys) and len(stored) < len(keys):
            val_keys = set(stored)
        elif rank0:
            warnings.warn("train_unet: the data changed since the checkpoint; drawing a new validation split",
                          UserWarning, stacklevel=2)  # fmt: skip
    if val_keys is None:
        n_val = min(max(1, round(len(good) * val_split)), len(good) - 1)
        perm = np.random.default_rng(seed).permutation(len(good))
        val_keys = {keys[i] for i in perm[:n_val]}

    # ---- a dataset that fits in memory is decoded now, once: a truncated or corrupt file then
    # surfaces here, before anything is written, rather than in the middle of training.
    def zoom_of(key):
        return 1.0 if key in val_keys else MAX_ZOOM

    pixels = 0
    for key, _, _ in good:
        w, h = sizes[key]
        hs, ws = _stored_size(h, w, image_size, zoom_of(key))
        pixels += hs * ws
    cache: dict | None = None
    if pixels * 4 <= PRELOAD_BYTES:
        cache, kept = {}, []
        it = tqdm(good, desc="loading pairs", leave=False, disable=not (progress and rank0) or len(good) < 500)
        for key, ip, mp in it:
            try:
                cache[key] = _load_pair(ip, mp, image_size, zoom_of(key))
            except ValueError as exc:
                reject(exc)
                continue
            kept.append((key, ip, mp))
        good = kept
    if bad and rank0:
        warnings.warn(f"train_unet: skipping {len(bad)} bad pair(s): " + "; ".join(bad[:_MAX_LISTED]), UserWarning,
                      stacklevel=2)  # fmt: skip
    train_pairs = [p for p in good if p[0] not in val_keys]
    val_pairs = [p for p in good if p[0] in val_keys]
    if not train_pairs or not val_pairs:
        _too_few(good, images_dir, masks_dir)

    if amp and dev.type != "cuda":
        if rank0:
            warnings.warn(f"train_unet: amp=True needs CUDA; training on {dev} in float32", UserWarning, stacklevel=2)
        amp = False

    config = dict(
        image_size=image_size, epochs=epochs, batch_size=batch_size, lr=lr, val_split=val_split, seed=seed, amp=amp,
        pairs=len(good), train=len(train_pairs), val=len(val_pairs), skipped_unpaired=len(lone_i) + len(lone_m),
        skipped_bad=len(bad),
    )  # fmt: skip
    with distributed(dev) as rank:
        return _train(
            train_pairs, val_pairs, out_path, ckpt_state, rank, dev, config,
            model_args=dict(base_channels=base_channels, depth=depth, backbone=backbone), cache=cache,
            progress=progress, max_minutes=max_minutes, num_workers=num_workers, t_start=t_start,
        )  # fmt: skip


def _too_few(good, images_dir, masks_dir):
    raise ValueError(
        f"train_unet needs at least 2 image/mask pairs (one for training, one for validation); found {len(good)} "
        f"usable in {images_dir} and {masks_dir}"
    )


def _build_model(model_args: dict, seed: int) -> UNet:
    with torch.random.fork_rng(devices=[]):  # seeded init without touching the caller's RNG
        torch.manual_seed(seed)
        if model_args["backbone"] is not None:
            return UNet.from_backbone(model_args["backbone"], pretrained=True)
        return UNet(3, 1, model_args["base_channels"], model_args["depth"])


def _to_device(x: Tensor, dev: torch.device) -> Tensor:
    return x.to(dev, non_blocking=True).contiguous(memory_format=torch.channels_last)


def _train(train_pairs, val_pairs, out_path, state, rank, dev, c, *, model_args, cache, progress, max_minutes,
           num_workers, t_start) -> Path:  # fmt: skip
    show = progress and rank.main
    train_ds = _PairDataset(train_pairs, c["image_size"], c["seed"], MAX_ZOOM, cache)
    val_ds = _PairDataset(val_pairs, c["image_size"], c["seed"], 1.0, cache)
    # DistributedSampler with one replica is a seeded shuffle: one code path, and a data order
    # fixed by (seed, epoch). Without drop_last it pads with repeats so every process runs the
    # same number of steps (DDP needs that); the loader keeps the last, smaller batch.
    sampler = DistributedSampler(train_ds, num_replicas=rank.world, rank=rank.rank, shuffle=True, seed=c["seed"])
    loader = DataLoader(train_ds, batch_size=c["batch_size"], sampler=sampler, num_workers=num_workers,
                        pin_memory=dev.type == "cuda", persistent_workers=False)  # fmt: skip
    iters = len(loader)

    model = _build_model(model_args, c["seed"])
    # channels_last: 1.3x faster convolutions on the CPU, and the tensor-core layout on CUDA.
    model = model.to(dev, memory_format=torch.channels_last)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=c["lr"])
    scaler = torch.amp.GradScaler(dev.type, enabled=c["amp"])
    start, history = 0, []
    if state is not None:
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        if c["amp"] and state.get("scaler"):
            scaler.load_state_dict(state["scaler"])
        start, history = int(state["epoch"]), list(state.get("history", []))
    epochs = c["epochs"]
    c = dict(c, model=dict(model.config), world_size=rank.world)
    if start >= epochs:
        if show:
            print(f"train_unet: {out_path} already has {start} epochs (epochs={epochs}); nothing to do",
                  file=sys.stderr)  # fmt: skip
        return out_path

    if rank.main and not out_path.parent.exists():
        out_path.parent.mkdir(parents=True, exist_ok=True)
    net: nn.Module = model
    if rank.enabled:
        net = nn.parallel.DistributedDataParallel(model, device_ids=[dev.index] if dev.type == "cuda" else None)
    autocast = torch.autocast(dev.type, dtype=torch.float16, enabled=c["amp"])

    def last_good(epoch_done: int) -> str:
        if epoch_done > 0 and out_path.is_file():
            return f"the last good checkpoint ({out_path}, epoch {epoch_done}) is kept"
        return "no checkpoint was written"

    epoch_times: list[float] = []
    metrics = dict(state.get("metrics", {})) if state is not None else {}
    bar = tqdm(total=(epochs - start) * iters, disable=not show, unit="step", dynamic_ncols=True)
    try:
        for epoch in range(start, epochs):
            # Time budget: stop when the next epoch would end past it, and fit the cosine to the
            # epochs that fit. Rank 0 decides for everyone (the ranks' clocks differ slightly, and
            # different learning rates would make the replicas drift apart).
            horizon = float(epochs)
            if max_minutes is not None and epoch_times:
                remaining = max_minutes * 60 - (time.monotonic() - t_start)
                mean = float(np.mean(epoch_times))
                fit = min(epochs, epoch + max(1, math.floor(remaining / mean)))
                plan = torch.tensor([float(remaining < mean), fit], dtype=torch.float64)
                if rank.enabled:
                    dist.broadcast(plan, src=0)
                if plan[0].item():
                    if show:
                        bar.write(f"train_unet: time budget of {max_minutes:g} min reached after epoch {epoch}")
                    break
                horizon = float(plan[1].item())
            t_epoch = time.monotonic()
            bar.set_description(f"epoch {epoch + 1}/{epochs}")
            sampler.set_epoch(epoch)
            train_ds.epoch = epoch
            net.train()
            sums = torch.zeros(2, dtype=torch.float64)
            for it, (x, y) in enumerate(loader):
                lr_now = _lr(c["lr"], (epoch + it / iters) / horizon)
                for g in opt.param_groups:
                    g["lr"] = lr_now
                x, y = _to_device(x, dev), _to_device(y, dev)
                opt.zero_grad(set_to_none=True)
                with autocast:
                    logits = net(x)
                bce, dice = _loss_terms(logits, y)
                loss = bce + dice
                scaler.scale(loss).backward()
                scaler.step(opt)
                scaler.update()
                step = loss.detach().double().cpu().reshape(1)
                if rank.enabled:  # the global loss; a NaN on any rank stops every rank
                    dist.all_reduce(step)
                    step /= rank.world
                value = step.item()
                if not math.isfinite(value):
                    raise UNetTrainingError(
                        f"train_unet: the loss became {value} at epoch {epoch + 1}, step {it + 1}; stopped, "
                        f"{last_good(epoch)}. Try a lower lr" + (" or amp=False" if c["amp"] else "")
                    )
                sums += torch.tensor([value, 1.0], dtype=torch.float64)
                bar.update(1)
                bar.set_postfix(loss=f"{value:.4f}", val_iou=f"{metrics.get('val_iou', float('nan')):.4f}",
                                refresh=False)  # fmt: skip

            val = _validate(model, val_ds, rank, dev, autocast)
            metrics = dict(loss=float(sums[0] / max(sums[1], 1)), **val)
            bar.set_postfix(loss=f"{metrics['loss']:.4f}", val_iou=f"{metrics['val_iou']:.4f}", refresh=True)
            seconds = time.monotonic() - t_epoch
            if rank.main:
                history.append(dict(epoch=epoch + 1, lr=lr_now, iterations=iters, seconds=seconds, **metrics))
                save_checkpoint(
                    {
                        "format": FORMAT, "version": VERSION, "epoch": epoch + 1, "config": c,
                        "model": model.state_dict(), "optimizer": opt.state_dict(), "scaler": scaler.state_dict(),
                        "metrics": metrics, "history": history, "val_keys": sorted(k for k, _, _ in val_pairs),
                    },
                    out_path,
                )  # fmt: skip
            epoch_times.append(time.monotonic() - t_epoch)
    finally:
        bar.close()
    if show:
        done = history[-1]["epoch"] if history else start
        skipped = ""
        if c["skipped_unpaired"] or c["skipped_bad"]:
            skipped = f"; skipped {c['skipped_unpaired']} unpaired file(s), {c['skipped_bad']} bad pair(s)"
        print(
            f"train_unet: {c['pairs']} pairs ({c['train']} train, {c['val']} val){skipped}; epoch {done}/{epochs}: "
            f"loss {metrics.get('loss', float('nan')):.4f}, val IoU {metrics.get('val_iou', float('nan')):.4f}, "
            f"val Dice {metrics.get('val_dice', float('nan')):.4f}; wrote {out_path}",
            file=sys.stderr,
        )
    if rank.enabled:
        dist.barrier()  # the checkpoint exists when any rank returns
    return out_path


@torch.no_grad()
def _validate(model: UNet, ds: _PairDataset, rank, dev, autocast) -> dict:
    """Mean val loss, IoU and Dice over the held-out images, each whole at the working size;
    the processes take every world-th image and the sums are combined."""
    model.eval()
    if rank.enabled:  # every process validates with rank 0's BatchNorm statistics, the saved ones
        for b in model.buffers():
            dist.broadcast(b, src=0)
    sums = torch.zeros(4, dtype=torch.float64)
    for i in range(rank.rank, len(ds), rank.world):
        img, mask = ds.whole(i)
        x = _to_device(img[None].float().div_(255.0), dev)
        y = mask[None].float().div_(255.0).to(dev)
        with autocast:
            logits = model(x)
        bce, dice = _loss_terms(logits, y)
        iou, dsc = _iou_dice(torch.sigmoid(logits.float()), y)
        sums += torch.tensor([(bce + dice).item(), iou, dsc, 1.0], dtype=torch.float64)
    if rank.enabled:
        dist.all_reduce(sums)
    n = max(sums[3].item(), 1.0)
    return dict(val_loss=sums[0].item() / n, val_iou=sums[1].item() / n, val_dice=sums[2].item() / n)


# --------------------------------------------------------------------------------------------
# inference


def _model_and_device(model_or_checkpoint, device) -> tuple[nn.Module, torch.device]:
    dev = _device(device)
    if isinstance(model_or_checkpoint, nn.Module):
        p = next(model_or_checkpoint.parameters(), None)
        here = p.device if p is not None else torch.device("cpu")
        if dev is not None and dev != here and not (dev.type == here.type and dev.index is None):
            raise ValueError(
                f"device is {dev} but the model's parameters are on {here}; move the model or pass device="
            )
        return model_or_checkpoint, here
    if isinstance(model_or_checkpoint, (str, os.PathLike, dict)):
        if dev is None:
            dev = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        return load_unet(model_or_checkpoint, device=dev), dev
    raise TypeError(
        f"model_or_checkpoint must be a UNet (torch.nn.Module), a checkpoint path or a loaded checkpoint dict, "
        f"got {type(model_or_checkpoint).__name__}"
    )


def _rgb_pil(image) -> tuple[Image.Image, Image.Image | None]:
    """The input as an RGB PIL image (a new one, ours to modify) and its alpha (L) if any."""
    if isinstance(image, (str, os.PathLike, Image.Image)):
        im = io.load_pil(image) if not isinstance(image, Image.Image) else ImageOps.exif_transpose(image)
        alpha = None
        if im.mode in ("RGBA", "LA", "PA") or "transparency" in im.info:
            alpha = im.convert("RGBA").getchannel("A")
        return im.convert("RGB") if im.mode != "RGB" or im is image else im, alpha
    loaded = io.load(image)
    if loaded.rgb.shape[0] != 1:
        raise ValueError(f"image: one image at a time, got a batch of {loaded.rgb.shape[0]}")
    to8 = lambda t: t[0].mul(255).round_().clamp_(0, 255).to(torch.uint8).cpu()  # noqa: E731
    rgb = Image.fromarray(to8(loaded.rgb).permute(1, 2, 0).numpy(), "RGB")
    alpha = None if loaded.alpha is None else Image.fromarray(to8(loaded.alpha)[0].numpy(), "L")
    return rgb, alpha


@torch.no_grad()
def _predict_small(rgb: Image.Image, model: nn.Module, dev: torch.device, resolution: int) -> Tensor:
    """Foreground probability (h, w) float32 on the CPU at the working size of ``rgb``."""
    h, w = working_size(rgb.height, rgb.width, resolution)
    small = rgb.resize((w, h), Image.BILINEAR, reducing_gap=3.0) if (h, w) != (rgb.height, rgb.width) else rgb
    x = torch.from_numpy(np.array(small, dtype=np.uint8)).permute(2, 0, 1)[None].float().div_(255.0)
    was_training = model.training
    model.eval()
    try:
        logits = model(_to_device(x, dev))
    finally:
        model.train(was_training)
    return torch.sigmoid(logits.float())[0, 0].cpu()


def _check_common(threshold, soft, resolution, model):
    if threshold is not None:
        threshold = _real("threshold", threshold, lo=0.0, hi=1.0)
    soft = _bool("soft", soft)
    if resolution is None:
        resolution = getattr(model, "image_size", None) or DEFAULT_RESOLUTION
    return threshold, soft, _int("resolution", resolution, 8)


def _remap(p: Tensor, threshold: float, soft: bool) -> Tensor:
    if not soft:
        return (p >= threshold).float()
    # Piecewise linear, threshold -> 0.5 (the identity at 0.5): a higher threshold makes the
    # soft mask tighter the way it would move the hard cut.
    return torch.where(p < threshold, p * (0.5 / threshold), 0.5 + (p - threshold) * (0.5 / (1 - threshold)))


def predict_mask(image, model_or_checkpoint, *, threshold: float | None = None, soft: bool = True,
                 resolution: int | None = None, device=None) -> Tensor:  # fmt: skip
    r"""Foreground probability of every pixel of ``image``.

    The model runs on a copy of the image at its working size (short side ``resolution``, the
    model's training resolution by default); the probabilities are upsampled (bilinear) to the
    image's size. EXIF orientation is applied to paths and PIL images.

    Args:
        image: a path, PIL image, HxW(xC) numpy array (uint8, or float in [0, 1]) or a float tensor
            (C, H, W) / (1, C, H, W) in [0, 1]; gray is used as RGB, alpha is ignored.
        model_or_checkpoint: a :class:`~fastdream.models.unet.UNet` (any module mapping
            (1, 3, h, w) images in [0, 1] to (1, 1, h, w) logits), or a :func:`train_unet`
            checkpoint (path or loaded dict).
        threshold: ``None`` gives the probabilities; a number in (0, 1) gives a mask: with
            ``soft=False`` 1 where the probability is >= threshold, else 0; with ``soft=True`` the
            probability remapped piecewise-linearly so that ``threshold`` becomes 0.5 (0 and 1
            stay; the identity for 0.5).
        soft: see ``threshold``.
        resolution: working short side (default: the model's ``image_size``, else 256).
        device: where the model runs (default: a module's own device; for a checkpoint CUDA when
            available, else the CPU).

    Returns:
        An (H, W) float32 CPU tensor in [0, 1], the image's size: usable as ``dream(..., mask=)``.

    Shape:
        - Output: :math:`(H, W)` for an input of height :math:`H` and width :math:`W`.

    Examples:
        >>> m = predict_mask("photo.jpg", "unet.pt")                   # doctest: +SKIP
        >>> fd.dream("photo.jpg", mask=1 - m)  # dream the background  # doctest: +SKIP
    """
    model, dev = _model_and_device(model_or_checkpoint, device)
    threshold, soft, resolution = _check_common(threshold, soft, resolution, model)
    rgb, _ = _rgb_pil(image)
    size = (rgb.height, rgb.width)
    p = _predict_small(rgb, model, dev, resolution)
    del rgb
    if tuple(p.shape) != size:
        p = F.interpolate(p[None, None], size=size, mode="bilinear", align_corners=False)[0, 0].clamp_(0.0, 1.0)
    return p if threshold is None else _remap(p, threshold, soft)


def cutout(image, model_or_checkpoint, *, threshold: float = 0.5, only_mask: bool = False, soft: bool = True,
           resolution: int | None = None, device=None) -> Image.Image:  # fmt: skip
    r"""Cuts the foreground out of ``image``: an RGBA image whose alpha is the predicted mask.

    The mask is predicted as in :func:`predict_mask` (on a copy at the model's working size, so
    memory does not grow with the image beyond the input and the output), upsampled in 8 bits, and
    then ``soft``: the probability remapped so that ``threshold`` is half transparent (the
    identity for 0.5; smooth edges), or hard: opaque where the probability is >= ``threshold``,
    transparent elsewhere. An input alpha channel multiplies the mask (what was transparent stays so).

    Args:
        image: a path, PIL image, numpy array or tensor (one image), as for :func:`predict_mask`.
        model_or_checkpoint: a :class:`~fastdream.models.unet.UNet` or a :func:`train_unet`
            checkpoint (path or dict).
        threshold: probability that separates foreground from background, in (0, 1).
        only_mask: return the mask alone, an ``L`` image (255 = foreground).
        soft: graded edges (``True``) or a 0/255 alpha (``False``).
        resolution, device: as for :func:`predict_mask`.

    Returns:
        A PIL image of the input's size: ``RGBA`` (the input in RGB plus the mask as alpha), or
        ``L`` with ``only_mask=True``.

    Examples:
        >>> out = cutout("portrait.jpg", "unet.pt")  # doctest: +SKIP
        >>> out.mode                                  # doctest: +SKIP
        'RGBA'
    """
    model, dev = _model_and_device(model_or_checkpoint, device)
    if threshold is None:
        raise TypeError("threshold must be a number strictly between 0 and 1, got None")
    threshold, soft, resolution = _check_common(threshold, soft, resolution, model)
    only_mask = _bool("only_mask", only_mask)
    rgb, alpha = _rgb_pil(image)
    p = _predict_small(rgb, model, dev, resolution)
    # 8-bit PIL resampling: one byte per output pixel, where a float mask would take four.
    mask = Image.fromarray(p.mul(255).round_().to(torch.uint8).numpy(), "L")
    if mask.size != rgb.size:
        mask = mask.resize(rgb.size, Image.BILINEAR)
    levels = _remap(torch.arange(256, dtype=torch.float64) / 255, threshold, soft)
    mask = mask.point((levels * 255).round().clamp(0, 255).to(torch.int64).tolist())
    if alpha is not None:
        mask = ImageChops.multiply(mask, alpha)
    if only_mask:
        return mask
    rgb.putalpha(mask)
    return rgb
