"""The Dream tab: a picture (or the sample photo) dreamed with ``fastdream.dream``, a live preview
from the step hook, the result beside the input as a PNG, and the same command for a shell."""

from __future__ import annotations

import fastdream as fd
from fastdream import io
from fastdream.ui import options, widgets
from fastdream.ui.page import Page

TITLE = "Dream"


def build(page: Page) -> None:
    picture, preview, dreamed = page.picture_row(
        "dream",
        "Picture (the sample photo until you upload one)",
        420,
        lambda: widgets.result("Dream", height=420, elem_id="dream-result"),
    )
    go, stop, state = widgets.run_row("dream", "Dream")
    controls = options.DreamControls(options.FULL, prefix="dream")
    shell = widgets.shell("fastdream dream -o dream.png")

    def prepare(session, v):
        given, path = controls.given(v), v["picture"]
        image = page.picture(session, path, default=page.sample)
        kw = options.dream_kwargs(
            given, lambda p, what: page.picture(session, p, what), lambda p, what: page.file(session, p, what)
        )
        source = page.named(path)
        out = session.output("dream", ".png")
        line = options.command("dream", source, "dream.png", given)

        def work(hook):
            with widgets.picture_so_far(out, line):  # (it was only the preview)
                result = fd.dream(image, callback=hook, **kw)
            io.save_image(result, out)
            return str(out), line

        return work

    inputs = {"picture": picture, **controls.inputs}
    page.job(go, stop, prepare, inputs, [state, preview, dreamed, shell], api_name="dream")
