"""The first seconds of the command line: Ctrl-C while torch loads says one line, as it does once
the command runs (:mod:`fastdream.cli.errors`), not Python's traceback of an import; ``kill`` (or a
closed terminal) says one too, where it ended the command without a word.

Imported first by the package; only ``fastdream`` and ``python -m fastdream`` get the hook, which
:func:`done` removes once the package has loaded (a script importing fastdream keeps its own).
"""

from __future__ import annotations

import os
import signal
import sys

_previous = sys.excepthook

#: The signals that end a command as Ctrl-C does (kill, a closed terminal): here while the package
#: loads, and in :func:`fastdream.cli.errors.terminated_as_interrupted` once the command runs.
ENDINGS = tuple(getattr(signal, n) for n in ("SIGTERM", "SIGHUP") if hasattr(signal, n))


def _interrupted_while_starting(kind, value, tb) -> None:
    if issubclass(kind, KeyboardInterrupt):
        print("fastdream: interrupted while starting; nothing was done", file=sys.stderr)
    else:
        _previous(kind, value, tb)


def _ended_while_starting(signum, frame) -> None:
    what = "hung up" if signum == getattr(signal, "SIGHUP", None) else "terminated"
    try:
        print(f"fastdream: {what} while starting; nothing was done", file=sys.stderr, flush=True)
    finally:  # (nothing to unwind: no file is written while the package loads)
        os._exit(128 + signum)


def command_line() -> bool:
    """Whether this process is the ``fastdream`` command (``python -u -m fastdream`` too, as
    torchrun starts it), not a script that imports the package."""
    name = os.path.splitext(os.path.basename(sys.argv[0] if sys.argv else ""))[0]
    argv = list(getattr(sys, "orig_argv", []))
    return name == "fastdream" or any(argv[i : i + 2] == ["-m", "fastdream"] for i in range(1, len(argv) - 1))


def done() -> None:
    """Puts the previous hook and handlers back (the command's own handling takes over)."""
    if sys.excepthook is _interrupted_while_starting:
        sys.excepthook = _previous
    for signum in ENDINGS:
        if signal.getsignal(signum) is _ended_while_starting:
            signal.signal(signum, signal.SIG_DFL)


if command_line():
    sys.excepthook = _interrupted_while_starting
    for _signum in ENDINGS:  # (one ignored, as nohup starts a command, stays ignored)
        if signal.getsignal(_signum) == signal.SIG_DFL:
            signal.signal(_signum, _ended_while_starting)
