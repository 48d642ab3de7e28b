"""The U-Net model: shapes on odd sizes, both upsamplings, config round trip, the EfficientNet-Lite0 encoder."""

import pytest
import torch

from fastdream.models.efficientnet_lite import efficientnet_lite0
from fastdream.models.unet import DoubleConv, UNet


@pytest.mark.parametrize("bilinear", [True, False])
@pytest.mark.parametrize("depth", [1, 2, 3, 4])
def test_output_size_equals_input_size_odd_sizes(depth, bilinear):
    torch.manual_seed(0)
    net = UNet(base_channels=4, depth=depth, bilinear=bilinear).eval()
    for h, w in [(1, 1), (2, 3), (5, 7), (17, 33), (31, 16), (64, 64)]:
        out = net(torch.rand(2, 3, h, w))
        assert out.shape == (2, 1, h, w), (h, w)
        assert torch.isfinite(out).all()


def test_channels_batch_and_layout():
    torch.manual_seed(0)
    net = UNet(in_channels=1, out_channels=3, base_channels=4, depth=3).eval()
    x = torch.rand(3, 1, 29, 40)
    out = net(x)
    assert out.shape == (3, 3, 29, 40)
    out_cl = net(x.contiguous(memory_format=torch.channels_last))
    torch.testing.assert_close(out_cl, out, rtol=1e-4, atol=1e-5)
    # Each image of a batch is independent of the others in eval mode.
    torch.testing.assert_close(net(x[1:2]), out[1:2], rtol=1e-4, atol=1e-5)


def test_training_mode_backward_reaches_every_parameter():
    torch.manual_seed(0)
    net = UNet(base_channels=4, depth=3, bilinear=False).train()
    net(torch.rand(2, 3, 19, 23)).mean().backward()
    for name, p in net.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name


def test_receptive_field_grows_with_depth():
    # A change in one corner reaches twice as far per level: the deepest level and every skip
    # connection are wired in (a broken level would cap the reach).
    torch.manual_seed(0)
    x = torch.rand(1, 3, 64, 64)
    y = x.clone()
    y[..., :8, :8] += 1.0
    reach = []
    for depth in (1, 2, 3):
        net = UNet(base_channels=4, depth=depth).eval()
        changed = ((net(x) - net(y)).abs()[0, 0] > 0).nonzero()
        reach.append(int(changed.max()))
    assert reach[0] < 20 < reach[1] < 40 < reach[2]


def test_config_round_trip_and_parameter_count():
    net = UNet(base_channels=8, depth=3, bilinear=False)
    assert net.config == dict(in_channels=3, out_channels=1, base_channels=8, depth=3, bilinear=False, encoder=None)
    clone = UNet.from_config(net.config)
    clone.load_state_dict(net.state_dict())  # strict: the same modules and shapes
    n = sum(p.numel() for p in UNet(base_channels=16, depth=4).parameters())
    assert 1.5e6 < n < 2.5e6


def test_double_conv():
    m = DoubleConv(3, 6, mid_channels=5)
    assert m(torch.rand(2, 3, 7, 9)).shape == (2, 6, 7, 9)
    assert m.block[0].out_channels == 5 and m.block[0].bias is None


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        (dict(depth=0), ValueError, "depth must be >= 1, got 0"),
        (dict(base_channels="8"), TypeError, "base_channels must be an integer, got '8'"),
        (dict(in_channels=2.0), TypeError, "in_channels"),
        (dict(bilinear=1), TypeError, "bilinear must be True or False"),
        (dict(encoder="resnet18"), ValueError, "encoder must be None"),
    ],
)
def test_bad_arguments(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        UNet(**kwargs)


def test_from_backbone_shapes_weights_and_frozen_batchnorm():
    torch.manual_seed(0)
    net = UNet.from_backbone("efficientnet_lite0")
    ref = efficientnet_lite0(pretrained=True)
    # The encoder carries the ImageNet weights.
    assert torch.equal(net.encoder._conv_stem.weight, ref._conv_stem.weight)
    assert torch.equal(net.encoder._blocks[15]._project_conv.weight, ref._blocks[15]._project_conv.weight)
    assert net.config["encoder"] == "efficientnet_lite0"
    for h, w in [(1, 1), (3, 5), (45, 61), (64, 64)]:
        assert net.eval()(torch.rand(1, 3, h, w)).shape == (1, 1, h, w)

    # Training: convolutions learn, the backbone's BatchNorms keep their ImageNet statistics.
    net.train()
    bn = net.encoder._blocks[3]._bn1
    before = bn.running_mean.clone()
    assert not bn.training and not bn.weight.requires_grad
    assert net.encoder.full.block[1].training  # the new full-size block does train its BatchNorm
    net(torch.rand(2, 3, 64, 64)).mean().backward()
    assert torch.equal(bn.running_mean, before)
    assert net.encoder._blocks[3]._depthwise_conv.weight.grad is not None
    assert bn.weight.grad is None

    # The config rebuilds the same architecture without downloading or loading weights.
    clone = UNet.from_config(net.config)
    clone.load_state_dict(net.state_dict())


def test_from_backbone_bad_name():
    with pytest.raises(ValueError, match="unknown backbone 'resnet50'; available: efficientnet_lite0"):
        UNet.from_backbone("resnet50")
    with pytest.raises(ValueError, match="3 channels"):
        UNet(in_channels=1, encoder="efficientnet_lite0")


def test_the_bar_shows_validation_iou_once_measured():
    """It showed val_iou=nan through the first epoch, which read as a broken run."""
    from types import SimpleNamespace

    from fastdream.cutout.train import UNetTrainer

    assert UNetTrainer.postfix(SimpleNamespace(metrics={}), {"loss": 0.5}) == {"loss": "0.5000"}
    later = SimpleNamespace(metrics={"val_iou": 0.75})
    assert UNetTrainer.postfix(later, {"loss": 0.5}) == {"loss": "0.5000", "val_iou": "0.7500"}


def test_a_unet_too_large_for_the_machine_is_refused_before_it_is_built():
    """UNet(depth=50) took all 24 GB of the machine and was killed (or raised torch's allocator
    error); the sizes are checked first, in one line."""
    with pytest.raises(ValueError, match="depth must be <= 12, got 50"):
        UNet(depth=50)
    with pytest.raises(ValueError, match="base_channels must be <= 4096"):
        UNet(base_channels=10**6)
    with pytest.raises(ValueError, match=r"UNet\(base_channels=32, depth=12\) needs about .* of memory"):
        UNet(depth=12)
