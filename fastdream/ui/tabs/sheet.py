"""The Proof sheet tab: ``fastdream.proof_sheet``, many small dreams of one picture on one
captioned contact sheet (settings varied, or a layer's channels), to choose by eye."""

from __future__ import annotations

import warnings

import gradio as gr

import fastdream as fd
from fastdream.sheet import vary as varied
from fastdream.ui import options, widgets
from fastdream.ui.page import Page

TITLE = "Proof sheet"
EXAMPLE = "step_size=0.01,0.02\nsteps=5,10"


def build(page: Page) -> None:
    gr.Markdown(
        "Every combination of the settings below (one `NAME=V1,V2,...` a line), or the channels of a layer "
        "that respond most to the picture, each dreamed small with one seed, on one sheet. The JSON beside "
        "it holds each cell's settings."
    )
    picture, preview, sheet = page.picture_row(
        "sheet", "Picture", 320, lambda: widgets.result("Proof sheet", height=320, elem_id="sheet-result")
    )
    go, stop, state = widgets.run_row("sheet", "Make the sheet")
    with gr.Row():
        mode = gr.Radio(["settings", "channels"], value="settings", label="Vary", scale=1)
        vary = gr.Textbox(EXAMPLE, lines=3, label="Settings to vary (NAME=V1,V2,... a line)", scale=3)
    with gr.Row():
        layer = gr.Dropdown(
            list(options.layer_choices(options.DEFAULT_MODEL)), value="_blocks.10", label="Layer (channels)", scale=2
        )
        top = gr.Slider(1, 64, value=16, step=1, label="Channels (the most responsive)")
        size = gr.Slider(64, 512, value=256, step=32, label="Cell size (px)")
    controls = options.DreamControls(options.SHORT, prefix="sheet")
    saved = gr.File(label="Each cell's settings (JSON)")
    shell = widgets.shell("fastdream sheet -o sheet.png")

    def prepare(session, v):
        given = controls.given(v)
        lines = [t.strip() for t in str(v["vary"] or "").splitlines() if t.strip()]
        if v["mode"] == "settings":
            picked: dict = dict(vary=varied.parse(lines))
            extra = [w for t in lines for w in ("--vary", t)]
        else:
            picked = dict(channels=v["layer"], top=int(v["top"]))
            extra = ["--channels", str(v["layer"]), "--top", str(int(v["top"]))]
        # A setting both varied and set by its control: the varied values win (moving the Steps
        # slider made the example's steps=... an error: "both given and varied").
        given = {k: x for k, x in given.items() if k not in picked.get("vary", {})}
        with warnings.catch_warnings():  # (proof_sheet says the same of the file: one note, not two)
            warnings.simplefilter("ignore")
            page.picture(session, v["picture"], default=page.sample)  # checked here (size, kind): one line on the page
        image = v["picture"] or page.sample  # the path: the sheet's title names the file
        out = session.output("sheet", ".png")
        extra += options.flags({"--size": int(v["size"])}, fd.proof_sheet)
        line = options.command("sheet", page.named(v["picture"]), "sheet.png", given, extra)

        def work(hook):
            try:
                made = fd.proof_sheet(image, out, size=int(v["size"]), callback=hook, **picked, **given)
            except fd.Cancelled as stop:  # the finished cells, on their own sheet, to download
                partial = getattr(stop, "partial", None)
                if partial is not None:
                    stop.result = (str(partial), str(partial.with_suffix(".json")), line)  # type: ignore[attr-defined]
                raise
            return str(made.path), str(made.json_path), line

        return work

    inputs = dict(picture=picture, mode=mode, vary=vary, layer=layer, top=top, size=size, **controls.inputs)
    page.job(go, stop, prepare, inputs, [state, preview, sheet, saved, shell], api_name="sheet")
