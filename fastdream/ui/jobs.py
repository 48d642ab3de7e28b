"""Running one job for the page: the work in a thread, its pictures from the step hook, its Stop.

Gradio's ``cancels=`` stops only queued events, or generators between two yields: the work
running in a thread goes on (gradio #3758, #9415, #11513). So a Stop here is read by the work
itself: the step hook (``callback=`` of the pipelines) returns False once the session's Stop was
pressed, the pipeline raises :class:`fastdream.Cancelled` within that step, and the page shows
the picture so far. The generator that feeds the page waits for the thread before it ends, so
the next job never starts while this one still computes.
"""

from __future__ import annotations

import base64
import html
import io as _bytes
import os
import re
import sys
import threading
import time
import traceback
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Sequence

import numpy as np
import torch
from PIL import Image

import fastdream as fd
from fastdream._checks import out_of_memory
from fastdream.ui.session import Session

#: Seconds between two previews sent to the page (each is a JPEG made from the step's picture).
PREVIEW_EVERY_S = 0.4
#: The long side of a preview, in pixels.
PREVIEW_SIDE = 512
#: The errors that are the user's input (as the command line's exit code 2): shown as they are.
INPUT_ERRORS = (ValueError, TypeError, OSError, ImportError, KeyError)


@dataclass
class Update:
    """What the page shows of a job at one moment: the latest preview (HTML, None when unchanged),
    one status line, and at the end the result (None when it failed; when it stopped, what its
    tab kept of it: the Dream tab's picture so far, else None)."""

    status: str
    preview: str | None = None
    done: bool = False
    result: Any = None
    failed: bool = False
    notes: list[str] = field(default_factory=list)
    stopped: bool = False


def picture_html(image, caption: str = "") -> str:
    """A picture as an ``<img>`` with the JPEG inline: previews leave no files on the server."""
    im = _pil(image)
    im.thumbnail((PREVIEW_SIDE, PREVIEW_SIDE))
    if im.mode in ("RGBA", "LA", "P"):  # over white, as a viewer shows a transparent picture
        im = im.convert("RGBA")
        back = Image.new("RGBA", im.size, (255, 255, 255, 255))
        im = Image.alpha_composite(back, im)
    buf = _bytes.BytesIO()
    im.convert("RGB").save(buf, "JPEG", quality=85)
    data = base64.b64encode(buf.getvalue()).decode()
    note = f"<figcaption>{html.escape(caption)}</figcaption>" if caption else ""
    return (
        f'<figure class="fd-preview"><img src="data:image/jpeg;base64,{data}" alt="preview" '
        f'width="{im.width}" height="{im.height}">{note}</figure>'
    )


def _pil(image) -> Image.Image:
    """A step's picture (of the input's kind: a video's frames are tensors) as a PIL image."""
    if isinstance(image, Image.Image):
        return image.copy()
    if isinstance(image, torch.Tensor):
        t = image.detach()[0] if image.dim() == 4 else image.detach()
        return fd.io.to_pil(t.float().clamp(0, 1).cpu())
    arr = np.asarray(image)
    return Image.fromarray(arr if arr.dtype == np.uint8 else (np.clip(arr, 0, 1) * 255).round().astype(np.uint8))


UNITS = {"sheet": "cell"}  # what a job's "frames" are, where they are not a video's


def describe(state: fd.StepState, unit: str = "frame") -> str:
    """A step as the page says it: frame (or a sheet's cell), octave, step and loss."""
    parts = [f"{unit} {state.frame + 1 if state.frame is not None else '?'} of {state.frames}"] if state.frames else []
    # ("step 3/10" beside "Steps per octave 5" read as if the setting had not been taken)
    parts += [f"octave {state.octave + 1}/{state.octaves}", f"step {state.step}/{state.total} in all"]
    return " · ".join(parts + [f"loss {state.loss:.3g}"])


class Hook:
    """The step callback of one job: keeps the latest preview (at most one per
    :data:`PREVIEW_EVERY_S`) and stops the work once ``stopped()`` is true."""

    def __init__(self, stopped: Callable[[], bool], unit: str = "frame"):
        self.stopped, self.unit = stopped, unit
        self.cancelled = False  # the page went away: this job only stops
        self.lock = threading.Lock()
        self.preview: str | None = None
        self.seq = 0
        self.text = "starting"
        self.last = float("-inf")

    def __call__(self, state: fd.StepState) -> bool:
        self.text = describe(state, self.unit)
        if time.monotonic() - self.last >= PREVIEW_EVERY_S:
            made = picture_html(state.image(), self.text)
            with self.lock:
                self.preview, self.seq = made, self.seq + 1
            self.last = time.monotonic()  # after the picture: a slow one never starves the steps
        return not (self.cancelled or self.stopped())


def message(exc: BaseException, hide: str = "") -> str:
    """An exception as one line for the page: an input error as it is, anything else as its
    type with a note that the server's log has the traceback. Paths under ``hide`` (the app's
    temporary folder) are shown by their file name only."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    text = hidden(text, hide)
    oom = out_of_memory(exc)
    if oom:
        return f"out of memory ({oom}): try a smaller picture, a smaller tile size or fewer octaves"
    if isinstance(exc, INPUT_ERRORS):
        return text
    return f"something went wrong ({type(exc).__name__}: {text}); the server's log has the details"


def not_started() -> Update:
    """What the page shows of a job stopped while it waited."""
    return Update("Stopped before it started.", done=True)


def hidden(text: str, hide: str) -> str:
    """``text`` with the paths under ``hide`` (the app's temporary folder) as their file names, and
    the library's Python names in the page's words (:data:`PAGE_WORDS`)."""
    for pattern, words in PAGE_WORDS:
        text = re.sub(pattern, words, text)
    if not hide:
        return text
    return re.sub(re.escape(hide) + r"[^\s'\",;:()]*", lambda m: m[0].rstrip("/").rsplit("/", 1)[-1], text)


#: The library's Python spellings that its messages use, as the page names the same things.
PAGE_WORDS = (
    (r"\bpass weights=PATH\b", "upload its weights (Creative controls: Backbone weights)"),
    (r"\bweights=PATH\b", "its weights (Creative controls: Backbone weights)"),
    (r"\bpreserve_colors\b", "Preserve colors"),
    (r"\bcolor_match\b", "Match colors"),
    (r"\b(?:fastdream\.)?(train|sample)_(gan|vae|unet|dreamer)\b", r"fastdream \1-\2"),
    # (the whole list of a network's layers, in red, over the Layers list that holds them)
    (r"(?s); valid names are: .*", "; pick one from the Layers list"),
    (r"\bstyle_weights\[(\d+)\]", r"Style weights: weight \1"),
    (r"\bstyle_weights\b", "Style weights"),
    (r" \(HxW in \[0, 1\]\), or masks='subject' with cutout_model= for two styles", " (white where it goes)"),
    (
        r"^proof_sheet: give vary=\{option: \[values\]\} or channels=LAYER: .*",
        "Settings to vary: write one NAME=V1,V2,... a line",
    ),
    (r"^input: (unknown video extension .*); use (.*), or a folder of frames", r"Video: \1; upload \2"),
    (r"^tile_size must be >= (\d+), got (\S+) \(None: no tiling\)", r"Tile size must be 0 (none) or >= \1, got \2"),
    # The controls' labels for the library's names of them (the video tabs, Your subjects, Cut out)
    (r"^input: ", "Video: "),
    (r"\bend \((\d+)\) must be after start \((\d+)\)", r"Stop before frame (\1) must be after First frame (\2)"),
    (r": the frames \[start, end\) would be none", ": there would be no frames"),
    (r"^end must be", "Stop before frame must be"),
    (r"^start must be", "First frame must be"),
    (r"^model: (?=\S+ is (?:not )?a fastdream)", "Dreamer checkpoint: "),
    # (only where a U-Net was asked for: the GAN / VAE tab given one said "U-Net checkpoint:" too)
    (r"^checkpoint: (?=.*not a (?:fastdream )?U-Net checkpoint)", "U-Net checkpoint: "),
    (r"^checkpoint: ", "Checkpoint: "),
    (r"^cutout_model: ", "Cutout U-Net: "),
    # (a file that is no checkpoint or weights: torch.load's terms on an artist's page)
    (r" \(torch\.load\(weights_only=True\) failed: \w+\)", " (it could not be read as one)"),
    (
        r"^weights: (\S+) is not a file torch\.load reads with weights_only=True \(.*\)\): \w+$",
        r"Backbone weights: \1 is not a weights file (a state dict saved with torch.save)",
    ),
    (r"or a larger size= / --size to enlarge it\b", "or a larger Long side to enlarge it"),
    (r"^top: (.*)\btop=(\d+) asks", r"Channels (the most responsive): \1\2 asks"),
    (r"^vary: ", "Settings to vary: "),
)


def notes(said, hide: str = "") -> list[str]:
    """The library's warnings among those recorded (the first line of each, once, paths under
    ``hide`` by their file names): the notes under a job's status. (The setting is the
    process's: other threads' land here too.)"""
    ours = [
        w
        for w in said
        if issubclass(w.category, fd.FastdreamWarning) or f"{os.sep}fastdream{os.sep}" in str(w.filename)
    ]
    return list(dict.fromkeys(hidden(str(w.message).splitlines()[0], hide) for w in ours))


def run(
    session: Session,
    since: float,
    work: Callable[[Hook], Any],
    hide: str = "",
    kind: str | None = None,
    early: Sequence[str] = (),
) -> Iterator[Update]:
    """Runs ``work(hook)`` in a thread and yields what the page shows while it runs; the last
    update is ``done``. ``since``: when the job was asked for (a Stop of its ``kind`` pressed
    after it stops it). ``early``: notes said before the work (loading its inputs), shown with its own."""
    hook = Hook(lambda: session.stopped(since, kind), UNITS.get(kind or "", "frame"))
    box: dict[str, Any] = {}

    def target():
        with warnings.catch_warnings(record=True) as said:
            warnings.simplefilter("always")
            try:
                box["result"] = work(hook)
            except BaseException as exc:  # given to the page; the thread must not die silently
                box["error"] = exc
        box["notes"] = list(dict.fromkeys([*early, *notes(said, hide)]))

    if session.stopped(since, kind):
        yield not_started()
        return
    thread = threading.Thread(target=target, name=f"fastdream-ui-{session.tag}", daemon=True)
    started = time.monotonic()
    thread.start()
    try:
        yield Update("Working: starting (the first run also builds the network)")
        yield from _follow(thread, hook)
    finally:  # the page went away (or the generator was closed): stop the work, then free the slot
        if thread.is_alive():
            hook.cancelled = True
            thread.join()
    yield _last(box, hook, time.monotonic() - started, hide)


def _follow(thread: threading.Thread, hook: Hook) -> Iterator[Update]:
    """The new previews while the work runs, and the last one once it ended (a short job's only
    preview may come after the last look)."""
    seen, alive = 0, True
    while alive:
        thread.join(0.1)
        alive = thread.is_alive()
        with hook.lock:
            seq, preview = hook.seq, hook.preview
        if seq != seen:
            seen = seq
            yield Update(f"Working: {hook.text}", preview)


def _last(box: dict, hook: Hook, seconds: float, hide: str) -> Update:
    notes = box.get("notes", [])
    error = box.get("error")
    if error is None:
        return Update(f"Done in {seconds:.1f} s.", None, done=True, result=box.get("result"), notes=notes)
    if isinstance(error, fd.Cancelled):
        picture = picture_html(error.image, f"stopped: {hook.text}") if error.image is not None else None
        kept = getattr(error, "result", None)  # a tab that keeps the picture so far, to download
        status = f"Stopped after {seconds:.1f} s ({hook.text})."
        status += getattr(error, "said", "")  # (what the kept result is, when the tab says it)
        return Update(status, picture, done=True, result=kept, notes=notes, stopped=True)
    if not isinstance(error, INPUT_ERRORS):
        traceback.print_exception(type(error), error, error.__traceback__, file=sys.stderr)
    return Update(f"Error: {message(error, hide)}", None, done=True, failed=True, notes=notes)
