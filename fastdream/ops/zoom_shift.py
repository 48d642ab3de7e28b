"""``zoom_shift``: zoom / rotate / shift about the image center in one bilinear or bicubic pass."""

from __future__ import annotations

import torch

from fastdream.ops import _checks, _native, backend, library, reference

PADDINGS = ("reflect", "border", "zeros")
INTERPOLATIONS = ("bilinear", "bicubic")


OP = "fastdream::zoom_shift"


def _check(image, zoom, shift_x, shift_y, angle, padding, interpolation) -> None:
    """The op's own checks (its kernel and fake kernel). Any strides are fine: the kernel reads and
    writes through them."""
    library.check_tensor(OP, "image", image)
    library.check_finite(OP, "zoom", zoom, positive=True)
    library.check_finite(OP, "shift_x", shift_x)
    library.check_finite(OP, "shift_y", shift_y)
    library.check_finite(OP, "angle", angle)
    library.check_choice(OP, "padding", padding, PADDINGS)
    library.check_choice(OP, "interpolation", interpolation, INTERPOLATIONS)


# (The defaults: torch hands a Python kernel no trailing argument that equals its schema default.)
def _kernel(image, zoom, shift_x, shift_y, angle, padding, interpolation="bilinear"):
    _check(image, zoom, shift_x, shift_y, angle, padding, interpolation)
    library.check_runnable(OP, image)
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
        INTERPOLATIONS.index(interpolation),
    )
    return out


def _fake(image, zoom, shift_x, shift_y, angle, padding, interpolation="bilinear"):
    # Lets torch.compile and opcheck trace the op without running it: the output has the input's
    # shape, dtype and memory format (what empty_like gives the kernel too).
    _check(image, zoom, shift_x, shift_y, angle, padding, interpolation)
    return torch.empty_like(image)


def _setup_context(ctx, inputs, output) -> None:
    image, zoom, shift_x, shift_y, angle, padding, *interpolation = inputs
    ctx.args = (image.shape, image.dtype, image.device, zoom, (shift_x, shift_y), angle, padding)
    ctx.interpolation = interpolation[0] if interpolation else "bilinear"


def _backward(ctx, grad):
    # The op is linear in the image, so its vjp is the reference's vjp at any point: zeros do.
    # The reference is PyTorch ops, so this backward is itself differentiable.
    shape, dtype, device, zoom, shift, angle, padding = ctx.args
    create_graph = torch.is_grad_enabled()
    with torch.enable_grad():
        x = torch.zeros(shape, dtype=dtype, device=device, requires_grad=True)
        y = reference.zoom_shift(x, zoom, shift, angle, padding, ctx.interpolation)
        (gx,) = torch.autograd.grad(library.dot(y, grad), x, create_graph=create_graph)
    return gx, None, None, None, None, None, None


library.define(
    "zoom_shift(Tensor image, float zoom, float shift_x, float shift_y, float angle, str padding, "
    'str interpolation="bilinear") -> Tensor',
    _kernel,
    _fake,
)
library.register_autograd(OP, _backward, _setup_context)


def zoom_shift(
    image: torch.Tensor,
    *,
    zoom: float = 1.0,
    shift: tuple[float, float] = (0.0, 0.0),
    angle: float = 0.0,
    padding: str = "reflect",
    interpolation: str = "bilinear",
) -> torch.Tensor:
    """Zooms in by ``zoom``, rotates by ``angle`` degrees and shifts by ``shift`` pixels, in one pass.

    The transform is an affine about the image center: the content is scaled by ``zoom``
    (``> 1`` zooms in), rotated counter-clockwise as displayed, then moved by ``shift = (dx, dy)``
    pixels (positive dx to the right, positive dy down). Output pixels are ``bilinear`` samples
    (2x2 taps) or ``bicubic`` ones (4x4 taps, Catmull-Rom: Keys' a = -0.5): sharper, and at no
    offset amplifying any frequency, so frames resampled from frames neither wash out nor ring
    (``grid_sample``'s a = -0.75 does: halos clipped to black and white after sixty half-pixel
    shifts). Bicubic overshoots a little at hard edges: clamp where the range matters.

    Shape:
        (N, C, H, W) or (C, H, W) -> same shape, dtype and memory format.

    Convention:
        Pixel centers sit at integer coordinates and the image covers ``[-0.5, W-0.5]``
        (``grid_sample(align_corners=False)``); the center is ``((W-1)/2, (H-1)/2)``. So the
        identity is exact, an integer shift equals ``torch.roll`` inside the image, and zooming
        keeps the center pixel of an odd-sized image. ``padding``: ``reflect`` mirrors about the
        image edges, ``border`` repeats the edge pixels, ``zeros`` reads 0 outside; bicubic pads
        each of its taps so (grid_sample's rule).

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
    _checks.choice("interpolation", interpolation, INTERPOLATIONS)
    if image.numel() == 0:  # no pixels to resample (and no center to turn about)
        return image.clone()
    if image.dim() == 3:
        return zoom_shift(
            image[None], zoom=zoom, shift=(sx, sy), angle=angle, padding=padding, interpolation=interpolation
        )[0]
    if not backend.use_native("zoom_shift", image.device, image.dtype):
        return reference.zoom_shift(image, zoom, (sx, sy), angle, padding, interpolation)
    return torch.ops.fastdream.zoom_shift(image, zoom, sx, sy, angle, padding, interpolation)
