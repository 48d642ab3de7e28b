"""Peak memory of a 1-octave, 1-step tiled dream (512 px tiles) of a random 8-bit image, each size
in a fresh process: the low-memory path (fastdream.dream.huge) and, where it fits, the float32 path.

    python bench/huge_memory.py [--sizes 2048 4096 8192 16384] [--float32-up-to 8192]

Prints a Markdown table: side, path, seconds, peak RSS (GB) and bytes per pixel. The process's own
baseline (torch, the model) is included, so small sizes show more bytes per pixel.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

CHILD = r"""
import json, resource, sys, time
import numpy as np
from PIL import Image
import fastdream as fd
side, low = int(sys.argv[1]), sys.argv[2] == "low"
rng = np.random.default_rng(0)
im = Image.fromarray(rng.integers(0, 256, (side, side, 3), dtype=np.uint8))
t = time.perf_counter()
out = fd.dream(im, octaves=1, steps=1, tile_size=512, seed=0, low_memory=low)
seconds = time.perf_counter() - t
changed = float(np.abs(np.asarray(out, dtype=np.int16)[:256, :256] - np.asarray(im, dtype=np.int16)[:256, :256]).mean())
print(json.dumps({"seconds": seconds, "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
                  "changed": changed}))
"""


def measure(side: int, low: bool) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(side), "low" if low else "float32"],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[2048, 4096, 8192, 16384])
    p.add_argument("--float32-up-to", type=int, default=8192, help="largest side also run on the float32 path")
    args = p.parse_args(argv)
    print("| side | path | seconds | peak RSS (GB) | bytes/pixel | mean change (levels) |")
    print("|---|---|---|---|---|---|")
    for side in args.sizes:
        for low in (True, False):
            if not low and side > args.float32_up_to:
                continue
            r = measure(side, low)
            bpp = r["peak_rss_gb"] * 2**30 / side**2
            print(
                f"| {side}² | {'low-memory' if low else 'float32'} | {r['seconds']:.1f} | {r['peak_rss_gb']:.2f} | "
                f"{bpp:.1f} | {r['changed']:.2f} |",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
