"""What the fuzzing worker runs (tests/fuzz/worker.py): the command line and public functions,
in-process, their results made small enough to send back."""

from __future__ import annotations

import contextlib
import io
import os


def warm_up() -> None:
    """Imports and builds what every case shares (the default network), so each case's time and
    memory are its own."""
    import numpy as np

    import fastdream as fd
    from fastdream.cli import main  # noqa: F401

    fd.dream(np.zeros((40, 40, 3), np.uint8), octaves=1, steps=1, seed=0)


def cli(argv: list[str], cwd: str) -> tuple[int, str, str]:
    """``fastdream ARGV`` run in ``cwd``: (exit status, stdout, stderr)."""
    from fastdream.cli import main

    out, err = io.StringIO(), io.StringIO()
    old = os.getcwd()
    os.chdir(cwd)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                rc = main(list(argv))
            except SystemExit as exc:  # argparse's own errors
                rc = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    finally:
        os.chdir(old)
    return rc, out.getvalue(), err.getvalue()


def load(path: str, low_memory: bool = False) -> dict:
    """What fastdream reads from an image file: the float RGB and alpha as 8-bit levels (the
    float path), or the rows of the low-memory path, and the mode a result is given back in."""
    import numpy as np
    import torch

    from fastdream import io as fio
    from fastdream.io.pixels import Pixels

    if low_memory:
        px = Pixels.of(path)
        rgb = px.rgb(torch.arange(px.h))
        alpha = px.data[..., -1:].permute(0, 3, 1, 2) if px.c in (2, 4) else None
        mode = px.result().mode
    else:
        loaded = fio.load(path)
        rgb, alpha = loaded.rgb, loaded.alpha
        mode = loaded.restore(rgb).mode
        alpha = None if alpha is None else fio.quantize(alpha)
    levels = fio.quantize(rgb)[0].permute(1, 2, 0).numpy().astype(np.uint8)
    a = None if alpha is None else alpha[0, 0].float().numpy().astype(np.uint8)
    return {"rgb": levels, "alpha": a, "mode": mode}


def tensor(spec):
    """A tensor from a small picklable spec: ``("rand", shape, dtype, layout)`` or a plain value."""
    import torch

    if not (isinstance(spec, tuple) and spec and spec[0] == "rand"):
        return spec
    _, shape, dtype, layout = spec
    t = torch.rand(shape, dtype=torch.float32).to(getattr(torch, dtype))
    if layout == "channels_last" and t.dim() == 4:
        t = t.contiguous(memory_format=torch.channels_last)
    elif layout == "strided" and t.dim() >= 1 and t.shape[-1] > 1:
        t = t[..., ::2]
    return t


def op(name: str, args: tuple, kwargs: dict) -> dict:
    """``fastdream.ops.NAME(*args, **kwargs)`` with tensor specs made into tensors; a grid spec
    ``("grid", args, kwargs)`` is made with ``tile_grid`` first."""
    import torch

    import fastdream as fd

    def value(v):
        if isinstance(v, tuple) and v and v[0] == "grid":
            return fd.ops.tile_grid(*v[1], **v[2])
        if isinstance(v, tuple) and v and v[0] == "hand-grid":  # a TileGrid built by hand, any fields
            _, size, ys, xs, th, tw, wy, wx = v
            return fd.ops.TileGrid(size, ys, xs, th, tw, torch.rand(*wy), torch.rand(*wx))
        if isinstance(v, tuple) and v and v[0] == "rand":
            return tensor(v)
        return v

    result = getattr(fd.ops, name)(*[value(a) for a in args], **{k: value(v) for k, v in kwargs.items()})
    if isinstance(result, torch.Tensor):
        return {"shape": tuple(result.shape), "finite": bool(torch.isfinite(result).all()) if result.numel() else True}
    return {"type": type(result).__name__}


def cli_disk_full(argv: list[str], cwd: str, room: int) -> tuple[int, str, str]:
    """:func:`cli` on a disk that fills up: no file may grow past ``room`` bytes (RLIMIT_FSIZE, with
    SIGXFSZ ignored so that a write fails with EFBIG as on a full disk)."""
    import resource
    import signal

    old = resource.getrlimit(resource.RLIMIT_FSIZE)
    handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (room, old[1]))
    try:
        return cli(argv, cwd)
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, old)
        signal.signal(signal.SIGXFSZ, handler)
