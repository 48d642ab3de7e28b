"""The default dream's time in two checkouts (before/after a change), alternating fresh processes
so both sample the same minutes of this noisy machine.

    python bench/before_after.py BEFORE_PYTHON BEFORE_DIR AFTER_PYTHON AFTER_DIR [--rounds 3]

Each round and width runs ``fd.dream`` (3 octaves x 20 steps, the bench photo) twice per process
after a warm-up, and keeps the faster; prints every round and the min per side, and whether the
two checkouts dreamed the same pixels (a hash of the 8-bit result of each width).

Each side imports the ``fastdream/`` folder of its own checkout (with its ``_C`` built there, e.g.
``cmake -S . -B build -G Ninja && ninja -C build && cp build/_C*.so fastdream/``), even from a
Python where another checkout is installed in editable mode.
"""

from __future__ import annotations

import argparse
import collections
import json
import subprocess

CHILD = r"""
import hashlib, json, os, sys, time
# An editable install's import hook would hand out its own checkout: this side's folder instead.
sys.meta_path = [f for f in sys.meta_path if "editable" not in type(f).__module__]
sys.path.insert(0, os.getcwd())
import fastdream as fd
assert fd.__file__.startswith(os.getcwd()), fd.__file__
from bench.test_bench_dream import _photo, _tensor
x = _tensor(_photo(int(sys.argv[1])))
kw = dict(octaves=3, steps=20, step_size=0.01, jitter=32, seed=0)
fd.dream(x, octaves=1, steps=2, seed=0)
ts = []
for _ in range(2):
    t = time.perf_counter(); y = fd.dream(x, **kw); ts.append(time.perf_counter() - t)
levels = (y * 255).round().clamp(0, 255).to(dtype=__import__("torch").uint8).numpy().tobytes()
print(json.dumps([min(ts), hashlib.sha256(levels).hexdigest()[:16]]))
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
    times, pixels = collections.defaultdict(list), {}
    for _ in range(a.rounds):
        for w in a.widths:
            for name, (py, cwd) in sides.items():
                out = subprocess.run([py, "-c", CHILD, str(w)], cwd=cwd, capture_output=True, text=True, check=True)
                seconds, pixels[name, w] = json.loads(out.stdout.strip().splitlines()[-1])
                times[name, w].append(seconds)
                print(f"{name} {w}px {times[name, w][-1]:.2f} s", flush=True)
    for w in a.widths:
        b, f = min(times["before", w]), min(times["after", w])
        same = "the same pixels" if pixels["before", w] == pixels["after", w] else "DIFFERENT pixels"
        print(f"{w}px: before {b:.2f} s, after {f:.2f} s (after/before {f / b:.2f}); {same}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
