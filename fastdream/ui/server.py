"""Starting and stopping the app with safe defaults.

- It listens on 127.0.0.1: another address lets other machines use it (run jobs, read what it
  makes), so it needs ``allow_remote=True`` and says so with a warning; a share link (Gradio's
  public tunnel) only with ``share=True``.
- Uploads are limited in size (:data:`DEFAULT_MAX_UPLOAD_MB`), pictures in pixels
  (:data:`DEFAULT_MAX_MEGAPIXELS`, read from the header), and decoded by the tabs through the
  guarded loader, not by Gradio.
- Every file Gradio keeps or serves is in one temporary folder of the app (``GRADIO_TEMP_DIR``;
  no ``allowed_paths``): its file route serves nothing else. A session's files are removed when
  its page closes, the rest after an hour, and the whole folder when the server stops.
- No analytics, no monitoring route, no MCP server, no run history, no fonts from other sites.
"""

from __future__ import annotations

import ipaddress
import os
import shutil
import signal
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

from fastdream import _checks, io
from fastdream._checks import shown
from fastdream._warnings import warn

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 7860
#: The largest upload, in megabytes: a 16K photo as JPEG fits; a 16K PNG does not (about 400 MB).
DEFAULT_MAX_UPLOAD_MB = 50
#: The largest picture the app takes, in megapixels (a 48 KB PNG can claim 20000x20000 pixels:
#: its dream took 8 minutes and 22 of the machine's 23 GB); the library's own limit is ~1000.
DEFAULT_MAX_MEGAPIXELS = 16.0
#: Jobs running at once: two dreams on the same cores only slow each other down.
DEFAULT_JOBS = 1
#: Jobs waiting at most (the page shows each its position); more are refused until one ends.
DEFAULT_QUEUE = 8
#: Sessions whose page state Gradio keeps (the oldest go first): bounds the server's memory.
SESSIONS_KEPT = 100


def check_host(host: str, allow_remote: bool = False) -> str | None:
    """None for a loopback address; for another one a warning to show when ``allow_remote``,
    else a ``ValueError``."""
    if not isinstance(host, str) or not host:
        raise ValueError(f"host must be an address such as {DEFAULT_HOST}, got {shown(host)}")
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if loopback:
        return None
    reach = "every machine that can reach this one" if host in ("0.0.0.0", "::") else f"machines that reach {host}"
    if not allow_remote:
        raise ValueError(
            f"host: {host} would let {reach} use the app (run jobs, see what it makes); "
            "pass allow_remote=True (--allow-remote) if you mean it"
        )
    return f"the app listens on {host}: {reach} can use it (run jobs, see what it makes); it has no login"


#: Bounds of sense: a terabyte per upload, jobs at once (each one a network's memory), jobs waiting.
MAX_UPLOAD_MB, MAX_JOBS, MAX_QUEUE = 1_000_000, 256, 100_000


def _check_count(name: str, value, low: int, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low or (high is not None and value > high):
        within = f"from {low} to {high}" if high is not None else f"of at least {low}"
        raise ValueError(f"{name} must be a whole number {within}, got {shown(value)}")
    return value


@dataclass
class Server:
    """A running app: its address, and ``close()``, which stops it and removes its files."""

    demo: object
    url: str
    root: Path
    page: object
    share_url: str | None = None

    def close(self) -> None:
        self.page.sessions.end_all()  # running jobs stop at their next step
        self.demo.close()
        shutil.rmtree(self.root, ignore_errors=True)


def start(
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    *,
    max_upload_mb: int = DEFAULT_MAX_UPLOAD_MB,
    max_megapixels: float = DEFAULT_MAX_MEGAPIXELS,
    allow_remote: bool = False,
    share: bool = False,
    jobs: int = DEFAULT_JOBS,
    queue: int = DEFAULT_QUEUE,
    quiet: bool = False,
) -> Server:
    """Starts the app in the background and returns it (:meth:`Server.close` stops it); says its
    address unless ``quiet``."""
    # (a "False" read from a file or the environment turned on a public link, or the network)
    allow_remote, share = _checks.boolean("allow_remote", allow_remote), _checks.boolean("share", share)
    quiet = _checks.boolean("quiet", quiet)
    said = check_host(host, allow_remote)
    _check_count("port", port, 1, 65535)
    _check_count("max_upload_mb", max_upload_mb, 1, MAX_UPLOAD_MB)  # (past 2**63 Gradio failed with the port held)
    max_megapixels = _checks.real(
        "max_megapixels", max_megapixels, lo=0.0, hi=float(io.MAX_PIXELS) / 1e6, hi_open=False
    )
    _check_count("jobs", jobs, 1, MAX_JOBS)
    _check_count("queue", queue, 1, MAX_QUEUE)
    if said:
        warn(said)
    if share:
        warn("share=True: anyone with the public link can use the app")
    root = Path(tempfile.mkdtemp(prefix="fastdream-ui-"))
    before = {k: os.environ.get(k) for k in ("GRADIO_TEMP_DIR", "GRADIO_EXAMPLES_CACHE")}
    try:
        # Read by Gradio when the page is built and on every upload: this process serves this app.
        os.environ["GRADIO_TEMP_DIR"] = str(root / "gradio")
        os.environ["GRADIO_EXAMPLES_CACHE"] = str(root / "examples")
        from fastdream.ui.app import build
        from fastdream.ui.page import Page
        from fastdream.ui.session import Sessions

        page = Page(
            root, Sessions(root / "sessions", root / "gradio"), jobs=jobs, max_pixels=round(max_megapixels * 1e6)
        )
        demo = build(page, queue=queue)
        # (Gradio's own lines said "set `share=True` in `launch()`": there is no launch() here)
        url, share_url = _launch(demo, host, port, share=share, max_upload_mb=max_upload_mb)
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        for k, v in before.items():  # a failed start leaves the process as it was
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        raise
    if not quiet:
        print(f"fastdream ui: {url}" + (f" (public link: {share_url})" if share_url else ""), flush=True)
    return Server(demo, url, root, page, share_url)


def _launch(demo, host: str, port: int, *, share: bool, max_upload_mb: int) -> tuple[str, str | None]:
    """Gradio's server with the safe settings; a port in use is one clear line."""
    from fastdream.ui.app import CSS, THEME

    try:
        _, url, share_url = demo.launch(
            server_name=host,
            server_port=port,
            share=share,
            prevent_thread_lock=True,
            quiet=True,
            max_file_size=f"{max_upload_mb}mb",
            allowed_paths=[],
            show_error=False,
            enable_monitoring=False,
            ssr_mode=False,
            pwa=False,
            mcp_server=False,
            run_history=False,
            footer_links=[],
            state_session_capacity=SESSIONS_KEPT,
            theme=THEME,
            css=CSS,
        )
    except OSError as exc:
        if "empty port" not in str(exc):
            raise
        raise OSError(f"port {port} on {host} is in use (another server?): choose another with --port") from None
    return url, share_url


def serve(**options) -> int:
    """Runs the app until Ctrl-C (or SIGTERM), then removes its files. ``options``: :func:`start`'s."""
    server = start(**{"quiet": True, **options})
    print(f"fastdream ui: {server.url} (Ctrl-C stops it)", flush=True)
    if server.share_url:
        print(f"public link: {server.share_url}", flush=True)
    done = threading.Event()
    before = {s: signal.signal(s, lambda *_: done.set()) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        while not done.wait(0.5):
            pass
    finally:
        for s, handler in before.items():
            signal.signal(s, handler)
        server.close()
    return 0
