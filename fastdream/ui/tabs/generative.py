"""The GAN / VAE tab: samples and latent walks of a checkpoint from ``fastdream train-gan`` or
``train-vae`` (``fd.sample_gan``, ``fastdream.gan.latent_walk``, ``fd.sample_vae``,
``fd.vae_walk``): a grid of samples, or a walk as an animation."""

from __future__ import annotations

import math

import gradio as gr
import torch

import fastdream as fd
from fastdream import io
from fastdream._checks import shown
from fastdream.gan import latent_walk
from fastdream.ui import options, widgets
from fastdream.ui.page import Page

TITLE = "GAN / VAE"
#: What the tab makes -> (the function, whether it is a walk).
KINDS = {
    "GAN samples": (fd.sample_gan, False),
    "GAN walk": (latent_walk, True),
    "VAE samples": (fd.sample_vae, False),
    "VAE walk": (fd.vae_walk, True),
}


def build(page: Page) -> None:
    gr.Markdown("A checkpoint written by `fastdream train-gan` or `fastdream train-vae`.")
    with gr.Row():
        ckpt = gr.File(label="Checkpoint (.pt)", height=140, elem_id="gen-model")
        with gr.Column():
            kind = gr.Radio(list(KINDS), value="GAN samples", label="Make", elem_id="gen-kind")
            go = gr.Button("Make", variant="primary", elem_id="gen-run")
            # Samples and walks take seconds: Stop is for a job waiting behind another tab's long one.
            stop = gr.Button("Stop", variant="stop", elem_id="gen-stop")
    state = widgets.status("gen-status")
    with gr.Row():
        n = gr.Slider(1, 256, value=16, step=1, label="Samples")
        frames = gr.Slider(2, 240, value=48, step=1, label="Walk frames")
        temperature = gr.Slider(0.1, 2.0, value=1.0, step=0.05, label="Temperature (VAE samples)")
        fps = gr.Slider(1, 30, value=12, step=1, label="Walk frames per second")
        seed = gr.Textbox("", label="Seed", placeholder="random", max_lines=1)
    preview = widgets.preview("gen-preview")
    made = widgets.result("Made", height=480, elem_id="gen-result")
    shell = widgets.shell("fastdream sample-gan checkpoint.pt -o samples")

    def prepare(session, v):
        if v["make"] not in KINDS:
            raise ValueError(f"make must be one of {', '.join(KINDS)}, got {shown(v['make'])}")
        model = page.file(session, v["checkpoint"], "checkpoint")
        fn, walk = KINDS[v["make"]]
        kw: dict = {"seed": widgets.drawn_seed(v["seed"])}  # (drawn here: the shell's line names it)
        if v["make"] == "VAE samples" and float(v["temperature"]) != 1.0:  # (1: the library's, said by no flag)
            kw["temperature"] = float(v["temperature"])
        out = session.output("walk" if walk else "samples", ".gif" if walk else ".png")
        count = int(v["frames"]) if walk else int(v["n"])
        line = _command(v["make"], model.name, count, float(v["fps"]), kw)

        def work(hook):
            pictures = fn(model, count, **kw)
            if walk:
                io.write_animation(pictures, out, fps=float(v["fps"]))
            else:
                batch = torch.stack([io.from_pil(p.convert("RGB")) for p in pictures])
                pad = 2 if len(pictures) > 1 else 0  # (one sample alone: no frame around it)
                io.save_image(io.grid(batch, nrow=math.ceil(math.sqrt(len(pictures))), pad=pad), out)
            return str(out), line

        return work

    inputs = dict(checkpoint=ckpt, make=kind, n=n, frames=frames, temperature=temperature, fps=fps, seed=seed)
    page.job(go, stop, prepare, inputs, [state, preview, made, shell], api_name="generate")


def _command(make: str, checkpoint: str, count: int, fps: float, kw: dict) -> str:
    """The command that makes the same samples (one PNG each, where the page shows them in a
    grid) or the same walk.

    Examples:
        >>> _command("VAE samples", "vae.pt", 16, 12.0, dict(seed=7, temperature=0.8))
        'fastdream sample-vae vae.pt -o samples -n 16 --seed 7 --temperature 0.8'
        >>> _command("GAN walk", "gan.pt", 48, 12.0, dict(seed=7))
        'fastdream gan-walk gan.pt -o walk.gif --frames 48 --fps 12 --seed 7'
    """
    kind, what = make.split()
    name = f"{kind.lower()}-walk" if what == "walk" else f"sample-{kind.lower()}"
    extra = ["--frames", str(count), "--fps", f"{fps:g}"] if what == "walk" else ["-n", str(count)]
    extra += ["--seed", str(kw["seed"])] + (["--temperature", f"{kw['temperature']:g}"] if "temperature" in kw else [])
    extra += ["--points", str(kw["points"])] if "points" in kw else []
    return options.command(name, [checkpoint], "walk.gif" if what == "walk" else "samples", {}, extra)
