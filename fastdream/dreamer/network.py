"""The network a dreamer trains: the pretrained EfficientNet-Lite0 with one output per subject, its
early blocks frozen (:func:`prefix`, run without gradients) and the rest (:class:`Tail`) learning;
and what a checkpoint keeps of it besides the weights (:func:`subject_stats`: what each
subject's pictures look like to it)."""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from fastdream._checks import torch_seed
from fastdream.models.dreamer import Dreamer
from fastdream.models.efficientnet_lite import LITE0_BLOCKS, efficientnet_lite0

BLOCKS = len(LITE0_BLOCKS)


def build(subjects, seed: int) -> Dreamer:
    """A :class:`Dreamer` with the ImageNet weights everywhere but the new output layer (seeded:
    small normal weights, zero bias), frozen, in eval mode (BatchNorm keeps its ImageNet statistics)."""
    net = Dreamer(subjects)
    pretrained = efficientnet_lite0(pretrained=True).state_dict()
    net.load_state_dict({k: v for k, v in pretrained.items() if not k.startswith("_fc.")}, strict=False)
    gen = torch.Generator().manual_seed(torch_seed(seed))
    with torch.no_grad():
        net._fc.weight.copy_(torch.randn(net._fc.weight.shape, generator=gen) * 0.01)
        net._fc.bias.zero_()
    return net.eval().requires_grad_(False)


def prefix(net: Dreamer, x: Tensor, first: int) -> Tensor:
    """The frozen part: the stem and blocks ``0 .. first-1`` (no gradients)."""
    with torch.no_grad():
        h = F.relu6(net._bn0(net._conv_stem(x)))
        for block in net._blocks[:first]:
            h = block(h)
    return h


class Tail(nn.Module):
    """Blocks ``first ..`` and the head of ``net`` (shared with it, not copied): logits, and the
    outputs of the learning blocks (for the loss that keeps them near the originals')."""

    def __init__(self, net: Dreamer, first: int):
        super().__init__()
        self.blocks = nn.ModuleList(net._blocks[first:])
        self.conv_head, self.bn1, self.fc = net._conv_head, net._bn1, net._fc
        self.first = first

    def forward(self, h: Tensor, drop: Tensor | None = None) -> tuple[Tensor, list[Tensor]]:
        outs = []
        for block in self.blocks:
            h = block(h)
            outs.append(h)
        h = F.relu6(self.bn1(self.conv_head(h))).mean((2, 3))
        if drop is not None:
            h = h * drop
        return self.fc(h), outs


def teacher(net: Dreamer, first: int) -> nn.ModuleList:
    """A frozen copy of the learning blocks as they start (ImageNet's), for the loss that keeps
    their features natural."""
    return copy.deepcopy(nn.ModuleList(net._blocks[first:])).eval().requires_grad_(False)


def set_learning(net: Dreamer, first: int) -> list[list[nn.Parameter]]:
    """Lets blocks ``first ..`` and the head learn; returns (head params, block params)."""
    net.requires_grad_(False)
    head = [*net._conv_head.parameters(), *net._bn1.parameters(), *net._fc.parameters()]
    blocks = [p for b in net._blocks[first:] for p in b.parameters()]
    for p in head + blocks:
        p.requires_grad_(True)
    return [net._fc.weight, net._fc.bias], [
        p for p in head + blocks if p is not net._fc.weight and p is not net._fc.bias
    ]


@torch.no_grad()
def subject_stats(
    net: Dreamer, views: list[Tensor], labels: list[int], layers, *, exemplars: int, seed: int, device
) -> dict:
    """For each of ``layers`` (block outputs), measured on each subject's ``views`` (model units):
    ``means`` (S, C) (each channel's mean activation) and ``std`` (C,) (its spread over the
    views), ``gram`` (S, C, C) (the Gram matrix over positions, averaged) and ``exemplars``
    (S, M, C) float16 (``M = exemplars`` feature vectors drawn at random from the subject's positions)."""
    wanted = {int(n.split(".")[1]): n for n in layers}
    if not wanted:  # a recipe of the logit alone reads no statistics
        return {}
    acts: dict[str, list[Tensor]] = {n: [] for n in layers}
    for i in range(0, len(views), 32):
        h = F.relu6(net._bn0(net._conv_stem(torch.stack(views[i : i + 32]).to(device))))
        for k, block in enumerate(net._blocks[: max(wanted) + 1]):
            h = block(h)
            if k in wanted:
                acts[wanted[k]].append(h.float().cpu())
    y = torch.tensor(labels)
    gen = torch.Generator().manual_seed(torch_seed(seed))
    out = {}
    for name, parts in acts.items():
        a = torch.cat(parts)  # (views, C, h, w)
        flat = a.permute(0, 2, 3, 1).reshape(a.shape[0], -1, a.shape[1])  # (views, positions, C)
        grams = flat.transpose(1, 2) @ flat / flat.shape[1]
        pooled = flat.mean(1)
        per = [flat[y == s].reshape(-1, a.shape[1]) for s in range(int(y.max()) + 1)]
        picks = [p[torch.randint(0, p.shape[0], (exemplars,), generator=gen)] for p in per]
        out[name] = dict(
            means=torch.stack([pooled[y == s].mean(0) for s in range(len(per))]),
            std=pooled.std(0) if len(pooled) > 1 else torch.ones(a.shape[1]),
            gram=torch.stack([grams[y == s].mean(0) for s in range(len(per))]),
            exemplars=torch.stack(picks).half(),
        )
    return out
