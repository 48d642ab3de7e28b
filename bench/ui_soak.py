"""The web app's memory over many dreams: ``fastdream ui`` in a subprocess, N small dreams in a row
through Gradio's client (each a new upload, with its previews), the server's resident memory
(RSS) after each. The server's memory at the end must be within 10% of that after the fifth
dream (after the model is built and the allocator warm): a server that keeps something per
dream grows without end.

    python bench/ui_soak.py [--dreams 50] [--size 96] [--steps 2] [--sessions 1]

Prints the RSS every five dreams and a Markdown line for bench/RESULTS.md; exits 1 on growth.
``--sessions K`` spreads the dreams over K clients (K sessions: their state is kept too).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gradio_client import Client, handle_file

from tests.ui.helpers import picture, start_server, stop_server

LIMIT = 1.10


def rss_mb(pid: int) -> float:
    """The resident memory of a process, in MB (Linux: /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def soak(dreams: int, size: int, steps: int, sessions: int) -> tuple[list[float], float]:
    with tempfile.TemporaryDirectory(prefix="ui-soak-") as tmp:
        root = Path(tmp)
        server = start_server(root)
        try:
            clients = [
                Client(server.url, verbose=False, download_files=str(root / f"c{k}"), analytics_enabled=False)
                for k in range(sessions)
            ]
            pid, rss, started = server.process.pid, [], time.perf_counter()
            for k in range(dreams):
                src = picture(root / f"in-{k}.png", (size, size - 16), seed=k)
                out = clients[k % sessions].predict(
                    picture=handle_file(str(src)), octaves="1", steps=steps, seed=str(k), api_name="/dream"
                )
                assert "Done" in out[0], out[0]
                rss.append(rss_mb(pid))
                if (k + 1) % 5 == 0:
                    print(f"dream {k + 1:3d}: server RSS {rss[-1]:7.1f} MB", flush=True)
            seconds = time.perf_counter() - started
        finally:
            stop_server(server)
    return rss, seconds


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dreams", type=int, default=50)
    p.add_argument("--size", type=int, default=96, help="the pictures' width (height: 16 px less)")
    p.add_argument("--steps", type=int, default=2)
    p.add_argument("--sessions", type=int, default=1)
    args = p.parse_args(argv)
    rss, seconds = soak(args.dreams, args.size, args.steps, args.sessions)
    fifth, last = rss[4], rss[-1]
    ok = last <= fifth * LIMIT
    print(
        f"| {time.strftime('%Y-%m-%d')} | {platform.node() or 'host'}, {os.cpu_count()} cores | {args.dreams} dreams "
        f"{args.size}x{args.size - 16}, {args.steps} steps, {args.sessions} session(s) | {fifth:.0f} MB | "
        f"{max(rss):.0f} MB | {last:.0f} MB | {100 * (last / fifth - 1):+.1f}% | {seconds / args.dreams:.2f} s |"
    )
    print("within 10% of the fifth dream" if ok else f"GREW: {last:.0f} MB > {LIMIT} x {fifth:.0f} MB")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
