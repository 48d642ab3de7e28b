"""What decides a dream's pixels, as JSON-able values: the record a video's frames folder and a
folder run keep, so that a run with other settings is refused rather than mixed in."""

from __future__ import annotations

from fastdream.dream.options import DreamOptions
from fastdream.io.record import model_fingerprint, tensor_sha256
from fastdream.models.build import DEFAULT_LAYERS
from fastdream.objectives import describe


def dream_settings(o: DreamOptions) -> dict:
    """What of the dream options decides the pixels, as JSON-able values for the settings file."""
    return {
        "model": model_fingerprint(o.model),
        "layers": [str(s) for s in o.layers] if o.layers is not None else list(DEFAULT_LAYERS),
        "octaves": o.octaves,
        "octave_scale": o.octave_scale,
        "steps": o.steps,
        "step_size": o.step_size,
        "jitter": o.jitter,
        "tile_size": o.tile_size,
        # Tiles per network call can change float rounding, so it is part of the key.
        "tile_batch": o.tile_batch,
        # A callable is recorded by its name: resuming with another function of the same name is
        # the caller's responsibility.
        "objective": o.objective if isinstance(o.objective, str) else describe(o.objective),
        "norm": o.norm,
        "lap_levels": o.lap_levels if o.norm == "laplacian" else None,
        "smooth": o.smooth,
        "guide_sha256": None if o.guide is None else tensor_sha256(o.guide),
        "preserve_colors": o.preserve_colors,
        "color_match": o.color_match,
        "mask_sha256": None if o.mask is None else tensor_sha256(o.mask),
    } | ({"subject": [list(p) for p in o.subject]} if o.subject else {})  # absent without one: older runs resume
