"""Inference rewrites of any ``nn.Module`` that keep the tapped layers' activations: eval-mode
BatchNorm folded into the convolution before it, and the modules that only run after the deepest
tapped layer left out.

Which pairs may be folded is a question of data flow, not of module order: in a ResNet block
``bn1`` follows ``conv1`` only because ``forward`` says so. :func:`plan` reads the data flow from a
``torch.fx`` trace where the model traces (symbolically, without running it), and falls back to
the one order that is data flow, ``nn.Sequential`` adjacency, where it does not. A pair is folded
only when the conv's output goes nowhere but into its BatchNorm, each module is called once, and
the conv is not a tapped layer (folding changes the conv's output; the BatchNorm's is kept, as it
becomes ``nn.Identity`` over a conv that already applies it).
"""

from __future__ import annotations

import copy
from collections import Counter
from dataclasses import dataclass, field
from typing import Iterable

import torch
from torch import fx, nn

_CONVS = (nn.Conv1d, nn.Conv2d, nn.Conv3d)
_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)


class Truncated(nn.Module):
    """Stands in for a module that only runs after the deepest tapped layer (the forward stops
    before it); calling it says so instead of computing something wrong."""

    def __init__(self, name: str):
        super().__init__()
        self.name = name

    def forward(self, *args, **kwargs):
        raise RuntimeError(
            f"{self.name} was left out of this dream build of the model (it runs after the deepest tapped "
            "layer); run the original model for its full output"
        )


@dataclass
class Plan:
    """What a dream build of a model changes: ``pairs`` of (conv, batchnorm) names to fold, and the
    ``dropped`` module names that run only after the deepest tap; ``traced``: read from torch.fx."""

    pairs: list[tuple[str, str]] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    traced: bool = False


def _foldable(conv: nn.Module, bn: nn.Module) -> bool:
    return (
        type(conv) in _CONVS
        and type(bn) in _NORMS
        and bn.track_running_stats
        and bn.running_mean is not None
        and bn.num_features == conv.out_channels
        and conv.padding_mode == "zeros"
    )


def _trace(model: nn.Module) -> fx.Graph | None:
    try:
        return fx.Tracer().trace(model)
    except Exception:  # control flow on values, unsupported ops...: any failure means "not traceable"
        return None


def _prefixes(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[: i + 1]) for i in range(len(parts))]


def _node_modules(node: fx.Node) -> list[str]:
    """Every module path a node runs inside (its own call_module target included)."""
    # The stack's keys name a module's second call "name@1"; the module is the same.
    names = [k.split("@")[0] for k in (node.meta.get("nn_module_stack") or {})]
    if node.op in ("call_module", "get_attr"):
        names.append(str(node.target))
    return [p for n in names for p in _prefixes(n)]


def plan(model: nn.Module, taps: Iterable[str]) -> Plan:
    """The folds and truncation of a dream build of ``model`` tapping ``taps`` (module names)."""
    taps = set(taps)
    modules = dict(model.named_modules())
    graph = _trace(model)
    if graph is None:
        pairs = []
        for parent_name, parent in modules.items():
            if isinstance(parent, nn.Sequential):
                kids = list(parent.named_children())
                for (a, conv), (b, bn) in zip(kids, kids[1:]):
                    conv_name = f"{parent_name}.{a}" if parent_name else a
                    if conv_name not in taps and _foldable(conv, bn):
                        pairs.append((conv_name, f"{parent_name}.{b}" if parent_name else b))
        return Plan(_once(pairs, modules), [], False)

    nodes = list(graph.nodes)
    calls = Counter(str(n.target) for n in nodes if n.op == "call_module")
    pairs = []
    for n in nodes:
        if n.op != "call_module" or len(n.args) != 1 or n.kwargs or not isinstance(n.args[0], fx.Node):
            continue
        src = n.args[0]
        if src.op != "call_module" or len(src.users) != 1:
            continue
        conv_name, bn_name = str(src.target), str(n.target)
        if (
            conv_name not in taps
            and calls[conv_name] == 1
            and calls[bn_name] == 1
            and _foldable(modules[conv_name], modules[bn_name])
        ):
            pairs.append((conv_name, bn_name))

    last = max((i for i, n in enumerate(nodes) if taps & set(_node_modules(n))), default=None)
    dropped = []
    if last is not None:
        before = {p for n in nodes[: last + 1] for p in _node_modules(n)}
        after = {p for n in nodes[last + 1 :] for p in _node_modules(n)}
        for name in sorted(after - before, key=len):
            parent = name.rpartition(".")[0]
            if (not parent or parent in before) and name not in taps:
                dropped.append(name)
    gone = set(dropped)
    pairs = [(c, b) for c, b in pairs if not gone & set(_prefixes(c))]
    return Plan(pairs, dropped, True)


def _once(pairs, modules):
    """Pairs whose modules appear once in the model (a module shared between places would have
    its fold applied everywhere)."""
    seen = Counter(id(m) for _, m in modules.items())
    return [(c, b) for c, b in pairs if seen[id(modules[c])] == 1 and seen[id(modules[b])] == 1]


@torch.no_grad()
def fold_pair(conv: nn.Module, bn: nn.Module) -> None:
    """Folds the eval-mode ``bn`` into ``conv`` in place: ``conv'(x) = bn(conv(x))``."""
    scale = torch.rsqrt(bn.running_var + bn.eps)
    if bn.weight is not None:
        scale = scale * bn.weight
    shape = (-1,) + (1,) * (conv.weight.dim() - 1)
    bias = conv.bias if conv.bias is not None else torch.zeros_like(bn.running_mean)
    new_bias = (bias - bn.running_mean) * scale + (bn.bias if bn.bias is not None else 0.0)
    conv.weight = nn.Parameter((conv.weight * scale.view(shape).to(conv.weight)).detach(), requires_grad=False)
    conv.bias = nn.Parameter(new_bias.to(conv.weight).detach(), requires_grad=False)


def _set(root: nn.Module, name: str, module: nn.Module) -> None:
    parent, _, leaf = name.rpartition(".")
    setattr(root.get_submodule(parent) if parent else root, leaf, module)


def copy_memo(model: nn.Module, memo: dict | None = None) -> dict:
    """``copy.deepcopy``'s memo for ``model``: each tensor a module keeps as a plain attribute and
    that autograd made (pruning's ``weight``, a forward's ``self.last = x``) copied detached.
    torch refuses to deepcopy such a tensor: a pruned model's dream was its RuntimeError."""
    memo = dict(memo or {})
    for m in model.modules():
        for v in vars(m).values():
            if isinstance(v, torch.Tensor) and not v.is_leaf:
                memo[id(v)] = v.detach().clone()
    return memo


def apply(model: nn.Module, p: Plan) -> nn.Module:
    """A private copy of ``model`` with the plan applied (the dropped modules never copied)."""
    modules = dict(model.named_modules())
    memo = {id(modules[name]): Truncated(name) for name in p.dropped}
    out = copy.deepcopy(model, copy_memo(model, memo))
    for conv_name, bn_name in p.pairs:
        fold_pair(out.get_submodule(conv_name), out.get_submodule(bn_name))
        _set(out, bn_name, nn.Identity())
    return out
