r"""EfficientNet-Lite0 rebuilt for dreaming on the CPU: BatchNorm folded, ReLU6 fused into the
convolution, and TF "SAME" padding without padded copies.

A dream step is a forward and a backward pass to the input, and at DeepDream image sizes both are
bound by memory traffic as much as by arithmetic: every separate ReLU6 reads and writes the biggest
activations of the network once more, and every asymmetric SAME pad copies one (twice, counting
its backward). This module removes those passes:

- ReLU6 runs inside oneDNN's convolution as a post-op (``mkldnn::_convolution_pointwise``, the op
  ``torch.compile`` uses on CPU), and its backward is one ``hardtanh_backward`` on the saved
  output (``0 < y < 6`` is the same set as ``0 < conv < 6``).
- A stride-2 SAME conv on an even size pads one more row/column on the bottom/right than on the
  top/left. A kernel grown by one leading zero row/column with symmetric padding computes exactly
  that, with no padded copy of the input.
- The stem's input gradient (3 input channels, stride 2) is one stride-1 convolution over its
  phases (:mod:`fastdream.models.phase_conv`) instead of oneDNN's transposed convolution.

On other devices and dtypes (CUDA, float64) the same modules run plain ``F.pad`` + ``F.conv2d`` +
``F.relu6``. Block outputs (``_blocks.N``) equal the original network's to float rounding; the
inner modules have no pre-activation output anymore, so layers inside a block must be dreamed on
:func:`fuse_batchnorm`'s model or the original (``fastdream.dream`` picks for you).

Shape:
    - Input: :math:`(B, 3, H, W)`, normalized as for :class:`EfficientNetLite0`.
    - Output: :math:`(B, 1000)` logits.

Examples:
    >>> import torch
    >>> from fastdream.models.efficientnet_lite import efficientnet_lite0
    >>> plain = efficientnet_lite0(pretrained=False)
    >>> fused = fuse_for_dream(plain)
    >>> x = torch.randn(1, 3, 66, 97)
    >>> bool(torch.allclose(plain(x), fused(x), atol=1e-4))
    True
"""

from __future__ import annotations

import copy
import functools

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.autograd.function import once_differentiable

from fastdream.models import phase_conv
from fastdream.models.efficientnet_lite import EfficientNetLite0, conv2d_same, fold_bn, same_pad
from fastdream.models.modes import evaluating

__all__ = ["FusedConv2d", "FusedMBConv", "EfficientNetLite0Fused", "fuse_for_dream", "onednn_fused_conv"]


@functools.cache
def onednn_fused_conv() -> bool:
    """Whether this torch has oneDNN's conv + pointwise op and it runs here (x86/ARM builds with
    mkldnn do; others fall back to unfused ops)."""
    try:
        op = torch.ops.mkldnn._convolution_pointwise
        x, w = torch.ones(1, 2, 4, 4), torch.ones(2, 1, 3, 3)
        y = op(x, w, None, [1, 1], [1, 1], [1, 1], 2, "hardtanh", [0.0, 6.0], "")
        return bool(torch.backends.mkldnn.is_available()) and y.shape == (1, 2, 4, 4) and float(y.max()) == 6.0
    except (AttributeError, RuntimeError, NotImplementedError):
        return False


def _conv(x, weight, bias, stride, padding, groups, act):
    return torch.ops.mkldnn._convolution_pointwise(
        x, weight, bias, padding, stride, [1, 1], groups, "hardtanh" if act else "none", [0.0, 6.0] if act else [], ""
    )


def _prepack(weight, stride, padding, groups, in_shape):
    """``weight`` in the blocked layout oneDNN's conv wants for inputs of ``in_shape``: without it
    the op reorders every weight on every call (bench/RESULTS.md, "Where the speed comes from").
    The plain weight if this torch cannot (the result is the same either way)."""
    try:
        return torch.ops.mkldnn._reorder_convolution_weight(weight, padding, stride, [1, 1], groups, list(in_shape))
    except (AttributeError, RuntimeError, NotImplementedError):
        return weight


def _conv_input_grad(grad, x, weight, stride, padding, groups, y_act):
    """Gradient w.r.t. the input of ``_conv``; ``y_act`` is its ReLU6 output (None: no act).
    ReLU6 passes the gradient where ``0 < y < 6``, the same set as ``0 < conv < 6``."""
    if y_act is not None:
        grad = torch.ops.aten.hardtanh_backward(grad, y_act, 0.0, 6.0)
    return torch.ops.aten.convolution_backward(
        grad, x, weight, None, stride, padding, [1, 1], False, [0, 0], groups, (True, False, False)
    )[0]


class _ConvFn(torch.autograd.Function):
    """One fused conv as an autograd node. The backward gives the input gradient only (the dream
    never trains the network, and its parameters never ask for gradients)."""

    @staticmethod
    def forward(ctx, x, weight, packed, bias, conf):
        stride, padding, groups, act, _ = conf
        y = _conv(x, packed, bias, stride, padding, groups, act)
        ctx.save_for_backward(x, weight, y if act else None)
        ctx.conf = conf
        return y

    @staticmethod
    @once_differentiable
    def backward(ctx, grad):
        x, weight, y = ctx.saved_tensors
        stride, padding, groups, _, phases = ctx.conf
        if phases is None:
            return _conv_input_grad(grad, x, weight, stride, padding, groups, y), None, None, None, None
        if y is not None:
            grad = torch.ops.aten.hardtanh_backward(grad, y, 0.0, 6.0)
        gx = phase_conv.input_grad(grad, phases, stride[0], tuple(padding), tuple(x.shape[-2:]))
        return gx, None, None, None, None


class _MBConvFn(torch.autograd.Function):
    """A whole MBConv block as one autograd node: a Python autograd.Function costs tens of us per
    call each way, which per conv was a noticeable part of every dream step at small octaves."""

    @staticmethod
    def forward(ctx, x, we, be, wd, bd, wp, bp, packed, conf):
        d_stride, d_padding, skip = conf
        pe, pd, pp = packed
        h1 = _conv(x, pe, be, [1, 1], [0, 0], 1, True) if we is not None else x
        h2 = _conv(h1, pd, bd, d_stride, d_padding, wd.shape[0], True)
        y = _conv(h2, pp, bp, [1, 1], [0, 0], 1, False)
        if skip:
            y.add_(x)
        ctx.save_for_backward(x, we, h1, wd, h2, wp)
        ctx.conf = conf
        return y

    @staticmethod
    @once_differentiable
    def backward(ctx, grad):
        x, we, h1, wd, h2, wp = ctx.saved_tensors
        d_stride, d_padding, skip = ctx.conf
        g = _conv_input_grad(grad, h2, wp, [1, 1], [0, 0], 1, None)
        g = _conv_input_grad(g, h1, wd, d_stride, d_padding, wd.shape[0], h2)
        if we is not None:
            g = _conv_input_grad(g, x, we, [1, 1], [0, 0], 1, h1)
        if skip:
            g.add_(grad)  # g is a fresh tensor from convolution_backward
        return g, None, None, None, None, None, None, None, None


class FusedConv2d(nn.Module):
    r"""A BatchNorm-folded convolution with an optional fused ReLU6 and TF SAME padding.

    Args:
        conv: the folded ``nn.Conv2d`` (weights and bias are shared, not copied).
        act: apply ReLU6 to the output.
        same: TF "SAME" padding computed from the input size (``Conv2dSame``); otherwise the
            conv's own padding.

    Shape:
        - Input: :math:`(B, C_{in}, H, W)`
        - Output: :math:`(B, C_{out}, \lceil H/s \rceil, \lceil W/s \rceil)` with ``same``.

    Convention:
        Same as TF: for stride 2 on an even size the extra padded row/column is at the bottom/right.
    """

    def __init__(self, conv: nn.Conv2d, act: bool, same: bool) -> None:
        super().__init__()
        self.weight, self.bias = conv.weight, conv.bias
        self.stride, self.groups, self.padding = tuple(conv.stride), conv.groups, tuple(conv.padding)
        self.act, self.same = act, same
        self._grown: dict[tuple, Tensor] = {}
        self._packed: dict[tuple, Tensor] = {}
        self._phases: dict[tuple, tuple] = {}
        # An image stem (<= 4 channels, strided): its input gradient by phases (models/phase_conv.py).
        self.by_phases = phase_conv.takes_phases(conv)

    def __getstate__(self):  # copies start with empty caches (oneDNN's packed tensors do not copy)
        state = self.__dict__.copy()
        state["_grown"], state["_packed"], state["_phases"] = {}, {}, {}
        return state

    def _pads(self, in_shape) -> tuple[int, int, int, int]:
        if not self.same:
            return self.padding[0], self.padding[0], self.padding[1], self.padding[1]
        kh, kw = self.weight.shape[-2:]
        return (*same_pad(in_shape[-2], kh, self.stride[0], 1), *same_pad(in_shape[-1], kw, self.stride[1], 1))

    def _grown_weight(self, extra_h: int, extra_w: int) -> Tensor:
        # SAME's extra bottom/right row becomes a zero first row of the kernel under symmetric
        # padding: tap a of the grown kernel reads x[s*i + a - bottom] = x[s*i + (a-1) - top].
        key = (extra_h, extra_w, self.weight.data_ptr(), self.weight.device, self.weight.dtype, self.weight._version)
        w = self._grown.get(key)
        if w is None:
            self._grown.clear()
            w = F.pad(self.weight, (extra_w, 0, extra_h, 0)).contiguous(memory_format=torch.channels_last)
            self._grown[key] = w
        return w

    def fast(self, x: Tensor) -> bool:
        """Whether ``x`` takes the fused oneDNN path (CPU float32 with oneDNN)."""
        return x.device.type == "cpu" and x.dtype == torch.float32 and onednn_fused_conv()

    def fused_args(self, in_shape: torch.Size) -> tuple[Tensor, Tensor, list[int], list[int]]:
        """(weight, the same packed for oneDNN, stride, symmetric padding) for an input of
        ``in_shape``: SAME padding with no padded copy, and no weight reorder per call."""
        top, bottom, left, right = self._pads(in_shape)
        extra = (bottom - top, right - left)
        w = self.weight if extra == (0, 0) else self._grown_weight(*extra)
        stride, padding = list(self.stride), [bottom, right]
        key = (tuple(in_shape), extra, self.weight.data_ptr(), self.weight._version)
        packed = self._packed.get(key)
        if packed is None:
            if len(self._packed) >= 8:  # a dream meets a few sizes (octaves, tile batches)
                self._packed.clear()
            packed = self._packed[key] = _prepack(w, stride, padding, self.groups, in_shape)
        return w, packed, stride, padding

    def forward(self, x: Tensor) -> Tensor:
        if self.fast(x):
            w, packed, stride, padding = self.fused_args(x.shape)
            phases = (
                phase_conv.cached_kernel(self._phases, self.weight, w, stride[0], padding) if self.by_phases else None
            )
            return _ConvFn.apply(x, w, packed, self.bias, (stride, padding, self.groups, self.act, phases))
        if self.same:
            y = conv2d_same(x, self.weight, self.bias, self.stride, (1, 1), self.groups)
        else:
            y = F.conv2d(x, self.weight, self.bias, self.stride, self.padding, 1, self.groups)
        return F.relu6(y) if self.act else y


class FusedMBConv(nn.Module):
    """:class:`~fastdream.models.efficientnet_lite.MBConvBlock` with folded BN and fused ReLU6:
    expand (+ReLU6) -> depthwise (+ReLU6) -> project, plus the identity skip."""

    def __init__(self, block: nn.Module) -> None:
        super().__init__()
        self.has_expand, self.has_skip = block.has_expand, block.has_skip
        if self.has_expand:
            self._expand_conv = FusedConv2d(fold_bn(block._expand_conv, block._bn0), act=True, same=False)
        self._depthwise_conv = FusedConv2d(fold_bn(block._depthwise_conv, block._bn1), act=True, same=True)
        self._project_conv = FusedConv2d(fold_bn(block._project_conv, block._bn2), act=False, same=False)

    def forward(self, x: Tensor) -> Tensor:
        dw = self._depthwise_conv
        if dw.fast(x):  # one autograd node for the block (the submodules' hooks do not run)
            n, _, h, w = x.shape
            mid = dw.weight.shape[0]
            we = be = pe = None
            if self.has_expand:
                ec = self._expand_conv
                we, pe, _, _ = ec.fused_args(x.shape)
                be = ec.bias
            wd, pd, d_stride, d_padding = dw.fused_args((n, mid, h, w))
            pc = self._project_conv
            h2_shape = (n, mid, -(-h // d_stride[0]), -(-w // d_stride[1]))
            wp, pp, _, _ = pc.fused_args(h2_shape)
            return _MBConvFn.apply(
                x, we, be, wd, dw.bias, wp, pc.bias, (pe, pd, pp), (d_stride, d_padding, self.has_skip)
            )
        h = self._expand_conv(x) if self.has_expand else x
        h = self._project_conv(dw(h))
        return h + x if self.has_skip else h


class EfficientNetLite0Fused(nn.Module):
    """EfficientNet-Lite0 with every conv fused (see the module docstring); same top-level and
    block names as :class:`EfficientNetLite0`, so ``_blocks.N`` taps see the same activations."""

    input_mean = EfficientNetLite0.input_mean
    input_std = EfficientNetLite0.input_std
    dream_layers = EfficientNetLite0.dream_layers
    style_layers = EfficientNetLite0.style_layers
    content_layers = EfficientNetLite0.content_layers

    def __init__(self, model: EfficientNetLite0) -> None:
        super().__init__()
        self._conv_stem = FusedConv2d(fold_bn(model._conv_stem, model._bn0), act=True, same=True)
        self._blocks = nn.ModuleList([FusedMBConv(b) for b in model._blocks])
        self._conv_head = FusedConv2d(fold_bn(model._conv_head, model._bn1), act=True, same=False)
        self._avg_pooling = nn.AdaptiveAvgPool2d(1)
        self._dropout = nn.Dropout(model._dropout.p)
        self._fc = copy.deepcopy(model._fc)

    def forward(self, x: Tensor) -> Tensor:
        x = self._conv_stem(x)
        for block in self._blocks:
            x = block(x)
        x = self._avg_pooling(self._conv_head(x)).flatten(1)
        return self._fc(self._dropout(x))


@torch.no_grad()
def fuse_for_dream(model: EfficientNetLite0) -> EfficientNetLite0Fused:
    """An inference copy of ``model`` with BN folded and ReLU6 fused (eval mode, frozen)."""
    with evaluating(model):
        fused = EfficientNetLite0Fused(model).eval()  # fold_bn copies every weight it folds
    fused.requires_grad_(False)
    return fused
