"""The one loop of every gradient pipeline: octaves, seeding, progress and the per-step hook.

A pipeline (the float32 dream, the low-memory dream, style transfer) says what one octave and one
step are (:class:`Job`); :func:`drive` runs them smallest octave first, with a private random
generator (the caller's global RNG is never touched), one progress bar, and after every step the
user's ``callback(state)``, which may stop the run by returning ``False`` (:func:`stops`)
(:class:`Cancelled`, carrying the picture so far).
"""

from __future__ import annotations

import dataclasses
import inspect
import time
from dataclasses import dataclass
from typing import Any, Callable, Protocol, Sequence

import torch
from tqdm.auto import tqdm

from fastdream._checks import shown, torch_seed
from fastdream._warnings import warn

__all__ = ["Cancelled", "Job", "StepState", "check_callback", "drive", "for_frame", "generator", "pyramid"]


class Cancelled(Exception):
    """A step callback returned ``False``: the call stopped after that step.

    Attributes:
        image: the picture so far, of the input's kind (path -> PIL image), at the size of the
            octave being worked on when it stopped (None if it could not be made).

    Examples:
        >>> import numpy as np, fastdream as fd
        >>> img = (np.random.rand(48, 48, 3) * 255).astype(np.uint8)
        >>> try:
        ...     fd.dream(img, octaves=1, steps=5, seed=0, callback=lambda s: s.step < 2)
        ... except fd.Cancelled as stop:
        ...     print(stop, stop.image.shape)
        stopped by the callback after step 2 of 5 (48, 48, 3)
    """

    def __init__(self, message: str = "stopped by the callback", image: Any = None):
        super().__init__(message)
        self.image = image


@dataclass
class StepState:
    """What the step callback sees after each step.

    Attributes:
        octave: the octave being worked on, 0 (the smallest) to ``octaves - 1``.
        octaves: how many octaves the call runs.
        step: steps done in the whole call so far, 1 to ``total``.
        total: the steps of the whole call (octaves x steps per octave).
        octave_step: steps done in this octave, 1 to the steps per octave (0 while a styled
            video's frame takes its pass for picture entering the frame: steps the call does not
            count, as it cannot know them before the flow; ``step`` stays where it was).
        size: (height, width) of this octave's picture.
        loss: the objective after this step (the dream's: mean over tiles and samples, growing;
            style transfer's: the total loss, falling).
        frame, frames: in a video, the frame being made (from 0) and the video's frames, so
            ``frame + 1`` of ``frames`` reads as progress also when a call resumes or lengthens a
            video (None otherwise); ``step`` and ``total`` then count over the frames this call makes.
    """

    octave: int
    octaves: int
    step: int
    total: int
    octave_step: int
    size: tuple[int, int]
    loss: float
    _picture: Callable[[], Any] = dataclasses.field(repr=False)
    frame: int | None = None
    frames: int | None = None

    def image(self):
        """The current picture, of the input's kind, at this octave's size (made on each call:
        ask only when you show it; only while the call runs: keep the picture, not the state)."""
        return self._picture()


def stops(answer) -> bool:
    """Whether a callback's answer stops the run: any false value but None (``False``, numpy's
    ``np.False_`` from ``return elapsed < limit``, ``0``); None, a callback that returns
    nothing, goes on.

    Examples:
        >>> import numpy as np
        >>> [stops(a) for a in (None, True, False, np.False_, 0, 1)]
        [False, False, True, True, True, False]
    """
    if answer is None:
        return False
    try:
        return not bool(answer)
    except Exception as exc:  # an array of several values, ...
        raise TypeError(
            f"callback: return True or None to go on, False to stop; got {type(answer).__name__} ({exc})"
        ) from None


def _while_running(picture: Callable[[], Any], running: list[bool]) -> Callable[[], Any]:
    def image():
        if not running[0]:
            raise RuntimeError(
                "state.image(): the call this state came from has ended; keep the picture "
                "(state.image() inside the callback) rather than the state"
            )
        return picture()

    return image


class Job(Protocol):
    """One pipeline's octave and step, as :func:`drive` runs them."""

    def begin(self, octave: int, size: tuple[int, int], gen: torch.Generator) -> None:
        """Sets up ``octave`` at ``size`` (the image carried up from the last one); ``gen`` is the
        run's generator, for anything random."""

    def step(self, gen: torch.Generator) -> torch.Tensor | float:
        """One step; returns the loss (a scalar tensor is read only when someone looks)."""

    def end(self) -> None:
        """Finishes the octave (carries what was made to the next)."""

    def picture(self):
        """The current picture, of the input's kind, at the current octave's size."""


def for_frame(
    callback: Callable | None,
    frame: int,
    index: int,
    count: int,
    *,
    before: int = 0,
    total: int | None = None,
    unit: str = "frame",
    of: int | None = None,
) -> Callable | None:
    """``callback`` for the dream of video frame ``frame``, the ``index``-th of the ``count`` frames
    a call makes: its states count steps over the whole call. Frames that take different numbers
    of steps say how many the call takes in all (``total``) and how many came ``before`` this
    frame; otherwise every frame counts as many as this one. ``of``: the video's frames, which the
    states say (default ``count``: a resumed video said frame 3 of 2). ``unit``: what a stop calls
    a frame (a proof sheet's are cells)."""
    if callback is None:
        return None

    def hook(state: StepState):
        per = state.total
        step, steps = (index * per + state.step, count * per) if total is None else (before + state.step, total)
        picture = state._picture  # the frame's working kind (a tensor or an array): a video's is a picture
        framed = dataclasses.replace(
            state, frame=frame, frames=of or count, step=step, total=steps, _picture=lambda: frame_picture(picture())
        )
        if stops(callback(framed)):
            raise Cancelled(
                f"stopped by the callback after step {step} of {steps} ({unit} {frame})", _picture(framed.image)
            )
        return True

    return hook


def frame_picture(frame) -> Any:
    """A video frame as the step hook and :class:`Cancelled` show it: an RGB PIL image (from a
    (1, 3, H, W) or (3, H, W) tensor in [0, 1], or an HxWx3 uint8 array)."""
    from PIL import Image

    from fastdream import io

    if isinstance(frame, torch.Tensor):
        t = frame.detach()
        return io.to_pil((t[0] if t.dim() == 4 else t).float().clamp(0, 1).cpu())
    if isinstance(frame, Image.Image):
        return frame
    return Image.fromarray(frame)


def pyramid(
    h: int,
    w: int,
    octaves: int,
    scale: float,
    *,
    min_side: int,
    multiple: int = 1,
    name: str = "dream",
    quiet: bool = False,
) -> list[tuple[int, int]]:
    """The octave sizes of an ``h x w`` image, smallest first.

    Octave ``i`` is the image shrunk by ``scale**i``, each side rounded to a multiple of
    ``multiple`` (at least one). Octaves whose short side would be under ``min_side`` are left out
    with a warning (none when ``quiet``; the full size always stays), and a size that repeats is
    worked on once.

    Examples:
        >>> pyramid(300, 400, 3, 1.4, min_side=32)
        [(153, 204), (214, 286), (300, 400)]
        >>> pyramid(100, 150, 2, 2.0, min_side=32, multiple=16)
        [(48, 80), (96, 144)]
    """

    def snap(v: float) -> int:
        return max(multiple, multiple * round(v / multiple))

    def shrunk(v: int, i: int) -> float:
        try:
            return v / scale**i
        except OverflowError:  # far below a pixel
            return 0.0

    sizes = [(snap(shrunk(h, i)), snap(shrunk(w, i))) for i in range(octaves)]
    big = [s for i, s in enumerate(sizes) if i == 0 or min(s) >= min_side]
    keep = list(dict.fromkeys(big))
    if len(keep) < octaves and not quiet:
        why = []
        if len(big) < octaves:
            why.append(f"at scale {scale:g} the {w}x{h} image would shrink below {min_side} px")
        if len(keep) < len(big):
            why.append(f"at scale {scale:g} some octaves round to the same size, worked on once")
        warn(f"{name}: using {len(keep)} of {octaves} octaves: {'; '.join(why)}")
    return keep[::-1]


def generator(seed: int | None) -> torch.Generator:
    """A private CPU generator: seeded, or from fresh entropy; the global RNG is left alone."""
    gen = torch.Generator()
    if seed is None:
        gen.seed()  # this generator only, unlike torch.seed()
    else:
        gen.manual_seed(torch_seed(seed))
    return gen


def check_callback(callback) -> Callable | None:
    """``callback`` as given, after checking it is None or callable."""
    said = f"callback must be a function of one argument (the step state) or None, got {shown(callback)}"
    if callback is None:
        return None
    if not callable(callback):
        raise TypeError(said)
    target = callback if inspect.isroutine(callback) else type(callback).__call__  # (an object's own)
    if any(f(callback) or f(target) for f in _NEVER_RUN):
        # (its call returns a coroutine or generator: its body never ran, and a Stop did nothing)
        raise TypeError(
            "callback must be a plain function of one argument (the step state), not an async def or a "
            f"generator: the dream calls it and never awaits or iterates it, so its body would never run; got {shown(callback)}"
        )
    try:
        signature = inspect.signature(callback)
    except (TypeError, ValueError):  # (a builtin or C callable without one: taken as it is)
        return callback
    try:
        signature.bind(None)
    except TypeError:  # (found here, not after the network's build and a first step)
        raise TypeError(f"{said}, which cannot be called with one") from None
    return callback


#: Functions whose call only makes an object to run later (a coroutine, a generator).
_NEVER_RUN = (inspect.iscoroutinefunction, inspect.isgeneratorfunction, inspect.isasyncgenfunction)

#: The dream's bar: steps done, time spent, and (in its postfix) the time left by :class:`_Eta`.
BAR = "{desc}{percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} [{elapsed}{postfix}]"


class _Eta:
    """The time left, each step weighed by its octave's pixels: tqdm's even rate said 2 s left at
    step 3 of 6 of a 2048 px dream, where 37 s were (a step of the last octave costs ~10 of the first's).
    Timed from the end of the first step: the first carries the network's first call and the
    octave's setup (a style's first estimate said 23 min of a 72 s run)."""

    def __init__(self, areas: Sequence[int], steps: int):
        self.areas, self.steps = list(areas), max(steps, 1)
        self.total = sum(self.areas) * self.steps
        self.start, self.base = time.monotonic(), 0

    def _work(self, done: int) -> int:
        """The pixels of the first ``done`` steps."""
        full, part = divmod(done, self.steps)
        return sum(self.areas[:full]) * self.steps + (self.areas[full] * part if part else 0)

    def left(self, done: int) -> str:
        """The time left after ``done`` steps ("" after the first: nothing to time yet)."""
        if done <= 1:
            self.start, self.base = time.monotonic(), self._work(done)
            return ""
        spent, work_done = time.monotonic() - self.start, self._work(done)
        secs = round(spent * (self.total - work_done) / max(work_done - self.base, 1))
        return (
            f"{secs // 60:02d}:{secs % 60:02d}"
            if secs < 3600
            else f"{secs // 3600}:{secs // 60 % 60:02d}:{secs % 60:02d}"
        )


def drive(
    job: Job,
    sizes: Sequence[tuple[int, int]],
    steps: int,
    *,
    seed: int | None,
    progress: bool = False,
    callback: Callable | None = None,
    desc: str = "dream",
) -> None:
    """Runs ``job`` over the octave ``sizes`` (smallest first), ``steps`` steps each.

    Raises:
        Cancelled: ``callback`` returned ``False`` (its ``image`` is ``job.picture()`` then).
        KeyboardInterrupt: as it came (Ctrl-C), carrying ``image``, the picture so far, and
            ``steps``, (steps done, steps in all), once a step is done: the command line saves it.
    """
    gen, total = generator(seed), len(sizes) * steps
    # The first octave begins before the bar: what it finds wrong (a channel past its layer's) is
    # then the command's one line, not a line after a bar's first frame.
    job.begin(0, tuple(sizes[0]), gen)
    bar = tqdm(total=total, disable=not progress, desc=f"{desc}:", unit="step", leave=False, bar_format=BAR)
    eta = _Eta([h * w for h, w in sizes], steps)
    done, running = 0, [True]
    picture = _while_running(job.picture, running)
    try:
        for octave, size in enumerate(sizes):
            bar.set_description(f"{desc}, octave {octave + 1}/{len(sizes)} ({size[1]}x{size[0]})", refresh=False)
            if octave:
                job.begin(octave, tuple(size), gen)
            for k in range(steps):
                loss = job.step(gen)
                done += 1
                bar.update(1)
                if progress:
                    left = eta.left(done)
                    bar.set_postfix_str(f"loss={float(loss):.4g}" + (f", {left} left" if left else ""), refresh=False)
                if callback is None:
                    continue
                state = StepState(octave, len(sizes), done, total, k + 1, tuple(size), float(loss), picture)
                if stops(callback(state)):
                    raise Cancelled(f"stopped by the callback after step {done} of {total}", _picture(job.picture))
            job.end()
    except KeyboardInterrupt as stop:  # Ctrl-C (or SIGTERM as one): the picture so far goes with it
        if done and getattr(stop, "image", None) is None:
            stop.image, stop.steps = _picture(job.picture), (done, total)  # type: ignore[attr-defined]
        raise
    finally:
        running[0] = False
        bar.close()


def _picture(make: Callable[[], Any]):
    """The picture so far (``make()``) for :class:`Cancelled`."""
    try:
        return make()
    except Exception:  # the stop must not turn into another error; the image is a courtesy
        return None
