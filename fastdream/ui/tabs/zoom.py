"""The Zoom video tab: ``fastdream.zoom_video``, each frame the last one zoomed (shifted, turned)
and dreamed again; every frame shown as it is made."""

from __future__ import annotations

import gradio as gr

import fastdream as fd
from fastdream.ops.zoom_shift import INTERPOLATIONS, PADDINGS
from fastdream.ui import options, widgets
from fastdream.ui.page import Page
from fastdream.video.zoom import DREAM_DEFAULTS

TITLE = "Zoom video"


def build(page: Page) -> None:
    picture, preview, video = page.picture_row("zoom", "First frame", 360, lambda: widgets.Video("zoom"))
    go, stop, state = widgets.run_row("zoom", "Make the video")
    with gr.Row():
        frames = gr.Slider(2, 600, value=60, step=1, label="Frames", elem_id="zoom-frames")
        zoom = gr.Slider(1.0, 1.2, value=1.05, step=0.005, label="Zoom per frame")
        angle = gr.Slider(-10, 10, value=0, step=0.5, label="Turn per frame (degrees)")
        fps = gr.Slider(1, 30, value=15, step=1, label="Frames per second")
    with gr.Row():
        dx = gr.Slider(-32, 32, value=0, step=1, label="Shift right per frame (px)")
        dy = gr.Slider(-32, 32, value=0, step=1, label="Shift down per frame (px)")
        with gr.Column(min_width=220):  # (beside the sliders, at 420 px the switch lost its label)
            reverse = gr.Checkbox(False, label="Reverse (zoom out of the dream)")
            kind = gr.Radio(widgets.VIDEO_FORMATS, value="gif", label="Format")
        with gr.Column(min_width=220):
            # What a shift or turn uncovers; the frames' resampling (bilinear softens them).
            edges = gr.Radio(list(PADDINGS), value="reflect", label="Past the edges", elem_id="zoom-padding")
            sharp = gr.Radio(list(INTERPOLATIONS), value="bicubic", label="Resampling", elem_id="zoom-interpolation")
    controls = options.DreamControls(options.SHORT, DREAM_DEFAULTS, prefix="zoom")
    shell = widgets.shell("fastdream zoom -o zoom.gif")

    def prepare(session, v):
        given = controls.given(v)
        image = page.picture(session, v["picture"], default=page.sample)
        out = session.output("zoom", f".{v['format']}")
        move = dict(frames=int(v["frames"]), zoom=float(v["zoom"]), angle=float(v["angle"]))
        move.update(shift=(float(v["shift_x"]), float(v["shift_y"])), fps=float(v["fps"]), reverse=bool(v["reverse"]))
        move.update(padding=v["padding"], interpolation=v["interpolation"])
        source = page.named(v["picture"])
        shown = {f"--{k}": x for k, x in move.items()}
        extra = options.flags(shown, fd.zoom_video)
        line = options.command("zoom", source, f"zoom.{v['format']}", given, extra)

        def work(hook):
            with widgets.Video.frames(session, "zoom-frames", out, (line,), reverse=move["reverse"]) as work_dir:
                made = fd.zoom_video(image, out, frames_dir=work_dir, callback=hook, **move, **given)
            return (*widgets.Video.shown(made), line)

        return work

    inputs = dict(picture=picture, frames=frames, zoom=zoom, angle=angle, fps=fps, shift_x=dx, shift_y=dy)
    inputs.update(reverse=reverse, format=kind, padding=edges, interpolation=sharp, **controls.inputs)
    page.job(go, stop, prepare, inputs, [state, preview, *video.outputs, shell], api_name="zoom")
