"""The default dream's time in two checkouts (before/after a change), alternating fresh processes
so both sample the same minutes of this noisy machine.

    python bench/before_after.py BEFORE_PYTHON BEFORE_DIR AFTER_PYTHON AFTER_DIR [--rounds 3]

Each round and width runs ``fd.dream`` (3 octaves x 20 steps, the bench photo) twice per process
after a warm-up, and keeps the faster; prints every round and the min per side.
"""

from __future__ import annotations

import argparse
import collections
import json
import subprocess

CHILD = r"""
import json, sys, time
sys.path.insert(0, ".")
import fastdream as fd
from bench.test_bench_dream import _photo, _tensor
x = _tensor(_photo(int(sys.argv[1])))
kw = dict(octaves=3, steps=20, step_size=0.01, jitter=32, seed=0)
fd.dream(x, octaves=1, steps=2, seed=0)
ts = []
for _ in range(2):
    t = time.perf_counter(); fd.dream(x, **kw); ts.append(time.perf_counter() - t)
print(json.dumps(min(ts)))
"""


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("before_python")
    p.add_argument("before_dir")
    p.add_argument("after_python")
    p.add_argument("after_dir")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--widths", type=int, nargs="+", default=[512, 1024])
    a = p.parse_args(argv)
    sides = {"before": (a.before_python, a.before_dir), "after": (a.after_python, a.after_dir)}
    times = collections.defaultdict(list)
    for _ in range(a.rounds):
        for w in a.widths:
            for name, (py, cwd) in sides.items():
                out = subprocess.run([py, "-c", CHILD, str(w)], cwd=cwd, capture_output=True, text=True, check=True)
                times[name, w].append(json.loads(out.stdout.strip().splitlines()[-1]))
                print(f"{name} {w}px {times[name, w][-1]:.2f} s", flush=True)
    for w in a.widths:
        b, f = min(times["before", w]), min(times["after", w])
        print(f"{w}px: before {b:.2f} s, after {f:.2f} s (after/before {f / b:.2f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
