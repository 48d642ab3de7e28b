"""What every tab gets from the app: the sessions, the inputs loaded through the guarded loader,
and the wiring of a tab's Run and Stop buttons to a job."""

from __future__ import annotations

import inspect
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import gradio as gr

from fastdream import io
from fastdream.ui import jobs, options, widgets
from fastdream.ui.jobs import Hook
from fastdream.ui.session import Session, Sessions

#: The concurrency group of every job: with the app's ``jobs`` limit (1 by default), one runs
#: at a time and the others wait in Gradio's queue (their position shown on the page).
JOBS = "fastdream-job"
WAITING = "Waiting for its turn: one job runs at a time (the place in the queue shows on the right)."
QUEUED_STOP = "Stopped: it will not start (it leaves the queue when the job ahead of it ends)."


@dataclass
class Page:
    """The app's shared state, handed to each tab's ``build``."""

    root: Path  # the app's temporary folder: every file the app serves is in it
    sessions: Sessions
    jobs: int = 1
    sample: Path = io.SAMPLE_IMAGE
    max_pixels: int = 16_000_000  # the app's limit (``fastdream ui --max-megapixels``)

    def keep(self, component) -> None:
        """A component's first value (Gradio's copy of it) stays when sessions end: every new
        page shows it."""
        if isinstance(component.value, dict) and component.value.get("path"):
            self.sessions.keep.add(str(component.value["path"]))

    def sample_input(self, label: str, **kw):
        """A picture upload that starts with the sample photo."""
        component = widgets.upload(label, str(self.sample), **kw)
        self.keep(component)
        return component

    def picture_row(self, tab: str, label: str, height: int, make_result: Callable[[], Any]) -> tuple:
        """A tab's first row: an upload that starts with the sample photo (``TAB-input``) and,
        beside it, the live preview (``TAB-preview``) above what ``make_result()`` makes (the
        tab's result). Returns (upload, preview, result)."""
        if "sample" not in label:  # an emptied box runs on the sample photo: every tab says so
            label = f"{label} (the sample photo until you upload one)"
        with gr.Row(equal_height=True):
            picture = self.sample_input(label, height=height, elem_id=f"{tab}-input")
            with gr.Column():
                preview = widgets.preview(f"{tab}-preview")
                result = make_result()
        return picture, preview, result

    def is_default(self, path) -> bool:
        """Whether ``path`` is a component's first value (the sample photo), not an upload."""
        return not path or str(path) in self.sessions.keep

    def named(self, path) -> list[str]:
        """An upload as a shell command names it: its file name, or nothing for the sample photo
        (as ``fastdream dream`` without INPUT dreams it)."""
        return [] if self.is_default(path) else [Path(path).name]

    def session(self, request: gr.Request | None) -> Session:
        return self.sessions.get(getattr(request, "session_hash", None))

    def picture(self, session: Session, path, what: str = "picture", *, default: Path | None = None):
        """An uploaded picture (or ``default`` when none) as a PIL image, through the guarded loader."""
        if not path:
            if default is None:
                raise ValueError(f"{what}: upload a picture first")
            path = default
        self.sessions.uses(session, path)
        with io.opened(path, what) as im:  # the header's size: nothing decoded yet
            size = im.size
        if Path(path) != self.sample:
            self._fits(size, Path(path).name, what)
        return io.load_pil(path, what)

    def video(self, session: Session, path, what: str = "Video") -> Path:
        """An uploaded video whose frames are within the app's limit, as a picture's are: a
        frame over it took the server's memory and hours of its time, as such a picture would."""
        clip = self.file(session, path, what)
        from fastdream.video.source import frame_size

        self._fits(frame_size(clip), clip.name, what, "frames of ")
        return clip

    def _fits(self, size: tuple[int, int], name: str, what: str, whose: str = "") -> None:
        w, h = size
        if w * h > self.max_pixels:
            said = f"the {whose}{name} are" if whose else f"{name} is"
            raise ValueError(
                f"{what}: {said} {w}x{h}, {w * h / 1e6:.3g} megapixels, over the app's {self.max_pixels / 1e6:g} "
                "(fastdream ui --max-megapixels); make it smaller, or use the command line"
            )

    def file(self, session: Session, path, what: str) -> Path:
        """An uploaded file that a pipeline reads itself (a checkpoint, a video)."""
        if not path:
            raise ValueError(f"{what}: upload a file first")
        self.sessions.uses(session, path)
        return Path(path)

    def hide(self) -> str:
        return str(self.root)

    def job(
        self,
        button: gr.Button,
        stop: gr.Button,
        prepare: Callable[[Session, dict], Callable[[Hook], Any]],
        inputs: dict[str, Any],
        outputs: list,
        api_name: str,
    ) -> None:
        """Wires ``button`` to a job and ``stop`` to its Stop.

        ``inputs``: the tab's components by name (the names of the job's API parameters too);
        ``prepare(session, values)`` checks their values (a dict by those names) and loads the
        inputs, raising a ``ValueError`` with the message the page shows, and returns the work: a
        function of the step hook that returns the values of the tab's results. ``outputs``: the
        tab's status and preview, then those results."""
        asked = gr.State(None)
        names, count = list(inputs), len(outputs) - 2

        def arm():  # the click: a Stop pressed from now on stops this job, queued or running
            return time.monotonic(), widgets.status_html(WAITING)

        def run(*args):
            request, since, values = args[0], args[1], dict(zip(names, args[2:]))
            values[options.FROM_PAGE] = since is not None  # armed by the page's button click
            session = self.session(request)
            since = since if since is not None else time.monotonic()
            session.taken[api_name] = since  # out of the queue: a Stop from now on is the job's to say
            if session.stopped(since, api_name):  # stopped in the queue: its inputs do not matter
                yield widgets.shown(jobs.not_started(), count)
                return
            try:
                with warnings.catch_warnings(record=True) as said:  # what loading the inputs said
                    warnings.simplefilter("always")
                    work = prepare(session, values)
            except Exception as exc:  # an input the tab refused: one line, the server goes on
                yield widgets.shown(widgets.error_update(jobs.message(exc, self.hide())), count)
                return
            early = jobs.notes(said, self.hide())  # (an animated GIF: only its first frame is dreamed)
            for update in jobs.run(session, since, work, self.hide(), kind=api_name, early=early):
                yield widgets.shown(update, count)

        # Gradio reads the parameters' names (the API's), finds the request by its annotation, and
        # lets a client leave out a parameter whose default is None (an empty component's value).
        kind = inspect.Parameter.POSITIONAL_OR_KEYWORD
        params = [inspect.Parameter("request", kind)]
        params += [inspect.Parameter(n, kind, default=None) for n in ["since", *names]]
        run.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
        run.__annotations__ = {"request": gr.Request}
        run.__name__ = api_name

        clicked = button.click(arm, None, [asked, outputs[0]], queue=False, api_visibility="private")
        clicked.then(
            run,
            [asked, *inputs.values()],
            outputs,
            api_name=api_name,
            concurrency_id=JOBS,
            concurrency_limit=self.jobs,
            show_progress="minimal",
        )
        stop.click(self.stopper(api_name), [asked], [outputs[0]], queue=False, api_name=f"{api_name}_stop")
        for component in inputs.values():  # a new upload clears the last one's error (it stayed, beside a fine picture)
            if isinstance(component, (gr.Image, gr.File)):
                component.upload(_cleared, [outputs[0]], [outputs[0]], queue=False, api_visibility="private")

    def stopper(self, kind: str) -> Callable[..., Any]:
        """The Stop of the tab whose jobs are ``kind``: its running job ends at its next step, its
        queued ones at their start; another tab's job runs on. A job still in the queue says at
        once that it will not start (the queue holds it until the job ahead ends: the page said
        nothing until then); a running one says so itself at its next step."""

        def stop(asked, request: gr.Request):
            session = self.session(request)
            session.stop(kind)
            if asked is None or session.taken.get(kind) == asked:  # none asked, or it left the queue
                return gr.skip()
            return widgets.status_html(QUEUED_STOP)

        stop.__annotations__ = {"request": gr.Request}  # (Gradio finds the request by its annotation)
        return stop


def _cleared(status: str | None):
    """The status after a new upload: "Ready." where it said an error, else as it was."""
    return widgets.status_html("Ready.") if "fd-error" in (status or "") else gr.skip()
