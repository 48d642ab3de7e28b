"""One run at a time per output. Two runs writing the same output folder, frames or checkpoint at
once mixed their results (half the pictures of one, half of the other, under one settings file),
and both said they had succeeded; the second is now refused at once, in one line. The command
line holds the lock of its ``-o`` and frames folder; the library's functions that write a folder
or a checkpoint over a long run (folders, videos' frames, trainers) hold their own, so two Python
scripts, or a script beside a command, are refused as two commands are.

The lock is an advisory ``flock`` on a file named by the output's real path in the system's
temporary folder (``fastdream-locks/``); the system drops it when a run dies (``kill -9``, power
loss), so it never blocks the next run. A thread that holds a lock takes it again at no cost (the
command line's lock, then the function it calls); another thread of the same process is refused
as another process is. Where there is no ``fcntl`` (Windows), or the file system has no locks,
runs are not locked.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import threading
from contextlib import contextmanager, suppress
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]


class OutputBusyError(ValueError):
    """Another fastdream run is writing this output now (a ValueError: the output is the argument
    to change, as the message says)."""


#: Lock file -> (the thread holding it, how many times it took it).
_HELD: dict[Path, tuple[int, int]] = {}
_GUARD = threading.Lock()
#: The descriptors of the locks this process holds: closed in a forked child. A flock belongs to
#: the open file, so a DataLoader worker forked during a training held the checkpoint's lock as
#: long as it lived: in a notebook that kept a failed run's workers, the next run was refused.
_FDS: set[int] = set()


def _forget_in_child() -> None:
    for fd in _FDS:
        with suppress(OSError):
            os.close(fd)
    _FDS.clear()
    _HELD.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_in_child)


def lock_path(out: Path) -> Path:
    """The lock file of output ``out``: one place per output path (its real path, whether or not
    the run has made its folders yet), in the system's temporary folder, never removed (removing
    a lock file lets two runs lock two files)."""
    key = hashlib.sha1(os.path.realpath(out).encode()).hexdigest()[:20]
    return Path(tempfile.gettempdir()) / "fastdream-locks" / f"{key}.lock"


@contextmanager
def output_lock(out, what: str, *, held: bool = True):
    """Holds the lock of output ``out`` while the block runs; raises :class:`OutputBusyError`
    (``"{what} is being written by another fastdream run ..."``) when another run holds it, and
    yields True when this run took it first (False: taken again, or not lockable here).

    ``held=False`` takes nothing (under torchrun, rank 0 holds it for the ranks)."""
    if not held or fcntl is None:
        yield False
        return
    try:
        lock = lock_path(Path(out))  # (a name too long: the caller's own check says so)
    except (OSError, ValueError):
        yield False
        return
    me = threading.get_ident()
    with _GUARD:
        owner = _HELD.get(lock)
        if owner is not None and owner[0] == me:  # this thread's own lock, taken again
            _HELD[lock] = (me, owner[1] + 1)
    if owner is not None and owner[0] == me:
        try:
            yield False
        finally:
            with _GUARD:
                _HELD[lock] = (me, _HELD[lock][1] - 1)
        return
    with _flocked(lock, what) as locked:
        try:  # (registered inside: a Ctrl-C between the two left an entry that locked nothing)
            if locked:
                with _GUARD:
                    _HELD[lock] = (me, 1)
            yield locked
        finally:
            if locked:
                with _GUARD:
                    _HELD.pop(lock, None)


@contextmanager
def _flocked(lock: Path, what: str):
    """The ``flock`` of file ``lock``: yields whether it was taken (False where there is no room
    for locks, or the file system has none: the run goes on without one)."""
    try:
        if not lock.parent.is_dir():  # (every user's runs lock here: mkdir's mode lost the umask's bits)
            lock.parent.mkdir(exist_ok=True)
            with suppress(OSError):
                os.chmod(lock.parent, 0o1777)
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError:
        yield False
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            locked = True
        except BlockingIOError:
            pid = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            who = "another run of this process" if pid == str(os.getpid()) else f"another fastdream run (process {pid})"
            raise OutputBusyError(
                f"{what} is being written by {who}; two at once would mix their results: wait for it to end, "
                "or choose another output"
            ) from None
        except OSError:  # a file system without locks (NFS without lockd)
            locked = False
        if locked:
            os.ftruncate(fd, 0)
            os.pwrite(fd, str(os.getpid()).encode(), 0)
            _FDS.add(fd)
        yield locked
    finally:
        _FDS.discard(fd)
        os.close(fd)
