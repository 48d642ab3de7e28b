"""The Subjects tab: dreams of the user's own subjects, with a dreamer checkpoint written by
``fastdream train-dreamer`` (``fastdream.train_dreamer``): upload it, pick its subjects (each with
a weight), and ``fastdream.dream(picture, model=dreamer, subject=...)`` grows them in a picture."""

from __future__ import annotations

import shlex
from pathlib import Path

import gradio as gr

import fastdream as fd
from fastdream import _checks, io
from fastdream.dream.subjects import parse_subjects
from fastdream.ui import jobs, widgets
from fastdream.ui.page import Page

TITLE = "Your subjects"
HOW = (
    "Train a dreamer on folders of your own pictures (one folder per subject) with "
    "`fastdream train-dreamer PICTURES -o dreamer.pt`, upload it here and pick what to grow."
)
# The last dreamer loaded, by its file (path, size, time): the upload reads it to fill the list and
# every Dream click uses it again, so it is read and built for the dream once, not per click.
_last: dict = {}


def _dreamer(path):
    """The dreamer in an uploaded checkpoint (a ``ValueError`` naming the file for anything else)."""
    st = Path(path).stat()
    key = (str(path), st.st_size, st.st_mtime_ns)
    if key not in _last:
        net = fd.models.load(path, device=_checks.device("device", None))  # (where dreams run)
        if not getattr(net, "subjects", None):
            raise ValueError(f"{Path(path).name} is not a dreamer checkpoint (make one with fastdream train-dreamer)")
        _last.clear()
        _last[key] = net
    return _last[key]


def build(page: Page) -> None:
    gr.Markdown(HOW)
    picture, preview, dreamed = page.picture_row(
        "subjects", "Picture", 380, lambda: widgets.result("Dream", height=380, elem_id="subjects-result")
    )
    with gr.Row():
        ckpt = gr.File(label="Dreamer checkpoint (.pt)", height=120, elem_id="subjects-model")
        with gr.Column():
            subject = gr.Dropdown(
                [],
                multiselect=True,
                allow_custom_value=True,
                label="Subjects",
                info="pick one or more; NAME=2 weighs one twice",
                elem_id="subjects-subject",
            )
            go = gr.Button("Dream", variant="primary", elem_id="subjects-run")
            stop = gr.Button("Stop", variant="stop", elem_id="subjects-stop")
    state = widgets.status("subjects-status")
    with gr.Row():
        octaves = gr.Dropdown(
            ["auto"] + [str(k) for k in range(1, 9)], value="4", label="Octaves", elem_id="subjects-octaves"
        )
        steps = gr.Slider(1, 100, value=30, step=1, label="Steps per octave", elem_id="subjects-steps")
        seed = gr.Textbox("", label="Seed", placeholder="random", max_lines=1, elem_id="subjects-seed")
    shell = widgets.shell("fastdream dream -o dream.png --model DREAMER.pt --subject NAME")

    def loaded(path, request: gr.Request):  # a checkpoint arrived: its subjects to choose from, its settings shown
        if path:  # the session's upload, removed with it even if no dream is asked for
            page.sessions.uses(page.session(request), path)
        if not path:
            return gr.Dropdown(choices=[], value=[]), gr.update(), gr.update(), widgets.status_html("Ready.")
        try:
            net = _dreamer(path)
        except Exception as exc:  # any upload: one line on the page, the server goes on
            text = jobs.message(exc, page.hide())
            return gr.Dropdown(choices=[], value=[]), gr.update(), gr.update(), widgets.status_html(text, failed=True)
        s = net.dream_settings
        names = list(net.subjects)
        note = f"{len(names)} subjects: {', '.join(names)}"
        return (
            gr.Dropdown(choices=names, value=names[:1]),
            str(s.get("octaves", 4)),
            s.get("steps", 30),
            widgets.status_html(note),
        )

    ckpt.change(loaded, [ckpt], [subject, octaves, steps, state], queue=False, api_visibility="private")

    def prepare(session, v):
        image = page.picture(session, v["picture"], default=page.sample)
        net = _dreamer(page.file(session, v["model"], "dreamer checkpoint"))
        chosen = [str(s).strip() for s in (v["subject"] or []) if str(s).strip()]
        if not chosen:
            raise ValueError(f"subject: pick one of the dreamer's subjects ({', '.join(net.subjects)})")
        parse_subjects(chosen)  # a malformed NAME=W: one line before any work
        kw = {"subject": chosen, "seed": widgets.drawn_seed(v["seed"])}
        shown = {"octaves": v["octaves"], "steps": v["steps"]}
        if shown["octaves"] not in (None, "auto"):
            shown["octaves"] = int(shown["octaves"])
        if shown["steps"] is not None:
            shown["steps"] = int(shown["steps"])
        kw.update({k: x for k, x in shown.items() if x is not None and x != net.dream_settings.get(k)})
        source = page.named(v["picture"])
        out = session.output("subjects", ".png")
        line = _command(source, Path(v["model"]).name, kw)

        def work(hook):
            with widgets.picture_so_far(out, line):
                result = fd.dream(image, model=net, callback=hook, **kw)
            io.save_image(result, out)
            return str(out), line

        return work

    inputs = dict(picture=picture, model=ckpt, subject=subject, octaves=octaves, steps=steps, seed=seed)
    page.job(go, stop, prepare, inputs, [state, preview, dreamed, shell], api_name="subjects")


def _command(source: list[str], checkpoint: str, kw: dict) -> str:
    """``fastdream dream`` with the same dreamer, subjects and settings."""
    words = ["fastdream", "dream", *source, "-o", "dream.png", "--model", checkpoint, "--subject", *kw["subject"]]
    for key, flag in (("octaves", "--octaves"), ("steps", "--steps"), ("seed", "--seed")):
        if kw.get(key) is not None:
            words += [flag, str(kw[key])]
    return shlex.join(words)
