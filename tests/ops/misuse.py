"""Misuses of the ops, each of which must raise a clear error, never crash.

Run by tests/ops/test_misuse.py in one subprocess (``python -c "from tests.ops.misuse import
main; main()"``), so that a segfault fails the test instead of killing the suite. ``main`` prints
one JSON line per case, as it goes: a crash shows as the cases that never reported.
"""

from __future__ import annotations

import dataclasses
import json
import sys

import torch

import fastdream as fd
from fastdream.ops import _native

F = torch.ops.fastdream
H, W = 17, 23
GRID = fd.ops.tile_grid((H, W), 8, overlap=4)  # 3 x 4 tiles of 8 x 8
YS, XS = list(GRID.ys), list(GRID.xs)
TH, TW = GRID.tile_h, GRID.tile_w


def _image(dtype=torch.float32, **kw) -> torch.Tensor:
    return torch.rand(2, 3, H, W, dtype=dtype, **kw)


def _tiles(count=None) -> torch.Tensor:
    return torch.rand(2 * GRID.count if count is None else count, 3, TH, TW)


def _grid(**changes) -> fd.ops.TileGrid:
    return dataclasses.replace(GRID, **changes)


def _ascent(image=None, grad=None, mask=None, step=0.1, norm="std"):
    image = _image() if image is None else image
    grad = torch.randn(image.shape) if grad is None else grad
    return lambda: F.ascent_step_(image, grad, mask, step, norm, True, -1.0, 1.0, 1e-8)


def _extract(image=None, ys=YS, xs=XS, th=TH, tw=TW, roll=(0, 0)):
    image = _image() if image is None else image
    return lambda: F.extract_tiles(image, ys, xs, th, tw, *roll)


def _blend(tiles=None, ys=YS, xs=XS, wy=GRID.weight_y, wx=GRID.weight_x, size=(H, W)):
    tiles = _tiles() if tiles is None else tiles
    return lambda: F.blend_tiles(tiles, ys, xs, wy, wx, *size, 0, 0)


def _desc(t):
    return (t.data_ptr(), list(t.shape), list(t.stride()))


def _c_extract(ys):
    """The C++ kernel called directly, past every Python check: its own checks must hold."""
    image, out = _image(), _tiles()
    yt, xt = torch.tensor(ys, dtype=torch.int64), torch.tensor(XS, dtype=torch.int64)
    return lambda: _native._C.cpu_extract_tiles(
        _desc(image), _desc(out), yt.data_ptr(), xt.data_ptr(), len(ys), len(XS), 0, 0, 0, 1
    )


VE, TE = ValueError, TypeError
META = torch.device("meta")

# (name, call, exception, words the message must contain)
CASES = [
    # torch.ops.fastdream.extract_tiles
    ("extract: tile row past the image", _extract(ys=[0, H - TH + 1]), VE, "ys[1]"),
    ("extract: negative tile column", _extract(xs=[-1, 0]), VE, "xs[0]"),
    ("extract: tile wider than the image", _extract(ys=[0], xs=[0], tw=W + 1), VE, "tile_w"),
    ("extract: tile of height 0", _extract(th=0), VE, "tile_h"),
    ("extract: no tiles", _extract(ys=[]), VE, "empty"),
    ("extract: integer image", _extract(image=torch.zeros(2, 3, H, W, dtype=torch.int32)), TE, "image"),
    ("extract: float16 image on the CPU", _extract(image=_image(torch.float16)), TE, "float16"),
    ("extract: 3-d image", _extract(image=torch.rand(3, H, W)), VE, "dimensions"),
    # torch.ops.fastdream.blend_tiles
    ("blend: weight_y shorter than the tiles", _blend(wy=GRID.weight_y[:, :-1]), VE, "weight_y"),
    ("blend: weight_x rows fewer than xs", _blend(wx=GRID.weight_x[:-1]), VE, "weight_x"),
    ("blend: weights on another device", _blend(wy=GRID.weight_y.to(META)), VE, "is on meta"),
    ("blend: 1-d weights", _blend(wx=GRID.weight_x.flatten()), VE, "weight_x"),
    ("blend: tile count not N * ny * nx", _blend(tiles=_tiles(2 * GRID.count + 1)), VE, "tiles.shape[0]"),
    ("blend: tile row past the image", _blend(ys=[0, 5, H - TH + 1]), VE, "ys[2]"),
    ("blend: tiles taller than the image", _blend(size=(TH - 1, W)), VE, "tile_h"),
    # torch.ops.fastdream.ascent_step_
    ("ascent: grad of another shape", _ascent(grad=torch.randn(2, 3, H, W - 1)), VE, "grad"),
    (
        "ascent: grad in another layout",
        _ascent(grad=torch.randn(2, 3, H, W).to(memory_format=torch.channels_last)),
        VE,
        "layout",
    ),
    ("ascent: grad of another dtype", _ascent(grad=torch.randn(2, 3, H, W, dtype=torch.float64)), TE, "grad"),
    ("ascent: grad on another device", _ascent(grad=torch.randn(2, 3, H, W, device=META)), VE, "is on meta"),
    ("ascent: strided grad", _ascent(grad=torch.randn(2, 3, H, 2 * W)[..., ::2]), VE, "layout"),
    ("ascent: non-dense image", _ascent(image=_image()[..., ::2], grad=torch.randn(2, 3, H, 12)), VE, "dense"),
    ("ascent: mask of another size", _ascent(mask=torch.rand(2, 1, H, W + 1)), VE, "mask"),
    ("ascent: mask for 3 samples", _ascent(mask=torch.rand(3, 1, H, W)), VE, "mask"),
    ("ascent: mask of another dtype", _ascent(mask=torch.rand(1, 1, H, W, dtype=torch.float64)), TE, "mask"),
    ("ascent: strided mask", _ascent(mask=torch.rand(1, 1, H, 2 * W)[..., ::2]), VE, "contiguous"),
    ("ascent: unknown norm", _ascent(norm="l3"), VE, "norm"),
    ("ascent: NaN step", _ascent(step=float("nan")), VE, "step_size"),
    # torch.ops.fastdream.zoom_shift / laplacian_normalize
    ("zoom: zoom 0", lambda: F.zoom_shift(_image(), 0.0, 0.0, 0.0, 0.0, "reflect"), VE, "zoom"),
    ("zoom: infinite angle", lambda: F.zoom_shift(_image(), 1.0, 0.0, 0.0, float("inf"), "zeros"), VE, "angle"),
    ("zoom: unknown padding", lambda: F.zoom_shift(_image(), 1.0, 0.0, 0.0, 0.0, "wrap"), VE, "padding"),
    ("zoom: 2-d image", lambda: F.zoom_shift(torch.rand(H, W), 1.0, 0.0, 0.0, 0.0, "zeros"), VE, "dimensions"),
    ("laplacian: 0 levels", lambda: F.laplacian_normalize(_image(), 0, 1e-8), VE, "levels"),
    ("laplacian: negative eps", lambda: F.laplacian_normalize(_image(), 3, -1.0), VE, "eps"),
    # the public ops with a hand-built TileGrid
    (
        "public extract: grid.ys past the image",
        lambda: fd.ops.extract_tiles(_image(), _grid(ys=(0, 10))),
        VE,
        "grid.ys[1]",
    ),
    (
        "public extract: negative grid.xs",
        lambda: fd.ops.extract_tiles(_image(), _grid(xs=(-3, 0, 5, 15))),
        VE,
        "grid.xs[0]",
    ),
    (
        "public extract: tile wider than the image",
        lambda: fd.ops.extract_tiles(_image(), _grid(tile_w=W + 1)),
        VE,
        "grid.tile_w",
    ),
    (
        "public extract: float tile offsets",
        lambda: fd.ops.extract_tiles(_image(), _grid(ys=(0.0, 5.0, 9.0))),
        TE,
        "grid.ys[0]",
    ),
    ("public extract: no tile rows", lambda: fd.ops.extract_tiles(_image(), _grid(ys=())), TE, "grid.ys"),
    (
        "public blend: grid.ys past the image",
        lambda: fd.ops.blend_tiles(_tiles(), _grid(ys=(0, 5, 10))),
        VE,
        "grid.ys[2]",
    ),
    (
        "public blend: short weight_y",
        lambda: fd.ops.blend_tiles(_tiles(), _grid(weight_y=GRID.weight_y[:, :4])),
        VE,
        "grid.weight_y",
    ),
    (
        "public blend: weight_x rows missing",
        lambda: fd.ops.blend_tiles(_tiles(), _grid(weight_x=GRID.weight_x[:2])),
        VE,
        "grid.weight_x",
    ),
    (
        "public blend: integer weights",
        lambda: fd.ops.blend_tiles(_tiles(), _grid(weight_x=torch.ones(4, TW, dtype=torch.int64))),
        TE,
        "grid.weight_x",
    ),
    (
        "public blend: grid smaller than its tiles",
        lambda: fd.ops.blend_tiles(_tiles(), _grid(size=(TH - 1, W))),
        VE,
        "grid.tile_h",
    ),
    ("public blend: not a grid", lambda: fd.ops.blend_tiles(_tiles(), (8, 8)), TE, "TileGrid"),
    # the public ascent_step_
    (
        "public ascent: grad on another device",
        lambda: fd.ops.ascent_step_(_image(), torch.randn(2, 3, H, W, device=META), 0.1),
        VE,
        "device",
    ),
    (
        "public ascent: mask of another size",
        lambda: fd.ops.ascent_step_(_image(), torch.randn(2, 3, H, W), 0.1, mask=torch.rand(H, W + 2)),
        VE,
        "mask",
    ),
    # the C++ kernels' own checks (the second line of defence), called past Python's
    ("C++ extract: tile row past the image", _c_extract([0, 3, 6, H - TH + 1]), VE, "outside the image"),
    ("C++ extract: negative tile row", _c_extract([-1, 3, 6, 9]), VE, "outside the image"),
]

if torch.cuda.is_available() and _native.cuda_compiled():
    CUDA = torch.device("cuda")
    CASES += [
        (
            "cuda ascent: grad on the CPU",
            _ascent(image=_image(device=CUDA), grad=torch.randn(2, 3, H, W)),
            VE,
            "is on cpu",
        ),
        ("cuda blend: weights on the CPU", _blend(tiles=_tiles().to(CUDA)), VE, "is on cpu"),
        ("cuda extract: tile row past the image", _extract(image=_image(device=CUDA), ys=[0, 3, 6, 10]), VE, "ys[3]"),
        (
            "cuda laplacian: no CUDA kernel",
            lambda: F.laplacian_normalize(_image(device=CUDA), 3, 1e-8),
            NotImplementedError,
            "CUDA",
        ),
    ]


def main() -> None:
    for name, call, _, _ in CASES:
        try:
            call()
            result = {"name": name, "raised": None, "message": ""}
        except Exception as exc:  # every kind is reported, and judged by the test
            result = {"name": name, "raised": type(exc).__name__, "message": str(exc)}
        print(json.dumps(result), flush=True)
    sys.exit(0)
