"""A strided convolution whose input gradient is one stride-1 convolution over its phases.

A dream only needs the gradient with respect to the image. For a stride-``s`` convolution that
gradient is a transposed convolution, and on a 3-channel image oneDNN's transposed kernel is slow:
for a ResNet stem (7x7, stride 2, 3 -> 32 channels, 512x341) it takes 6x the forward's time and
22% of a whole dream step (bench/RESULTS.md, "The engine's reach"). Split by phase instead: the
input pixel ``(s*a + ry, s*b + rx)`` only meets the kernel taps ``ky = (ry + pad) mod s (+ s*m)``,
so every phase ``(ry, rx)`` is an ordinary stride-1 correlation of the output gradient with a
sub-kernel. Stacking the ``s*s`` sub-kernels as output channels makes the whole gradient one
forward convolution (``s*s*C`` outputs) followed by a pixel shuffle: 3x faster there, equal to
float rounding.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def _axis(k: int, s: int, pad: int) -> tuple[list[tuple[int, int, int]], int, int]:
    """Per phase ``r``: (first tap ``q``, tap count ``M``, offset ``t``) along one axis, where
    ``gx[s*a + r] = sum_m w[q + s*m] * gy[a + t - m]``; and the offsets' range ``dmin..dmax``."""
    phases = []
    for r in range(s):
        q, t = (r + pad) % s, (r + pad) // s
        phases.append((q, max(0, -(-(k - q) // s)), t))
    dmin = min(t - m + 1 for _, m, t in phases)
    dmax = max(t for _, _, t in phases)
    return phases, dmin, dmax


def phase_kernel(weight: torch.Tensor, stride: int, padding: tuple[int, int]) -> torch.Tensor:
    """The ``(s*s*C, O, Ly, Lx)`` kernel of :func:`input_grad` for a ``(O, C, kh, kw)`` weight;
    output channel ``(ry*s + rx)*C + c`` holds phase ``(ry, rx)`` of input channel ``c`` (phase
    major, so that the pixel shuffle moves runs of ``s*C`` values)."""
    o, c, kh, kw = weight.shape
    s = stride
    (py, y0, y1), (px, x0, x1) = _axis(kh, s, padding[0]), _axis(kw, s, padding[1])
    k = weight.new_zeros(s, s, c, o, y1 - y0 + 1, x1 - x0 + 1)
    for ry, (qy, my, ty) in enumerate(py):
        for rx, (qx, mx, tx) in enumerate(px):
            for i in range(my):
                for j in range(mx):
                    k[ry, rx, :, :, ty - i - y0, tx - j - x0] = weight[:, :, qy + s * i, qx + s * j].t()
    return k.reshape(s * s * c, o, y1 - y0 + 1, x1 - x0 + 1)


def input_grad(
    grad_out: torch.Tensor, kernel: torch.Tensor, stride: int, padding: tuple[int, int], size: tuple[int, int]
) -> torch.Tensor:
    """The gradient of ``conv2d(x, w, stride=stride, padding=padding)`` with respect to an ``x`` of
    spatial ``size``, given ``grad_out`` and ``kernel = phase_kernel(w, stride, padding)``.

    Shape:
        grad_out ``(N, O, Ho, Wo)`` -> ``(N, C, *size)``, in ``grad_out``'s memory format.

    Examples:
        >>> x = torch.randn(2, 3, 13, 10, requires_grad=True)
        >>> w = torch.randn(4, 3, 5, 5)
        >>> y = F.conv2d(x, w, stride=2, padding=2)
        >>> g = torch.randn_like(y)
        >>> (ref,) = torch.autograd.grad(y, x, g)
        >>> got = input_grad(g, phase_kernel(w, 2, (2, 2)), 2, (2, 2), (13, 10))
        >>> torch.allclose(got, ref, atol=1e-5)
        True
    """
    s, (h, w) = stride, size
    n, _, ho, wo = grad_out.shape
    c = kernel.shape[0] // (s * s)
    # The last phase reaches furthest down (t grows with r); the kernel's size gives the first.
    y1, x1 = (s - 1 + padding[0]) // s, (s - 1 + padding[1]) // s
    y0, x0 = y1 - kernel.shape[2] + 1, x1 - kernel.shape[3] + 1
    a, b = -(-h // s), -(-w // s)
    # Rows/columns of zeros where a phase reaches past the gradient's edge: the convolution's own
    # padding (symmetric, so the larger side), then the rows the phases need.
    top, bottom, left, right = -y0, a - 1 + y1 - (ho - 1), -x0, b - 1 + x1 - (wo - 1)
    py, px = max(0, top, bottom), max(0, left, right)
    kernel = kernel.to(grad_out.dtype)  # under autocast the gradient comes in the low precision
    phases = F.conv2d(grad_out, kernel, padding=(py, px))[..., py - top : py - top + a, px - left : px - left + b]
    channels_last = grad_out.is_contiguous(memory_format=torch.channels_last) and not grad_out.is_contiguous()
    # Pixel shuffle in the layout the convolution wrote: (N, a, b, s, s, C) -> (N, a, s, b, s, C).
    nhwc = phases.permute(0, 2, 3, 1).reshape(n, a, b, s, s, c).permute(0, 1, 3, 2, 4, 5).reshape(n, a * s, b * s, c)
    gx = nhwc[:, :h, :w].permute(0, 3, 1, 2)
    return gx.contiguous(memory_format=torch.channels_last if channels_last else torch.contiguous_format)


def cached_kernel(cache: dict, source: torch.Tensor, weight: torch.Tensor, stride: int, padding) -> torch.Tensor:
    """:func:`phase_kernel` of ``weight`` (``source`` or a tensor made from it), kept in ``cache``
    until ``source`` changes: in place (its ``_version``) or replaced (the cache holds ``source``,
    so a new tensor cannot take its address and pass for it)."""
    key = (id(source), source._version, tuple(weight.shape), tuple(padding), weight.dtype)
    hit = cache.get(key)
    if hit is not None and hit[0] is source:
        return hit[1]
    if len(cache) >= 4:  # a few paddings per weight (SAME padding by parity); old weights go
        cache.clear()
    kernel = phase_kernel(weight.detach(), stride, tuple(padding))
    cache[key] = (source, kernel)
    return kernel


class _PhaseGrad(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, weight, bias, kernel, stride, padding):
        ctx.geometry = (kernel, stride, padding, tuple(x.shape[-2:]))
        return F.conv2d(x, weight, bias, stride, padding)

    @staticmethod
    def backward(ctx, grad_out):
        kernel, stride, padding, size = ctx.geometry
        return input_grad(grad_out, kernel, stride, padding, size), None, None, None, None, None


class PhaseGradConv2d(nn.Conv2d):
    """An ``nn.Conv2d`` (same parameters, same forward) whose input gradient is computed by
    :func:`input_grad` when only the input needs one, on the CPU; as ``nn.Conv2d`` otherwise
    (weights that train, other devices: their own kernels were not measured slower). Made by
    :func:`apply` from convolutions that are :func:`eligible`; others would get wrong gradients."""

    _phases: dict | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        params = (self.weight, self.bias) if self.bias is not None else (self.weight,)
        if (
            x.device.type != "cpu"
            or not (torch.is_grad_enabled() and x.requires_grad)
            or any(p.requires_grad for p in params)
        ):
            return super().forward(x)
        if self._phases is None:
            self._phases = {}
        kernel = cached_kernel(self._phases, self.weight, self.weight, self.stride[0], self.padding)
        return _PhaseGrad.apply(x, self.weight, self.bias, kernel, self.stride[0], self.padding)


def takes_phases(conv: nn.Conv2d, max_in_channels: int = 4) -> bool:
    """Whether a convolution's shape is one the phase gradient serves: strided alike on both axes,
    ungrouped, undilated, a kernel over 1x1, on a few channels (an image stem: RGB, RGBA, gray),
    where it was measured 1.8-3x faster than oneDNN's (kernels 2x2 to 7x7); on 16 or more
    channels oneDNN's own is faster."""
    return (
        conv.groups == 1
        and tuple(conv.dilation) == (1, 1)
        and conv.stride[0] == conv.stride[1] > 1
        and conv.in_channels <= max_in_channels
        and min(conv.kernel_size) > 1
    )


def eligible(m: nn.Module) -> bool:
    """Whether ``m`` is a plain ``nn.Conv2d`` (zero padding given as numbers) that
    :func:`takes_phases`."""
    return type(m) is nn.Conv2d and m.padding_mode == "zeros" and not isinstance(m.padding, str) and takes_phases(m)


def apply(net: nn.Module) -> nn.Module:
    """Turns, in place, every :func:`eligible` convolution of ``net`` (a private build, never a
    user's model) into a :class:`PhaseGradConv2d`: same parameters, same state-dict keys."""
    for m in net.modules():
        if eligible(m):
            m.__class__ = PhaseGradConv2d
    return net
