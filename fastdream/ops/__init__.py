"""Public ops: check inputs, then run the native kernel or the PyTorch reference.

The backend follows ``FASTDREAM_BACKEND`` (``auto``, ``native``, ``reference``) or
:func:`use_backend`. The native kernels are registered as ``torch.ops.fastdream.*``
(:mod:`fastdream.ops.library`): each checks its own arguments, has a fake kernel for
torch.compile, and the differentiable ones have autograd formulas.
"""

from fastdream.ops import reference
from fastdream.ops.ascent_step import ascent_step_
from fastdream.ops.backend import use_backend
from fastdream.ops.color import keep_chroma, match_colors
from fastdream.ops.gradient import laplacian_normalize, smooth_gradient
from fastdream.ops.tiles import TileGrid, blend_tiles, extract_tiles, tile_grid
from fastdream.ops.zoom_shift import zoom_shift

__all__ = [
    "TileGrid",
    "ascent_step_",
    "blend_tiles",
    "extract_tiles",
    "keep_chroma",
    "laplacian_normalize",
    "match_colors",
    "reference",
    "smooth_gradient",
    "tile_grid",
    "use_backend",
    "zoom_shift",
]
