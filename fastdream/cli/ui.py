"""The ``ui`` command: the web app (Gradio, the ``ui`` extra), imported only when the command runs."""

from __future__ import annotations

import sys

from fastdream.cli.common import given

#: The command's own defaults, shown in --help: those of fastdream.ui (a test keeps them equal),
#: which is not imported to build the parser (it would make every command start slower).
HOST, PORT, MAX_UPLOAD_MB, MAX_MEGAPIXELS = "127.0.0.1", 7860, 50, 16.0


def _cmd_ui(args) -> int:
    import importlib.util

    if importlib.util.find_spec("gradio") is None:
        if sys.version_info < (3, 10):  # the extra installs nothing there: Gradio 6 needs 3.10
            raise ImportError("the web app needs Gradio 6, which needs Python 3.10 or newer; this is Python 3.9")
        raise ImportError('the web app needs Gradio: pip install "fastdream[ui]"')
    from fastdream.ui import serve

    options = given(allow_remote=args.allow_remote, share=args.share, jobs=args.jobs, queue=args.queue)
    limits = dict(max_upload_mb=args.max_upload_mb, max_megapixels=args.max_megapixels)
    return serve(host=args.host, port=args.port, **limits, **options)


def add(sub) -> None:
    s = sub.add_parser(
        "ui",
        help="the web app: every pipeline in a local page, with live previews and a Stop",
        description="Serves a page on this machine (http://127.0.0.1:7860 by default) with a tab per pipeline: "
        "dream, proof sheet, zoom video, dream a video, style, cutout, GAN / VAE, your subjects. One job runs at a time; "
        "Stop ends it at its next step. Ctrl-C stops the server and removes its files.",
    )
    s.add_argument(
        "--host", default=HOST, help="address to listen on (default: %(default)s); another needs --allow-remote"
    )
    s.add_argument("--port", type=int, default=PORT, help="port (default: %(default)s)")
    s.add_argument(
        "--max-upload-mb",
        type=int,
        default=MAX_UPLOAD_MB,
        metavar="N",
        help="largest upload in MB (default: %(default)s)",
    )
    s.add_argument(
        "--max-megapixels",
        type=float,
        default=MAX_MEGAPIXELS,
        metavar="N",
        help="largest picture in megapixels, read before it is decoded (default: %(default)g)",
    )
    s.add_argument(
        "--allow-remote",
        action="store_true",
        default=None,
        help="let --host be an address other machines reach (they can use the app: it has no login)",
    )
    s.add_argument(
        "--share",
        action="store_true",
        default=None,
        help="also a public gradio.live link (anyone with it can use the app)",
    )
    s.add_argument("--jobs", type=int, metavar="N", help="jobs run at once (default: 1; more only slow each other)")
    s.add_argument("--queue", type=int, metavar="N", help="jobs that may wait at once (default: 8)")
    s.set_defaults(func=_cmd_ui)
