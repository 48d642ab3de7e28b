"""Settings records: what decided a run's outputs, kept beside them (a video's frames folder, a
folder run's output folder) so that a run with other settings is refused rather than mixed in;
the hashes that stand for tensors and models in them, and the difference of two records."""

from __future__ import annotations

import hashlib

import torch
from torch import nn

#: The checkpoint formats fastdream writes: what they hold and the function that writes them (for
#: messages; here, below the models that read one and the trainers that write them).
CHECKPOINT_FORMATS = {
    "fastdream.dcgan": ("GAN", "train_gan"),
    "fastdream.dreamer": ("dreamer", "train_dreamer"),
    "fastdream.unet": ("U-Net", "train_unet"),
    "fastdream.vae": ("VAE", "train_vae"),
}


def tensor_sha256(t: torch.Tensor) -> str:
    t = t.detach().to("cpu", torch.float32).contiguous()
    h = hashlib.sha256(repr(tuple(t.shape)).encode())
    h.update(t.numpy().tobytes())
    return h.hexdigest()


def model_fingerprint(model: nn.Module | None) -> str:
    if model is None:
        return "efficientnet_lite0 (fastdream default)"
    h = hashlib.sha256()
    for name, t in model.state_dict().items():
        h.update(name.encode())
        h.update(tensor_sha256(t).encode() if t.is_floating_point() else repr(t.tolist()).encode())
    return f"{type(model).__module__}.{type(model).__qualname__} sha256:{h.hexdigest()}"


class _Unrecorded:
    """A setting one side does not record (an earlier fastdream's record): said so, not quoted."""

    def __repr__(self) -> str:
        return "(not recorded)"


_UNRECORDED = _Unrecorded()


def settings_diff(stored: dict, current: dict, prefix: str = "") -> list[str]:
    """The settings that differ, as ``"name: stored X, now Y"`` (nested keys joined by dots; a
    changed ``NAME_sha256`` as ``"NAME: its contents differ"``).

    Examples:
        >>> settings_diff({"input_sha256": "4b8b", "dream": {"steps": 2}}, {"input_sha256": "fb92", "dream": {"steps": 3}})
        ['dream.steps: stored 2, now 3', 'input: its contents differ']
    """
    out = []
    for key in sorted(set(stored) | set(current)):
        a, b = stored.get(key, _UNRECORDED), current.get(key, _UNRECORDED)
        if isinstance(a, dict) and isinstance(b, dict):
            out += settings_diff(a, b, f"{prefix}{key}.")
        elif a != b and key.endswith("_sha256") and isinstance(a, str) and isinstance(b, str):
            # (two 64-digit hashes say nothing to a reader)
            out.append(f"{prefix}{key[: -len('_sha256')]}: its contents differ")
        elif a != b and key.endswith("_sha256") and isinstance(a, list) and isinstance(b, list):
            what = "their contents differ" if len(a) == len(b) else f"{len(a)} before, {len(b)} now"
            out.append(f"{prefix}{key[: -len('_sha256')]}: {what}")
        elif a != b and key.endswith("_sha256"):
            none = lambda v: v is None or v is _UNRECORDED
            was, now = ("none" if none(a) else "one"), ("none" if none(b) else "one")
            out.append(f"{prefix}{key[: -len('_sha256')]}: {was} before, {now} now")
        elif a != b:
            out.append(f"{prefix}{key}: stored {a!r}, now {b!r}")
    return out
