"""The plain DeepDream loop as tutorials write it (TensorFlow's DeepDream tutorial, ported):
roll the whole image, run the whole model, ``g / g.std()``, add, clamp. Same backbone weights,
layers, octaves and step rule as fastdream's defaults, so the difference is the engineering."""

import torch
import torch.nn.functional as F

from fastdream.models.efficientnet_lite import efficientnet_lite0

LAYERS = ("_blocks.5", "_blocks.10")


def load_model():
    return efficientnet_lite0(pretrained=True)  # contiguous, BatchNorms unfolded, full forward


def textbook_dream(
    model, img01, *, octaves=3, octave_scale=1.4, steps=20, step_size=0.01, jitter=32, seed=0, layers=LAYERS
):
    """``model`` takes ``(x01 - mean) / std`` with its ``input_mean`` / ``input_std`` (ImageNet's
    when it has none, as fastdream assumes); the clamp keeps the image in that range."""
    from fastdream.models.taps import input_convention

    gen = torch.Generator().manual_seed(seed)
    modules = dict(model.named_modules())
    acts = []
    hooks = [modules[n].register_forward_hook(lambda m, i, o: acts.append(o)) for n in layers]
    mean, std = (torch.tensor(v, device=img01.device).view(1, 3, 1, 1) for v in input_convention(model))
    lo, hi = float(((0 - mean) / std).min()), float(((1 - mean) / std).max())
    base = (img01 - mean) / std
    h, w = base.shape[-2:]
    detail = None
    try:
        for o in reversed(range(octaves)):
            size = (round(h / octave_scale**o), round(w / octave_scale**o))
            base_o = F.interpolate(base, size=size, mode="bilinear", align_corners=False, antialias=True)
            x = base_o.clone() if detail is None else base_o + F.interpolate(detail, size=size, mode="bilinear")
            for _ in range(steps):
                dy, dx = (int(v) for v in torch.randint(-jitter, jitter + 1, (2,), generator=gen))
                rolled = torch.roll(x, (dy, dx), dims=(-2, -1)).requires_grad_(True)
                acts.clear()
                model(rolled)
                loss = sum(a.pow(2).mean() for a in acts)
                (g,) = torch.autograd.grad(loss, rolled)
                g = torch.roll(g, (-dy, -dx), dims=(-2, -1))
                x = (x + step_size * g / (g.std() + 1e-8)).clamp(lo, hi).detach()
            detail = x - base_o
    finally:
        for hk in hooks:
            hk.remove()
    return ((base + detail) * std + mean).clamp(0, 1)
