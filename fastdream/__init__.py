"""fastdream: DeepDream and creative image models with fused native kernels.

The public API is re-exported here; see README.md for the command line and docs/architecture.md
for how the package is laid out.
"""

import sys as _sys

from fastdream import _startup, data, dreamer, io, metrics, models, ops
from fastdream._grad import autograd_on
from fastdream._version import __version__
from fastdream._warnings import FastdreamWarning
from fastdream.cutout import cutout, cutout_folder, train_unet
from fastdream.dream import PRESETS, dream, dream_folder
from fastdream.dreamer import train_dreamer
from fastdream.driver import Cancelled, StepState
from fastdream.gan import sample_gan, train_gan
from fastdream.info import info
from fastdream.ops import use_backend
from fastdream.sheet import proof_sheet
from fastdream.style import style_transfer
from fastdream.vae import sample_vae, train_vae, vae_reconstruct, vae_walk
from fastdream.video import dream_video, style_video, zoom_video

for _name in [
    "cutout",
    "cutout_folder",
    "train_unet",
    "dream",
    "dream_folder",
    "train_dreamer",
    "sample_gan",
    "train_gan",
    "proof_sheet",
    "style_transfer",
    "sample_vae",
    "train_vae",
    "vae_reconstruct",
    "vae_walk",
    "dream_video",
    "style_video",
    "zoom_video",
]:
    _fn = globals()[_name]
    globals()[_name] = autograd_on(_fn)  # (under a notebook's inference mode too)
    # Where pickle looks it up (and doctest finds its examples) is the wrapper too: it pickles.
    setattr(_sys.modules[_fn.__module__], _fn.__name__, globals()[_name])
del _name, _fn
_startup.done()

__all__ = [
    "Cancelled",
    "FastdreamWarning",
    "PRESETS",
    "StepState",
    "__version__",
    "cutout",
    "cutout_folder",
    "data",
    "dream",
    "dream_folder",
    "dream_video",
    "dreamer",
    "info",
    "io",
    "metrics",
    "models",
    "ops",
    "proof_sheet",
    "sample_gan",
    "sample_vae",
    "style_transfer",
    "style_video",
    "train_dreamer",
    "train_gan",
    "train_unet",
    "train_vae",
    "use_backend",
    "vae_reconstruct",
    "vae_walk",
    "zoom_video",
]
