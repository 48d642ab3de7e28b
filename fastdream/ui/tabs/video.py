"""The Dream a video tab: ``fastdream.dream_video``, each frame dreamed from the last dreamed one
moved along the optical flow, so the dream moves with the scene."""

from __future__ import annotations

from pathlib import Path

import gradio as gr

import fastdream as fd
from fastdream.ui import options, widgets
from fastdream.ui.page import Page
from fastdream.video.coherent import DREAM_DEFAULTS

TITLE = "Dream a video"


def build(page: Page) -> None:
    gr.Markdown("An MP4 (or MOV, MKV, WebM), a GIF or an animated WebP; MP4 needs `fastdream[video]`.")
    with gr.Row():
        source = gr.File(label="Video", height=200, elem_id="video-input")
        with gr.Column():
            preview = widgets.preview("video-preview")
            video = widgets.Video("video")
    go, stop, state = widgets.run_row("video", "Dream the video")
    with gr.Row():
        start = gr.Number(0, precision=0, minimum=0, label="First frame")
        end = gr.Number(0, precision=0, minimum=0, label="Stop before frame (0: at the end)")
        blend = gr.Slider(0, 1, value=0.5, step=0.05, label="Blend with the last dreamed frame")
        with gr.Column(min_width=220):  # (beside the slider, at 420 px the switch lost its label)
            flow = gr.Checkbox(True, label="Follow the motion (optical flow)")
            kind = gr.Radio(widgets.VIDEO_FORMATS, value="gif", label="Format")
    controls = options.DreamControls(options.SHORT, DREAM_DEFAULTS, prefix="video")
    shell = widgets.shell("fastdream dream-video VIDEO -o dreamed.gif")

    def prepare(session, v):
        given = controls.given(v)
        clip = page.video(session, v["video"])
        out = session.output("video", f".{v['format']}")
        span = dict(start=int(v["start"] or 0), end=int(v["end"]) if v["end"] else None)
        shown = {
            "--blend": float(v["blend"]),
            "--no-flow": not v["flow"],
            "--start": span["start"] or None,
            "--end": span["end"],
        }
        extra = options.flags(shown, fd.dream_video)
        line = options.command("dream-video", [Path(clip).name], f"dreamed.{v['format']}", given, extra)

        def work(hook):
            with widgets.Video.frames(session, "video-frames", out, (line,)) as work_dir:
                made = fd.dream_video(
                    clip,
                    out,
                    blend=float(v["blend"]),
                    flow=bool(v["flow"]),
                    frames_dir=work_dir,
                    callback=hook,
                    **span,
                    **given,
                )
            return (*widgets.Video.shown(made), line)

        return work

    inputs = dict(video=source, start=start, end=end, blend=blend, flow=flow, format=kind, **controls.inputs)
    page.job(go, stop, prepare, inputs, [state, preview, *video.outputs, shell], api_name="dream_video")
