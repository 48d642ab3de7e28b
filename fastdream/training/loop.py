"""The epoch loop every trainer shares.

A trainer is a :class:`Trainer` subclass: its models, optimizers and data, a :meth:`~Trainer.step`
(one batch), and what happens at the end of an epoch (validation, sample grids) and in the
checkpoint. :meth:`Trainer.fit` does the rest, the same way for all of them:

- nothing to do when the checkpoint already has the epochs asked for;
- the time budget: before each epoch (the first always runs), stop when the epoch would end past
  ``max_minutes`` (predicted from the mean epoch time so far), and report how many epochs fit, so
  a schedule can be fitted to them; rank 0 decides for every rank (their clocks differ slightly);
- a progress bar on rank 0;
- the numbers of each step averaged over the ranks, so a NaN on one rank stops every rank;
- a checkpoint from rank 0 after every epoch, written atomically, so a stopped run resumes from the
  last finished epoch; a failed epoch is never saved and the message says which checkpoint is kept;
- a barrier at the end: the checkpoint exists when any rank returns.
"""

from __future__ import annotations

import contextlib
import math
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterable

import torch
from tqdm.auto import tqdm

from fastdream._warnings import warn
from fastdream.io import Made
from fastdream.training.checkpoint import EPOCH_PICTURE, non_finite, save_checkpoint
from fastdream.training.distributed import Dist


@contextmanager
def _closing(bar):
    try:
        yield bar
    finally:
        bar.close()


class TrainingError(RuntimeError):
    """Training diverged or collapsed and was stopped; the last good checkpoint is kept."""


class Trainer:
    """Base of the trainers: subclasses set the attributes below and implement the hooks.

    Attributes:
        name: the public function, for messages (``"train_gan"``).
        error: the :class:`TrainingError` subclass raised when training fails.
        labels: what each number :meth:`step` returns is called in the bar and in messages; the
            first ``losses`` of them must stay finite.
        unit: what one step is called in messages (``"step"``, ``"batch"``).
        path: the checkpoint file; dist, device: where this process runs.
        start, history: epochs already done and their history rows (from the checkpoint).
        hint: the advice appended to the divergence message.
    """

    name = "train"
    error: type[TrainingError] = TrainingError
    labels: tuple[str, ...] = ("loss",)
    keys: tuple[str, ...] = ("loss",)
    losses = 1
    unit = "step"
    hint = "Try a lower lr"
    path: Path
    dist: Dist = Dist()
    device: torch.device = torch.device("cpu")
    start = 0
    history: list
    #: (label, row key, format) of the epoch's measures the bar shows from the epoch they are
    #: measured in (the GAN's KID, the VAE's held-out ELBO): they were only in the checkpoint.
    epoch_shown: tuple[tuple[str, str, str], ...] = ()
    #: An epoch whose mean first loss is over this many times the run's first step's is said to be
    #: diverging, once (finite losses that exploded: a VAE at lr 0.9 went from 2e3 to 1e10 and
    #: wrote samples of one gray). None: not watched (a GAN's losses are a contest, not a descent).
    rise: float | None = 100.0
    #: A run of fewer steps than this is said to be short (None: not said): a GAN of 30 pictures
    #: trained its default 25 epochs in 25 steps and wrote a grid of gray noise, without a word.
    least_steps: int | None = None
    #: Pictures of the run this one replaces (it started over): removed when this run's first
    #: checkpoint replaces that run's, those this run has not written over by then.
    stale: list[Path] = []

    # ---- hooks
    def batches(self, epoch: int) -> Iterable:
        """One epoch's batches (a DataLoader whose sampler has been told the epoch)."""
        raise NotImplementedError

    def step(self, batch, progress: float) -> torch.Tensor:
        """Trains on one batch; returns this rank's numbers (a 1-d tensor, in ``labels`` order).
        ``progress`` is the position in the run, from 0 to 1 (for schedules)."""
        raise NotImplementedError

    def end_epoch(self, epoch: int, means: dict) -> dict:
        """After epoch ``epoch`` (0-based) with the epoch's mean numbers (by ``keys``): validation,
        checks (raise ``self.error``), pictures. Returns the extra fields of the history row."""
        return {}

    def state(self, epochs_done: int) -> dict:
        """The checkpoint after ``epochs_done`` epochs (``self.history`` is up to date)."""
        raise NotImplementedError

    def after_step(self, values: dict) -> None:
        """Sees every step's numbers (by ``keys``), averaged over the ranks, as they come."""

    def postfix(self, values: dict) -> dict:
        """What the progress bar shows after a step (by default each label and its value)."""
        return {label: f"{values[k]:.3f}" for label, k in zip(self.labels, self.keys)}

    def summary(self) -> str | None:
        """A line printed on rank 0 after training (None: nothing)."""
        return None

    # ---- shared behaviour
    def kept(self, epochs_done: int) -> str:
        """What is left on disk when epoch ``epochs_done + 1`` fails."""
        if epochs_done > 0 and self.path.is_file():
            return f"the last good checkpoint ({self.path}, epoch {epochs_done}) is kept"
        return "no checkpoint was written"

    @contextmanager
    def _sweep(self):
        """Removes the files a run wrote beside its checkpoint when it fails before writing one."""
        folder = self.path.parent
        before = set(folder.iterdir()) if folder.is_dir() else set()
        try:
            yield
        except BaseException:
            if self.dist.main and not self.path.is_file() and folder.is_dir():
                for p in set(folder.iterdir()) - before:
                    if p.is_file():
                        p.unlink(missing_ok=True)
            raise

    @contextlib.contextmanager
    def _pictures_kept_with_checkpoint(self, epoch: int, since: float):
        """The pictures of ``epoch`` (``samples_epoch_NNN.png``...) written from ``since`` on are
        removed when the run stops before that epoch's checkpoint is written: a stop between them
        left a grid of an epoch no checkpoint holds."""
        try:
            yield
        except BaseException as stop:
            # (a stop held while the checkpoint was written comes after it, whole: its pictures stay)
            if self.dist.main and self.path.parent.is_dir() and getattr(stop, "written", None) != self.path:
                for p in self.path.parent.iterdir():
                    m = EPOCH_PICTURE.match(p.name)
                    with contextlib.suppress(OSError):
                        if m and int(m[2]) == epoch and p.stat().st_mtime >= since - 1:
                            p.unlink()
            raise

    def _say_short(self, epochs: int, iters: int) -> None:
        if not self.least_steps or epochs * iters >= self.least_steps:
            return

        def count(n: int) -> str:
            return f"{n} {self.unit}" + ("" if n == 1 else "es" if self.unit.endswith("ch") else "s")

        warn(
            f"{self.name}: {epochs} epoch{'s' * (epochs != 1)} of {count(iters)} {'are' if epochs != 1 else 'is'} "
            f"{count(epochs * iters)}, too few to draw more "
            f"than noise; pass epochs={math.ceil(self.least_steps / iters)} or more (a time budget, max_minutes= / --max-minutes, stops it early)"
        )

    def _plan(self, epoch: int, epochs: int, times: list, max_minutes, t_start) -> tuple[bool, float]:
        """(stop now, epochs that fit the budget): rank 0's decision, broadcast to every rank."""
        if max_minutes is None or not times:
            return False, float(epochs)
        remaining = max_minutes * 60 - (time.monotonic() - t_start)
        mean = sum(times) / len(times)
        fit = min(epochs, epoch + max(1, math.floor(remaining / mean)))
        plan = self.dist.broadcast(torch.tensor([float(remaining < mean), fit], dtype=torch.float64))
        return bool(plan[0].item()), float(plan[1].item())

    def _epoch(self, epoch: int, horizon: float, iters: int, bar) -> dict:
        sums, n = None, 0
        for it, batch in enumerate(self.batches(epoch)):
            local = self.step(batch, (epoch + it / iters) / horizon)
            values = self.dist.mean(local.detach().double().cpu().reshape(-1)).tolist()
            if not all(map(math.isfinite, values[: self.losses])):
                shown = ", ".join(f"{k}={v}" for k, v in zip(self.labels, values[: self.losses]))
                raise self.error(
                    f"{self.name}: training diverged at epoch {epoch + 1}, {self.unit} {it + 1}: {shown}; "
                    f"stopped, {self.kept(epoch)}. {self.hint}"
                )
            if self._first is None:
                self._first = values[0]
            self.after_step(dict(zip(self.keys, values)))
            sums = values if sums is None else [a + b for a, b in zip(sums, values)]
            n += 1
            bar.update(1)
            bar.set_postfix(self.postfix(dict(zip(self.keys, values))) | self._measured, refresh=False)
        means = dict(zip(self.keys, [s / max(n, 1) for s in sums or [0.0] * len(self.keys)]))
        return dict(means, iterations=n)

    def _watch_rise(self, epoch: int, mean: float) -> None:
        first = self._first
        if self.rise is None or self._warned or first is None or not first > 0 or not self.dist.main:
            return
        if mean > self.rise * first:
            self._warned = True
            warn(
                f"{self.name}: the {self.labels[0]} rose from {first:.4g} (the run's first {self.unit}) to "
                f"{mean:.4g} (epoch {epoch + 1}): training is diverging. {self.hint}"
            )

    def _drop_stale(self, began: float) -> None:
        for p in self.stale:
            with contextlib.suppress(OSError):
                if p.stat().st_mtime < began:
                    p.unlink()
        self.stale = []

    def _check_finite(self, state: dict | None, epoch: int) -> None:
        """No checkpoint with NaN or infinite weights or statistics is written: the losses can
        stay finite (1e11) while BatchNorm's running variance overflows. Rank 0 decides."""
        bad = non_finite(state) if state is not None else None
        if self.dist.broadcast(torch.tensor([float(bad is not None)])).item():
            raise self.error(
                f"{self.name}: training diverged in epoch {epoch + 1}: {bad or 'the state'} is not finite; "
                f"stopped, {self.kept(epoch)}. {self.hint}"
            )

    def _show_measured(self, bar, row: dict) -> None:
        """The bar as the epoch ends, with what its end measured (a held-out score shown during
        an epoch was the last one's: the bar said 0.6757 beside a summary of 0.7466)."""
        shown = {label: format(row[k], fmt) for label, k, fmt in self.epoch_shown if isinstance(row.get(k), float)}
        self._measured = shown
        bar.set_postfix(self.postfix({k: row[k] for k in self.keys}) | shown)

    def fit(self, epochs: int, iters: int, *, max_minutes=None, t_start=None, progress=True) -> Path:
        """Trains from epoch ``self.start`` up to ``epochs`` (``iters`` steps each); returns the path."""
        show = progress and self.dist.main
        if self.start >= epochs:
            if show:
                print(
                    f"{self.name}: {self.path} already has {self.start} epochs, as many as asked ({epochs}) or "
                    "more; nothing to do",
                    file=sys.stderr,
                )
            return self.path
        if self.dist.main:  # (a warning, said under -q too)
            self._say_short(epochs, iters)
        if show and self.start:  # (only the bar's first epoch number said so)
            print(f"{self.name}: resuming {self.path} after epoch {self.start} of {epochs}", file=sys.stderr)
        t_start = time.monotonic() if t_start is None else t_start
        self._measured: dict = {}
        times: list[float] = []
        self._first: float | None = None
        self._warned = False
        began = time.time()  # (file times are wall-clock)
        bar = tqdm(
            total=(epochs - self.start) * iters,
            desc=f"epoch {self.start + 1}/{epochs}",  # (without it a bar with no name came first)
            disable=not show,
            unit=self.unit,
            dynamic_ncols=True,
        )
        # The checkpoint's folder, made here; a run that fails before its first checkpoint leaves
        # nothing (neither the folder nor the first epoch's sample grid).
        with Made(self.path.parent, make=self.dist.main), _closing(bar), self._sweep():
            for epoch in range(self.start, epochs):
                stop, horizon = self._plan(epoch, epochs, times, max_minutes, t_start)
                if stop:
                    bar.total = bar.n  # (it ended at "93%, 16 fit" after stopping at 15)
                    bar.set_description(f"epoch {epoch}/{epochs}")
                    if show:
                        bar.write(
                            f"stopped after epoch {epoch} of {epochs}: the next would end past the time "
                            f"budget of {max_minutes:g} min"
                        )
                    break
                t_epoch, wall = time.monotonic(), time.time()
                bar.set_description(f"epoch {epoch + 1}/{epochs}" + _fitting(bar, horizon, epochs, self.start, iters))
                row = self._epoch(epoch, horizon, iters, bar)
                self._watch_rise(epoch, row[self.keys[0]])
                with self._pictures_kept_with_checkpoint(epoch + 1, wall):
                    row = {"epoch": epoch + 1, **row, **self.end_epoch(epoch, row)}
                    self._show_measured(bar, row)
                    row["seconds"] = time.monotonic() - t_epoch
                    if self.dist.main:
                        self.history.append(row)
                    state = self.state(epoch + 1) if self.dist.main else None
                    self._check_finite(state, epoch)
                    if state is not None:
                        save_checkpoint(state, self.path)
                if state is not None:
                    self._drop_stale(began)
                times.append(time.monotonic() - t_epoch)
        line = self.summary() if show else None
        if line:
            print(line, file=sys.stderr)
        self.dist.barrier()
        return self.path


def _fitting(bar, horizon: float, epochs: int, start: int, iters: int) -> str:
    """The bar's total and a word for the epochs a time budget lets run: the bar counted every
    epoch asked, so its time left ignored the budget that would stop it sooner."""
    fit = min(int(horizon), epochs)
    bar.total = (fit - start) * iters  # (set back too, when a slow first epoch's estimate recovers)
    return "" if fit >= epochs else f" ({fit} fit the time budget)"
