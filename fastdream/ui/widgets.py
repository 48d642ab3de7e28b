"""The page's building blocks shared by the tabs: the upload that Gradio does not decode, the
status line, the live preview, and how a job's updates reach a tab's outputs."""

from __future__ import annotations

import functools
import html
import json
import math
import secrets
import shutil
from abc import ABCMeta
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import gradio as gr

from fastdream import _checks, io
from fastdream._warnings import warn
from fastdream.driver import Cancelled
from fastdream.ui.jobs import Update


def upload(label: str, value=None, **kw) -> gr.Image:
    """An image upload whose file reaches the tab as it was sent, without Gradio opening it: the
    tabs decode it through :func:`fastdream.io.load_pil` (the guarded loader: size limits before
    decoding, one clear message for a file that is not an image). Gradio has already checked
    that the file is one uploaded to this app (its ``check_in_upload_folder``)."""
    component = gr.Image(value=value, label=label, type="filepath", sources=["upload", "clipboard"], **kw)
    # On the instance, not in a subclass: Gradio writes a .pyi file beside the module of every
    # component class defined (into site-packages, which may be read-only).
    component.preprocess = _path  # type: ignore[method-assign]
    return component


def _path(payload):
    return None if payload is None else payload.path


def bound_inputs(blocks: gr.Blocks) -> None:
    """Every slider, number box, list and choice of the page refuses a value it cannot hold in one
    line that names it by its label. Sent through the API, 1e12 got Gradio's "Value 1e12 is greater than
    maximum value 100" (which control?) and a traceback in the server's log; NaN, inf or text got
    only the traceback (or reached the job, past the range check)."""
    for component in blocks.blocks.values():
        if isinstance(component, (gr.Slider, gr.Number, gr.Dropdown, gr.Radio)):
            component.__class__ = _checked(type(component))


@functools.cache
def _checked(cls: type) -> type:
    """``cls`` with the page's own checks of a value sent. A class, not a method set on the
    instance: for a session in which an event updated a control (a preset's description), Gradio
    makes a new instance of its class, which must check too. Made without ``ComponentMeta.__new__``
    (which writes a .pyi file beside the module of every component class defined: site-packages
    may be read-only), and under ``cls``'s name and module (the page finds a control's code by them)."""
    if issubclass(cls, (gr.Slider, gr.Number)):

        def preprocess(self, payload):
            return _in_range(self, payload)

    else:

        def preprocess(self, payload):
            return _among_choices(self, functools.partial(cls.preprocess, self), payload)

    attrs = {"preprocess": preprocess, "__module__": cls.__module__, "__qualname__": cls.__qualname__}
    return ABCMeta.__new__(type(cls), cls.__name__, (cls,), attrs)


def _in_range(component, payload):
    lo, hi, label = component.minimum, component.maximum, component.label
    if payload is None and isinstance(component, gr.Number):
        return None  # an emptied box: the tab says what it means
    number = isinstance(payload, (int, float)) and not isinstance(payload, bool)
    if not number or (isinstance(payload, float) and not math.isfinite(payload)):
        raise _refused(f"{label}: {_checks.shown(payload)} is not a number")
    if lo is not None and payload < lo:
        raise _refused(f"{label}: {_shown_number(payload)} is below its smallest value, {lo:g}")
    if hi is not None and payload > hi:
        raise _refused(f"{label}: {_shown_number(payload)} is above its largest value, {hi:g}")
    return gr.Number.round_to_precision(payload, getattr(component, "precision", None))


def _among_choices(component, preprocess, payload):
    try:
        return preprocess(payload)
    except gr.Error:
        choices = [value for _, value in component.choices]
        raise _refused(f"{component.label}: {_checks.shown(payload)} is not one of {_checks.shown(choices)}") from None


def _shown_number(v) -> str:
    try:
        return f"{v:g}"
    except OverflowError:  # (an integer of hundreds of digits, sent through the API)
        return f"a number of {len(str(abs(v)))} digits"


def _refused(text: str) -> gr.Error:
    # (a user's value, not the server's fault: no traceback in its log)
    return gr.Error(text, print_exception=False)


def result(label: str, **kw) -> gr.Image:
    """A picture the app made, with a button that downloads the file itself (a PNG)."""
    return gr.Image(
        label=label, type="filepath", format="png", interactive=False, buttons=["download", "fullscreen"], **kw
    )


def run_row(tab: str, label: str) -> tuple[gr.Button, gr.Button, gr.HTML]:
    """A tab's Run (``TAB-run``) and Stop (``TAB-stop``) buttons side by side, and its status
    line (``TAB-status``) under them."""
    with gr.Row():
        go = gr.Button(label, variant="primary", elem_id=f"{tab}-run")
        stop = gr.Button("Stop", variant="stop", elem_id=f"{tab}-stop")
    return go, stop, status(f"{tab}-status")


def shell(command: str = "", elem_id: str | None = None) -> gr.Code:
    """Where a tab shows the command that makes its output from a shell (filled in by each run)."""
    return gr.Code(
        command, label="The same in a shell", language="shell", lines=1, elem_id=elem_id, elem_classes=["fd-shell"]
    )


def status(elem_id: str | None = None) -> gr.HTML:
    return gr.HTML(status_html("Ready."), elem_id=elem_id, elem_classes=["fd-status-box"], js_on_load=None)


def preview(elem_id: str | None = None) -> gr.HTML:
    return gr.HTML("", elem_id=elem_id, elem_classes=["fd-preview-box"], js_on_load=None)


def status_html(text: str, notes: list[str] | None = None, failed: bool = False) -> str:
    """One status line (``fd-error`` when it failed), and the library's warnings under it."""
    kind = "fd-status fd-error" if failed else "fd-status"
    lines = [f'<p class="{kind}">{html.escape(text)}</p>']
    lines += [f'<p class="fd-note">Note: {html.escape(n)}</p>' for n in notes or []]
    return "".join(lines)


def seed(text) -> int | None:
    """A seed box: empty for a random seed, else a whole number (the library checks its range)."""
    if text is None or str(text).strip() == "":
        return None
    try:
        return int(str(text).strip())
    except ValueError:
        raise ValueError(
            f"seed must be a whole number (or empty for a random one), got {_checks.shown(text)}"
        ) from None


def drawn_seed(text) -> int:
    """A seed box's seed, or one drawn here when it is empty: the shell's line then names it, and
    makes the same picture."""
    given = seed(text)
    return secrets.randbelow(2**31) if given is None else given


def error_update(text: str) -> Update:
    return Update(f"Error: {text}", done=True, failed=True)


def shown(update: Update, count: int) -> tuple:
    """A job's update as a tab's outputs: the status, the preview, then the tab's ``count``
    results (the tuple the work returned, when it is done; unchanged before)."""
    text = status_html(update.status, update.notes, update.failed)
    preview = update.preview if update.preview is not None else gr.skip()
    if not update.done:
        return (text, preview, *[gr.skip()] * count)
    if update.result is None and update.stopped:
        # Stopped: the picture so far stays in the preview, and the result slots are emptied (the
        # last run's result there was downloaded as this one's).
        return (text, preview, *[None] * count)
    if update.result is None:  # failed, or stopped before it started: the last result stays
        return (text, preview, *[gr.skip()] * count)
    return (text, preview if update.stopped else "", *update.result)  # (stopped: its picture so far stays)


@contextmanager
def picture_so_far(out: Path, *extra) -> Iterator[None]:
    """A stopped picture job's picture so far saved to ``out``: the stop's result (``out`` and
    the tab's ``extra`` results), to download as a finished one is. Stopped, the Style and Your
    subjects tabs kept only the small preview."""
    try:
        yield
    except Cancelled as stop:
        image = getattr(stop, "image", None)
        if image is not None:
            io.save_image(image, out)
            stop.result = (str(out), *extra)  # type: ignore[attr-defined]
            w, h = io.to_pil(image).size if not hasattr(image, "width") else (image.width, image.height)
            # (a download smaller than the input, without a word, looked like a bug)
            stop.said = f" The picture so far is {w}x{h}: the size of the octave it was in."  # type: ignore[attr-defined]
        raise


#: Why the page shows no MP4 (Gradio's player would need ffmpeg on the server).
MP4_NOT_SHOWN = "an MP4 is not shown on this page (its player would need ffmpeg on the server)"

#: The formats a video can be written in (MP4 needs imageio-ffmpeg: ``fastdream[video]``).
VIDEO_FORMATS = ("gif", "webp", "mp4")


class Video:
    """A video the app made: shown as an animated picture (GIF, WebP; an MP4 is only downloaded:
    Gradio's player would need ffmpeg on the server) and downloadable as the file itself."""

    def __init__(self, prefix: str, height: int = 360):
        self.animation = gr.Image(
            label="Video", type="filepath", interactive=False, height=height, elem_id=f"{prefix}-animation"
        )
        self.file = gr.DownloadButton("Download the video", value=None, elem_id=f"{prefix}-file")

    @property
    def outputs(self) -> list:
        return [self.animation, self.file]

    @staticmethod
    def shown(path) -> tuple:
        if str(path).lower().endswith(".mp4"):  # ("Done" beside an empty box read as a failure)
            warn(f"{MP4_NOT_SHOWN}: the Download the video button has it")
            return (None, str(path))
        return (str(path), str(path))

    @staticmethod
    @contextmanager
    def frames(session, stem: str, out: Path, extra: tuple = (), reverse: bool = False) -> Iterator[Path]:
        """The folder of a video job's frames (``session.workdir(stem)``), removed after the job: a
        new run starts afresh. A stopped job's finished frames are its result first
        (:meth:`keep_so_far`)."""
        work_dir = session.workdir(stem)
        try:
            yield work_dir
        except Cancelled as stopped:
            Video.keep_so_far(stopped, work_dir, out, extra, reverse)
            raise
        finally:
            shutil.rmtree(work_dir, ignore_errors=True)

    @staticmethod
    def keep_so_far(stop: BaseException, frames_dir: Path, out: Path, extra: tuple = (), reverse: bool = False):
        """A stopped video job's finished frames (in ``frames_dir``, which the tab removes) as the
        video it was making, at its rate: the result of ``stop`` (a ``fastdream.Cancelled``) for
        the page to show and download, with the tab's ``extra`` results. Stopped, a video showed
        nothing of what it had made."""
        from fastdream.video import frames as F

        done = F.complete_frames(F.frame_indices(frames_dir))
        if done == 0:
            return
        records = [json.loads(p.read_text()) for p in frames_dir.glob("*.json")]
        fps = next((r["info"]["fps"] for r in records if isinstance(r, dict) and "fps" in r.get("info", {})), 15)
        paths = [F.frame_path(frames_dir, k) for k in range(done)]
        made = io.write_animation(paths[::-1] if reverse else paths, out, fps=fps)
        stop.result = (*Video.shown(made), *extra)  # type: ignore[attr-defined]
        # (the page said only "Stopped": what was kept, and where, went unsaid)
        stop.said = (
            f" The video so far ({done} frame{'s' * (done != 1)}) is kept: the Download the video button has it."  # type: ignore[attr-defined]
        )
