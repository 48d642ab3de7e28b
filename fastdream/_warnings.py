"""Where fastdream's warnings point: at the user's line."""

from __future__ import annotations

import os
import sys
import warnings

import torch


class FastdreamWarning(UserWarning):
    """A warning of fastdream's (a ``UserWarning``): what it did that you may not expect. Its
    location is your line; its category tells it from other libraries' (the web app shows these)."""


class FastdreamRuntimeWarning(FastdreamWarning, RuntimeWarning):
    """A warning of fastdream's about how it runs (the slower reference path), not what it makes."""


_PACKAGE = os.path.dirname(os.path.abspath(__file__)) + os.sep
_TORCH = os.path.dirname(os.path.abspath(torch.__file__)) + os.sep


def user_stacklevel() -> int:
    """The ``stacklevel`` that points a warning, given by its caller, at the first frame outside
    fastdream and torch (whose decorators, ``torch.no_grad()``'s, sit between): the user's line,
    not ``torch/utils/_contextlib.py``."""
    frame, level = sys._getframe(1), 1
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith((_PACKAGE, _TORCH)):
        frame, level = frame.f_back, level + 1
    return level


def warn(message: str, category: type[Warning] = FastdreamWarning) -> None:
    """``warnings.warn`` of ``message``, pointed at the user's line (:func:`user_stacklevel`)."""
    warnings.warn(message, category, stacklevel=user_stacklevel())
