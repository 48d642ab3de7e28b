"""The test side of the fuzzing worker (tests/fuzz/worker.py): start it, send cases, and tell a
result from a crash or a hang; a worker that died is replaced for the next case."""

from __future__ import annotations

import contextlib
import os
import select
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from tests.fuzz import worker as W

ROOT = Path(__file__).resolve().parents[2]
#: Seconds the client waits past a case's own timeout before it kills the worker (stuck in C).
GRACE = 30


@dataclass
class Reply:
    status: str  # "ok", "raised", "hang" (timed out), "died" (the worker crashed or was killed)
    value: object = None

    def __repr__(self) -> str:
        return f"Reply({self.status}, {str(self.value)[:2000]})"


class Worker:
    def __init__(self):
        self.proc = None
        self.cases = 0  # cases run, for the record of a fuzzing session
        fd, self.log_path = tempfile.mkstemp(prefix="fastdream-fuzz-worker-", suffix=".log")
        self.log = os.fdopen(fd, "w")

    def start(self) -> None:
        req_r, req_w = os.pipe()
        rep_r, rep_w = os.pipe()
        env = dict(os.environ, OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "2"), PYTHONPATH=str(ROOT))
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.fuzz.worker", str(req_r), str(rep_w)],
            cwd=ROOT,
            env=env,
            pass_fds=(req_r, rep_w),
            stdin=subprocess.DEVNULL,
            stdout=self.log,
            stderr=self.log,
        )
        os.close(req_r)
        os.close(rep_w)
        self.w, self.r = req_w, rep_r
        ready = self._reply(600)
        if ready.status != "ready":
            raise RuntimeError(f"the fuzzing worker did not start: {ready} {self.tail()}")

    def tail(self) -> str:
        return Path(self.log_path).read_text(errors="replace")[-3000:]

    def _reply(self, timeout: float) -> Reply:
        ready, _, _ = select.select([self.r], [], [], timeout)
        if not ready:
            self.stop()
            return Reply("hang", "no reply: the worker was killed")
        got = W.read(self.r)
        if got is None:
            code = self.proc.wait()
            self.stop()
            return Reply("died", f"exit status {code}; {self.tail()[-1500:]}")
        return Reply(*got)

    def run(self, name: str, *args, timeout: float = 60, **kwargs) -> Reply:
        """Case ``name`` of tests/fuzz/cases.py: its result, or how it failed."""
        if self.proc is None:
            self.start()
        self.cases += 1
        try:
            W.write(self.w, (name, args, kwargs, timeout))
        except BrokenPipeError:
            self.stop()
            return Reply("died", "the worker was gone")
        return self._reply(timeout + GRACE)

    def cli(self, argv, cwd, timeout: float = 60) -> tuple[int, str, str]:
        """``fastdream ARGV`` in the worker; a hang or a crash is a failed assertion here."""
        r = self.run("cli", [str(a) for a in argv], str(cwd), timeout=timeout)
        assert r.status == "ok", f"fastdream {' '.join(map(str, argv))}: {r}"
        return r.value

    def stop(self) -> None:
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            for fd in (self.w, self.r):
                with contextlib.suppress(OSError):
                    os.close(fd)
            self.proc = None
