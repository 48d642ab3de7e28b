"""Fuzzing the ways in of images: every mode, depth and size class read correctly; truncated,
corrupt, hostile and special files refused in one line, with nothing written and the input intact."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from tests.fuzz import files, setups
from tests.fuzz.conftest import examples
from tests.fuzz.contract import check, snapshot

KINDS = [(mode, fmt) for mode, fmts in files.MODES.items() for fmt in fmts]
DREAM = ["--octaves", "1", "--steps", "1", "--step-size", "0.002", "--seed", "0", "-q"]


def _write(root: Path, mode: str, fmt: str, size, seed: int):
    path = root / f"in.{fmt}"
    try:
        want = files.write_image(path, mode, size, seed)
    except (OSError, ValueError, KeyError):  # a mode this format cannot store
        return None, None
    return path, want


@settings(max_examples=examples(12, 1000), deadline=None)
@given(kind=st.sampled_from(KINDS), size=st.sampled_from(files.SIZES), seed=st.integers(0, 2**16), low=st.booleans())
def test_every_mode_depth_and_size_reads_correctly(worker, kind, size, seed, low):
    mode, fmt = kind
    with tempfile.TemporaryDirectory() as tmp:
        path, want = _write(Path(tmp), mode, fmt, size, seed)
        if path is None:
            return
        r = worker.run("load", str(path), low)
        assert r.status == "ok", f"{mode} {fmt} {size}: {r}"
        got = r.value
        assert got["rgb"].shape == want.rgb.shape, f"{mode} {fmt}: {got['rgb'].shape} != {want.rgb.shape}"
        err = np.abs(got["rgb"].astype(int) - want.rgb.astype(int))
        assert err.mean() <= max(want.tol / 3, 0.5) and err.max() <= max(want.tol * 4, 1), (
            f"{mode} {fmt}: off by {err.max()}"
        )
        if want.alpha is None:
            assert got["alpha"] is None or (got["alpha"] == 255).all(), f"{mode} {fmt}: alpha from nowhere"
        else:
            assert got["alpha"] is not None, f"{mode} {fmt} {'low-memory' if low else ''}: the alpha was dropped"
            a_err = np.abs(got["alpha"].astype(int) - want.alpha.astype(int))
            assert a_err.max() <= max(want.tol, 0), f"{mode} {fmt}: alpha off by {a_err.max()}"
        assert ("A" in got["mode"]) == (got["alpha"] is not None), f"{mode} {fmt}: given back as {got['mode']}"


def _levels_rgba(out: Image.Image) -> np.ndarray:
    """The picture as 0-255 RGBA levels. A deep gray result is given back in its mode (16-bit,
    float in [0, 1]), which Pillow's convert("RGBA") clips at 255 rather than scales."""
    if out.mode in ("I;16", "I;16B", "I", "F"):
        g = np.asarray(out, dtype=np.float64) * (255.0 if out.mode == "F" else 1 / 257)
        return np.dstack([g, g, g, np.full_like(g, 255.0)])
    return np.asarray(out.convert("RGBA"), dtype=np.float64)


@settings(max_examples=examples(6, 400), deadline=None)
@given(kind=st.sampled_from(KINDS), size=st.sampled_from(files.SIZES), seed=st.integers(0, 2**16), low=st.booleans())
def test_the_dream_of_an_odd_image_keeps_its_size_alpha_and_levels(worker, kind, size, seed, low):
    mode, fmt = kind
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        path, want = _write(root, mode, fmt, size, seed)
        if path is None:
            return
        before = snapshot(root)
        argv = ["dream", path.name, "-o", "out.png", *DREAM, *(["--low-memory"] if low else [])]
        rc = check(worker.cli(argv, root), argv, before, root)
        assert rc == 0
        with Image.open(root / "out.png") as out:
            assert out.size == size, f"{mode} {fmt}: {out.size} != {size}"
            assert ("A" in out.mode) == (want.alpha is not None), f"{mode} {fmt}: {out.mode}"
            a = _levels_rgba(out)
        assert np.isfinite(a).all()
        diff = abs(a[..., :3].mean() - want.rgb.mean())
        assert diff < 40, f"{mode} {fmt} {size}: mean level {a[..., :3].mean():.0f}, the input's {want.rgb.mean():.0f}"
        if want.alpha is not None and want.tol == 0:
            assert (a[..., 3] == want.alpha).all(), f"{mode} {fmt}: the alpha changed"


HOSTILE = ["truncated", "flipped", "empty", "text", "bad_exif", "bomb_header", "fifo", "folder", "huge_declared"]


def _hostile(root: Path, kind: str, seed: int) -> Path:
    path = root / ("in.jpg" if seed % 2 else "in.png")
    if kind in ("truncated", "flipped", "empty"):
        files.write_image(path, "RGB", (23, 17), seed)
        path.write_bytes(files.damage(path.read_bytes(), kind, seed))
    elif kind == "text":
        path.write_text("not an image at all\n" * (seed % 5))
    elif kind == "bad_exif":
        files.bad_exif(path, seed)
    elif kind == "bomb_header":
        path = root / "in.png"
        path.write_bytes(files.png_claiming(100_000 + seed, 90_000))
    elif kind == "huge_declared":  # within the pixel limit, beyond this machine's (limited) memory
        path = root / "in.png"
        path.write_bytes(files.png_claiming(30_000, 30_000, "RGB"))
    elif kind == "fifo":
        files.fifo(path)
    elif kind == "folder":
        path.mkdir()
    return path


@settings(max_examples=examples(10, 800), deadline=None)
@given(
    kind=st.sampled_from(HOSTILE),
    seed=st.integers(0, 2**16),
    command=st.sampled_from(
        ["dream", "dream-low", "zoom", "style", "guide", "style-image", "cutout", "video", "between"]
    ),
)
def test_hostile_files_are_one_line_and_leave_nothing(worker, kind, seed, command):
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        bad = _hostile(root, kind, seed)
        good = root / "good.png"
        files.write_image(good, "RGB", (24, 20), seed)
        if command == "cutout":
            setups.unet_checkpoint(root / "unet.pt")
        if command == "between":
            setups.vae_checkpoint(root / "v.pt")
        if command == "video" and bad.suffix != ".gif" and not bad.is_dir():
            bad = bad.rename(bad.with_suffix(".gif")) if bad.is_file() else bad
        argv = {
            "dream": ["dream", bad.name, "-o", "out.png", *DREAM],
            "dream-low": ["dream", bad.name, "-o", "out.png", "--low-memory", *DREAM],
            "zoom": ["zoom", bad.name, "-o", "z.gif", "--frames", "2", *DREAM],
            "style": ["style", bad.name, good.name, "-o", "out.png", "--steps", "1", "--octaves", "1", "-q"],
            "style-image": ["style", good.name, bad.name, "-o", "out.png", "--steps", "1", "--octaves", "1", "-q"],
            "guide": ["dream", good.name, "--guide", bad.name, "-o", "out.png", *DREAM],
            "cutout": ["cutout", bad.name, "-o", "out.png", "--model", "unet.pt"],
            "video": ["dream-video", bad.name, "-o", "v.gif", *DREAM],
            "between": ["vae-walk", "v.pt", "-o", "w.gif", "--frames", "2", "--between", good.name, bad.name],
        }[command]
        before = snapshot(root)
        # Flipped bytes may land where a decoder does not look, a cut may take only the end marker,
        # and a bad EXIF block is a warning: those may succeed (with the pixels that are there).
        ok = kind in ("flipped", "bad_exif", "truncated")
        rc = check(worker.cli(argv, root, timeout=120), argv, before, root, ok=ok)
        if kind == "bad_exif" and command in ("dream", "dream-low"):
            assert rc == 0, "a corrupt EXIF block must not stop the image from loading"
