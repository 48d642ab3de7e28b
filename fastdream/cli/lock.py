"""One run at a time per output. Two runs writing the same output folder, frames or checkpoint at
once mixed their results (half the pictures of one, half of the other, under one settings file),
and both said they had succeeded; the second is now refused at once, in one line.

The lock (:mod:`fastdream.io.lock`) is dropped by the system when a run dies (``kill -9``, power
loss), so it never blocks the next run, which also sweeps the hidden temporary files such a run
left of the output. It covers an ``-o`` given on the command line (not a default name), and a
video's frames folder, which two outputs can share.
"""

from __future__ import annotations

import re
from contextlib import ExitStack, contextmanager, suppress
from pathlib import Path

from fastdream.cli.common import main_rank
from fastdream.io.lock import output_lock as held_lock


@contextmanager
def output_lock(args):
    """Holds the lock of ``args.output`` (when the command has one) while the command runs, and of
    a video's frames folder (``--frames-dir``, or the default one beside the output): two videos
    into ``X.gif`` and ``X.mp4`` share ``X_frames``, and started together they mixed their frames.
    The first to take the output's lock sweeps what a killed run left of it."""
    out = getattr(args, "output", None)
    if not out or not main_rank():  # (under torchrun, rank 0 holds it for the ranks)
        yield
        return
    with ExitStack() as held:
        if held.enter_context(held_lock(Path(out), f"output: {out}")):
            _sweep(Path(out))
        if hasattr(args, "frames_dir"):  # (a video command)
            from fastdream.video.checks import default_frames_dir

            frames = Path(args.frames_dir) if args.frames_dir else default_frames_dir(Path(out))
            held.enter_context(held_lock(frames, f"--frames-dir {frames}"))
        yield


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
