"""Each tab's job end to end through Gradio's Python client, on tiny pictures and 1-2 steps: the
results, the one-line errors (the server goes on serving), Stop, one job at a time, and files
outside the app's folder never read nor served."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import fastdream as fd
from tests.helpers import GAN_TINY, UNET_TINY, VAE_TINY, write_image_folder
from tests.ui.helpers import MAX_UPLOAD_MB, needs, picture

QUICK = dict(octaves="1", steps=2, seed="0")
#: A dream that runs for many seconds here (300 steps up to 256 px): stopped long before its end.
LONG = dict(octaves="3", steps=100)


def handle(path):
    return needs("gradio_client").handle_file(str(path))


def status_text(html: str) -> str:
    return html.split(">", 1)[1].split("<", 1)[0]


def unset(value) -> bool:
    """An output the job left as it was (None, or Gradio's "no change")."""
    return value is None or value == {"__type__": "update"}


def wait(job, until, timeout=120.0):
    """Polls a client job until ``until(outputs)`` holds or it ends; the last outputs."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        outs = job.outputs()
        if (outs and until(outs[-1])) or job.done():
            return outs[-1] if outs else None
        time.sleep(0.05)
    raise AssertionError("the job did not get there in time")


def test_dream_end_to_end(client, tmp_path):
    src = picture(tmp_path / "photo.png")
    state, preview, result, command = client.predict(picture=handle(src), **QUICK, api_name="/dream")
    assert status_text(state).startswith("Done in"), state
    out, before = Image.open(result), Image.open(src)
    assert out.format == "PNG" and out.size == before.size and out.mode == "RGB"
    assert np.abs(np.asarray(out, float) - np.asarray(before, float)).mean() > 0.5  # it dreamed
    assert command == "fastdream dream photo.png -o dream.png --octaves 1 --steps 2 --seed 0"
    # The command means what the page did: the same keywords through the command line's parser.
    from fastdream.cli import build_parser
    from fastdream.cli.dream import dream_kwargs

    args = build_parser().parse_args(shlex.split(command)[1:])
    assert dream_kwargs(args) == dict(octaves=1, steps=2, seed=0)
    again = client.predict(picture=handle(src), **QUICK, api_name="/dream")[2]
    assert np.array_equal(np.asarray(Image.open(again)), np.asarray(out))  # seeded: the same picture


def test_the_chosen_backbone_is_the_one_that_dreams(client, tmp_path):
    """The Backbone dropdown was compared with a baseline that already held it: every dream ran on
    the default network and the command had no --model."""
    src = picture(tmp_path / "photo.png")
    default = client.predict(picture=handle(src), **QUICK, api_name="/dream")[2]
    state, _, result, command = client.predict(
        picture=handle(src), model="googlenet", layers=["inception4c"], **QUICK, api_name="/dream"
    )
    assert status_text(state).startswith("Done"), state
    assert command == "fastdream dream photo.png -o dream.png --model googlenet --octaves 1 --steps 2 --seed 0"
    assert not np.array_equal(np.asarray(Image.open(result)), np.asarray(Image.open(default)))
    # 2.5 typed into the box of a slider of whole steps is rounded (it was "steps must be an integer")
    state, _, _, command = client.predict(picture=handle(src), octaves="1", steps=2.5, seed="0", api_name="/dream")
    assert status_text(state).startswith("Done") and "--steps 2 " in command, (state, command)


def test_dream_of_the_sample_and_a_preset(client):
    # No picture: the sample photo (as `fastdream dream` without INPUT). The controls are taken as
    # they are (the page sets them to a preset's values when one is chosen): those equal to the
    # preset's are left to it, so the command names only the others.
    state, _, result, command = client.predict(
        picture=None, preset="subtle", octaves="1", steps=1, step_size=0.01, tile_size=0, api_name="/dream"
    )
    assert status_text(state).startswith("Done"), state
    assert Image.open(result).size == Image.open(fd.io.SAMPLE_IMAGE).size
    # No seed given: one is drawn and named, so that the command makes the same picture.
    assert re.fullmatch(
        r"fastdream dream -o dream.png --preset subtle --octaves 1 --steps 1 --tile 0 --seed \d+", command
    )


@pytest.mark.parametrize(
    "kind, options, expected",
    [
        ("text", {}, "notes.txt is not an image Pillow can read"),
        ("png", {"seed": "abc"}, "seed must be a whole number"),
        ("png", {"seed": "-1"}, "seed"),
        ("png", {"layers": ["_blocks.99"]}, "_blocks.99"),
        ("png", {"layers": ["_blocks.10:500"]}, "channels"),
    ],
)
def test_bad_input_is_one_line_in_the_page(client, tmp_path, kind, options, expected):
    if kind == "text":
        src = tmp_path / "notes.txt"
        src.write_text("not a picture")
    else:
        src = picture(tmp_path / "ok.png")
    state, preview, result, _ = client.predict(picture=handle(src), **{**QUICK, **options}, api_name="/dream")
    assert 'class="fd-status fd-error"' in state and expected in state, state
    assert "Traceback" not in state and "fastdream-ui-" not in state  # no traceback, no server paths
    assert unset(result)


def test_a_picture_over_the_apps_pixel_limit_is_refused_before_decoding(client, tmp_path):
    """A 48 KB PNG claiming 20000x20000 pixels was dreamed: 8 minutes, 22 of 23 GB of memory."""
    bomb = tmp_path / "bomb.png"
    Image.new("1", (20000, 20000)).save(bomb, optimize=True)
    assert bomb.stat().st_size < 200_000
    started = time.monotonic()
    state = client.predict(picture=handle(bomb), **QUICK, api_name="/dream")[0]
    assert "fd-error" in state and "20000x20000, 400 megapixels, over the app&#x27;s 16 " in state, state
    assert time.monotonic() - started < 30


def test_what_loading_the_picture_said_is_a_note(client, tmp_path):
    """An animated GIF's "only the first frame is used" was said on the command line, not on the page."""
    gif = tmp_path / "moving.gif"
    frames = [Image.new("RGB", (48, 40), (60 * k, 90, 20)) for k in range(3)]
    frames[0].save(gif, save_all=True, append_images=frames[1:], duration=100)
    state = client.predict(picture=handle(gif), **QUICK, api_name="/dream")[0]
    assert status_text(state).startswith("Done") and "has 3 frames; the first is used" in state, state
    assert "moving.gif has 3 frames" in state and "/gradio/" not in state  # the file, not the server's path


@pytest.mark.parametrize(
    ("api", "sent", "said"),
    [
        ("/dream", {"steps": 0}, "Steps per octave: 0 is below its smallest value, 1"),
        ("/dream", {"steps": 1e12}, "Steps per octave: 1e+12 is above its largest value, 100"),
        ("/dream", {"step_size": "big"}, "Step size: 'big' is not a number"),
        ("/dream", {"steps": None}, "Steps per octave: None is not a number"),
        ("/dream", {"steps": 10**400}, "Steps per octave: a number of 401 digits is above its largest value, 100"),
        ("/dream", {"objective": "l3"}, "Objective: 'l3' is not one of ['l2', 'mean']"),
        ("/dream_video", {"start": "2x"}, "First frame: '2x' is not a number"),
        ("/dream_video", {"start": -1}, "First frame: -1 is below its smallest value, 0"),
    ],
)
def test_values_a_control_cannot_hold_are_refused_naming_its_label(server, client, tmp_path, api, sent, said):
    """Gradio's own message named no control ("Value 1e12 is greater than maximum value 100"), and
    a traceback in the server's log; text in a number box reached only the traceback."""
    errors = needs("gradio_client").exceptions
    log = server.tmp / "server.log"
    before = log.read_text()
    with pytest.raises(errors.AppError, match=re.escape(said)):
        if api == "/dream":
            sent = {"picture": handle(picture(tmp_path / "ok.png")), **sent}
        client.predict(**sent, api_name=api)
    assert "Traceback" not in log.read_text()[len(before) :]


def test_stop_ends_a_running_dream_within_a_step(client, tmp_path):
    src = picture(tmp_path / "photo.png", (256, 256))
    job = client.submit(picture=handle(src), **LONG, api_name="/dream")
    wait(job, lambda outs: "<img" in (outs[1] or ""))  # a preview came from the step hook
    asked = time.monotonic()
    client.predict(api_name="/dream_stop")
    state, preview, result, _ = wait(job, lambda outs: "Stopped" in outs[0], timeout=30)
    assert time.monotonic() - asked < 10
    assert "Stopped after" in state and "step" in state and not unset(result)
    assert "<img" in preview  # the picture so far stays shown, and is the result to download
    assert Image.open(result if isinstance(result, str) else result["path"]).size[0] <= 256
    # The server goes on: the next dream of the session runs (Stop only stopped what ran).
    assert status_text(client.predict(picture=handle(src), **QUICK, api_name="/dream")[0]).startswith("Done")
    # Another tab's Stop leaves this tab's job alone (it stopped every job of the session before).
    job = client.submit(picture=handle(src), octaves="1", steps=6, seed="0", api_name="/dream")
    wait(job, lambda outs: "<img" in (outs[1] or ""))
    client.predict(api_name="/zoom_stop")
    assert status_text(job.result(timeout=120)[0]).startswith("Done")


def test_one_job_at_a_time_the_others_wait(server, client, tmp_path):
    other = needs("gradio_client").Client(server.url, verbose=False, download_files=str(tmp_path))
    src = picture(tmp_path / "photo.png", (256, 256))
    first = client.submit(picture=handle(src), **LONG, api_name="/dream")
    wait(first, lambda outs: "<img" in (outs[1] or ""))
    second = other.submit(picture=handle(picture(tmp_path / "small.png")), **QUICK, api_name="/dream")
    time.sleep(1.0)
    assert second.status().code.name == "IN_QUEUE" and second.status().rank == 0  # its place shown
    client.predict(api_name="/dream_stop")
    assert status_text(second.result(timeout=120)[0]).startswith("Done")
    assert "Stopped" in first.result(timeout=60)[0]


def test_a_client_cancels_its_own_waiting_job(server, client, tmp_path):
    """A client's job that waits is taken out of the queue by Gradio's ``job.cancel()`` (the
    ``/TAB_stop`` endpoints stop what runs: a client's job has no click to date its Stop from)."""
    other = needs("gradio_client").Client(server.url, verbose=False, download_files=str(tmp_path))
    first = client.submit(picture=handle(picture(tmp_path / "photo.png", (256, 256))), **LONG, api_name="/dream")
    wait(first, lambda outs: "<img" in (outs[1] or ""))
    second = other.submit(picture=handle(picture(tmp_path / "small.png")), **QUICK, api_name="/dream")
    time.sleep(1.0)
    assert second.status().code.name == "IN_QUEUE"
    assert second.cancel()
    client.predict(api_name="/dream_stop")
    assert "Stopped" in first.result(timeout=60)[0]
    time.sleep(1.0)
    assert second.status().code.name == "CANCELLED" and not second.outputs()


def test_the_servers_memory_does_not_grow_over_dreams(server, client, tmp_path):
    # The short form of bench/ui_soak.py (50 dreams): each dream a new upload, with its previews.
    def rss_mb() -> float:
        status = open(f"/proc/{server.process.pid}/status").read()  # noqa: SIM115
        return int(status.split("VmRSS:")[1].split()[0]) / 1024

    rss = []
    for k in range(12):
        src = picture(tmp_path / f"{k}.png", (64, 48), seed=k)
        assert "Done" in client.predict(picture=handle(src), octaves="1", steps=1, api_name="/dream")[0]
        rss.append(rss_mb())
    assert rss[-1] <= 1.10 * rss[2], rss


def parsed(command: str):
    """A page's shell line read by the command line's own parser (its options exist there)."""
    from fastdream.cli import build_parser

    return build_parser().parse_args(shlex.split(command)[1:])


def test_proof_sheet(client, tmp_path):
    src = picture(tmp_path / "photo.png")
    state, _, sheet, cells, command = client.predict(  # the Steps slider moved too: the varied steps win
        picture=handle(src), vary="steps=1,2", size=64, octaves="1", steps=5, api_name="/sheet"
    )
    assert status_text(state).startswith("Done"), state
    assert re.fullmatch(
        r"fastdream sheet photo.png -o sheet.png --vary steps=1,2 --size 64 --octaves 1 --seed \d+", command
    )
    assert parsed(command).vary == ["steps=1,2"]
    record = json.loads(Path(cells).read_text())
    assert [c["steps"] for c in record["cells"]] == [1, 2]
    assert record["image"] == "photo.png"  # the sheet's title names the picture (it said "image")
    assert Image.open(sheet).width > 2 * 40
    gif = tmp_path / "moving.gif"
    frames = [Image.new("RGB", (48, 40), (60 * k, 90, 20)) for k in range(3)]
    frames[0].save(gif, save_all=True, append_images=frames[1:], duration=100)
    state = client.predict(picture=handle(gif), vary="steps=1,2", size=64, octaves="1", api_name="/sheet")[0]
    assert status_text(state).startswith("Done") and state.count("has 3 frames") == 1, state  # (said twice)
    state = client.predict(picture=handle(src), vary="speed=1,2", api_name="/sheet")[0]
    assert "Settings to vary: unknown option &#x27;speed" in state, state


def test_zoom_video(client, tmp_path):
    src = picture(tmp_path / "photo.png")
    state, _, animation, file, command = client.predict(
        picture=handle(src), frames=3, steps=1, shift_x=2, format="gif", api_name="/zoom"
    )
    assert status_text(state).startswith("Done"), state
    assert re.fullmatch(r"fastdream zoom photo.png -o zoom.gif --frames 3 --shift 2 0 --steps 1 --seed \d+", command)
    assert parsed(command).shift == [2.0, 0.0]
    with Image.open(file) as gif:
        assert gif.format == "GIF" and gif.n_frames == 3 and gif.size == (40, 32)
    state, _, _, _, command = client.predict(
        picture=handle(src), frames=2, steps=1, angle=5, padding="zeros", interpolation="bilinear", api_name="/zoom"
    )
    assert status_text(state).startswith("Done"), state
    assert (parsed(command).padding, parsed(command).interpolation) == ("zeros", "bilinear"), command


def test_a_stopped_zoom_keeps_the_frames_it_made(client, tmp_path):
    """Stopped, a zoom showed nothing of the frames it had made (and removed them)."""
    src = picture(tmp_path / "photo.png", (96, 96))
    job = client.submit(picture=handle(src), frames=60, steps=30, octaves="1", format="gif", api_name="/zoom")
    past = lambda outs: int((re.search(r"frame (\d+) of 60", status_text(outs[0])) or [0, 0])[1]) >= 3
    wait(job, past, timeout=120)
    client.predict(api_name="/zoom_stop")
    state, _, animation, file, command = wait(job, lambda outs: "Stopped" in outs[0], timeout=60)
    assert "Stopped" in state, state
    assert command.startswith("fastdream zoom photo.png")
    with Image.open(file) as gif:
        assert gif.format == "GIF" and 2 <= gif.n_frames < 60 and gif.size == (96, 96)
        assert f"The video so far ({gif.n_frames} frames) is kept: the Download the video button has it." in state, (
            state
        )


def test_a_stopped_style_keeps_the_picture_so_far(client, tmp_path):
    """Stopped, the Style tab (as Your subjects) kept only the small preview: nothing to download."""
    src, look = picture(tmp_path / "content.png", (96, 64)), picture(tmp_path / "look.png", (48, 48), seed=3)
    job = client.submit(content=handle(src), styles=[handle(look)], steps=200, octaves=1, api_name="/style")
    past = lambda outs: int((re.search(r"step (\d+)", status_text(outs[0])) or [0, 0])[1]) >= 3
    wait(job, past, timeout=120)
    client.predict(api_name="/style_stop")
    state, _, result, command = wait(job, lambda outs: "Stopped" in outs[0], timeout=60)
    assert "Stopped" in state, state
    assert command.startswith("fastdream style content.png look.png")
    with Image.open(result) as im:
        assert im.format == "PNG" and im.size == (96, 64)


def test_dream_a_video(client, tmp_path):
    frames = [Image.open(picture(tmp_path / f"{k}.png", (64, 48), seed=k)) for k in range(3)]
    frames[0].save(tmp_path / "clip.gif", save_all=True, append_images=frames[1:], duration=100)
    state, _, animation, file, command = client.predict(
        video=handle(tmp_path / "clip.gif"), steps=1, octaves="1", flow=False, format="gif", api_name="/dream_video"
    )
    assert status_text(state).startswith("Done"), state
    assert re.fullmatch(
        r"fastdream dream-video clip.gif -o dreamed.gif --no-flow --octaves 1 --steps 1 --seed \d+", command
    )
    assert parsed(command).no_flow
    with Image.open(file) as gif:
        assert gif.n_frames == 3 and gif.size == (64, 48)


@pytest.mark.parametrize("api", ["/dream_video", "/style_video"])
def test_a_video_whose_frames_are_over_the_apps_pixel_limit_is_refused(client, tmp_path, api):
    """The limit held for pictures, not for a video's frames: a 20-megapixel GIF was dreamed, frame
    after frame, for hours of the server's time."""
    big = tmp_path / "big.gif"
    frames = [Image.new("P", (5000, 4000), k) for k in range(2)]
    frames[0].save(big, save_all=True, append_images=frames[1:])
    started = time.monotonic()
    state = client.predict(video=handle(big), api_name=api)[0]
    assert "Video: the frames of big.gif are 5000x4000, 20 megapixels, over the app&#x27;s 16 " in state, state
    assert time.monotonic() - started < 30


def test_style_with_two_styles_in_regions(client, tmp_path):
    src = picture(tmp_path / "content.png", (48, 32))
    styles = [picture(tmp_path / f"s{k}.png", (32, 32), seed=10 + k) for k in range(2)]
    left = np.zeros((32, 48), np.uint8)
    left[:, :24] = 255
    Image.fromarray(left).save(tmp_path / "left.png")
    Image.fromarray(255 - left).save(tmp_path / "right.png")
    inputs = dict(
        content=handle(src),
        styles=[handle(s) for s in styles],
        regions="a mask per style",
        masks=[handle(tmp_path / "left.png"), handle(tmp_path / "right.png")],
        steps=2,
        octaves=1,
    )
    state, _, result, command = client.predict(**inputs, api_name="/style")
    assert status_text(state).startswith("Done"), state
    pattern = r"fastdream style content.png s0.png s1.png -o style.png --masks left.png right.png --steps 2 --octaves 1 --seed (\d+)"
    seed = int(re.fullmatch(pattern, command).group(1))
    assert parsed(command).masks == ["left.png", "right.png"]
    # The drawn seed is the one that painted: the same settings with it give the same picture.
    again = client.predict(**inputs, seed=str(seed), api_name="/style")[2]
    assert np.array_equal(np.asarray(Image.open(again)), np.asarray(Image.open(result)))
    assert Image.open(result).size == (48, 32)
    state = client.predict(content=handle(src), styles=None, api_name="/style")[0]
    assert "Style pictures: upload one or more" in state  # (it said "style:", a Python name)
    # Octaves left at 0 are the library's default (3 wiped out a small picture's face): the shell's too.
    state, _, _, command = client.predict(content=handle(src), styles=[handle(styles[0])], steps=1, api_name="/style")
    assert status_text(state).startswith("Done") and "--octaves" not in command, (state, command)


def test_a_video_in_a_style(client, tmp_path, monkeypatch):
    frames = [Image.open(picture(tmp_path / f"{k}.png", (64, 48), seed=k)) for k in range(2)]
    frames[0].save(tmp_path / "clip.gif", save_all=True, append_images=frames[1:], duration=100)
    style = picture(tmp_path / "style.png", (32, 32), seed=7)
    state, _, animation, file, command = client.predict(
        video=handle(tmp_path / "clip.gif"), styles=[handle(style)], steps=2, flow=False, api_name="/style_video"
    )
    assert status_text(state).startswith("Done"), state
    with Image.open(file) as gif:
        assert gif.n_frames == 2 and gif.size == (64, 48)
    # The shell line (there was none) paints the same video.
    assert command == "fastdream style-video clip.gif style.png -o styled.gif --steps 2 --no-flow"
    from fastdream.cli import main

    monkeypatch.chdir(tmp_path)  # (contextlib.chdir needs Python 3.11; the ui extra takes 3.10)
    assert main([*shlex.split(command)[1:], "-q"]) == 0
    with Image.open(tmp_path / "styled.gif") as a, Image.open(file) as b:
        for k in range(2):
            a.seek(k), b.seek(k)
            assert np.array_equal(np.asarray(a.convert("RGB")), np.asarray(b.convert("RGB"))), k


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    """A tiny U-Net, GAN and VAE, one epoch each."""
    root = tmp_path_factory.mktemp("ckpts")
    data = fd.data.make_cutout_dataset(root / "cut", 8, size=48, seed=0)
    folder = write_image_folder(root / "imgs")
    return dict(
        unet=fd.train_unet(data.images, data.masks, root / "unet.pt", epochs=1, **UNET_TINY),
        gan=fd.train_gan(folder, root / "gan", epochs=1, **GAN_TINY),
        vae=fd.train_vae(folder, root / "vae", epochs=1, **VAE_TINY),
    )


def test_cutout(client, tmp_path, checkpoints, monkeypatch):
    src = picture(tmp_path / "photo.png")
    state, _, result, _ = client.predict(picture=handle(src), model=handle(checkpoints["unet"]), api_name="/cutout")
    assert status_text(state).startswith("Done"), state
    assert Image.open(result).mode == "RGBA" and Image.open(result).size == (40, 32)
    # A color once picked cannot be cleared on the page: "Only the mask" still gives the mask.
    kw = dict(only_mask=True, background="#ff0000", decontaminate=True)
    state, _, result, _ = client.predict(
        picture=handle(src), model=handle(checkpoints["unet"]), **kw, api_name="/cutout"
    )
    assert status_text(state).startswith("Done") and Image.open(result).mode == "L", state
    # The shell line (there was none) cuts the same picture out.
    kw = dict(tta=True, threshold=0.3, background="#102030")
    state, _, result, command = client.predict(
        picture=handle(src), model=handle(checkpoints["unet"]), **kw, api_name="/cutout"
    )
    assert (
        command == "fastdream cutout photo.png -o cutout.png --model unet.pt --threshold 0.3 --tta --bg-color 16 32 48"
    )
    from fastdream.cli import main

    shutil.copy(checkpoints["unet"], tmp_path / "unet.pt")
    monkeypatch.chdir(tmp_path)  # (contextlib.chdir needs Python 3.11; the ui extra takes 3.10)
    assert main([*shlex.split(command)[1:], "-q"]) == 0
    assert np.array_equal(np.asarray(Image.open(tmp_path / "cutout.png")), np.asarray(Image.open(result)))
    state = client.predict(picture=handle(src), model=handle(src), api_name="/cutout")[0]
    assert "fd-error" in state and "Traceback" not in state
    assert "U-Net checkpoint: photo.png is not a fastdream checkpoint" in state  # (it said "Checkpoint:")


@pytest.mark.parametrize("make", ["GAN samples", "GAN walk", "VAE samples", "VAE walk"])
def test_gan_and_vae(client, checkpoints, make, tmp_path, monkeypatch):
    ckpt = checkpoints["gan" if make.startswith("GAN") else "vae"]
    state, _, result, _ = client.predict(checkpoint=handle(ckpt), make=make, n=4, frames=3, api_name="/generate")
    assert status_text(state).startswith("Done"), state
    with Image.open(result) as im:
        assert (im.format, getattr(im, "n_frames", 1)) == (("GIF", 3) if "walk" in make else ("PNG", 1))
    # The shell line (there was none) makes the same: a seed is drawn when the box is empty.
    state, _, result, command = client.predict(
        checkpoint=handle(ckpt), make=make, n=1, frames=3, temperature=0.7, api_name="/generate"
    )
    kind = make.split()[0].lower()
    assert command.split()[1] == (f"{kind}-walk" if "walk" in make else f"sample-{kind}") and " --seed " in command
    # (a walk of fewer frames than the 4 default points visits as many, the library's default: no option)
    assert "--points" not in command and ("--temperature 0.7" in command) == (make == "VAE samples")
    from fastdream.cli import main

    shutil.copy(ckpt, tmp_path / Path(ckpt).name)
    monkeypatch.chdir(tmp_path)  # (contextlib.chdir needs Python 3.11; the ui extra takes 3.10)
    assert main([*shlex.split(command)[1:], "-q"]) == 0
    made = tmp_path / ("walk.gif" if "walk" in make else "samples/sample_0000.png")
    with Image.open(made) as a, Image.open(result) as b:
        for k in range(getattr(b, "n_frames", 1)):
            a.seek(k), b.seek(k)
            assert np.array_equal(np.asarray(a.convert("RGB")), np.asarray(b.convert("RGB"))), (command, k)


def test_one_sample_is_the_sample_alone(client, checkpoints):
    """One GAN sample came in a 2 px black frame (the grid's gaps)."""
    state, _, result, _ = client.predict(
        checkpoint=handle(checkpoints["gan"]), make="GAN samples", n=1, api_name="/generate"
    )
    assert status_text(state).startswith("Done"), state
    side = GAN_TINY["image_size"]
    assert Image.open(result).size == (side, side)


def test_a_checkpoint_of_the_other_kind_is_one_line(client, checkpoints):
    state = client.predict(checkpoint=handle(checkpoints["vae"]), make="GAN samples", api_name="/generate")[0]
    assert "fd-error" in state and "Traceback" not in state


def test_uploads_over_the_limit_are_refused(server, tmp_path):
    big = b"x" * (MAX_UPLOAD_MB * 2**20 + 1)
    boundary = "fastdreamboundary"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="big.png"\r\n'
            "Content-Type: image/png\r\n\r\n"
        ).encode()
        + big
        + f"\r\n--{boundary}--\r\n".encode()
    )
    request = urllib.request.Request(
        f"{server.url}gradio_api/upload", body, {"Content-Type": f"multipart/form-data; boundary={boundary}"}
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=30)
    assert refused.value.code == 413 and "maximum allowed size" in refused.value.read().decode()
    assert server.answers()


def test_no_file_outside_the_apps_folder_is_read_or_served(server, tmp_path):
    for path in ("/etc/passwd", str(fd.io.SAMPLE_IMAGE), __file__):
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"{server.url}gradio_api/file={path}", timeout=10)
        assert refused.value.code == 403
    # A request that names a server file as its upload is refused before the tab sees it.
    body = json.dumps({"data": [{"path": "/etc/passwd", "meta": {"_type": "gradio.FileData"}}]}).encode()
    request = urllib.request.Request(
        f"{server.url}gradio_api/call/dream", body, {"Content-Type": "application/json"}, method="POST"
    )
    event = json.loads(urllib.request.urlopen(request, timeout=10).read())["event_id"]
    with urllib.request.urlopen(f"{server.url}gradio_api/call/dream/{event}", timeout=60) as stream:
        text = stream.read().decode()
    assert "event: error" in text and "root:" not in text
    assert server.answers()


def test_dream_of_a_subject(client, tmp_path, dreamer):
    src = picture(tmp_path / "photo.png")
    kw = dict(picture=handle(src), model=handle(dreamer), octaves="1", steps=2, seed="0", api_name="/subjects")
    state, _, result, line = client.predict(subject=["cat=2"], **kw)
    assert status_text(state).startswith("Done"), state
    with Image.open(result) as im:
        ours = np.asarray(im.convert("RGB"))
    assert ours.shape == (32, 40, 3)
    words = shlex.split(line)
    assert words[:3] == ["fastdream", "dream", "photo.png"] and words[words.index("--subject") + 1] == "cat=2"
    # the same dream from Python
    same = fd.dream(Image.open(src), model=fd.models.load(dreamer), subject=["cat=2"], octaves=1, steps=2, seed=0)
    assert np.array_equal(ours, np.asarray(same.convert("RGB")))
    # no seed given: one is drawn and shown, so the shell's line dreams the same (it had no --seed)
    unseeded = {**kw, "seed": ""}
    state, _, result, line = client.predict(subject=["cat"], **unseeded)
    seed = int(shlex.split(line)[shlex.split(line).index("--seed") + 1])
    same = fd.dream(Image.open(src), model=fd.models.load(dreamer), subject=["cat"], octaves=1, steps=2, seed=seed)
    assert np.array_equal(np.asarray(Image.open(result).convert("RGB")), np.asarray(same.convert("RGB")))
    state = client.predict(subject=["dog"], **kw)[0]
    assert "fd-error" in state and "brick, cat" in state and "Traceback" not in state
    state = client.predict(subject=[], **kw)[0]
    assert "fd-error" in state and "pick one" in state


def test_a_checkpoint_that_is_not_a_dreamer_is_one_line(client, tmp_path, checkpoints):
    src = picture(tmp_path / "photo.png")
    state = client.predict(
        picture=handle(src), model=handle(checkpoints["unet"]), subject=["cat"], api_name="/subjects"
    )[0]
    assert "fd-error" in state and "Traceback" not in state
