"""Small inputs for every command (an image, a two-frame clip, folders of pictures and masks,
checkpoints made without training) and each command's fast base command line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image

from tests.fuzz import files

DREAM = ["--octaves", "1", "--steps", "1", "--seed", "0", "-q"]
TRAIN = ["--epochs", "1", "--batch-size", "2", "--seed", "0", "-q"]


def picture(path: Path, seed: int = 0, size=(24, 20)) -> Path:
    files.write_image(path, "RGB", size, seed)
    return path


def clip(path: Path) -> Path:
    frames = [Image.fromarray(np.random.default_rng(k).integers(0, 256, (20, 24, 3), dtype=np.uint8)) for k in (0, 1)]
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, loop=0)
    return path


def folder(root: Path, n: int = 4, masks: bool = False) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for k in range(n):
        if masks:
            m = np.zeros((36, 36), np.uint8)
            m[8 + k : 28, 6 : 30 - k] = 255
            Image.fromarray(m).save(root / f"{k}.png")
        else:
            picture(root / f"{k}.png", k, (36, 36))
    return root


def gan_checkpoint(path: Path) -> dict:
    from fastdream.gan.sample import FORMAT, VERSION
    from fastdream.models.dcgan import Generator

    torch.manual_seed(0)
    g = Generator(8, 4, 3, 32)
    state = {"format": FORMAT, "version": VERSION, "epoch": 1, "config": dict(nz=8, ngf=4, nc=3, image_size=32)}
    state["generator"] = g.state_dict()
    torch.save(state, path)
    return state


def vae_checkpoint(path: Path) -> dict:
    from fastdream.models.vae import VAE
    from fastdream.vae.sample import FORMAT, VERSION

    torch.manual_seed(0)
    m = VAE(32, 3, 8, 8)
    state = {"format": FORMAT, "version": VERSION, "epoch": 1, "config": {"model": dict(m.config)}}
    state["model"] = m.state_dict()
    torch.save(state, path)
    return state


def unet_checkpoint(path: Path) -> dict:
    from fastdream.cutout.predict import FORMAT, VERSION
    from fastdream.models.unet import UNet

    torch.manual_seed(0)
    m = UNet(base_channels=4, depth=2)
    state = {"format": FORMAT, "version": VERSION, "epoch": 1, "config": {"model": dict(m.config), "image_size": 32}}
    state["model"] = m.state_dict()
    torch.save(state, path)
    return state


def inputs(root: Path, command: str) -> list[str]:
    """Writes what ``command`` reads into ``root`` and returns its fast base command line."""
    if command in ("dream", "zoom", "style", "cutout"):
        picture(root / "in.png")
    if command == "dream":
        return ["dream", "in.png", "-o", "out.png", *DREAM]
    if command == "zoom":
        return ["zoom", "in.png", "-o", "z.gif", "--frames", "2", *DREAM]
    if command == "dream-video":
        clip(root / "clip.gif")
        return ["dream-video", "clip.gif", "-o", "v.gif", *DREAM]
    if command == "style":
        picture(root / "st.png", 5)
        return ["style", "in.png", "st.png", "-o", "out.png", "--steps", "1", "--octaves", "1", "-q"]
    if command == "cutout":
        unet_checkpoint(root / "unet.pt")
        return ["cutout", "in.png", "-o", "out.png", "--model", "unet.pt"]
    if command == "train-unet":
        folder(root / "img")
        folder(root / "masks", masks=True)
        tiny = ["--image-size", "32", "--base-channels", "4", "--depth", "2", "--backbone", "none"]
        return ["train-unet", "img", "masks", "-o", "unet.pt", *tiny, *TRAIN]
    if command == "train-dreamer":
        for k, name in enumerate(("brick", "cat")):
            (root / "subjects" / name).mkdir(parents=True, exist_ok=True)
            for i in range(3):
                picture(root / "subjects" / name / f"{i}.png", 10 * k + i, (72, 72))
        tiny = ["--image-size", "64", "--epochs", "1", "--batch-size", "4", "--seed", "0", "-q"]
        return ["train-dreamer", "subjects", "-o", "dreamer.pt", *tiny]
    if command in ("train-gan", "train-vae"):
        folder(root / "img")
        tiny = ["--nz", "8", "--ngf", "4", "--ndf", "4"] if command == "train-gan" else ["--latent-dim", "8"]
        return [command, "img", "-o", "run", "--image-size", "32", *tiny, *TRAIN]
    if command in ("sample-gan", "gan-walk"):
        gan_checkpoint(root / "g.pt")
    if command in ("sample-vae", "vae-walk"):
        vae_checkpoint(root / "v.pt")
    ckpt = "g.pt" if "gan" in command else "v.pt"
    if command.startswith("sample"):
        return [command, ckpt, "-o", "samples", "-n", "2", "--seed", "0"]
    return [command, ckpt, "-o", "walk.gif", "--frames", "2", "--seed", "0"]
