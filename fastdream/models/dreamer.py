r"""A dreamer: EfficientNet-Lite0 fine-tuned on a user's subjects (written by
:func:`fastdream.train_dreamer`), loaded as a model that dreams them.

The network is :class:`~fastdream.models.EfficientNetLite0` with one output per subject; its
layer names, input convention and dream build are the backbone's. What it adds is what the dream
needs to grow a subject: the subjects' names; for each subject, statistics of a few layers
measured on its own pictures after training (``stats``: feature vectors, Gram matrices, channel
means), from which :func:`fastdream.dream.subjects.subject` builds the dream's objective by the
dreamer's ``recipe``; and the dream settings a subject dream starts from.

Shape:
    - Input: :math:`(B, 3, H, W)`, normalized as for :class:`EfficientNetLite0`.
    - Output: :math:`(B, S)` logits, one per subject, in the order of :attr:`Dreamer.subjects`.

Convention:
    ``(x01 * 255 - 127) / 128`` for an RGB image ``x01`` in [0, 1] (the checkpoint records it,
    under ``input``); the model does not normalize by itself.

Examples:
    >>> net = Dreamer(["brick", "cat"])
    >>> net.subjects, net(torch.zeros(1, 3, 64, 64)).shape
    (('brick', 'cat'), torch.Size([1, 2]))
    >>> net.subject_index("dog")
    Traceback (most recent call last):
    ...
    ValueError: subject: unknown subject 'dog'; this dreamer knows: brick, cat
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import torch

from fastdream import _checks
from fastdream._checks import shown
from fastdream.io.record import CHECKPOINT_FORMATS
from fastdream.models import dreamer_state
from fastdream.models.efficientnet_lite import EfficientNetLite0
from fastdream.models.taps import layer_shapes

__all__ = ["FORMAT", "VERSION", "Dreamer", "dreamer_from_state", "is_dreamer_path", "load_dreamer"]

#: The checkpoint format :func:`fastdream.train_dreamer` writes, and the version this fastdream reads.
FORMAT, VERSION = "fastdream.dreamer", 1


class Dreamer(EfficientNetLite0):
    """EfficientNet-Lite0 with one output per subject, and what its dreams need to know.

    Args:
        subjects: the subjects' names, in the order of the outputs.
        stats: per layer, measured on each subject's pictures: ``means`` (S, C) (each channel's
            mean activation) and ``std`` (C,) (its spread over all pictures), ``gram`` (S, C, C)
            (the Gram matrix, averaged) and ``exemplars`` (S, M, C) (feature vectors sampled
            from the pictures' positions).
        recipe: the weights :func:`fastdream.dream.subjects.subject` gives each term.
        dream_settings: options of :func:`fastdream.dream` a subject dream starts from (the
            options given explicitly win).

    Attributes:
        subjects: tuple of the subjects' names.
        dream_layers, style_layers, content_layers: as for the backbone (the dream's defaults).
    """

    def __init__(
        self, subjects: Sequence[str], stats: dict | None = None, recipe: dict | None = None, dream_settings=None
    ) -> None:
        super().__init__(num_classes=len(subjects))
        self.subjects = tuple(subjects)
        self.stats = dict(stats or {})
        self.recipe = dict(recipe or {})
        self.dream_settings = dict(dream_settings or {})

    def subject_index(self, name: str) -> int:
        """The output of subject ``name``; a ``ValueError`` listing the known subjects otherwise."""
        if not isinstance(name, str) or name not in self.subjects:
            raise ValueError(f"subject: unknown subject {name!r}; this dreamer knows: {', '.join(self.subjects)}")
        return self.subjects.index(name)

    def subject_stats(self, name: str, layer: str) -> dict:
        """Subject ``name``'s statistics of ``layer``: ``gram`` (C, C), ``exemplars`` (M, C) and
        ``mean`` (C,), in float32."""
        i = self.subject_index(name)
        if layer not in self.stats:
            raise ValueError(f"subject: this dreamer has no statistics of {layer!r} (it has {', '.join(self.stats)})")
        st = self.stats[layer]
        return dict(gram=st["gram"][i].float(), exemplars=st["exemplars"][i].float(), mean=st["means"][i].float())

    def subject_channels(self, name: str, layer: str, k: int) -> list[int]:
        """The ``k`` channels of ``layer`` most specific to subject ``name``: the largest mean
        activation on its pictures above the mean over the other subjects, in units of the
        channel's spread."""
        i = self.subject_index(name)
        self.subject_stats(name, layer)  # the error for a layer without statistics
        means, std = self.stats[layer]["means"].float(), self.stats[layer]["std"].float()
        others = torch.cat([means[:i], means[i + 1 :]]).mean(0) if len(self.subjects) > 1 else torch.zeros_like(std)
        score = (means[i] - others) / std.clamp_min(1e-6)
        return torch.topk(score, min(k, score.numel())).indices.tolist()


def is_dreamer_path(name) -> bool:
    """Whether ``name`` (a ``models.load`` argument) is a path rather than a backbone's name."""
    if isinstance(name, os.PathLike):
        return True
    return isinstance(name, str) and (
        os.sep in name or "/" in name or name.endswith((".pt", ".pth")) or Path(name).is_file()
    )


def dreamer_from_state(state: dict, where: str = "the given dict") -> Dreamer:
    """The :class:`Dreamer` in a checkpoint dict of :func:`fastdream.train_dreamer`, frozen and in
    eval mode (a ``ValueError`` that says what else the dict is, or what it lacks)."""
    found = state.get("format") if isinstance(state, dict) else None
    if found != FORMAT:
        kind = CHECKPOINT_FORMATS.get(found) if isinstance(found, str) else None
        # (it said "a 'fastdream.unet' checkpoint", the file's inner name)
        what = f"a fastdream {kind[0]} checkpoint (written by {kind[1]})" if kind else "not a fastdream checkpoint"
        raise ValueError(f"model: {where} is {what}; a dreamer is a checkpoint written by train_dreamer")
    if not isinstance(state.get("version"), int) or state["version"] > VERSION:
        raise ValueError(
            f"model: {where} has dreamer format version {state.get('version')!r}; this fastdream reads up to {VERSION}"
        )
    bad = dreamer_state.problem(state)
    if bad:
        raise ValueError(f"model: {where} is a damaged dreamer checkpoint: {bad}")
    subjects = state["subjects"]
    bad = _layers_problem(state, subjects)
    if bad:
        raise ValueError(f"model: {where} is a damaged dreamer checkpoint: {bad}")
    try:
        with torch.device("meta"):  # no random init (and no draw from the caller's RNG) of replaced weights
            net = Dreamer(subjects, state.get("stats"), state.get("recipe"), state.get("dream_settings"))
        net.load_state_dict(state["model"], strict=True, assign=True)
    except (KeyError, TypeError, RuntimeError) as exc:
        raise ValueError(
            f"model: {where} does not hold a dreamer's weights ({type(exc).__name__}: {str(exc)[:200]})"
        ) from None
    layers = state.get("dream_layers")
    if layers:
        net.dream_layers = tuple(layers)
    return net.eval().requires_grad_(False)


def _layers_problem(state: dict, subjects: list) -> str | None:
    """Layers the statistics (and ``dream_layers``) name that the network lacks, or whose channel
    count differs (a network on the meta device: nothing computed)."""
    with torch.device("meta"):
        shapes = layer_shapes(Dreamer(subjects), (64, 64))
    for layer, st in state["stats"].items():
        if layer not in shapes:
            return f"stats name {layer!r}, which is not a layer of the dreamer's network"
        if st["means"].shape[1] != shapes[layer][0]:
            return f"stats[{layer!r}] have {st['means'].shape[1]} channels, the layer has {shapes[layer][0]}"
    layers = state.get("dream_layers")
    if layers is not None and (not isinstance(layers, list) or not all(n in shapes for n in layers)):
        return f"dream_layers must be a list of the network's layers, got {shown(layers)}"
    return None


def load_dreamer(path, device=None) -> Dreamer:
    """The dreamer in the checkpoint ``path`` (a regular file that fits in memory, read with
    ``torch.load(weights_only=True)``: no code from the file runs)."""
    path = _checks.input_file("model", path)
    _checks.fits(f"model: loading {path}", 2 * path.stat().st_size)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ValueError(
            f"model: {path} is not a fastdream checkpoint (torch.load(weights_only=True) failed: {type(exc).__name__})"
        ) from None
    net = dreamer_from_state(state, str(path))
    return net.to(device) if device is not None else net
