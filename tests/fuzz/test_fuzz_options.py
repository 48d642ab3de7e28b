"""Fuzzing the numbers a user can type: every numeric option of every command, with absurd values
(huge, negative, zero, not finite, not a number). Each run ends quickly, in success or one line
naming the option, with the inputs intact and nothing left behind on failure."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.fuzz import setups
from tests.fuzz.conftest import examples
from tests.fuzz.contract import check, snapshot

INTS = ["-1", "0", "1", "2", str(2**31), str(2**63), str(2**64), str(10**30), "1e308", "nan", "inf", "3.5", "x", ""]
REALS = ["-1", "0", "-0", "1e-300", "1e-30", "0.5", "1e30", "1e308", "1e400", "nan", "inf", "-inf", "x"]

#: Each command's numeric options: (option, values per slot, slots).
OPTIONS = {
    "dream": [
        ("--octaves", INTS),
        ("--octave-scale", REALS),
        ("--steps", INTS),
        ("--step-size", REALS),
        ("--jitter", INTS),
        ("--tile", INTS),
        ("--smooth", REALS),
        ("--seed", INTS),
    ],
    "zoom": [("--frames", INTS), ("--zoom", REALS), ("--angle", REALS), ("--fps", REALS), ("--shift", REALS, 2)],
    "dream-video": [("--blend", REALS), ("--start", INTS), ("--end", INTS), ("--fps", REALS)],
    "style": [
        ("--size", INTS),
        ("--style-scale", REALS),
        ("--steps", INTS),
        ("--octaves", INTS),
        ("--content-weight", REALS),
        ("--style-weight", REALS),
        ("--tv-weight", REALS),
        ("--tile", INTS),
        ("--style-weights", REALS),
    ],
    "cutout": [("--threshold", REALS), ("--bg-color", INTS, 3)],
    "train-unet": [
        ("--epochs", INTS),
        ("--batch-size", INTS),
        ("--image-size", INTS),
        ("--base-channels", INTS),
        ("--depth", INTS),
        ("--lr", REALS),
        ("--val-split", REALS),
        ("--max-minutes", REALS),
        ("--seed", INTS),
    ],
    "train-gan": [
        ("--nz", INTS),
        ("--ngf", INTS),
        ("--ndf", INTS),
        ("--lr", REALS),
        ("--beta1", REALS),
        ("--batch-size", INTS),
        ("--seed", INTS),
    ],
    "train-vae": [("--latent-dim", INTS), ("--beta", REALS), ("--kl-warmup", REALS), ("--lr", REALS)],
    "sample-gan": [("-n", INTS), ("--seed", INTS)],
    "gan-walk": [("--frames", INTS), ("--points", INTS), ("--fps", REALS)],
    "sample-vae": [("-n", INTS), ("--temperature", REALS)],
    "vae-walk": [("--frames", INTS), ("--points", INTS)],
}
CASES = [(cmd, spec) for cmd, specs in OPTIONS.items() for spec in specs]


@settings(max_examples=examples(14, 1500), deadline=None)
@given(case=st.sampled_from(CASES), data=st.data())
def test_absurd_numbers_are_refused_in_one_line(worker, case, data):
    command, spec = case
    option, values = spec[0], spec[1]
    slots = data.draw(st.integers(1, spec[2] + 2), label="values") if len(spec) > 2 else 1
    picked = [data.draw(st.sampled_from(values), label=option) for _ in range(slots)]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        argv = setups.inputs(root, command)
        before = snapshot(root)
        argv = [*argv, option, *picked] if picked[0] != "" else [*argv, option]
        check(worker.cli(argv, root, timeout=180), argv, before, root)
