"""The objective of a dream of a dreamer's subjects (``fastdream.dream(..., subject=NAME)``):
:func:`subject` and the terms it is made of, on the objectives of :mod:`fastdream.objectives`.

A dreamer (:func:`fastdream.train_dreamer`) keeps, for each subject, features and texture
statistics measured on its pictures, and a ``recipe`` of how to weigh them; :func:`subject`
turns these into an :class:`~fastdream.objectives.Objective`.
"""

from __future__ import annotations

from torch import Tensor

from fastdream._checks import shown
from fastdream.objectives import Objective, channel, check_weight, guide_match

__all__ = ["exemplars", "gram", "output", "parse_subjects", "subject"]


def _activation(acts: dict, layer: str) -> Tensor:
    a = acts[layer]
    return (a[0] if isinstance(a, (tuple, list)) else a).float()


def output(layer: str, index: int) -> Objective:
    """Unit ``index`` of a layer with a flat output (N, K), such as a classifier's logits
    (``"_fc"``); for a feature map, the mean of channel ``index`` over its positions."""

    def value(acts):
        a = _activation(acts, layer)
        if not 0 <= index < a.shape[1]:
            raise ValueError(f"output: {layer} has {a.shape[1]} units (0-{a.shape[1] - 1}); {index} is out of range")
        v = a[:, index]
        return v if v.dim() == 1 else v.mean(dim=tuple(range(1, v.dim())))

    return Objective(value, (layer,), f"output({layer!r}, {index})")


def parse_subjects(subject) -> tuple[tuple[str, float], ...]:
    """``subject=`` of :func:`fastdream.dream` as (name, weight) pairs: ``"NAME"``, ``"NAME=2"``, a
    list of them, or a dict name -> weight.

    Examples:
        >>> parse_subjects(["cat=2", "brick"]), parse_subjects({"cat": 0.5})
        ((('cat', 2.0), ('brick', 1.0)), (('cat', 0.5),))
    """
    if isinstance(subject, str):
        subject = [subject]
    if isinstance(subject, dict):
        pairs = [(k, v) for k, v in subject.items()]
    elif isinstance(subject, (list, tuple)):
        pairs = []
        for text in subject:
            if isinstance(text, tuple) and len(text) == 2:  # parsed already (options checked again)
                pairs.append(text)
                continue
            if not isinstance(text, str):
                raise TypeError(f"subject: a subject must be a name (optionally NAME=WEIGHT), got {shown(text)}")
            name, eq, w = text.partition("=")
            if eq and not w.strip():
                raise ValueError(f"subject: {text!r} has no weight after '='; write NAME or NAME=WEIGHT")
            try:
                pairs.append((name.strip(), float(w) if eq else 1.0))
            except ValueError:
                raise ValueError(f"subject: the weight in {text!r} is not a number") from None
    else:
        raise TypeError(
            f"subject must be a name, a list of names (NAME=WEIGHT), or a dict name -> weight, got {shown(subject)}"
        )
    if not pairs:
        raise ValueError("subject must name at least one subject")
    for name, _ in pairs:
        if not isinstance(name, str) or not name:
            raise ValueError(f"subject: {name!r} is not a subject name")
    twice = sorted({n for n, _ in pairs if [m for m, _ in pairs].count(n) > 1})
    if twice:  # which weight was meant? (a second "cat" doubled the first, unsaid)
        raise ValueError(
            f"subject: {', '.join(map(repr, twice))} named twice; name each once, with its weight (NAME=W)"
        )
    checked = tuple((name, _subject_weight(name, w)) for name, w in pairs)
    if all(w == 0 for _, w in checked):
        raise ValueError("subject: every weight is 0, so there is nothing to dream; give a subject a weight")
    return checked


class _Exemplars(Objective):
    """The guide match against fixed feature vectors (see :func:`exemplars`)."""

    def __init__(self, layer: str, features: Tensor, text: str):
        super().__init__(self._value, (layer,), text)
        self.layer, self.features = layer, features.float()
        self.energy = float(self.features.square().sum(1).mean().clamp_min(1e-12))
        self._on: dict = {}

    def _value(self, acts: dict) -> Tensor:
        a = _activation(acts, self.layer)
        key = (a.device, a.shape[1])
        if key not in self._on:
            if self.features.shape[1] != a.shape[1]:
                raise ValueError(
                    f"{self}: {self.layer} has {a.shape[1]} channels, the features {self.features.shape[1]}"
                )
            self._on = {key: self.features.to(a.device)}
        return guide_match(a, self._on[key], None) / self.energy


def exemplars(layer: str, features: Tensor) -> Objective:
    """The guide match of ``layer``'s features with fixed feature vectors ``features`` (M, C) (a
    subject's, kept by a dreamer): each position is pulled toward the vector it resembles most,
    as with :func:`guide`; divided by the vectors' mean squared norm, so weights compare across
    layers."""
    return _Exemplars(layer, features, f"exemplars({layer!r}, {features.shape[0]})")


def gram(layer: str, target: Tensor) -> Objective:
    """How close ``layer``'s Gram matrix (channels x channels, averaged over positions) is to
    ``target``: ``-|G - target| / |target|`` (Frobenius norms), per sample; climbing it gives the
    image the texture statistics (colors, edges, patterns) ``target`` was measured on."""
    t = target.float()
    scale = float(t.norm().clamp_min(1e-12))
    on: dict = {}

    def value(acts):
        a = _activation(acts, layer)
        n, c = a.shape[:2]
        if c != t.shape[0]:
            raise ValueError(f"gram: {layer} has {c} channels, the target {t.shape[0]}")
        f = a.permute(0, 2, 3, 1).reshape(n, -1, c)  # free for channels_last activations
        g = f.transpose(1, 2) @ f / f.shape[1]
        if a.device not in on:
            on.clear()
            on[a.device] = t.to(a.device)
        return -(g - on[a.device]).flatten(1).norm(dim=1) / scale

    return Objective(value, (layer,), f"gram({layer!r})")


def subject(model, name: str, weight: float = 1.0) -> Objective:
    """Grows subject ``name`` of a dreamer (a model written by :func:`fastdream.train_dreamer` and
    read by :func:`fastdream.models.load`), with the terms and weights of its ``recipe``:

    - ``guide``: :func:`exemplars` of the subject's own features (measured on its pictures):
      the subject's parts (eyes, petals, bricks) grow where the image resembles them;
    - ``texture``: :func:`gram` toward the subject's texture statistics: its colors and
      patterns, which keep the dream's statistics those of a natural picture of it;
    - ``channels``: the ``channel_count`` channels of a layer most specific to the subject
      (:func:`channel`, mean), and ``logit``: the subject's output (both 0 by default).

    bench/RESULTS.md ("Dream your own subjects") has why: guide and texture together make the
    subject visible; the logit or the subject's channels alone are raised by colored noise a
    person does not see as the subject.

    Examples:
        >>> from fastdream.models.dreamer import Dreamer
        >>> m = Dreamer(["brick", "cat"])
        >>> subject(m, "dog")
        Traceback (most recent call last):
        ...
        ValueError: subject: unknown subject 'dog'; this dreamer knows: brick, cat
    """
    if not hasattr(model, "subjects") or not hasattr(model, "subject_stats"):
        raise ValueError(
            f"subject: {type(model).__name__} has no subjects; pass model= a dreamer "
            "(fastdream.models.load('dreamer.pt'), written by fastdream.train_dreamer)"
        )
    index = model.subject_index(name)
    r = model.recipe
    terms = [
        w * exemplars(layer, model.subject_stats(name, layer)["exemplars"]) for layer, w in r["guide"].items() if w
    ]
    terms += [w * gram(layer, model.subject_stats(name, layer)["gram"]) for layer, w in r["texture"].items() if w]
    terms += [
        w * channel(layer, model.subject_channels(name, layer, r["channel_count"]), kind="mean")
        for layer, w in r["channels"].items()
        if w
    ]
    if r.get("logit"):
        terms.append(r["logit"] * output("_fc", index))
    if not terms:
        raise ValueError(f"subject: the dreamer's recipe has no term with a weight: {r}")
    total = terms[0]
    for t in terms[1:]:
        total = total + t
    out = total * _subject_weight(name, weight) if weight != 1.0 else total
    out.text = f"subject({name!r})" + ("" if weight == 1.0 else f" * {weight:g}")
    return out


def _subject_weight(name, w) -> float:
    return check_weight(name, w, "subject")
