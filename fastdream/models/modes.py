"""A user's model in eval mode for a while, then every one of its modules back in its own mode.

``model.train(was)`` restores only the top module's flag and sets it on every submodule: a model
fine-tuned with frozen BatchNorms (train mode, its BatchNorms in eval) came back from a dream with
them training, and a model in eval mode with Monte Carlo dropout came back without it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from torch import nn


@contextlib.contextmanager
def evaluating(model: nn.Module) -> Iterator[nn.Module]:
    """``model.eval()`` for the block; then each submodule's ``training`` flag as it was.

    Examples:
        >>> net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4)).train()
        >>> _ = net[1].eval()  # frozen statistics while the rest trains
        >>> with evaluating(net):
        ...     net.training, net[1].training
        (False, False)
        >>> net.training, net[1].training
        (True, False)
    """
    modes = [(m, m.training) for m in model.modules()]
    try:
        model.eval()  # (inside: a custom train() that fails half way is undone too)
        yield model
    finally:
        for m, training in modes:
            m.training = training  # (m.train() would set its children too)


class Frozen:
    """Eval mode and no parameter gradients for the duration of a dream, then both restored."""

    def __init__(self, model: nn.Module):
        self.model = model

    def __enter__(self):
        self.modes = evaluating(self.model)
        self.modes.__enter__()
        self.grads = [p for p in self.model.parameters() if p.requires_grad]
        for p in self.grads:
            p.requires_grad_(False)

    def __exit__(self, *exc):
        for p in self.grads:
            p.requires_grad_(True)
        self.modes.__exit__(None, None, None)
