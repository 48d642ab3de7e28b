"""Fuzzing the public ops with odd and wrong arguments: tile grids built by hand (tiles outside
the image, short blend weights), tensors of every dtype, rank, layout and size (empty and one
pixel included), absurd factors. Each call returns a result or raises TypeError/ValueError; none
crashes the process, reads outside its tensors or hangs (each runs in the fuzzing worker)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.fuzz.conftest import examples

SIDES = st.sampled_from([0, 1, 2, 3, 7, 17, 33])
DTYPES = st.sampled_from(["float32", "float32", "float64", "float16", "bfloat16", "int64", "uint8"])
LAYOUTS = st.sampled_from(["contiguous", "channels_last", "strided"])
ODD_INTS = st.sampled_from([-(2**40), -5, -1, 0, 1, 2, 3, 8, 17, 2**31, 2**62])
ODD_FLOATS = st.sampled_from([-1e308, -2.0, -0.0, 0.0, 1e-300, 0.5, 1.0, 1.7, 1e6, 1e308, float("inf"), float("nan")])


@st.composite
def image(draw, rank=None):
    n, c = draw(st.sampled_from([0, 1, 2])), draw(st.sampled_from([0, 1, 3, 4]))
    h, w = draw(SIDES), draw(SIDES)
    shape = draw(st.sampled_from([(n, c, h, w), (c, h, w), (h, w), (n, c, h, w, 2)] if rank is None else [rank]))
    return ("rand", shape, draw(DTYPES), draw(LAYOUTS))


@st.composite
def grid(draw):
    if draw(st.booleans()):
        size = (draw(SIDES), draw(SIDES))
        return (
            "grid",
            (size, draw(st.sampled_from([1, 4, 8, 16, 40]))),
            {"overlap": draw(st.sampled_from([None, 0, 2, 7]))},
        )
    ints = st.lists(ODD_INTS, min_size=0, max_size=3)
    size = (draw(SIDES), draw(SIDES))
    return (
        "hand-grid",
        size,
        tuple(draw(ints)),
        tuple(draw(ints)),
        draw(ODD_INTS),
        draw(ODD_INTS),
        (draw(st.sampled_from([0, 1, 2, 5])), draw(st.sampled_from([0, 1, 3, 8, 40]))),
        (draw(st.sampled_from([0, 1, 2, 5])), draw(st.sampled_from([0, 1, 3, 8, 40]))),
    )


@st.composite
def call(draw):
    op = draw(
        st.sampled_from(
            [
                "extract_tiles",
                "blend_tiles",
                "zoom_shift",
                "ascent_step_",
                "tile_grid",
                "laplacian_normalize",
                "smooth_gradient",
            ]
        )
    )
    if op == "extract_tiles":
        return op, (draw(image()), draw(grid())), {"roll": (draw(ODD_INTS), draw(ODD_INTS))}
    if op == "blend_tiles":
        return op, (draw(image()), draw(grid())), {"roll": (draw(ODD_INTS), draw(ODD_INTS))}
    if op == "zoom_shift":
        kw = {"zoom": draw(ODD_FLOATS), "shift": (draw(ODD_FLOATS), draw(ODD_FLOATS)), "angle": draw(ODD_FLOATS)}
        return op, (draw(image()),), kw
    if op == "ascent_step_":
        return (
            op,
            (draw(image()), draw(image()), draw(ODD_FLOATS)),
            {"norm": draw(st.sampled_from(["std", "mean_abs", "x"]))},
        )
    if op == "tile_grid":
        return (
            op,
            ((draw(ODD_INTS), draw(ODD_INTS)), draw(ODD_INTS)),
            {"overlap": draw(st.sampled_from([None, -1, 0, 3, 2**40]))},
        )
    if op == "laplacian_normalize":
        return op, (draw(image()),), {"levels": draw(ODD_INTS)}
    return op, (draw(image()), draw(ODD_FLOATS)), {}


def test_the_public_ops_never_crash_and_say_what_is_wrong(worker):
    """A crash (the worker dying: a segfault, an abort) fails at once; other errors than
    TypeError/ValueError, and hangs, are collected and fail the test together."""
    findings: dict[tuple, tuple] = {}

    @settings(max_examples=examples(12, 3000), deadline=None, database=None)
    @given(c=call())
    def one(c):
        name, args, kwargs = c
        r = worker.run("op", name, args, kwargs, timeout=60)
        assert r.status != "died", f"fd.ops.{name}{args} {kwargs} crashed the process: {r}"
        if r.status == "ok":
            return
        if r.status == "raised":
            kind, message, _ = r.value
            if kind in ("TypeError", "ValueError") and message and "\n" not in message.strip()[:300]:
                return
            findings.setdefault((name, kind, message.split("\n")[0][:80]), (args, kwargs))
        else:
            findings.setdefault((name, "hang", ""), (args, kwargs))

    one()
    if findings:
        shown = "; ".join(f"{n}: {k} {m} {a}" for (n, k, m), a in list(findings.items())[:8])
        pytest.fail(f"{len(findings)} finding(s) in fastdream/ops: {shown}")
