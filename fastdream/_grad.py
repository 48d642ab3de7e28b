"""Autograd for fastdream's own work, whatever the caller's grad mode."""

from __future__ import annotations

import functools
from typing import Callable, TypeVar

import torch

F = TypeVar("F", bound=Callable)


def autograd_on(fn: F) -> F:
    """``fn`` run with autograd available. Under a caller's ``torch.inference_mode()`` (a notebook
    cell's) no gradient could be taken, and every entry point failed with torch's "Inference
    tensors do not track version counter"; ``torch.no_grad()`` needs nothing (the pipelines turn
    gradients on where they take them)."""

    @functools.wraps(fn)
    def entry(*args, **kwargs):
        with torch.inference_mode(False):
            return fn(*args, **kwargs)

    return entry  # type: ignore[return-value]
