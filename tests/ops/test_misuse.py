"""Every misuse in tests/ops/misuse.py raises the expected error with a clear message, run in one
subprocess so that a crash (an out-of-bounds read or write in a kernel) fails these tests
instead of killing the suite."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import needs_native
from tests.ops.misuse import CASES

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def results():
    env = dict(os.environ, FASTDREAM_BACKEND="native")
    proc = subprocess.run(
        [sys.executable, "-c", "from tests.ops.misuse import main; main()"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    reported = {}
    for line in proc.stdout.splitlines():
        if line.startswith("{"):
            r = json.loads(line)
            reported[r["name"]] = r
    return proc, reported


@needs_native
@pytest.mark.parametrize("name, exc, words", [(c[0], c[2], c[3]) for c in CASES], ids=[c[0] for c in CASES])
def test_misuse_raises(results, name, exc, words):
    proc, reported = results
    if name not in reported:
        pytest.fail(
            f"no report: the subprocess died (exit code {proc.returncode}) at or before this case\n"
            f"{proc.stderr[-3000:]}"
        )
    r = reported[name]
    assert r["raised"] == exc.__name__, f"{name}: expected {exc.__name__}, got {r['raised']}: {r['message']}"
    assert words in r["message"], f"{name}: {words!r} not in {r['message']!r}"
