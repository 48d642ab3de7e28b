"""The first seconds of the command line: Ctrl-C while torch loads says one line, as it does once
the command runs (:mod:`fastdream.cli.errors`), not Python's traceback of an import.

Imported first by the package; only ``fastdream`` and ``python -m fastdream`` get the hook, which
:func:`done` removes once the package has loaded (a script importing fastdream keeps its own).
"""

from __future__ import annotations

import os
import sys

_previous = sys.excepthook


def _interrupted_while_starting(kind, value, tb) -> None:
    if issubclass(kind, KeyboardInterrupt):
        print("fastdream: interrupted while starting; nothing was done", file=sys.stderr)
    else:
        _previous(kind, value, tb)


def command_line() -> bool:
    """Whether this process is the ``fastdream`` command (``python -u -m fastdream`` too, as
    torchrun starts it), not a script that imports the package."""
    name = os.path.splitext(os.path.basename(sys.argv[0] if sys.argv else ""))[0]
    argv = list(getattr(sys, "orig_argv", []))
    return name == "fastdream" or any(argv[i : i + 2] == ["-m", "fastdream"] for i in range(1, len(argv) - 1))


def done() -> None:
    """Puts the previous hook back (the command's own handling takes over)."""
    if sys.excepthook is _interrupted_while_starting:
        sys.excepthook = _previous


if command_line():
    sys.excepthook = _interrupted_while_starting
