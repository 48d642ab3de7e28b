"""fastdream.io.output_lock and the library's functions that hold it: two runs into one output at
once are refused (two scripts, or a script beside a command), one run that takes its own lock
again is not (the command line's lock, then the function it calls)."""

import os
import threading
from contextlib import contextmanager

import numpy as np
import pytest
import torch
from PIL import Image

import fastdream as fd
from fastdream.io.lock import OutputBusyError, output_lock
from tests.helpers import GAN_TINY, write_image_folder


@contextmanager
def held_elsewhere(path):
    """``path``'s lock, held by another thread for the block (as another run would hold it)."""
    taken, done = threading.Event(), threading.Event()

    def hold():
        with output_lock(path, "theirs"):
            taken.set()
            done.wait(60)

    t = threading.Thread(target=hold)
    t.start()
    assert taken.wait(10)
    try:
        yield
    finally:
        done.set()
        t.join()


def test_a_lock_is_refused_elsewhere_and_taken_again_by_its_thread(tmp_path):
    out = tmp_path / "o"
    with output_lock(out, "out") as first:
        with output_lock(out, "out") as again:  # the same thread: no second lock, no refusal
            assert first is True and again is False
        with held_elsewhere(tmp_path / "other"):  # another output: no conflict
            pass
        errors = []
        t = threading.Thread(target=lambda: errors.append(_try(out)))
        t.start()
        t.join()
        assert isinstance(errors[0], OutputBusyError) and isinstance(errors[0], ValueError)
        assert "out is being written by another run of this process" in str(errors[0])
    assert _try(out) is None  # released when the block ends (the inner one did not release it)


def _try(path):
    try:
        with output_lock(path, "out"):
            return None
    except OutputBusyError as exc:
        return exc


def test_a_folder_dream_is_refused_while_another_writes_its_folder(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    Image.fromarray(np.full((40, 48, 3), 128, np.uint8)).save(src / "a.png")
    out = tmp_path / "out"
    with held_elsewhere(out), pytest.raises(ValueError, match=r"output_dir: .*out is being written by another run"):
        fd.dream_folder(src, out, octaves=1, steps=1, seed=0)
    assert not out.exists()
    with output_lock(out, "output"):  # the command line's own lock, held by the thread that calls
        report = fd.dream_folder(src, out, octaves=1, steps=1, seed=0)
    assert [p.name for p in report.written] == ["a.png"]


def test_a_video_is_refused_while_another_writes_its_frames(tmp_path):
    img = torch.rand(1, 3, 40, 48)
    with (
        held_elsewhere(tmp_path / "shared"),
        pytest.raises(ValueError, match=r"frames_dir: .*shared is being written by another run"),
    ):
        fd.zoom_video(img, tmp_path / "z.gif", frames=2, frames_dir=tmp_path / "shared", steps=1, octaves=1)
    with (
        held_elsewhere(tmp_path / "z.gif"),
        pytest.raises(ValueError, match=r"out_path: .*z.gif is being written by another run"),
    ):
        fd.zoom_video(img, tmp_path / "z.gif", frames=2, steps=1, octaves=1)
    assert sorted(os.listdir(tmp_path)) == []


def test_a_training_is_refused_while_another_writes_its_checkpoint(tmp_path):
    folder = write_image_folder(tmp_path / "imgs")
    with (
        held_elsewhere(tmp_path / "run"),
        pytest.raises(ValueError, match=r"out_dir: .*run is being written by another run"),
    ):
        fd.train_gan(folder, tmp_path / "run", epochs=1, **GAN_TINY)
    assert not (tmp_path / "run").exists()


def _live(running, seconds: float) -> None:
    import time as _time

    running.set()
    _time.sleep(seconds)


def test_a_forked_child_does_not_keep_the_lock(tmp_path):
    """A flock belongs to the open file: a DataLoader worker forked during a training held the
    checkpoint's lock while it lived (a notebook keeping a failed run's workers refused the next)."""
    import multiprocessing

    fork = multiprocessing.get_context("fork")
    running = fork.Event()
    with output_lock(tmp_path / "run", "out_dir"):
        child = fork.Process(target=_live, args=(running, 30))
        child.start()
    try:
        # (the child closes its copy of the lock in its first instants; a loaded machine may not
        # have run it yet when the parent looks)
        assert running.wait(60)
        errors = []
        t = threading.Thread(target=lambda: errors.append(_try(tmp_path / "run")))
        t.start()
        t.join()
        assert errors == [None], errors  # free, though the child lives on
    finally:
        child.kill()
        child.join()
