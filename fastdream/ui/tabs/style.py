"""The Style tab: ``fastdream.style_transfer`` with one or several styles, blended or each in its
own region (masks, or the subject found by a cutout U-Net); the painting shown as it is made; and
a video in the same styles (``fastdream.style_video``)."""

from __future__ import annotations

import shlex
from pathlib import Path

import gradio as gr

import fastdream as fd
from fastdream import io
from fastdream._checks import shown
from fastdream.style import StyleOptions
from fastdream.ui import options, widgets
from fastdream.ui.page import Page
from fastdream.video.styled import STYLE_DEFAULTS

TITLE = "Style"
REGIONS = ("whole picture", "a mask per style", "subject and background")


def build(page: Page) -> None:
    picture, preview, painted = page.picture_row(
        "style", "Content", 360, lambda: widgets.result("Painted", height=360, elem_id="style-result")
    )
    go, stop, state = widgets.run_row("style", "Paint")
    with gr.Row():
        styles = gr.File(
            file_count="multiple", label="Style pictures (one or more)", height=140, elem_id="style-styles"
        )
        weights = gr.Textbox("", label="Style weights (one per style, e.g. 1, 2; empty: equal)")
    with gr.Row():
        regions = gr.Radio(list(REGIONS), value=REGIONS[0], label="Where each style goes")
        # (at 120 px the labels covered the upload's icon)
        masks = gr.File(file_count="multiple", label="Masks (one per style, white where it goes)", height=180)
        unet = gr.File(label="Cutout U-Net (subject: style 1; rest: style 2)", height=180)
    with gr.Row():
        size = gr.Slider(0, 2048, value=0, step=32, label="Long side (px; 0: the content's)")
        steps = gr.Slider(1, 300, value=100, step=1, label="Steps per octave", elem_id="style-steps")
        # (0 is the library's default: 3, fewer for a small picture, whose face 3 octaves wiped out)
        octaves = gr.Slider(0, 6, value=0, step=1, label="Octaves (0: up to 3, as many as fit)")
        strength = gr.Slider(0.1, 20, value=3.0, step=0.1, label="Style weight")
    with gr.Row():
        with gr.Column(min_width=220):  # (side by side, at 420 px a word a line, scrolled sideways)
            keep = gr.Checkbox(False, label="Preserve the content's colors")
            match = gr.Checkbox(False, label="Match the styles' colors to the content")
        seed = gr.Textbox("", label="Seed", placeholder="random", max_lines=1, min_width=220)
    shell = widgets.shell("fastdream style CONTENT STYLE -o style.png")

    def prepare(session, v):
        content = page.picture(session, v["content"], "content", default=page.sample)
        if not v["styles"]:
            raise ValueError("Style pictures: upload one or more")
        looks = [page.picture(session, p, f"style {Path(p).name}") for p in v["styles"]]
        kw = dict(steps=int(v["steps"]), octaves=int(v["octaves"]) or None, style_weight=float(v["style_weight"]))
        kw.update(preserve_colors=bool(v["preserve_colors"]), color_match=bool(v["color_match"]))
        kw.update(_numbers(v["style_weights"], v["seed"]), size=int(v["size"]) or None)
        if v["regions"] == REGIONS[1]:
            found = [page.picture(session, p, f"mask {Path(p).name}").convert("L") for p in v["masks"] or []]
            kw["masks"] = found or _missing("masks")
        elif v["regions"] == REGIONS[2]:
            kw.update(masks="subject", cutout_model=page.file(session, v["cutout_model"], "Cutout U-Net"))
        out = session.output("styled", ".png")
        line = _command(v, kw, (page.named(v["content"]) or ["CONTENT"])[0])

        def work(hook):
            with widgets.picture_so_far(out, line):
                result = fd.style_transfer(content, looks if len(looks) > 1 else looks[0], callback=hook, **kw)
            io.save_image(result, out)
            return str(out), line

        return work

    inputs = dict(content=picture, styles=styles, style_weights=weights, regions=regions, masks=masks)
    inputs.update(cutout_model=unet, size=size, steps=steps, octaves=octaves, style_weight=strength)
    inputs.update(preserve_colors=keep, color_match=match, seed=seed)
    page.job(go, stop, prepare, inputs, [state, preview, painted, shell], api_name="style")
    _video(page, styles, weights, strength)


def _video(page: Page, styles, weights, strength) -> None:
    """A video in the styles above (``fastdream.style_video``): each frame from the last styled one
    moved along the optical flow, so the style does not flicker."""
    with gr.Accordion("A video in these styles", open=False):
        gr.Markdown(
            "It takes the style pictures, their weights and the style weight above; the video keeps its "
            "own size, and each frame is styled with the settings here (not the picture's long side, "
            "octaves or seed)."
        )
        with gr.Row():
            clip = gr.File(label="Video (MP4, GIF, WebP)", height=140, elem_id="style-video-input")
            with gr.Column():
                preview = widgets.preview("style-video-preview")
                video = widgets.Video("style-video", height=280)
        with gr.Row():
            go = gr.Button("Paint the video", variant="primary", elem_id="style-video-run")
            stop = gr.Button("Stop", variant="stop", elem_id="style-video-stop")
        state = widgets.status("style-video-status")
        shell = widgets.shell("fastdream style-video VIDEO STYLE -o styled.gif", elem_id="style-video-shell")
        with gr.Row():
            steps = gr.Slider(1, 200, value=STYLE_DEFAULTS["steps"], step=1, label="Steps per frame")
            end = gr.Number(0, precision=0, minimum=0, label="Stop before frame (0: at the end)")
            with gr.Column(min_width=220):  # (beside the slider, at 420 px the switch lost its label)
                flow = gr.Checkbox(True, label="Follow the motion (optical flow)")
                kind = gr.Radio(widgets.VIDEO_FORMATS, value="gif", label="Format")

    def prepare(session, v):
        source = page.video(session, v["video"])
        if not v["styles"]:
            raise ValueError("Style pictures: upload one or more")
        looks = [page.picture(session, p, f"style {Path(p).name}") for p in v["styles"]]
        kw = dict(steps=int(v["steps"]), style_weight=float(v["style_weight"]), flow=bool(v["flow"]))
        kw.update(_numbers(v["style_weights"], None), end=int(v["end"]) if v["end"] else None)
        out = session.output("styled-video", f".{v['format']}")
        line = _video_command([source.name, *(Path(p).name for p in v["styles"])], f"styled.{v['format']}", kw)

        def work(hook):
            with widgets.Video.frames(session, "style-frames", out, (line,)) as work_dir:
                made = fd.style_video(
                    source, looks if len(looks) > 1 else looks[0], out, frames_dir=work_dir, callback=hook, **kw
                )
            return (*widgets.Video.shown(made), line)

        return work

    inputs = dict(video=clip, styles=styles, style_weights=weights, style_weight=strength, steps=steps, end=end)
    inputs.update(flow=flow, format=kind)
    page.job(go, stop, prepare, inputs, [state, preview, *video.outputs, shell], api_name="style_video")


def _video_command(names: list[str], output: str, kw: dict) -> str:
    """The ``fastdream style-video`` command that paints the same video.

    Examples:
        >>> _video_command(["clip.gif", "ink.png"], "styled.gif", dict(steps=40, style_weight=3.0, flow=False, end=9))
        'fastdream style-video clip.gif ink.png -o styled.gif --steps 40 --no-flow --end 9'
    """
    shown = {"--style-weights": tuple(kw.get("style_weights", ())) or None, "--steps": kw["steps"]}
    shown.update({"--style-weight": kw["style_weight"], "--no-flow": not kw["flow"], "--end": kw["end"]})
    return options.command("style-video", names, output, {}, options.flags(shown, StyleOptions))


def _command(v: dict, kw: dict, content: str) -> str:
    """The ``fastdream style`` command that paints the same picture (``content``: the file's name;
    the sample photo has none a shell could name)."""
    names = [content, *(Path(p).name for p in v["styles"])]
    shown = {"--style-weights": tuple(kw.get("style_weights", ())) or None, "--size": kw["size"]}
    if kw.get("masks") == "subject":
        shown["--subject-from"] = Path(v["cutout_model"]).name
    elif kw.get("masks"):
        shown["--masks"] = tuple(Path(p).name for p in v["masks"])
    shown.update({"--steps": kw["steps"], "--octaves": kw["octaves"], "--style-weight": kw["style_weight"]})
    shown.update(
        {"--preserve-colors": kw["preserve_colors"], "--color-match": kw["color_match"], "--seed": kw.get("seed")}
    )
    extra = options.flags(shown, StyleOptions)
    return shlex.join(["fastdream", "style", *names, "-o", "style.png", *extra])


def _missing(what: str):
    raise ValueError(f"{what}: upload one mask per style (white where the style goes)")


def _numbers(weight_text: str, seed_text: str | None) -> dict:
    """The style weights ("1, 2") and the seed from their text boxes (empty: equal weights, and a
    seed drawn; ``seed_text`` None: no seed)."""
    out = {}
    if str(weight_text or "").strip():
        try:
            out["style_weights"] = [float(x) for x in str(weight_text).replace(",", " ").split()]
        except ValueError:
            raise ValueError(f"style weights must be numbers such as 1, 2, got {shown(weight_text)}") from None
    if seed_text is not None:
        out["seed"] = widgets.drawn_seed(seed_text)
    return out
