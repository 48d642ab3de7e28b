"""Fuzzing checkpoints: files that pass ``torch.load(weights_only=True)`` and name the right
format but lack keys, hold the wrong types, ask for absurd sizes or do not fit their network, and
files that are not checkpoints at all. Sampling, walking, cutting out and resuming a training
from them each end in success or one line, with the checkpoint itself left as it was."""

from __future__ import annotations

import copy
import io
import tempfile
from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.fuzz import setups
from tests.fuzz.conftest import examples
from tests.fuzz.contract import check, snapshot

#: What a value in a checkpoint may be replaced with.
ODD = [None, "x", -1, 0, 2**40, 10**30, 1.5, float("nan"), [], {}, True, ("tensor", (3,)), ("tensor", (0,))]
#: Commands that read a checkpoint: (its kind, how to make it, the command line around it).
USES = {
    "sample-gan": "gan",
    "gan-walk": "gan",
    "sample-vae": "vae",
    "vae-walk": "vae",
    "cutout": "unet",
    "resume-gan": "gan-trained",
    "resume-vae": "vae-trained",
    "resume-unet": "unet-trained",
    "resume-dreamer": "dreamer-trained",
    "dream-dreamer": "dreamer-trained",
}


class Trained(dict):
    def __repr__(self) -> str:  # hypothesis prints the fixtures of a failing case
        return f"<the checkpoints of one tiny epoch: {', '.join(self)}>"


@pytest.fixture(scope="module")
def trained(worker, tmp_path_factory):
    """Checkpoints of one tiny epoch of each trainer (what resuming reads)."""
    root = tmp_path_factory.mktemp("trained")
    out = Trained()
    for command, path in (
        ("train-gan", "run/checkpoint.pt"),
        ("train-vae", "run/checkpoint.pt"),
        ("train-unet", "unet.pt"),
        ("train-dreamer", "dreamer.pt"),
    ):
        sub = root / command
        sub.mkdir()
        argv = setups.inputs(sub, command)
        rc, _, err = worker.cli(argv, sub, timeout=300)
        assert rc == 0, err
        out[command.split("-")[1] + "-trained"] = torch.load(sub / path, weights_only=True)
    return out


def _paths(state, prefix=()):
    """Every key path of a nested dict (tensors of a state dict included)."""
    if isinstance(state, dict):
        for k, v in state.items():
            yield (*prefix, k)
            yield from _paths(v, (*prefix, k))


def _value(v):
    if isinstance(v, tuple) and v and v[0] == "tensor":
        return torch.zeros(v[1])
    return v


def mutate(state, data) -> object:
    """``state`` with one thing wrong, drawn by ``data``."""
    how = data.draw(st.sampled_from(["drop", "replace", "reshape", "top", "format", "version"]), label="how")
    state = copy.deepcopy(state)
    paths = list(_paths(state))
    if how in ("drop", "replace", "reshape") and paths:
        path = data.draw(st.sampled_from(paths), label="path")
        parent = state
        for k in path[:-1]:
            parent = parent[k]
        if how == "drop":
            del parent[path[-1]]
        elif how == "replace":
            parent[path[-1]] = _value(data.draw(st.sampled_from(ODD), label="value"))
        elif isinstance(parent[path[-1]], torch.Tensor):
            t = parent[path[-1]]
            parent[path[-1]] = torch.zeros(*[s + 1 for s in t.shape]) if t.dim() else torch.zeros(2)
    elif how == "top":
        return data.draw(st.sampled_from([[], 3, "checkpoint"]), label="top")
    elif how == "format":
        state["format"] = data.draw(st.sampled_from(["fastdream.vae", "fastdream.unet", "fastdream.dcgan", "x", 7]))
    else:
        state["version"] = data.draw(st.sampled_from([99, -1, "1", None]), label="version")
    return state


def _bytes(state, data) -> bytes:
    buf = io.BytesIO()
    torch.save(state, buf)
    raw = buf.getvalue()
    damage = data.draw(st.sampled_from(["none", "none", "none", "truncated", "random", "object"]), label="file")
    if damage == "truncated":
        return raw[: data.draw(st.integers(0, len(raw) - 1), label="cut")]
    if damage == "random":
        return bytes(data.draw(st.binary(min_size=0, max_size=300), label="bytes"))
    if damage == "object":  # a pickle that weights_only refuses to load
        buf = io.BytesIO()
        torch.save({"format": "fastdream.dcgan", "config": Path("x")}, buf)
        return buf.getvalue()
    return raw


def _command(root: Path, use: str, ckpt: Path) -> list[str]:
    if use.startswith("resume-"):
        command = "train-" + use.split("-", 1)[1]
        argv = setups.inputs(root, command)
        return [*argv, "--epochs", "2"]
    if use == "dream-dreamer":
        setups.picture(root / "in.png")
        return ["dream", "in.png", "-o", "out.png", "--model", ckpt.name, "--subject", "cat", *setups.DREAM]
    if use == "cutout":
        setups.picture(root / "in.png")
        return ["cutout", "in.png", "-o", "out.png", "--model", ckpt.name]
    if use.startswith("sample"):
        return [use, ckpt.name, "-o", "samples", "-n", "2", "--seed", "0"]
    return [use, ckpt.name, "-o", "walk.gif", "--frames", "2", "--seed", "0"]


@settings(max_examples=examples(10, 1500), deadline=None)
@given(use=st.sampled_from(list(USES)), data=st.data())
def test_crafted_checkpoints_are_refused_in_one_line(worker, trained, use, data):
    kind = USES[use]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        if kind.endswith("trained"):
            state = trained[kind]
        else:
            state = getattr(setups, f"{kind}_checkpoint")(root / "base.pt")
            (root / "base.pt").unlink()
        argv = _command(root, use, root / "model.pt")
        ckpt = {
            "resume-gan": "run/checkpoint.pt",
            "resume-vae": "run/checkpoint.pt",
            "resume-unet": "unet.pt",
            "resume-dreamer": "dreamer.pt",
        }
        path = root / ckpt.get(use, "model.pt")
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(_bytes(mutate(state, data), data))
        before = snapshot(root)
        rel = str(path.relative_to(root))
        inputs = [k for k in before if k != "run"] if not use.startswith("resume") else [k for k in before if k != rel]
        rc = check(worker.cli(argv, root, timeout=300), argv, before, root, inputs=inputs)
        if rc != 0 and use.startswith("resume"):
            assert snapshot(root).get(rel) == before[rel], f"{argv}: a refused checkpoint was changed"
