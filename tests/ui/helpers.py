"""What the web app's tests share: one server: ``fastdream ui`` in a subprocess on a free port of
127.0.0.1, its temporary folder under a folder of the test's (so the test sees it removed when
the server stops). Skipped when Gradio is not installed (the ``ui`` extra is optional), except
in CI, where the ``test`` extra installs it and a missing one is a failure."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

IN_CI = bool(os.environ.get("CI"))
#: The shared server's upload limit: above a test dreamer checkpoint, small enough to go over it cheaply.
MAX_UPLOAD_MB = 40
STARTUP_S = 180  # imports torch and Gradio, builds every tab: slow on 2 busy cores


def needs(module: str):
    """Skips (locally) or fails (in CI) when ``module`` is missing; Gradio 6 needs Python >= 3.10,
    so on older ones the web app's tests are skipped everywhere."""
    if sys.version_info < (3, 10):
        pytest.skip("the web app needs Gradio 6, which needs Python >= 3.10")
    try:
        return __import__(module)
    except ImportError:
        if IN_CI:
            pytest.fail(f"{module} is not installed: the test extra installs it in CI")
        pytest.skip(f"{module} is not installed (pip install -e '.[test]')")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    url: str
    process: subprocess.Popen
    tmp: Path  # the server's TMPDIR: its own folder is made in it

    def answers(self) -> bool:
        try:
            with urllib.request.urlopen(self.url, timeout=10) as r:
                return r.status == 200
        except OSError:
            return False

    def folders(self) -> list[Path]:
        return sorted(self.tmp.glob("fastdream-ui-*"))


def start_server(tmp: Path, *extra: str) -> Server:
    port = free_port()
    env = dict(os.environ, TMPDIR=str(tmp), OMP_WAIT_POLICY="PASSIVE", PYTHONUNBUFFERED="1")
    cmd = [sys.executable, "-m", "fastdream", "ui", "--port", str(port), *extra]
    log = open(tmp / "server.log", "w")  # noqa: SIM115 (the server writes it until it stops)
    process = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
    server = Server(f"http://127.0.0.1:{port}/", process, tmp)
    deadline = time.monotonic() + STARTUP_S
    while not server.answers():
        if process.poll() is not None or time.monotonic() > deadline:
            stop_server(server)
            pytest.fail(f"fastdream ui did not start: {(tmp / 'server.log').read_text()[-2000:]}")
        time.sleep(0.5)
    return server


def stop_server(server: Server) -> int:
    """SIGTERM (as Ctrl-C): the server stops and removes its files; its exit status."""
    if server.process.poll() is None:
        server.process.send_signal(signal.SIGTERM)
        try:
            server.process.wait(30)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait()
    return server.process.returncode


def picture(path: Path, size=(40, 32), seed=0) -> Path:
    """A small noisy photo-like RGB picture (a gradient and noise), saved as PNG."""
    rng = np.random.default_rng(seed)
    w, h = size
    base = np.linspace(0, 255, w)[None, :, None] * np.ones((h, 1, 3)) * [1.0, 0.6, 0.3]
    arr = np.clip(base + rng.normal(0, 30, (h, w, 3)), 0, 255).astype(np.uint8)
    Image.fromarray(arr).save(path)
    return path
