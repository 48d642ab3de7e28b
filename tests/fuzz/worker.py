"""The fuzzing worker: one long-lived process that runs cases (functions of tests/fuzz/cases.py)
under the limits a modest machine sets, so that a crash, a hang or a runaway allocation fails
the case that caused it instead of the test session.

- Memory: ``RLIMIT_AS`` a fixed margin above what the warmed-up process maps (imports, the
  default network): an allocation past it fails, and fastdream must have refused the work first.
- Time: ``SIGALRM`` raises :class:`Hang` (a ``BaseException``, which no ``except Exception``
  swallows) after each case's timeout; the client also kills a worker stuck in C code.
- Isolation: the client starts a new worker after one dies; each case runs in its own folder.

Requests and replies are length-prefixed pickles on two pipes (the file descriptors are given on
the command line): ``(function name, args, kwargs, timeout)`` -> ``(status, value)`` with status
``"ok"`` (the function's return value), ``"raised"`` (exception type, message, traceback) or
``"hang"``.
"""

from __future__ import annotations

import os
import pickle
import resource
import signal
import struct
import sys
import traceback

#: Address space a case may map beyond the warmed-up worker's.
MARGIN = 3 << 30


class Hang(BaseException):
    """A case ran past its timeout."""


def _alarm(signum, frame):
    raise Hang


def read(fd: int):
    head = _exactly(fd, 8)
    if head is None:
        return None
    return pickle.loads(_exactly(fd, struct.unpack("<Q", head)[0]))


def _exactly(fd: int, n: int) -> bytes | None:
    chunks = []
    while n:
        b = os.read(fd, min(n, 1 << 20))
        if not b:
            return None
        chunks.append(b)
        n -= len(b)
    return b"".join(chunks)


def write(fd: int, obj) -> None:
    data = pickle.dumps(obj)
    data = struct.pack("<Q", len(data)) + data
    while data:
        data = data[os.write(fd, data) :]


def mapped() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")


def serve(rfd: int, wfd: int) -> None:
    from tests.fuzz import cases

    signal.signal(signal.SIGALRM, _alarm)
    cases.warm_up()
    limit = mapped() + MARGIN
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    write(wfd, ("ready", limit))
    while True:
        request = read(rfd)
        if request is None:
            return
        name, args, kwargs, timeout = request
        signal.alarm(max(1, int(timeout)))
        try:
            reply = ("ok", getattr(cases, name)(*args, **kwargs))
        except Hang:
            reply = ("hang", None)
        except BaseException as exc:  # every failure is the case's result, reported to the client
            reply = ("raised", (type(exc).__name__, str(exc), traceback.format_exc()))
        finally:
            signal.alarm(0)
        try:
            write(wfd, reply)
        except (pickle.PicklingError, TypeError, AttributeError) as exc:
            write(wfd, ("raised", (type(exc).__name__, f"unpicklable result: {exc}", "")))


if __name__ == "__main__":
    serve(int(sys.argv[1]), int(sys.argv[2]))
