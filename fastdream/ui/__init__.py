"""The web app: ``fastdream ui`` serves a local page over the public API, one tab per pipeline.

Gradio is an optional dependency (``pip install "fastdream[ui]"``); ``import fastdream`` never
imports this package, and this package imports Gradio only when the app is built
(:func:`start`), after it has pointed Gradio's files at the app's own temporary folder.

Safe by default: the page listens on 127.0.0.1 only (another address needs ``allow_remote=True``
and prints a warning), no share link unless asked, uploads limited in size and decoded through
:func:`fastdream.io.load_pil`, files served only from the app's temporary folder (removed when a
session ends and when the server stops), Gradio's analytics off.
"""

import os

# Before Gradio is imported anywhere in this process: it reads the setting when it starts.
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

from fastdream.ui.server import (
    DEFAULT_HOST,
    DEFAULT_JOBS,
    DEFAULT_MAX_MEGAPIXELS,
    DEFAULT_MAX_UPLOAD_MB,
    DEFAULT_PORT,
    DEFAULT_QUEUE,
    Server,
    check_host,
    serve,
    start,
)

__all__ = [
    "DEFAULT_HOST",
    "DEFAULT_JOBS",
    "DEFAULT_MAX_MEGAPIXELS",
    "DEFAULT_MAX_UPLOAD_MB",
    "DEFAULT_PORT",
    "DEFAULT_QUEUE",
    "Server",
    "check_host",
    "serve",
    "start",
]
