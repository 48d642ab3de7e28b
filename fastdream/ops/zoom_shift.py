"""``zoom_shift``: zoom / rotate / shift about the image center in one bilinear pass."""

from __future__ import annotations

import torch

from fastdream.ops import _checks, _native, backend, reference

PADDINGS = ("reflect", "border", "zeros")


# The native kernel as a torch.library op (see ascent_step.py for why).
@torch.library.custom_op("fastdream::zoom_shift", mutates_args=())
def _zoom_shift_native(
    image: torch.Tensor, zoom: float, shift_x: float, shift_y: float, angle: float, padding: str
) -> torch.Tensor:
    out = torch.empty_like(image)
    m00, m01, m10, m11, bx, by = reference.zoom_shift_matrix(
        image.shape[-2], image.shape[-1], zoom, (shift_x, shift_y), angle
    )
    _native.call(
        "zoom_shift",
        image,
        _native.desc(image),
        _native.desc(out),
        [m00, m01, m10, m11],
        bx,
        by,
        _native.PADDING_CODES[padding],
    )
    return out


@_zoom_shift_native.register_fake
def _(image, zoom, shift_x, shift_y, angle, padding):
    # Fake kernel for tracing: the output has the input's shape, dtype and memory format.
    return torch.empty_like(image)


def zoom_shift(
    image: torch.Tensor,
    *,
    zoom: float = 1.0,
    shift: tuple[float, float] = (0.0, 0.0),
    angle: float = 0.0,
    padding: str = "reflect",
) -> torch.Tensor:
    """Zooms in by ``zoom``, rotates by ``angle`` degrees and shifts by ``shift`` pixels, in one pass.

    The transform is an affine about the image center: the content is scaled by ``zoom``
    (``> 1`` zooms in), rotated counter-clockwise as displayed, then moved by ``shift = (dx, dy)``
    pixels (positive dx to the right, positive dy down). Output pixels are bilinear samples.

    Shape:
        (N, C, H, W) or (C, H, W) -> same shape, dtype and memory format.

    Convention:
        Pixel centers sit at integer coordinates and the image covers ``[-0.5, W-0.5]``
        (``grid_sample(align_corners=False)``); the center is ``((W-1)/2, (H-1)/2)``. So the
        identity is exact, an integer shift equals ``torch.roll`` inside the image, and zooming
        keeps the center pixel of an odd-sized image. ``padding``: ``reflect`` mirrors about the
        image edges, ``border`` repeats the edge pixels, ``zeros`` reads 0 outside.

    Examples:
        >>> import torch, fastdream as fd
        >>> x = torch.arange(25.).reshape(1, 1, 5, 5)
        >>> y = fd.ops.zoom_shift(x, shift=(1.0, 0.0))
        >>> torch.equal(y[..., 1:], x[..., :-1])
        True
    """
    _checks.image_tensor("image", image)
    zoom = _checks.number("zoom", zoom, positive=True)
    sx, sy = _checks.pair("shift", shift)
    angle = _checks.number("angle", angle)
    _checks.choice("padding", padding, PADDINGS)
    if image.dim() == 3:
        return zoom_shift(image[None], zoom=zoom, shift=(sx, sy), angle=angle, padding=padding)[0]
    if not backend.use_native("zoom_shift", image.device, image.dtype):
        return reference.zoom_shift(image, zoom, (sx, sy), angle, padding)
    return _zoom_shift_native(image, zoom, sx, sy, angle, padding)
