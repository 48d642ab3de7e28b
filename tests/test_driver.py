"""The one driver of dream, low-memory dream and style transfer: the step hook, Cancelled, the
caller's RNG left alone, and the same words in the shell and in Python."""

import functools

import numpy as np
import pytest
import torch
from PIL import Image

import fastdream as fd
from fastdream import driver
from fastdream.cli import main

IMG = (np.random.default_rng(0).random((48, 64, 3)) * 255).astype(np.uint8)
QUICK = dict(octaves=2, steps=2, seed=0)


def _untouched(fn) -> bool:
    torch.manual_seed(0)
    expected = torch.rand(4)
    torch.manual_seed(0)
    fn()
    return torch.equal(torch.rand(4), expected)


@pytest.mark.parametrize("seed", [None, 3])
def test_the_callers_random_state_is_left_alone(tmp_path, seed):
    # the first dream also builds the default network (its init draws random numbers)
    assert _untouched(lambda: fd.dream(IMG, octaves=1, steps=2, seed=seed))
    assert _untouched(lambda: fd.dream(IMG, octaves=1, steps=2, seed=seed, low_memory=True))
    assert _untouched(lambda: fd.style_transfer(IMG, IMG[::-1], octaves=1, steps=2, seed=seed, init="noise"))
    assert _untouched(lambda: fd.zoom_video(IMG, tmp_path / "z.gif", frames=2, steps=1, seed=seed, resume=False))


def test_unseeded_runs_differ_and_seeded_ones_repeat():
    a, b = fd.dream(IMG, octaves=1, steps=2), fd.dream(IMG, octaves=1, steps=2)
    assert not np.array_equal(a, b)
    assert np.array_equal(fd.dream(IMG, **QUICK), fd.dream(IMG, **QUICK))


def test_seeds_that_differ_past_32_bits_draw_different_pictures():
    """torch's CPU generator keeps a seed's low 32 bits: seed 7 + 2**32 (a 63-bit draw, a
    nanosecond clock) repeated seed 7's picture; seeds below 2**32 keep theirs."""
    quick = dict(octaves=1, steps=2)
    seven = fd.dream(IMG, seed=7, **quick)
    for seed in (7 + 2**32, 7 + 5 * 2**32, 2**63 - 1):
        assert not np.array_equal(fd.dream(IMG, seed=seed, **quick), seven), seed
    assert not np.array_equal(fd.dream(IMG, seed=7 + 2**32, **quick), fd.dream(IMG, seed=7 + 5 * 2**32, **quick))
    plain = torch.Generator().manual_seed(7)  # (the pictures of seeds under 2**32 did not change)
    assert torch.equal(driver.generator(7).get_state(), plain.get_state())
    from fastdream._checks import torch_seed
    from fastdream.gan.trainer import _seed
    from fastdream.models.latent import latent_generator as z

    # A training's seeds derived from a user seed under 2**32 draw as before the fold (a resumed
    # run, the same crops and noise); past 2**32 they differ from the seed 2**32 below.
    pairs = [(user, epoch) for user in (5000, 12345) for epoch in (0, 3)]
    assert [torch_seed(_seed(u, e, 0), of=u) for u, e in pairs] == [_seed(u, e, 0) for u, e in pairs]
    a, b = (torch_seed(_seed(u, 3, 0), of=u) for u in (5000, 5000 + 2**32))
    assert a != b and a == _seed(5000, 3, 0)

    assert not torch.equal(torch.randn(4, generator=z(3)), torch.randn(4, generator=z(3 + 2**32)))


def test_dreams_in_threads_give_what_each_gives_alone():
    """Two dreams at once share the cached network (the web app's --jobs 2 runs them so): each
    took the other's layer outputs, giving a wrong picture or "produced no output"."""
    import threading

    alone = {s: fd.dream(IMG, octaves=1, steps=3, seed=s) for s in (1, 2, 3)}

    def dream(s, got):
        got[s] = fd.dream(IMG, octaves=1, steps=3, seed=s)

    for _ in range(3):
        got: dict = {}
        threads = [threading.Thread(target=dream, args=(s, got)) for s in alone]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(got) == sorted(alone) and all(np.array_equal(got[s], alone[s]) for s in alone)


@pytest.mark.parametrize("low_memory", [False, True])
def test_the_hook_sees_every_step_and_a_preview_of_the_inputs_kind(low_memory):
    states = []

    def hook(state):
        states.append((state.octave, state.octaves, state.step, state.total, state.octave_step, state.size))
        if state.step == 3:
            pic = state.image()
            assert isinstance(pic, np.ndarray) and pic.dtype == np.uint8
            assert pic.shape == (*state.size, 3)
        assert np.isfinite(state.loss)

    out = fd.dream(IMG, callback=hook, low_memory=low_memory, **QUICK)
    assert out.shape == IMG.shape
    small = states[0][5]
    assert states == [
        (0, 2, 1, 4, 1, small),
        (0, 2, 2, 4, 2, small),
        (1, 2, 3, 4, 1, (48, 64)),
        (1, 2, 4, 4, 2, (48, 64)),
    ]
    # a hook that only watches changes nothing
    assert np.array_equal(out, fd.dream(IMG, low_memory=low_memory, **QUICK))


def test_the_dream_loss_grows():
    losses = []
    fd.dream(IMG, octaves=1, steps=6, seed=0, callback=lambda s: losses.append(s.loss))
    assert losses[-1] > losses[0]


@pytest.mark.parametrize(
    "image, kind",
    [
        (IMG, np.ndarray),
        (Image.fromarray(IMG), Image.Image),
        (torch.from_numpy(IMG).permute(2, 0, 1) / 255, torch.Tensor),
    ],
)
def test_false_stops_within_the_step_and_cancelled_carries_the_picture(image, kind):
    calls = []

    def stop_on_third(state):
        calls.append(state.step)
        return len(calls) < 3

    with pytest.raises(fd.Cancelled) as err:
        fd.dream(image, octaves=2, steps=4, seed=0, callback=stop_on_third)
    assert calls == [1, 2, 3]  # no fourth call
    assert isinstance(err.value.image, kind)
    assert "step 3 of 8" in str(err.value)


def test_style_transfer_hook_and_cancel():
    losses = []
    fd.style_transfer(IMG, IMG[:, ::-1], octaves=1, steps=4, seed=0, callback=lambda s: losses.append(s.loss))
    assert len(losses) == 4 and losses[-1] < losses[0]
    with pytest.raises(fd.Cancelled) as err:
        fd.style_transfer(IMG, IMG[:, ::-1], octaves=2, steps=2, seed=0, callback=lambda s: False)
    assert isinstance(err.value.image, np.ndarray) and err.value.image.dtype == np.uint8


def test_a_lengthened_zoom_says_its_frames_of_the_whole_video(tmp_path):
    """Lengthened from 2 to 4 frames, the states said frame 2 of 2, then 3 of 2."""
    fd.zoom_video(IMG, tmp_path / "z.gif", frames=2, steps=1, seed=0)
    seen = []
    fd.zoom_video(IMG, tmp_path / "z.gif", frames=4, steps=1, seed=0, callback=lambda s: seen.append(s))
    assert [(s.frame, s.frames, s.step, s.total) for s in seen] == [(2, 4, 1, 2), (3, 4, 2, 2)]


def test_a_cancelled_zoom_keeps_its_finished_frames_and_writes_no_video(tmp_path):
    seen = []

    def hook(state):
        seen.append((state.frame, state.frames, state.step, state.total))
        assert state.image().size == (64, 48) and state.image().mode == "RGB"  # a frame is a picture (was a tensor)
        return not (state.frame == 1 and state.octave_step == 1)

    out = tmp_path / "z.gif"
    with pytest.raises(fd.Cancelled) as stop:
        fd.zoom_video(IMG, out, frames=3, steps=2, seed=0, callback=hook)
    assert seen == [(0, 3, 1, 6), (0, 3, 2, 6), (1, 3, 3, 6)]
    assert str(stop.value) == "stopped by the callback after step 3 of 6 (frame 1)" and stop.value.image.size == (
        64,
        48,
    )
    assert not out.exists()
    assert sorted(p.name for p in (tmp_path / "z_frames").glob("*.png")) == ["frame_00000.png"]
    assert [p for p in tmp_path.rglob("*") if ".tmp" in p.name] == []
    fd.zoom_video(IMG, out, frames=3, steps=2, seed=0)  # resumes
    assert out.exists()


def test_bad_callbacks_are_refused():
    with pytest.raises(TypeError, match="callback"):
        fd.dream(IMG, callback=3, **QUICK)
    with pytest.raises(TypeError, match="callback"):
        fd.style_transfer(IMG, IMG, callback="yes", octaves=1, steps=1)


def test_an_async_or_generator_callback_is_refused_not_silently_never_run():
    """An ``async def`` hook (a notebook widget's) was accepted: each call made a coroutine that
    never ran, so its Stop did nothing; a generator's body did not run either."""

    async def coroutine(state):
        return False

    def generator(state):
        yield False

    class Awaited:
        async def __call__(self, state):
            return False

    for hook in (coroutine, generator, Awaited(), functools.partial(coroutine)):
        with pytest.raises(TypeError, match="callback must be a plain function .* not an async def or a generator"):
            fd.dream(IMG, callback=hook, **QUICK)


def test_a_failing_hook_propagates_its_own_error():
    def boom(state):
        raise KeyError("mine")

    with pytest.raises(KeyError, match="mine"):
        fd.dream(IMG, callback=boom, **QUICK)


def test_the_shell_and_python_make_the_same_zoom(tmp_path):
    src = tmp_path / "in.png"
    Image.fromarray(IMG).save(src)
    assert main([*f"zoom {src} -o {tmp_path / 'a.gif'} --frames 2 --seed 0 -q".split()]) == 0
    fd.zoom_video(str(src), tmp_path / "b.gif", frames=2, seed=0)
    for k in range(2):
        a = np.asarray(Image.open(tmp_path / "a_frames" / f"frame_{k:05d}.png"))
        b = np.asarray(Image.open(tmp_path / "b_frames" / f"frame_{k:05d}.png"))
        assert np.array_equal(a, b)


def test_the_shell_and_python_make_the_same_dream(tmp_path):
    src = tmp_path / "in.png"
    Image.fromarray(IMG).save(src)
    assert main([*f"dream {src} -o {tmp_path / 'a.png'} --octaves 2 --steps 2 --seed 0 -q".split()]) == 0
    assert np.array_equal(np.asarray(Image.open(tmp_path / "a.png")), np.asarray(fd.dream(str(src), **QUICK)))


def test_the_cli_leaves_every_default_to_the_library():
    from fastdream.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    for name, command in sub.choices.items():
        for action in command._actions:
            if action.dest in ("help", "input", "func", "quiet", "overwrite", "list_layers", "list_presets"):
                continue  # print and exit, or the command's own
            if action.required:
                continue
            if action.default is False and (action.dest.startswith("no_") or action.dest in ("hard", "invert_mask")):
                continue  # a --no-X switch: when absent, the library's default is used (off() gives None)
            if action.dest in ("json", "gray"):
                continue  # the command's own output format; --channels 1
            if name == "ui" and action.dest in ("host", "port", "max_upload_mb", "max_megapixels"):
                continue  # the web server's own address and upload limit, shown in --help
            if name in ("gan-walk", "vae-walk", "sample-gan", "sample-vae") and action.dest in (
                "frames",
                "fps",
                "n",
                "dream_size",
                "steps",
                "dream",
            ):
                continue  # what the command itself does with the samples, not a library option
            assert action.default is None, f"fastdream {name} {action.option_strings}: default {action.default!r}"


def test_pyramid_keeps_the_full_size_and_warns_when_it_drops_octaves():
    with pytest.warns(UserWarning, match="using 2 of 5 octaves"):
        sizes = driver.pyramid(50, 60, 5, 1.4, min_side=32)
    assert sizes[-1] == (50, 60) and len(sizes) == 2


def test_octaves_that_round_to_one_size_are_said_as_such():
    """Merged octaves were reported as shrinking below the least size, which they did not."""
    with pytest.warns(UserWarning, match=r"using 1 of 3 octaves: at scale 1.0001 some octaves round to the same size"):
        assert driver.pyramid(160, 160, 3, 1.0001, min_side=32) == [(160, 160)]


def test_the_bar_says_the_octave_and_the_time_left_weighs_each_step_by_its_pixels(capsys, monkeypatch):
    """At step 3 of 6 of a 2048 px dream tqdm's even rate said 2 s left, where 37 s were; the bar
    never said which octave it was in."""
    import time

    from fastdream.driver import _Eta

    eta = _Eta([100 * 100, 300 * 300], steps=2)
    assert eta.left(1) == ""  # the first step is not timed: it carries the network's first call
    eta.start = time.monotonic() - 2.0  # the second step of the small octave took 2 s
    assert eta.left(2) == "00:36"  # the two of the 9x larger one take ~36 s
    bar = driver.tqdm
    monkeypatch.setattr(driver, "tqdm", lambda *a, **k: bar(*a, mininterval=0, **k))  # every step drawn
    fd.dream(torch.rand(3, 96, 128), octaves=2, steps=2, progress=True)
    err = capsys.readouterr().err
    assert "dream, octave 2/2 (128x96): 100%" in err and " left]" in err, err
