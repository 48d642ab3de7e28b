"""Using a trained U-Net: load it, predict a mask at any size, cut the subject out to RGBA.

Inference predicts on a copy at the model's working size (:func:`~fastdream.cutout.masks.working_size`)
and upsamples the mask (bilinear) to the input's size, so memory and time do not grow with the
input beyond the input and output images themselves.
"""

from __future__ import annotations

import os

import torch
import torch.nn.functional as F
from PIL import Image, ImageChops, ImageColor, ImageOps
from torch import Tensor, nn

from fastdream import _checks, io
from fastdream._checks import shown
from fastdream.cutout.masks import DEFAULT_RESOLUTION, working_size
from fastdream.cutout.refine import decontaminate, refine
from fastdream.models.modes import evaluating
from fastdream.models.unet import BACKBONES, UNet
from fastdream.training import Choice, Int, Maybe, Record, Weights, load_weights, model_fits, read_checkpoint

FORMAT, VERSION = "fastdream.unet", 1
#: The network's settings a checkpoint may hold (their memory is checked too: ``model_fits``).
MODEL = {
    "in_channels": Choice(3),
    "out_channels": Int(1, 64),
    "base_channels": Maybe(Int(1, _checks.COUNT_MAX)),
    "depth": Maybe(Int(1, 8)),
    "bilinear": Choice(True, False),
    "encoder": Maybe(Choice(*BACKBONES)),
}
CONFIG = Record({"model": Record(MODEL), "image_size": Int(8, 1 << 16)})
#: What using a U-Net reads from its checkpoint, checked before the network is built.
SCHEMA = Record({"config": CONFIG, "model": Weights()})


def read_unet_checkpoint(checkpoint, name: str = "checkpoint", schema=SCHEMA) -> dict:
    state = read_checkpoint(checkpoint, FORMAT, VERSION, name, schema)
    m = state["config"]["model"]
    if m["encoder"] is None and (m["base_channels"] is None or m["depth"] is None):
        where = "the given dict" if isinstance(checkpoint, dict) else str(checkpoint)
        raise ValueError(f"{name}: {where} is not a usable checkpoint: a plain U-Net needs base_channels and depth")
    return state


def to_device(x: Tensor, dev: torch.device) -> Tensor:
    """An image batch on ``dev`` in channels_last, the layout the U-Net runs fastest in."""
    return x.to(dev, non_blocking=True).contiguous(memory_format=torch.channels_last)


def load_unet(checkpoint, *, device=None, name: str = "checkpoint") -> UNet:
    """The trained model of a :func:`train_unet` checkpoint, in eval mode.

    Args:
        checkpoint: path of the checkpoint (loaded with ``weights_only=True``), or the loaded dict.
        device: where to put the model (default: the CPU).
        name: what the checkpoint is called in messages (the caller's argument: ``cutout`` says
            ``model_or_checkpoint``, style ``cutout_model``).

    Returns:
        The :class:`~fastdream.models.unet.UNet`, with ``image_size`` set to its training resolution.

    Examples:
        >>> net = load_unet("unet.pt")  # doctest: +SKIP
        >>> net.image_size              # doctest: +SKIP
        256
    """
    dev = _checks.device("device", device, fallback="cpu")
    state = read_unet_checkpoint(checkpoint, name)
    where = "the given dict" if isinstance(checkpoint, dict) else str(checkpoint)
    config = {k: state["config"]["model"][k] for k in MODEL}
    if config["encoder"] is None:
        model_fits(f"{name}: {where} (base_channels={config['base_channels']})", lambda: UNet.from_config(config))
    model = load_weights(UNet.from_config(config), state["model"], where, name, key="model weights")
    model.image_size = int(state["config"]["image_size"])
    return model.to(dev).eval()


def model_and_device(model_or_checkpoint, device) -> tuple[nn.Module, torch.device]:
    if isinstance(model_or_checkpoint, nn.Module):
        return model_or_checkpoint, _checks.device("device", device, model=model_or_checkpoint, fallback="cpu")
    if isinstance(model_or_checkpoint, (str, os.PathLike, dict)):
        dev = _checks.device("device", device)
        return load_unet(model_or_checkpoint, device=dev, name="model_or_checkpoint"), dev
    raise TypeError(
        f"model_or_checkpoint must be a UNet (torch.nn.Module), a checkpoint path or a loaded checkpoint dict, "
        f"got {type(model_or_checkpoint).__name__}"
    )


def _rgb_pil(image) -> tuple[Image.Image, Image.Image | None]:
    """The input as an RGB PIL image (a new one, ours to modify) and its alpha (L) if any."""
    if isinstance(image, (str, os.PathLike, Image.Image)):
        # A PIL image in the 8-bit modes a file is read in: 16-bit and float gray converted by
        # Pillow alone came out in two levels (white, or black), an RGBA palette without its alpha.
        im = (
            io.load_pil(image, every_frame=None)
            if not isinstance(image, Image.Image)
            else io.standard(ImageOps.exif_transpose(image))
        )
        alpha = im.getchannel("A") if im.mode in ("RGBA", "LA") else None
        return im.convert("RGB") if im.mode != "RGB" or im is image else im, alpha
    loaded = io.load(image, one=True)
    rgb = io.to_pil(loaded.rgb[0])
    alpha = None if loaded.alpha is None else io.to_pil(loaded.alpha[0])
    return rgb, alpha


#: The U-Net's working memory per pixel of its input in inference (its widest activations and
#: their neighbours, with margin), and the largest working side: past it a mask is no finer.
UNET_BYTES_PER_PIXEL = 1024
MAX_RESOLUTION = 8192


@torch.no_grad()
def _predict_small(rgb: Image.Image, model: nn.Module, dev: torch.device, resolution: int, tta: bool) -> Tensor:
    """Foreground probability (h, w) float32 on the CPU at the working size of ``rgb``; with
    ``tta``, the mean of the predictions for the image and its mirror image."""
    h, w = working_size(rgb.height, rgb.width, resolution)
    _checks.fits(f"resolution={resolution} (a {w}x{h} working size)", h * w * (2 if tta else 1) * UNET_BYTES_PER_PIXEL)
    small = rgb.resize((w, h), Image.BILINEAR, reducing_gap=3.0) if (h, w) != (rgb.height, rgb.width) else rgb
    x = io.from_pil(small)[None]
    if tta:
        x = torch.cat([x, x.flip(-1)])
    with evaluating(model):
        out = _mask_logits(model, to_device(x, dev))
    p = torch.sigmoid(out.float()).cpu()
    return (p[0, 0] + p[1, 0].flip(-1)) / 2 if tta else p[0, 0]


def _mask_logits(model: nn.Module, x: Tensor) -> Tensor:
    """``model(x)``, which must be one mask channel at ``x``'s size: a network of another kind (a
    classifier) said so in a torch error from deep inside, or gave a wrong mask without a word."""
    fault = None
    try:
        out = model(x)
    except (RuntimeError, NotImplementedError, ValueError, TypeError) as exc:
        if isinstance(model, UNet) or _checks.out_of_memory(exc):  # (out of memory is said as such)
            raise
        out, fault = None, f"it failed on a {x.shape[-1]}x{x.shape[-2]} picture ({str(exc).splitlines()[0]})"
    if fault is None and not (isinstance(out, Tensor) and out.dim() == 4 and out.shape[1] == 1):
        fault = f"it gave {tuple(out.shape) if isinstance(out, Tensor) else type(out).__name__}"
    elif fault is None and out.shape[-2:] != x.shape[-2:]:
        fault = f"it gave a {out.shape[-1]}x{out.shape[-2]} mask for a {x.shape[-1]}x{x.shape[-2]} picture"
    if fault is not None:
        raise TypeError(
            f"model_or_checkpoint: {type(model).__name__} is not a cutout network ({fault}); give a UNet "
            "trained by fastdream train-unet (a network giving one mask channel, N x 1 x H x W, at its input's size)"
        )
    return out


def _to_full(rgb: Image.Image, p: Tensor, refine_edges: bool) -> Tensor:
    """The working-size probabilities at the image's size: guided by the image (refined) or
    upsampled (bilinear)."""
    size = (rgb.height, rgb.width)
    if tuple(p.shape) == size:
        return p
    if refine_edges:
        full = io.from_pil(rgb)[None]
        return refine(full, p[None, None])[0, 0]
    return F.interpolate(p[None, None], size=size, mode="bilinear", align_corners=False)[0, 0].clamp_(0.0, 1.0)


def _check_common(threshold, soft, resolution, model):
    if threshold is not None:
        threshold = _checks.real("threshold", threshold, lo=0.0, hi=1.0)
    soft = _checks.boolean("soft", soft)
    if resolution is None:
        resolution = getattr(model, "image_size", None) or DEFAULT_RESOLUTION
    return threshold, soft, _checks.integer("resolution", resolution, 8, cap=MAX_RESOLUTION)


def _remap(p: Tensor, threshold: float, soft: bool) -> Tensor:
    if not soft:
        return (p >= threshold).float()
    # Piecewise linear, threshold -> 0.5 (the identity at 0.5): a higher threshold makes the
    # soft mask tighter the way it would move the hard cut.
    return torch.where(p < threshold, p * (0.5 / threshold), 0.5 + (p - threshold) * (0.5 / (1 - threshold)))


def predict_mask(
    image,
    model_or_checkpoint,
    *,
    threshold: float | None = None,
    soft: bool = True,
    resolution: int | None = None,
    device=None,
    tta: bool = False,
    refine: bool = True,
) -> Tensor:
    r"""Foreground probability of every pixel of ``image``.

    The model runs on a copy of the image at its working size (short side ``resolution``, the
    model's training resolution by default); the probabilities are brought to the image's size
    along the image's own edges (the fast guided filter, :mod:`fastdream.cutout.refine`), or
    upsampled (bilinear) with ``refine=False``. EXIF orientation is applied to paths and PIL images.

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
        tta: also predict the mirror image and average (flip test-time augmentation).
        refine: refine the edges against the full-resolution image.

    Returns:
        An (H, W) float32 CPU tensor in [0, 1], the image's size: usable as ``dream(..., mask=)``.

    Shape:
        - Output: :math:`(H, W)` for an input of height :math:`H` and width :math:`W`.

    Examples:
        >>> m = predict_mask("photo.jpg", "unet.pt")                   # doctest: +SKIP
        >>> fd.dream("photo.jpg", mask=1 - m)  # dream the background  # doctest: +SKIP
    """
    model, dev = model_and_device(model_or_checkpoint, device)
    threshold, soft, resolution = _check_common(threshold, soft, resolution, model)
    tta, refine_edges = _checks.boolean("tta", tta), _checks.boolean("refine", refine)
    rgb, _ = _rgb_pil(image)
    p = _to_full(rgb, _predict_small(rgb, model, dev, resolution, tta), refine_edges)
    return p if threshold is None else _remap(p, threshold, soft)


def cutout(
    image,
    model_or_checkpoint,
    *,
    threshold: float = 0.5,
    only_mask: bool = False,
    soft: bool = True,
    resolution: int | None = None,
    device=None,
    tta: bool = False,
    refine: bool = True,
    decontaminate: bool = False,
    background=None,
) -> Image.Image:
    r"""Cuts the foreground out of ``image``: an RGBA image whose alpha is the predicted mask.

    The mask is predicted as in :func:`predict_mask` (at the model's working size, its edges then
    refined against the full-resolution image), and then ``soft``: the probability remapped so that
    ``threshold`` is half transparent (the identity for 0.5; smooth edges), or hard: opaque where
    the probability is >= ``threshold``, transparent elsewhere. An input alpha channel multiplies
    the mask (what was transparent stays so).

    Args:
        image: a path, PIL image, numpy array or tensor (one image), as for :func:`predict_mask`.
        model_or_checkpoint: a :class:`~fastdream.models.unet.UNet` or a :func:`train_unet`
            checkpoint (path or dict).
        threshold: probability that separates foreground from background, in (0, 1).
        only_mask: return the mask alone, an ``L`` image (255 = foreground).
        soft: graded edges (``True``) or a 0/255 alpha (``False``).
        resolution, device, tta, refine: as for :func:`predict_mask`.
        decontaminate: take the old background's color out of the edge pixels, so the cutout
            carries no halo onto a new background (:func:`~fastdream.cutout.refine.decontaminate`).
        background: ``None`` (transparent), or an ``(R, G, B)`` / ``(R, G, B, A)`` color (0-255;
            a list, tuple or 1-D array) or a color name (``"white"``, ``"#20a040"``) to composite
            the cutout onto.

    Returns:
        A PIL image of the input's size: ``RGBA`` (the input in RGB plus the mask as alpha), or
        ``L`` with ``only_mask=True``; on an opaque ``background``, ``RGB``.

    Examples:
        >>> from fastdream import cutout
        >>> out = cutout("portrait.jpg", "unet.pt")  # doctest: +SKIP
        >>> out.mode                                  # doctest: +SKIP
        'RGBA'
    """
    model, dev = model_and_device(model_or_checkpoint, device)
    if threshold is None:
        raise TypeError("threshold must be a number strictly between 0 and 1, got None")
    threshold, soft, resolution = _check_common(threshold, soft, resolution, model)
    only_mask, decont = _checks.boolean("only_mask", only_mask), _checks.boolean("decontaminate", decontaminate)
    tta, refine_edges = _checks.boolean("tta", tta), _checks.boolean("refine", refine)
    color = background_color(background)
    if only_mask and (color is not None or decont):  # (the color was ignored without a word)
        raise ValueError("only_mask gives the mask alone: background and decontaminate do nothing with it; pass one")
    rgb, alpha = _rgb_pil(image)
    p = _predict_small(rgb, model, dev, resolution, tta)
    if refine_edges:
        levels = _remap(_to_full(rgb, p, True), threshold, soft)
        mask = Image.fromarray(levels.mul(255).round_().clamp_(0, 255).to(torch.uint8).numpy(), "L")
    else:  # 8-bit PIL resampling: one byte per output pixel, where a float mask would take four
        mask = Image.fromarray(p.mul(255).round_().to(torch.uint8).numpy(), "L")
        if mask.size != rgb.size:
            mask = mask.resize(rgb.size, Image.BILINEAR)
        lut = _remap(torch.arange(256, dtype=torch.float64) / 255, threshold, soft)
        mask = mask.point((lut * 255).round().clamp(0, 255).to(torch.int64).tolist())
    if alpha is not None:
        mask = ImageChops.multiply(mask, alpha)
    if only_mask:  # (the photo's camera, date and place: a mask or a colored cutout lost them)
        return _metadata(mask, rgb.info, ("exif",))
    if decont:
        rgb = _metadata(_decontaminated(rgb, mask), rgb.info)
    if color is None:
        rgb.putalpha(mask)
        return rgb
    return _metadata(_composite(rgb, mask, color), rgb.info)


def _metadata(im: Image.Image, info: dict, keys=("exif", "icc_profile")) -> Image.Image:
    """``im`` with the photo's EXIF record (and color profile, for its colors), as the plain cutout keeps them."""
    im.info.update({k: info[k] for k in keys if k in info})
    return im


def background_color(color):
    """``background=`` as the (R, G, B) or (R, G, B, A) tuple of 0-255 it stands for (None: none;
    an opaque A of 255 left out: the same color, the same RGB cutout, the same folder's record)."""
    if color is None:
        return None
    if isinstance(color, str):  # (PIL's names: "white", "#20a040", "#20a04080")
        try:
            color = ImageColor.getrgb(color)
        except ValueError:
            raise ValueError(f"background: {color!r} is not a color name or #RRGGBB[AA]") from None
    if hasattr(color, "tolist") and getattr(color, "ndim", None) == 1:  # (a numpy array or a tensor of 3 or 4)
        color = color.tolist()
    if not isinstance(color, (tuple, list)) or len(color) not in (3, 4):
        raise ValueError(f"background must be a color, (R, G, B) or (R, G, B, A), got {shown(color)}")
    color = tuple(_checks.integer(f"background[{i}]", v, 0, 255) for i, v in enumerate(color))
    return color[:3] if color[3:] == (255,) else color


def _decontaminated(rgb: Image.Image, mask: Image.Image) -> Image.Image:
    x, a = io.from_pil(rgb)[None], io.from_pil(mask)[None]
    return io.to_pil(decontaminate(x, a)[0])


def _composite(rgb: Image.Image, mask: Image.Image, color: tuple) -> Image.Image:
    """The cutout over a plain color (RGBA when the color is not opaque)."""
    mode = "RGBA" if len(color) == 4 and color[3] < 255 else "RGB"
    base = Image.new("RGBA", rgb.size, color if len(color) == 4 else (*color, 255))
    fg = rgb.convert("RGBA")
    fg.putalpha(mask)
    return Image.alpha_composite(base, fg).convert(mode)
