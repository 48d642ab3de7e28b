"""What a dreamer checkpoint must hold beyond its weights, checked when it is loaded.

A file that names the dreamer format may still be damaged or edited by hand: statistics of the
wrong shape, a recipe weight that is a string, dream settings the dream does not know. Each would
otherwise surface mid-dream as a ``KeyError`` or an ``AttributeError`` deep in the objective;
:func:`problem` says what is wrong in one line before anything is built.

Examples:
    >>> import torch
    >>> stats = {"_blocks.5": {"means": torch.zeros(2, 4), "std": torch.ones(4),
    ...          "gram": torch.zeros(2, 4, 4), "exemplars": torch.zeros(2, 3, 4)}}
    >>> recipe = {"guide": {"_blocks.5": 5.0}, "texture": {}, "channels": {}}
    >>> problem({"subjects": ["a", "b"], "stats": stats, "recipe": recipe}) is None
    True
    >>> problem({"subjects": ["a", "a"], "stats": stats, "recipe": recipe})
    "subjects must be distinct non-empty names, got ['a', 'a']"
"""

from __future__ import annotations

import math
import numbers

import torch

from fastdream import _checks

#: The dream options a checkpoint may set for its subject dreams (the trainer writes some of them).
SETTINGS = {"octaves", "octave_scale", "steps", "step_size", "jitter", "norm", "objective", "smooth", "tile_size"}
#: Each statistic: its dimensions (S subjects, C channels, M exemplars).
STATS = {"means": "SC", "std": "C", "gram": "SCC", "exemplars": "SMC"}
TERMS = ("guide", "texture", "channels")


def problem(state: dict) -> str | None:
    """What is wrong with the dreamer parts of checkpoint ``state`` (None: nothing); the weights
    are checked where they are loaded."""
    subjects = state.get("subjects")
    if (
        not isinstance(subjects, list)
        or len(subjects) < 2
        or not all(isinstance(n, str) and n.strip() for n in subjects)
        or len(set(subjects)) != len(subjects)
    ):
        return f"subjects must be distinct non-empty names, got {_short(subjects)}"
    stats = state.get("stats")
    if not isinstance(stats, dict):
        return f"stats must be a dict layer -> statistics, got {_short(stats)}"
    for layer, st in stats.items():
        bad = _stat_problem(st, len(subjects))
        if bad:
            return f"stats[{layer!r}]: {bad}"
    return _recipe_problem(state.get("recipe"), stats) or _settings_problem(state.get("dream_settings"))


def _stat_problem(st, n_subjects: int) -> str | None:
    if not isinstance(st, dict) or set(st) != set(STATS):
        return f"must hold exactly {', '.join(STATS)}, got {_short(st)}"
    sizes = {"S": n_subjects}
    for key, dims in STATS.items():
        t = st[key]
        if not torch.is_tensor(t) or not t.is_floating_point() or t.dim() != len(dims):
            return f"{key} must be a float tensor of {len(dims)} dimensions ({', '.join(dims)}), got {_short(t)}"
        for d, n in zip(dims, t.shape):
            if sizes.setdefault(d, n) != n or n == 0:
                return f"{key} has shape {tuple(t.shape)}, which does not match the others ({dims}: {sizes})"
        if not bool(torch.isfinite(t).all()):
            return f"{key} holds NaN or infinite values"
    return None


def _recipe_problem(recipe, stats: dict) -> str | None:
    if not isinstance(recipe, dict) or not all(isinstance(recipe.get(t), dict) for t in TERMS):
        return f"recipe must be a dict with {', '.join(TERMS)} (each layer -> weight), got {_short(recipe)}"
    for term in TERMS:
        for layer, w in recipe[term].items():
            if layer not in stats:
                return f"recipe: {term} names {layer!r}, which has no stats (it has {', '.join(stats)})"
            if not _weight_ok(w):
                return f"recipe: {term}[{layer!r}] must be a finite number, 0 or of size 1e-6..1e6, got {_short(w)}"
    count = recipe.get("channel_count")
    if recipe["channels"] and (isinstance(count, bool) or not isinstance(count, numbers.Integral) or count < 1):
        return f"recipe: channel_count must be an integer >= 1, got {_short(count)}"
    if not _weight_ok(recipe.get("logit", 0.0)):
        return f"recipe: logit must be a finite number, 0 or of size 1e-6..1e6, got {_short(recipe.get('logit'))}"
    if not any(w for t in TERMS for w in recipe[t].values()) and not recipe.get("logit"):
        return "recipe: every weight is 0, so its dreams would grow nothing"
    return None


def _weight_ok(w) -> bool:
    """A weight a dream's objective takes (:func:`fastdream._checks.weight`)."""
    try:
        _checks.weight("recipe", "", w)
    except (TypeError, ValueError):
        return False
    return True


def _settings_problem(settings) -> str | None:
    if settings is None:
        return None
    if not isinstance(settings, dict) or not set(settings) <= SETTINGS:
        return f"dream_settings must be a dict with keys among {', '.join(sorted(SETTINGS))}, got {_short(settings)}"
    return None


def _finite(v) -> bool:
    return not isinstance(v, bool) and isinstance(v, numbers.Real) and math.isfinite(v)


def _short(v) -> str:
    if torch.is_tensor(v):
        return f"a {v.dtype} tensor of shape {tuple(v.shape)}"
    text = repr(v)
    return text if len(text) <= 80 else text[:77] + "..."
