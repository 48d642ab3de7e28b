"""Images and videos in and out: any image kind to a float tensor and back, 8-bit conversions,
the animation writer (GIF/WebP/MP4) and atomic writes."""

from fastdream.io.animation import FORMATS as VIDEO_FORMATS
from fastdream.io.animation import animation_format, durations, max_fps, write_animation
from fastdream.io.atomic import atomic_save, write_json
from fastdream.io.convert import (
    MODES,
    from_pil,
    from_uint8,
    grid,
    grid_tensor,
    quantize,
    to_pil,
    to_uint8,
    uint8_from_pil,
)
from fastdream.io.images import MAX_PIXELS, SAMPLE_IMAGE, Loaded, check_range, load, load_mask, load_pil, save_image

__all__ = [
    "MAX_PIXELS",
    "MODES",
    "SAMPLE_IMAGE",
    "VIDEO_FORMATS",
    "Loaded",
    "animation_format",
    "atomic_save",
    "check_range",
    "durations",
    "from_pil",
    "from_uint8",
    "grid",
    "grid_tensor",
    "load",
    "load_mask",
    "load_pil",
    "max_fps",
    "quantize",
    "save_image",
    "to_pil",
    "to_uint8",
    "uint8_from_pil",
    "write_animation",
    "write_json",
]
