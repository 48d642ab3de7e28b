"""The Cutout tab: ``fastdream.cutout``, the subject of a picture cut out by a U-Net checkpoint
(from ``fastdream train-unet``), as a transparent PNG, a mask, or on a color."""

from __future__ import annotations

from pathlib import Path

import gradio as gr

import fastdream as fd
from fastdream import io
from fastdream._checks import shown
from fastdream.cutout import load_unet
from fastdream.ui import options, widgets
from fastdream.ui.page import Page

TITLE = "Cutout"


def build(page: Page) -> None:
    gr.Markdown("A U-Net checkpoint trained with `fastdream train-unet` (or `fastdream.train_unet`) finds the subject.")
    picture, preview, cut = page.picture_row(
        "cutout", "Picture", 360, lambda: widgets.result("Cutout", height=360, elem_id="cutout-result")
    )
    with gr.Row():
        ckpt = gr.File(label="U-Net checkpoint (.pt)", height=120, elem_id="cutout-model")
        with gr.Column():
            go = gr.Button("Cut out", variant="primary", elem_id="cutout-run")
            # A cut takes seconds: Stop is for a cut waiting behind another tab's long job.
            stop = gr.Button("Stop", variant="stop", elem_id="cutout-stop")
    state = widgets.status("cutout-status")
    shell = widgets.shell("fastdream cutout --model unet.pt -o cutout.png")
    # Three columns that wrap on a narrow screen; the switches stacked in one (side by side in one
    # row, at 420 px their labels were 2-3 letters a line)
    with gr.Row():
        with gr.Column(min_width=220):
            threshold = gr.Slider(0.05, 0.95, value=0.5, step=0.05, label="Threshold")
        with gr.Column(min_width=220):
            only_mask = gr.Checkbox(False, label="Only the mask")
            tta = gr.Checkbox(False, label="Average with the mirror image")
            refine = gr.Checkbox(True, label="Refine the edges at full size")
            decontaminate = gr.Checkbox(False, label="Take the old background's color out of the edges")
        with gr.Column(min_width=220):
            background = gr.ColorPicker(None, label="Background color (empty: transparent)", elem_classes=["fd-color"])

    def prepare(session, v):
        image = page.picture(session, v["picture"], default=page.sample)
        # (loaded before the job, said of its control: the library's "checkpoint" is the GAN / VAE tab's label)
        model = load_unet(page.file(session, v["model"], "U-Net checkpoint"), name="U-Net checkpoint")
        kw = {k: bool(v[k]) for k in ("only_mask", "tta", "refine", "decontaminate")}
        kw.update(threshold=float(v["threshold"]), background=_rgb(v["background"]))
        if kw["only_mask"]:  # the mask alone: the color and the edges' cleaning do not apply (a color
            kw.update(background=None, decontaminate=False)  # once picked cannot be cleared on the page)
        out = session.output("cutout", ".png")
        line = _command(page.named(v["picture"]), Path(v["model"]).name, kw)

        def work(hook):
            io.save_image(fd.cutout(image, model, **kw), out)
            return str(out), line

        return work

    inputs = dict(picture=picture, model=ckpt, threshold=threshold, only_mask=only_mask, tta=tta, refine=refine)
    inputs.update(decontaminate=decontaminate, background=background)
    page.job(go, stop, prepare, inputs, [state, preview, cut, shell], api_name="cutout")


def _command(source: list[str], checkpoint: str, kw: dict) -> str:
    """The ``fastdream cutout`` command that cuts the same picture out (``source``: the upload's
    name, or nothing for the sample photo, which the command cuts when given no input).

    Examples:
        >>> _command([], "unet.pt", dict(threshold=0.5, only_mask=False, tta=True, refine=False,
        ...          decontaminate=False, background=(255, 255, 255)))
        'fastdream cutout -o cutout.png --model unet.pt --tta --no-refine --bg-color 255 255 255'
    """
    extra = ["--model", options.file_word(checkpoint)]
    extra += options.flags({f"--{k.replace('_', '-')}": kw[k] for k in ("threshold", *_SWITCHES)}, fd.cutout)
    extra += [] if kw["refine"] else ["--no-refine"]
    if kw["background"] is not None:
        extra += ["--bg-color", *map(str, kw["background"])]
    return options.command("cutout", source, "cutout.png", {}, extra)


_SWITCHES = ("only_mask", "tta", "decontaminate")


def _rgb(color) -> tuple[int, int, int] | None:
    """``#rrggbb`` (or ``rgba(r, g, b, a)``, as some browsers send it) as an RGB triple."""
    if not color:
        return None
    text = str(color).strip()
    try:
        if text.startswith("#") and len(text) == 7:
            return tuple(int(text[k : k + 2], 16) for k in (1, 3, 5))  # type: ignore[return-value]
        if text.startswith("rgb"):
            parts = text[text.index("(") + 1 : text.index(")")].split(",")
            return tuple(round(float(p)) for p in parts[:3])  # type: ignore[return-value]
    except ValueError:
        pass
    raise ValueError(f"background color must be #rrggbb, got {shown(color)}")
