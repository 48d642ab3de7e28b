"""The Style tab: ``fastdream.style_transfer`` with one or several styles, blended or each in its
own region (masks, or the subject found by a cutout U-Net); the painting shown as it is made."""

from __future__ import annotations

from pathlib import Path

import gradio as gr

import fastdream as fd
from fastdream import io
from fastdream.ui import widgets
from fastdream.ui.page import Page

TITLE = "Style"
REGIONS = ("whole picture", "a mask per style", "subject and background")


def build(page: Page) -> None:
    with gr.Row(equal_height=True):
        picture = page.sample_input("Content", height=360, elem_id="style-input")
        with gr.Column():
            preview = widgets.preview("style-preview")
            painted = widgets.result("Painted", height=360, elem_id="style-result")
    with gr.Row():
        go = gr.Button("Paint", variant="primary", elem_id="style-run")
        stop = gr.Button("Stop", variant="stop", elem_id="style-stop")
    state = widgets.status("style-status")
    with gr.Row():
        styles = gr.File(
            file_count="multiple", label="Style pictures (one or more)", height=140, elem_id="style-styles"
        )
        weights = gr.Textbox("", label="Style weights (one per style, e.g. 1, 2; empty: equal)")
    with gr.Row():
        regions = gr.Radio(list(REGIONS), value=REGIONS[0], label="Where each style goes")
        masks = gr.File(file_count="multiple", label="Masks (one per style, white where it goes)", height=120)
        unet = gr.File(label="Cutout U-Net checkpoint (subject: the first style, background: the second)", height=120)
    with gr.Row():
        size = gr.Slider(0, 2048, value=0, step=32, label="Long side (px; 0: the content's)")
        steps = gr.Slider(1, 300, value=100, step=1, label="Steps per octave", elem_id="style-steps")
        octaves = gr.Slider(1, 6, value=3, step=1, label="Octaves")
        strength = gr.Slider(0.1, 20, value=3.0, step=0.1, label="Style weight")
    with gr.Row():
        keep = gr.Checkbox(False, label="Preserve the content's colors")
        match = gr.Checkbox(False, label="Match the styles' colors to the content")
        seed = gr.Textbox("", label="Seed", placeholder="random", max_lines=1)

    def prepare(session, v):
        content = page.picture(session, v["content"], "content", default=page.sample)
        if not v["styles"]:
            raise ValueError("style: upload one or more style pictures")
        looks = [page.picture(session, p, f"style {Path(p).name}") for p in v["styles"]]
        kw = dict(steps=int(v["steps"]), octaves=int(v["octaves"]), style_weight=float(v["style_weight"]))
        kw.update(preserve_colors=bool(v["preserve_colors"]), color_match=bool(v["color_match"]))
        kw.update(_numbers(v["style_weights"], v["seed"]), size=int(v["size"]) or None)
        if v["regions"] == REGIONS[1]:
            found = [page.picture(session, p, f"mask {Path(p).name}").convert("L") for p in v["masks"] or []]
            kw["masks"] = found or _missing("masks")
        elif v["regions"] == REGIONS[2]:
            kw.update(masks="subject", cutout_model=page.file(session, v["cutout_model"], "cutout checkpoint"))
        out = session.output("styled", ".png")

        def work(hook):
            result = fd.style_transfer(content, looks if len(looks) > 1 else looks[0], callback=hook, **kw)
            io.save_image(result, out)
            return (str(out),)

        return work

    inputs = dict(content=picture, styles=styles, style_weights=weights, regions=regions, masks=masks)
    inputs.update(cutout_model=unet, size=size, steps=steps, octaves=octaves, style_weight=strength)
    inputs.update(preserve_colors=keep, color_match=match, seed=seed)
    page.job(go, stop, prepare, inputs, [state, preview, painted], api_name="style")


def _missing(what: str):
    raise ValueError(f"{what}: upload one mask per style (white where the style goes)")


def _numbers(weight_text: str, seed_text: str) -> dict:
    """The style weights ("1, 2") and the seed from their text boxes (empty: the library's)."""
    out = {}
    if str(weight_text or "").strip():
        try:
            out["style_weights"] = [float(x) for x in str(weight_text).replace(",", " ").split()]
        except ValueError:
            raise ValueError(f"style weights must be numbers such as 1, 2, got {weight_text!r}") from None
    if widgets.seed(seed_text) is not None:
        out["seed"] = widgets.seed(seed_text)
    return out
