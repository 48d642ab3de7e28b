"""The web app's parts without a server: Gradio stays out of ``import fastdream``, the safe
defaults, a job's Stop and errors, a session's files, the command shown for a shell."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import tempfile
import threading

import numpy as np
import pytest

import fastdream as fd
from tests.ui.helpers import needs


def test_import_fastdream_and_its_command_line_do_not_import_gradio():
    code = (
        "import sys, fastdream, fastdream.cli; fastdream.cli.build_parser(); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'gradio' or m.startswith('fastdream.ui')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_the_commands_defaults_are_the_apps():
    import fastdream.ui as ui
    from fastdream.cli import ui as command

    assert (command.HOST, command.PORT, command.MAX_UPLOAD_MB, command.MAX_MEGAPIXELS) == (
        ui.DEFAULT_HOST,
        ui.DEFAULT_PORT,
        ui.DEFAULT_MAX_UPLOAD_MB,
        ui.DEFAULT_MAX_MEGAPIXELS,
    )


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1", "127.0.0.2"])
def test_loopback_hosts_are_quiet(host):
    from fastdream.ui import check_host

    assert check_host(host) is None


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.20", "::", "myhost.example"])
def test_another_address_needs_allow_remote_and_warns(host, capsys):
    from fastdream.cli import main
    from fastdream.ui import check_host

    with pytest.raises(ValueError, match="--allow-remote"):
        check_host(host)
    assert "no login" in check_host(host, allow_remote=True)
    assert main(["ui", "--host", host]) == 2  # before Gradio is even imported
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"fastdream ui: error: --host: {host} would let")
    assert err.endswith("pass --allow-remote if you mean it\n"), err  # (it said "--allow-remote True")


def test_bad_numbers_are_refused_before_anything_starts():
    from fastdream.ui import start

    for kw, match in [({"port": 0}, "port"), ({"max_upload_mb": 0}, "max_upload_mb"), ({"jobs": 1.5}, "jobs")]:
        with pytest.raises(ValueError, match=match):
            start(**kw)
    # (10**30 MB crashed inside Gradio with the port held; jobs and queue had no bound)
    for kw in ({"max_upload_mb": 10**30}, {"jobs": 10**6}, {"queue": 10**400}):
        with pytest.raises(ValueError, match=f"{next(iter(kw))} must be a whole number from 1 to"):
            start(**kw)


@pytest.mark.parametrize("name", ["share", "allow_remote", "quiet"])
def test_a_switch_given_a_string_is_refused_before_anything_starts(name):
    """share='False' (read from a file or the environment) made a public link; allow_remote='no'
    opened the app to the network."""
    from fastdream.ui import start

    with pytest.raises(TypeError, match=f"{name} must be True or False, got 'False'"):
        start(host="0.0.0.0", **{name: "False"})


def test_a_port_in_use_is_one_line_and_leaves_nothing(tmp_path, monkeypatch):
    needs("gradio")
    import socket

    from fastdream.ui import start

    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr(tempfile, "tempdir", None)  # read TMPDIR again
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(OSError, match=f"port {port} on 127.0.0.1 is in use"):
            start(port=port, quiet=True)
    assert not list(tmp_path.glob("fastdream-ui-*"))  # its folder removed
    assert "GRADIO_TEMP_DIR" not in os.environ or str(tmp_path) not in os.environ["GRADIO_TEMP_DIR"]


def test_started_from_python_it_says_its_address_in_its_own_words(capfd):
    """Gradio's lines said "To create a public link, set `share=True` in `launch()`": fastdream's
    is start(share=True), and there is no launch() to call."""
    needs("gradio")
    from fastdream.ui import start
    from tests.ui.helpers import free_port

    server = start(port=free_port())
    try:
        said = capfd.readouterr().out
    finally:
        server.close()
    assert said == f"fastdream ui: {server.url}\n", said


def test_a_session_ends_with_its_files_only(tmp_path):
    from fastdream.ui.session import Sessions

    cache = tmp_path / "gradio"
    sessions = Sessions(tmp_path / "sessions", cache)
    a, b = sessions.get("a"), sessions.get("b")
    mine, theirs = a.output("dream", ".png"), b.output("dream", ".png")
    mine.write_bytes(b"a"), theirs.write_bytes(b"b")
    copies = [cache / "h1" / mine.name, cache / "h2" / theirs.name]
    uploads = {n: cache / n / f"{n}.png" for n in ("only-a", "both", "page")}
    for path in [*copies, *uploads.values()]:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")
    sessions.keep.add(str(uploads["page"]))  # the sample photo every page shows
    for path in uploads.values():
        sessions.uses(a, path)
    sessions.uses(b, uploads["both"])
    sessions.end("a")
    assert not a.folder.exists() and not copies[0].exists() and not uploads["only-a"].exists()
    assert not (cache / "h1").exists()  # Gradio's hash folder, emptied, goes too
    assert theirs.exists() and copies[1].exists() and uploads["both"].exists() and uploads["page"].exists()
    assert a.stopped(0.0)  # a job it left running stops at its next step
    assert len(sessions) == 1


def test_a_session_ends_cleanly_while_others_remove_their_folders(tmp_path, monkeypatch):
    """Sessions ending at once: a glob over the cache failed when another's folder went in the
    middle of it (FileNotFoundError in the server's log), and this session's copies stayed."""
    import os
    import time

    from fastdream.ui import session as S

    cache = tmp_path / "gradio"
    sessions = S.Sessions(tmp_path / "sessions", cache)
    a = sessions.get("a")
    copy = cache / "h1" / a.output("dream", ".png").name
    copy.parent.mkdir(parents=True)
    copy.write_bytes(b"x")
    (cache / "h0").mkdir()  # another session's folder, gone by the time it is listed
    real = os.scandir

    def racing(path):
        if str(path) == str(cache / "h0"):
            raise FileNotFoundError(path)
        return real(path)

    monkeypatch.setattr(S.os, "scandir", racing)
    empty = cache / "tmpab12cd"  # Gradio's empty leftover of a File upload, a minute old
    empty.write_bytes(b"")
    os.utime(empty, (time.time() - 120, time.time() - 120))
    fresh = cache / "tmpnew"  # one being written now: left alone
    fresh.write_bytes(b"")
    sessions.end("a")
    assert not copy.exists() and not empty.exists() and fresh.exists() and cache.is_dir()


def _picture():
    return (np.random.default_rng(0).random((24, 24, 3)) * 255).astype(np.uint8)


def test_a_job_shows_previews_and_stops_within_a_step():
    from fastdream.ui import jobs
    from fastdream.ui.session import Session

    session = Session("s", __import__("pathlib").Path("."))
    steps = []

    def work(hook):
        return fd.dream(_picture(), octaves=1, steps=500, seed=0, callback=lambda s: steps.append(s.step) or hook(s))

    updates = jobs.run(session, 0.0, work)
    assert next(updates).status.startswith("Working: starting")
    first = next(updates)
    assert first.preview.startswith('<figure class="fd-preview"><img src="data:image/jpeg;base64,')
    session.stop()
    *_, last = updates
    assert last.done and last.result is None and last.status.startswith("Stopped after")
    assert "<img" in last.preview and len(steps) < 500
    assert jobs.run(session, 0.0, work).__next__().status == "Stopped before it started."
    # A tab's Stop is its own: another kind of job runs on; the session's end stops every kind.
    tabs = Session("t", __import__("pathlib").Path("."))
    tabs.stop("zoom")
    assert tabs.stopped(0.0, "zoom") and not tabs.stopped(0.0, "dream")
    tabs.stop()
    assert tabs.stopped(0.0, "dream")


def test_a_closed_page_stops_its_job_and_frees_the_slot():
    from fastdream.ui import jobs
    from fastdream.ui.session import Session

    session = Session("s", __import__("pathlib").Path("."))
    updates = jobs.run(session, 0.0, lambda hook: fd.dream(_picture(), octaves=1, steps=10**4, callback=hook))
    next(updates)
    updates.close()  # what Gradio does when the page goes away
    assert not [t for t in threading.enumerate() if t.name.startswith("fastdream-ui-")]
    assert not session.stopped(0.0)  # the session's other jobs go on


@pytest.mark.parametrize(
    "error, shown",
    [
        (ValueError("image: /tmp/fastdream-ui-x/gradio/abc/cat.png is not an image"), "Error: image: cat.png is not"),
        (RuntimeError("boom"), "Error: something went wrong (RuntimeError: boom); the server's log has the details"),
        (MemoryError(), "Error: out of memory (the work did not fit in the "),
        (
            RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried to allocate 5000000000 bytes."),
            "Error: out of memory (one allocation of 5 GB did not fit in the ",
        ),
    ],
)
def test_errors_are_one_line_without_the_servers_paths(error, shown, capsys):
    from fastdream.ui import jobs
    from fastdream.ui.session import Session

    def work(hook):
        raise error

    *_, last = jobs.run(Session("s", __import__("pathlib").Path(".")), 0.0, work, hide="/tmp/fastdream-ui-x")
    assert last.failed and last.status.startswith(shown) and "\n" not in last.status


def test_the_command_shown_is_what_the_page_passed():
    needs("gradio")
    from fastdream.cli import build_parser
    from fastdream.cli.dream import dream_kwargs
    from fastdream.ui import options

    given = dict(layers=["_blocks.10:top8"], octaves=2, steps=3, tile_size=None, smooth=1.5, preserve_colors=True)
    line = options.command("dream", ["my photo.jpg"], "dream.png", {**given, "preset": "deep", "seed": 7})
    assert line.startswith("fastdream dream 'my photo.jpg' -o dream.png --preset deep --layers _blocks.10:top8")
    args = build_parser().parse_args(shlex.split(line)[1:])
    assert dream_kwargs(args) == {**given, "preset": "deep", "seed": 7}


def test_a_presets_values_are_left_to_it():
    needs("gradio")
    from fastdream.ui import options

    deep = options.baseline("deep")
    assert deep["steps"] == 20 and deep["layers"] == ["_blocks.10", "_blocks.12"] and deep["jitter"] == 32
    assert options.baseline("tutorial")["model"] == "inception_v3"
    assert options.baseline("classic", "googlenet")["layers"] == ["inception4c"]  # the backbone's own layers
    assert options.baseline("deep", overrides={"steps": 5})["steps"] == 5  # a video's short dreams
    assert ("_blocks.10 · 112 ch (default)", "_blocks.10") in options.layer_choices("efficientnet_lite0")
    # InceptionV3's default layers are Keras' names: listed (and marked) beside the modules' own,
    # else choosing the backbone emptied the Layers box.
    assert ("mixed3 = Mixed_6a · 768 ch (default)", "mixed3") in options.layer_choices("inception_v3")
    assert (
        options.baseline("tutorial")["layers"]
        == options._dream_layers("inception_v3")
        == ["mixed3", "mixed5", "mixed7"]
    )


def test_an_api_client_leaving_settings_out_gets_the_presets_and_backbones():
    """Through Gradio's client, a left-out setting arrives as the control's first value:
    preset="tutorial" alone dreamed the default backbone's layers, model="googlenet" alone asked
    for layers it does not have; and an unseeded dream's command could not make it again."""
    needs("gradio")
    import gradio as gr

    from fastdream.ui import options

    with gr.Blocks():
        controls = options.DreamControls(options.FULL, prefix="t")
    first = dict(controls._first)
    tutorial = controls.given({**first, "preset": "tutorial"})
    assert set(tutorial) == {"preset", "seed"} and isinstance(tutorial["seed"], int)
    assert set(controls.given({**first, "model": "googlenet"})) == {"model", "seed"}
    assert controls.given({**first, "steps": 12, "seed": "4"}) == {"steps": 12, "seed": 4}  # what is given stays
    line = options.command("dream", [], "dream.png", tutorial)
    assert f"--seed {tutorial['seed']}" in line
    # On the page, choosing a preset has set its controls; one set back to the default preset's
    # value is the user's (it took the preset's: 50 steps of tutorial where the page showed 10)
    page = {**first, "preset": "tutorial", "seed": "1", options.FROM_PAGE: True}
    back = {k: first[k] for k in ("model", "objective", "octaves", "octave_scale", "steps", "step_size")}
    assert controls.given(page) == {"preset": "tutorial", "seed": 1, **back}  # (layers, norm: the same)
    deep = {**first, "preset": "deep", "seed": "1", "layers": ["_blocks.10", "_blocks.12"]}
    assert controls.given({**deep, options.FROM_PAGE: True}) == {"preset": "deep", "seed": 1, "steps": 10}
    assert controls.given(deep) == {"preset": "deep", "seed": 1}  # a client's 10 steps: left out


def test_uploaded_weights_are_the_sessions_files():
    """The backbone weights a dream loaded were never counted as the session's upload: they
    stayed in the app's folder after the page closed (a 37 MB checkpoint each)."""
    from fastdream.ui.options import dream_kwargs

    asked = []

    def load_file(path, what):
        asked.append((path, what))
        raise ValueError("stop here")  # (the file itself is not a checkpoint)

    with pytest.raises(ValueError, match="stop here"):
        dream_kwargs({"model": "googlenet", "weights": "/up/w.pth"}, None, load_file)
    assert asked == [("/up/w.pth", "backbone weights")]


def test_a_stopped_job_empties_the_result_a_failed_one_keeps_it():
    """After a Stop the result slot still held the previous run's picture: Download gave it."""
    needs("gradio")
    import gradio as gr

    from fastdream.ui import jobs, widgets
    from fastdream.ui.jobs import Update

    stopped = widgets.shown(Update("Stopped after 2 s.", "<img>", done=True, stopped=True), 2)
    assert stopped[1:] == ("<img>", None, None)
    # stopped while it waited in the queue: the earlier result and its command were emptied too
    queued = widgets.shown(jobs.not_started(), 2)
    assert all(isinstance(v, type(gr.skip())) for v in queued[2:])
    failed = widgets.shown(Update("Error: x", done=True, failed=True), 1)
    assert isinstance(failed[2], type(gr.skip()))
    done = widgets.shown(Update("Done.", done=True, result=("a.png",)), 1)
    assert done[1:] == ("", "a.png")


def test_a_sheets_progress_counts_cells_not_frames():
    """The proof sheet's progress said "frame 2 of 4" and its stop "(frame 1)": a sheet has cells."""
    from fastdream.ui import jobs

    seen = []

    def hook(state):
        seen.append(jobs.describe(state, jobs.UNITS["sheet"]))
        return state.frame < 1

    img = (np.random.default_rng(0).random((40, 40, 3)) * 255).astype(np.uint8)
    with pytest.raises(fd.Cancelled, match=r"\(cell 1\)"):
        fd.proof_sheet(img, None, vary={"steps": [1, 2, 3]}, octaves=1, size=40, seed=0, callback=hook)
    assert seen[0].startswith("cell 1 of 3 ·") and seen[-1].startswith("cell 2 of 3 ·"), seen
    assert " · step 1/6 in all · " in seen[0], seen  # (the steps of the whole sheet, not of one octave)


@pytest.mark.parametrize(
    "said, shown",
    [
        ("model vgg16: random weights; pass weights=PATH (a state dict)", "upload its weights (Creative controls"),
        ("preserve_colors and color_match are alternatives", "Preserve colors and Match colors are"),
        ("a checkpoint written by train_dreamer", "written by fastdream train-dreamer"),
        # an unknown layer listed the network's 118 layers in red, over the list that holds them
        (
            "layers: unknown layer name(s) ['nope']; valid names are: a, b, ... (118 in all)",
            "; pick one from the Layers",
        ),
        ("style_weights[0] must be a finite number >= 0, got -1.0", "Style weights: weight 0 must be"),
        ("proof_sheet: give vary={option: [values]} or channels=LAYER: what differs", "Settings to vary: write one"),
        # the controls by their labels: Dream a video's, Your subjects', Cut out's
        ("input: notvid.gif is not an image Pillow can read", "Video: notvid.gif is not an image"),
        ("end (1) must be after start (3)", "Stop before frame (1) must be after First frame (3)"),
        (
            "end (1) must be after start (3): the frames [start, end) would be none",
            "Stop before frame (1) must be after First frame (3): there would be no frames",
        ),
        ("vary: unknown option 'foo' in 'foo=1'; the options...", "Settings to vary: unknown option 'foo'"),
        ("model: g.pt is not a fastdream checkpoint (torch.load failed)", "Dreamer checkpoint: g.pt is not a"),
        ("checkpoint: g.pt is not a fastdream U-Net checkpoint (one written by train_unet)", "U-Net checkpoint: g.pt"),
        # (the GAN / VAE tab given a U-Net said "U-Net checkpoint:", the Cut out tab's control)
        (
            "checkpoint: u.pt is a fastdream U-Net checkpoint (written by train_unet), not a GAN checkpoint",
            "Checkpoint: u.pt is a fastdream U-Net",
        ),
        ("give a larger content picture, or a larger size= / --size to enlarge it", "or a larger Long side to"),
        ("top: _blocks.0 has 16 channels; top=64 asks for more", "Channels (the most responsive): _blocks.0 has 16 "),
        ("tile_size must be >= 32, got 16 (None: no tiling)", "Tile size must be 0 (none) or >= 32, got 16"),
        ("input: unknown video extension '.png'; use .mp4, .gif, or a folder of frames", "Video: unknown video"),
        # (torch.load's terms for a file that is no checkpoint or weights)
        (
            "checkpoint: n.txt is not a fastdream checkpoint (torch.load(weights_only=True) failed: KeyError)",
            "Checkpoint: n.txt is not a fastdream checkpoint (it could not be read as one)",
        ),
        (
            "weights: n.txt is not a file torch.load reads with weights_only=True (a state dict saved with "
            "torch.save(model.state_dict(), path)): KeyError",
            "Backbone weights: n.txt is not a weights file (a state dict saved with torch.save)",
        ),
    ],
)
def test_the_page_says_the_librarys_messages_in_its_own_words(said, shown):
    """Notes and errors on the page named Python keywords (weights=PATH, preserve_colors, train_gan)."""
    from fastdream.ui import jobs

    assert shown in jobs.hidden(said, "")
    assert shown in jobs.message(ValueError(said))


def test_a_stopped_pictures_download_says_its_size(tmp_path):
    """Stopped in its first octave, the Dream tab's download was smaller than the picture, unsaid."""
    from PIL import Image

    from fastdream.ui import widgets

    stop = fd.Cancelled("stopped", Image.new("RGB", (183, 137)))
    with pytest.raises(fd.Cancelled), widgets.picture_so_far(tmp_path / "d.png", "fastdream dream"):
        raise stop
    assert stop.result == (str(tmp_path / "d.png"), "fastdream dream")
    assert "183x137: the size of the octave it was in" in stop.said and Image.open(tmp_path / "d.png").size == (
        183,
        137,
    )


def test_a_control_an_event_updated_still_refuses_a_value_naming_its_label():
    """Gradio makes a new instance of a control's class for a session in which an event updated it
    (the Preset list's description): a check set on the page's instance was gone there, and the
    value got Gradio's own message, with a traceback in the log."""
    import asyncio

    gr = needs("gradio")
    from gradio.state_holder import SessionState

    from fastdream.ui import widgets

    with gr.Blocks() as demo:
        preset = gr.Dropdown(["a", "b"], value="a", label="Preset")
        steps = gr.Slider(1, 10, step=1, label="Steps")
        said = gr.Textbox()
        preset.input(lambda v: (gr.Dropdown(info="its look"), gr.Slider(maximum=20)), [preset], [preset, steps])
        gr.Button().click(lambda p, s: f"{p} {s}", [preset, steps], [said])
    widgets.bound_inputs(demo)
    update, run = list(demo.fns.values())
    session = SessionState(demo)

    async def events():
        await demo.process_api(block_fn=update, inputs=["b"], state=session)
        assert preset._id in session and steps._id in session  # the session's own instances
        for values, words in [(["zz", 5], "Preset: 'zz' is not one of ['a', 'b']"), (["a", 50], "Steps: 50 is above")]:
            with pytest.raises(gr.Error, match=re.escape(words)):
                await demo.process_api(block_fn=run, inputs=values, state=session)
        return await demo.process_api(block_fn=run, inputs=["b", 15], state=session)  # (its new maximum)

    assert asyncio.run(events())["data"] == ["b 15"]


def test_a_file_whose_name_begins_with_a_dash_is_named_so_the_shell_line_runs():
    """The line said `fastdream dream -x.png ...`, which the command took for an option it did not know."""
    from fastdream.ui import options

    line = options.command("dream", ["-x.png"], "dream.png", {"guide": "/tmp/up/-cat.png", "steps": 2})
    assert line == "fastdream dream ./-x.png -o dream.png --steps 2 --guide ./-cat.png"


def test_an_mp4_result_says_why_the_page_shows_none():
    """ "Done" beside an empty video box read as a failure."""
    needs("gradio")
    from fastdream.ui import widgets

    with pytest.warns(
        fd.FastdreamWarning, match=r"an MP4 is not shown on this page .*: the Download the video button has it"
    ):
        assert widgets.Video.shown("/tmp/x/zoom.mp4") == (None, "/tmp/x/zoom.mp4")
