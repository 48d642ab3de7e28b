"""The fuzzing session: one worker process for every fuzz test, and the profile.

``FASTDREAM_FUZZ=long`` runs the long profile (many examples a test; minutes to hours) instead of
the short one CI runs; the number of cases is printed at the end (docs/errors.md records a run).
"""

import os
import sys

import pytest

from tests.fuzz.client import Worker

LONG = os.environ.get("FASTDREAM_FUZZ") == "long"
# The worker limits its address space and reads /proc (tests/fuzz/worker.py): Linux only.
collect_ignore_glob = [] if sys.platform.startswith("linux") else ["test_*.py"]


def examples(short: int, long: int = 250) -> int:
    """Examples a fuzz test draws: ``short`` in CI, ``long`` in the long profile."""
    return long if LONG else short


_WORKERS: list[Worker] = []


@pytest.fixture(scope="session")
def worker():
    w = Worker()
    _WORKERS.append(w)
    yield w
    w.stop()


def pytest_terminal_summary(terminalreporter):
    n = sum(w.cases for w in _WORKERS)
    if n:
        profile = "long" if LONG else "short"
        terminalreporter.write_line(f"fastdream fuzzing ({profile} profile): {n} cases run in the worker")
