"""The error contract, as assertions: what every run of the command line must do.

- Exit 0 (it worked), 2 (the user's input: exactly one ``fastdream CMD: error: ...`` line on
  stderr) or, for training, 1 with ``training failed``; never a traceback, never an internal error.
- The inputs byte-identical afterwards; a failed run leaves the folder as it found it.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

#: Lines a run may print on stderr besides its error: one-line warnings and the notes of folder runs.
NOTE = re.compile(r"^(fastdream [\w-]+: warning: |\w+: skipping |\w+: \w+ cannot hold these images. transparency)")


def snapshot(root: Path) -> dict[str, str]:
    """Every entry under ``root``: a file's hash, a folder, a link's target or a special file."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            rel = str(p.relative_to(root))
            if p.is_symlink():
                out[rel] = "link:" + os.readlink(p)
            elif p.is_dir():
                out[rel] = "dir"
            elif p.is_file():
                out[rel] = hashlib.sha256(p.read_bytes()).hexdigest()
            else:
                out[rel] = "special"
    return out


def check(result, argv, before: dict, root: Path, *, inputs=None, ok=True) -> int:
    """Asserts the contract for one run of ``fastdream ARGV`` in ``root`` (``before``: its
    snapshot); ``inputs``: the entries that must stay byte-identical (default: all of ``before``);
    ``ok``: whether success is acceptable here. Returns the exit status."""
    rc, out, err = result
    cmd = "fastdream " + " ".join(map(str, argv))
    assert "Traceback" not in err, f"{cmd}: a traceback\n{err}"
    lines = [line for line in err.splitlines() if line.strip() and not NOTE.match(line) and "\r" not in line]
    after = snapshot(root)
    for k in before if inputs is None else inputs:
        assert after.get(k) == before[k], f"{cmd}: the input {k} changed or vanished (exit {rc}: {err.strip()})"
    if rc == 0:
        assert ok, f"{cmd}: exit 0 where an error was expected; stderr: {err.strip()}"
        return rc
    if rc == 1 and lines and "training failed" in lines[-1]:
        return rc  # the checkpoints of the epochs before the failure are kept, on purpose
    else:
        assert rc == 2, f"{cmd}: exit status {rc}, not 0 or 2; stderr: {err.strip()}"
        assert len(lines) == 1, f"{cmd}: stderr is not one line: {err!r}"
        assert lines[0].startswith(("fastdream ", "fastdream: ")) and "error:" in lines[0], f"{cmd}: {lines[0]!r}"
        assert "internal error" not in lines[0], f"{cmd}: {lines[0]}"
    new = sorted(set(after) - set(before))
    assert not new, f"{cmd}: failed (exit {rc}: {err.strip()}) but left {new}"
    return rc
