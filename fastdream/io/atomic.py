"""Atomic writes: every output goes to a temporary file beside it and is renamed into place, so an
interrupted run never leaves a truncated image, video, checkpoint or settings file behind."""

from __future__ import annotations

import json
import os
import signal
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Callable


def atomic_save(save: Callable[[str], object], path, *, suffix: str | None = None, hold: bool = True) -> Path:
    """Calls ``save(tmp_path)`` on a temporary file beside ``path``, then renames it into place.
    ``hold``: a stop that comes meanwhile waits until the file is whole (:func:`signals_held`);
    a long write (a video's encoding, minutes) holds it only for the rename.

    Examples:
        >>> import tempfile, pathlib
        >>> out = pathlib.Path(tempfile.mkdtemp()) / "note.txt"
        >>> atomic_save(lambda tmp: pathlib.Path(tmp).write_text("hi"), out).read_text()
        'hi'
    """
    path = given = Path(path)
    if path.is_symlink():  # written through, as a shell's > writes: the rename replaced the link itself
        path = Path(os.path.realpath(path))
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise FileNotFoundError(f"output: the folder {parent} does not exist")
    # A short name: the output's own may be as long as the file system takes, with no room to spare.
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem[:32]}.", suffix=(suffix or path.suffix)[:16], dir=parent)
    os.close(fd)
    # mkstemp creates 0600; give the file the mode a plain open() would (0666 less the umask).
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    try:
        if not hold:  # (a long write: only its rename holds a stop)
            save(tmp)
        with signals_held(path):
            if hold:
                save(tmp)
            os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return given


@contextmanager
def handled(signals, handler):
    """Runs the block with ``handler`` for ``signals`` and yields the handlers it replaced, put
    back after it; None, and the block runs as it is, where handlers cannot be set (a thread other
    than the main one, an embedding without signals)."""
    try:
        # (a signal ignored, as under nohup, stays ignored: a closed terminal must not end the run)
        kept = [s for s in signals if signal.getsignal(s) != signal.SIG_IGN]
        before = {s: signal.signal(s, handler) for s in kept}
    except (ValueError, OSError):
        yield None
        return
    try:
        yield before
    finally:
        for s, old in before.items():
            if signal.getsignal(s) is handler:  # (one the block set itself, a finished command's SIG_IGN, stays)
                signal.signal(s, old)


#: The signals that stop a run (Ctrl-C, kill, a closed terminal), held while a file is written.
_STOPS = tuple(getattr(signal, n) for n in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, n))


@contextmanager
def signals_held(path: Path | None = None):
    """Holds Ctrl-C, SIGTERM and SIGHUP while ``path`` is written and renamed into place (or the
    block writes what belongs together), then delivers them: a stop in the second a finished
    picture was saving threw the whole result away (and a second Ctrl-C, the picture so far). The
    interrupt then carries ``written``: the path, complete. Only in the main thread (where Python
    runs signal handlers)."""
    arrived: list[int] = []
    failed: BaseException | None = None
    with handled(_STOPS, lambda signum, frame: arrived.append(signum)) as before:
        try:
            yield
        except BaseException as exc:  # the stop still comes (a failed write must not swallow it)
            failed = exc
    if arrived and before:
        handler = before[arrived[0]]
        try:
            if callable(handler):
                handler(arrived[0], None)
            elif handler == signal.SIG_DFL:
                os.kill(os.getpid(), arrived[0])
        except KeyboardInterrupt as stop:
            if failed is None:
                stop.written = path  # type: ignore[attr-defined]
            raise stop from failed
    if failed is not None:
        raise failed


def write_json(obj, path) -> Path:
    """``obj`` as indented, key-sorted JSON, written atomically."""
    text = json.dumps(obj, indent=2, sort_keys=True) + "\n"
    return atomic_save(lambda tmp: Path(tmp).write_text(text), path, suffix=".json")
