"""One run at a time per output. Two runs writing the same output folder, frames or checkpoint at
once mixed their results (half the pictures of one, half of the other, under one settings file),
and both said they had succeeded; the second is now refused at once, in one line.

The lock is an advisory ``flock`` on a file named by the output's real path in the system's
temporary folder (``fastdream-locks/``); the system drops it when a run dies (``kill -9``, power
loss), so it never blocks the next run, which also sweeps the hidden temporary files such a run
left of the output. It covers an ``-o`` given on the command line (not a default name), and a
video's frames folder, which two outputs can share. Where there is no ``fcntl`` (Windows), or the file system
has no locks, runs are not locked.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from contextlib import ExitStack, contextmanager, suppress
from pathlib import Path

from fastdream.cli.common import UsageError, main_rank

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]


def lock_path(out: Path) -> Path:
    """The lock file of output ``out``: one place per output path (its real path, whether or not
    the run has made its folders yet), in the system's temporary folder, never removed (removing
    a lock file lets two runs lock two files)."""
    key = hashlib.sha1(os.path.realpath(out).encode()).hexdigest()[:20]
    return Path(tempfile.gettempdir()) / "fastdream-locks" / f"{key}.lock"


@contextmanager
def output_lock(args):
    """Holds the lock of ``args.output`` (when the command has one) while the command runs, and of
    a video's frames folder (``--frames-dir``, or the default one beside the output): two videos
    into ``X.gif`` and ``X.mp4`` share ``X_frames``, and started together they mixed their frames."""
    out = getattr(args, "output", None)
    if not out or fcntl is None or not main_rank():  # (under torchrun, rank 0 holds it for the ranks)
        yield
        return
    with ExitStack() as held:
        held.enter_context(_held(Path(out), f"output {out}", sweep=True))
        if hasattr(args, "frames_dir"):  # (a video command)
            from fastdream.video.checks import default_frames_dir

            frames = Path(args.frames_dir) if args.frames_dir else default_frames_dir(Path(out))
            held.enter_context(_held(frames, f"--frames-dir {frames}"))
        yield


@contextmanager
def _held(out: Path, what: str, sweep: bool = False):
    """The lock of ``out`` (named ``what`` when another run holds it)."""
    try:
        lock = lock_path(out)  # (a name too long: the command's own check says so)
        lock.parent.mkdir(mode=0o777, exist_ok=True)
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError:  # no room for locks here: the run goes on without one
        yield
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            locked = True
        except BlockingIOError:
            pid = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            raise UsageError(
                f"{what} is being written by another fastdream run (process {pid}); two at once would mix "
                "their results: wait for it to end, or choose another output"
            ) from None
        except OSError:  # a file system without locks (NFS without lockd): the run goes on without one
            locked = False
        if locked:
            os.ftruncate(fd, 0)
            os.pwrite(fd, str(os.getpid()).encode(), 0)
            if sweep:
                _sweep(out)
        yield
    finally:
        os.close(fd)


#: A temporary file of fastdream's atomic writes (``.STEM.XXXXXXXX.SUFFIX``, tempfile's 8 random
#: characters): what a run killed mid-write (``kill -9``, power loss) leaves.
_TEMPORARY = r"\.{stem}\.[a-z0-9_]{{8}}\.(?:{suffixes})"


def _sweep(out: Path) -> None:
    """Removes the temporary files a killed run left of output ``out`` (hidden, so never seen):
    beside a file output, and a trainer's checkpoint in a folder output (37 MB of one stayed).
    Only under the lock, so that no running fastdream writes them."""
    with suppress(OSError):  # (a name the system cannot take: the command's own check says so)
        if out.is_dir():
            folder, stem, suffixes = out, "checkpoint", "tmp"
        else:
            folder, stem = out.parent if str(out.parent) else Path("."), re.escape(out.stem[:32])
            suffixes = "tmp|" + re.escape(out.suffix[1:17]) if out.suffix else "tmp"
        pattern = re.compile(_TEMPORARY.format(stem=stem, suffixes=suffixes))
        for path in folder.iterdir():
            if pattern.fullmatch(path.name) and path.is_file() and not path.is_symlink():
                with suppress(OSError):
                    path.unlink()
