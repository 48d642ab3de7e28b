"""Fuzzing outputs that alias the inputs: an output, a frames folder or a checkpoint that is an
input, lies inside an input folder or holds an input, however the path is spelled (``./x``,
``d/../x``, absolute, a symbolic or a hard link). Each is refused in one line, before any work,
and every file is left as it was."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.fuzz import setups
from tests.fuzz.conftest import examples
from tests.fuzz.contract import check, snapshot

SPELLINGS = ["plain", "dot", "updown", "absolute", "symlink", "hardlink", "slash"]


def spell(root: Path, name: str, how: str) -> str:
    """``name`` (relative to ``root``) written another way; links are made beside it."""
    target = root / name
    if how == "dot":
        return f"./{name}"
    if how == "updown":
        (root / "d").mkdir(exist_ok=True)
        return f"d/../{name}"
    if how == "absolute":
        return str(target)
    if how == "symlink":
        link = root / f"link_{Path(name).name}"
        if not link.exists():
            link.symlink_to(target.resolve(), target_is_directory=target.is_dir())
        return link.name
    if how == "hardlink" and target.is_file():
        link = root / f"hard_{Path(name).name}"
        if not link.exists():
            os.link(target, link)
        return link.name
    if how == "slash" and target.is_dir():
        return f"{name}/"
    return name


def _frames_folder(root: Path, name: str) -> None:
    """A folder of frames as ``ffmpeg -i x.mp4 frame_%05d.png`` makes them (no settings file)."""
    (root / name).mkdir()
    setups.clip(root / "tmp.gif")
    from PIL import Image, ImageSequence

    with Image.open(root / "tmp.gif") as im:
        for k, frame in enumerate(ImageSequence.Iterator(im)):
            frame.convert("RGB").save(root / name / f"frame_{k:05d}.png")
    (root / "tmp.gif").unlink()


def scenario(root: Path, which: str, how: str) -> list[str]:
    s = lambda name: spell(root, name, how)
    if which in ("dream-same", "style-same", "cutout-same"):
        command = which.split("-")[0]
        argv = setups.inputs(root, command)
        argv[argv.index("-o") + 1] = s("in.png")
        return argv
    if which == "zoom-own-frames":  # continued from its own frames: the default frames folder holds the input
        setups.picture(root / "in.png")
        (root / "z_frames").mkdir()
        os.replace(root / "in.png", root / "z_frames" / "frame_00000.png")
        return ["zoom", s("z_frames") + "/frame_00000.png", "-o", "z.gif", "--frames", "2", *setups.DREAM]
    if which == "zoom-frames-dir-holds-input":
        argv = setups.inputs(root, "zoom")
        return [*argv, "--frames-dir", s("."), "--no-resume"]
    if which in ("video-default-frames", "video-frames-inside", "video-theirs-no-resume"):
        _frames_folder(root, "clip_frames")
        argv = ["dream-video", s("clip_frames"), "-o", "clip.gif", *setups.DREAM, "--no-resume"]
        if which == "video-frames-inside":
            argv += ["--frames-dir", s("clip_frames") + "/sub"]
        if which == "video-theirs-no-resume":  # someone's frames elsewhere: never deleted
            _frames_folder(root, "theirs")
            setups.clip(root / "in.gif")
            argv = ["dream-video", "in.gif", "-o", "v.gif", "--frames-dir", s("theirs"), "--no-resume", *setups.DREAM]
        return argv
    if which.startswith("train-unet"):
        argv = setups.inputs(root, "train-unet")
        out = {"train-unet-image": "img/0.png", "train-unet-inside": "img/new.pt", "train-unet-mask": "masks/1.png"}
        argv[argv.index("-o") + 1] = s(out[which].split("/")[0]) + "/" + out[which].split("/")[1]
        return argv
    if which.startswith("train-dreamer"):  # a picture of a subject, or a new file among them
        argv = setups.inputs(root, "train-dreamer")
        name = {"train-dreamer-image": "0.png", "train-dreamer-inside": "new.pt"}[which]
        argv[argv.index("-o") + 1] = s("subjects") + "/cat/" + name
        return [*argv, "--no-resume"]
    if which.startswith(("train-gan", "train-vae")):
        command = "-".join(which.split("-")[:2])
        argv = setups.inputs(root, command)
        out = {"same": s("img"), "inside": s("img") + "/run", "holds": s(".")}[which.split("-")[2]]
        argv[argv.index("-o") + 1] = out
        return argv
    if which.startswith("folder-"):  # dream or cut out a folder into itself
        setups.folder(root / "img")
        out = {"same": s("img"), "inside": s("img") + "/out", "holds": s(".")}[which.split("-")[1]]
        return ["dream", s("img"), "-o", out, *setups.DREAM]
    if which.startswith("reads-"):  # an output that is another file the run reads (not its INPUT)
        return _reads(root, which.split("-", 1)[1], s)
    if which == "samples-hold-checkpoint":
        argv = setups.inputs(root, "sample-gan")
        argv[argv.index("-o") + 1] = s(".")
        return argv
    raise ValueError(which)


def _reads(root: Path, what: str, s) -> list[str]:
    """The output spelled as the guide, a style, a style's mask, a walk's --between image or the
    dreamer's sheet picture (the first three were written over before the third session)."""
    if what in ("guide", "guide-zoom", "guide-sheet"):
        command = {"guide": "dream", "guide-zoom": "zoom", "guide-sheet": "sheet"}[what]
        base = setups.inputs(root, "zoom" if command == "zoom" else "dream")
        guide = "g.gif" if command == "zoom" else "g.png"
        setups.picture(root / guide, 3)
        argv = [command, *base[1:], "--guide", s(guide)]
        argv[argv.index("-o") + 1] = s(guide)
        return argv + (["--vary", "seed=1,2", "--size", "32"] if command == "sheet" else [])
    if what in ("style", "mask"):
        argv = setups.inputs(root, "style")
        setups.picture(root / "m.png", 4)
        argv += ["--masks", "m.png"]
        argv[argv.index("-o") + 1] = s("st.png" if what == "style" else "m.png")
        return argv
    if what == "between":
        argv = setups.inputs(root, "vae-walk")
        setups.picture(root / "a.gif", 6)
        setups.picture(root / "b.png", 7)
        argv[argv.index("-o") + 1] = s("a.gif")
        return [*argv, "--between", s("a.gif"), "b.png"]
    if what == "sheet-picture":
        argv = setups.inputs(root, "train-dreamer")
        setups.picture(root / "p.png", 8)
        return [*argv, "--sheet", s("p.png"), "--sheet-image", s("p.png"), "--no-resume"]
    raise ValueError(what)


SCENARIOS = [
    "dream-same",
    "style-same",
    "cutout-same",
    "zoom-own-frames",
    "zoom-frames-dir-holds-input",
    "video-default-frames",
    "video-frames-inside",
    "video-theirs-no-resume",
    "train-unet-image",
    "train-unet-inside",
    "train-unet-mask",
    "train-dreamer-image",
    "train-dreamer-inside",
    "train-gan-same",
    "train-gan-inside",
    "train-gan-holds",
    "train-vae-inside",
    "folder-same",
    "folder-inside",
    "folder-holds",
    "samples-hold-checkpoint",
    "reads-guide",
    "reads-guide-zoom",
    "reads-guide-sheet",
    "reads-style",
    "reads-mask",
    "reads-between",
    "reads-sheet-picture",
]


@settings(max_examples=examples(10, 300), deadline=None)
@given(which=st.sampled_from(SCENARIOS), how=st.sampled_from(SPELLINGS))
def test_outputs_that_alias_an_input_are_refused(worker, which, how):
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        argv = scenario(root, which, how)
        before = snapshot(root)
        rc = check(worker.cli(argv, root, timeout=120), argv, before, root, ok=False)
        assert rc == 2
