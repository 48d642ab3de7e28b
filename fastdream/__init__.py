"""fastdream: DeepDream and creative image models with fused native kernels.

See README.md for the command line and DESIGN notes; the public API is re-exported here.
"""
__version__ = "0.1.0"

from fastdream import data, metrics, models, ops  # noqa: E402
from fastdream.backend import use_backend  # noqa: E402
from fastdream.cutout import cutout, train_unet  # noqa: E402  (cutout: the function, as with dream)
from fastdream.dream import dream  # noqa: E402  (the function shadows the module name, as intended)
from fastdream.gan import sample_gan, train_gan  # noqa: E402
from fastdream.info import info  # noqa: E402
from fastdream.video import zoom_video  # noqa: E402

__all__ = ["dream", "zoom_video", "cutout", "train_unet", "train_gan", "sample_gan", "data", "metrics", "models", "ops", "use_backend", "info", "__version__"]
