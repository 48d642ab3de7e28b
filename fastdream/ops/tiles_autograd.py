"""Backward formulas of the native tile ops, so gradients flow through them as through the reference.

Both ops are linear in their tensor input, and each is the other's adjoint:

- ``extract_tiles`` copies pixels into tiles, so its vjp adds every tile's gradient back onto the
  pixels it came from: ``blend_tiles`` with unit weights (overlaps add up).
- ``blend_tiles`` sums weighted tiles, so its vjp cuts the output gradient into tiles and weights
  them again: ``extract_tiles`` times ``weight_y[r, i] * weight_x[q, j]``. The kernel rounds the
  weights to float32, and so does this formula, so it is the exact adjoint of what runs.

The weights get the gradient of ``sum(out * grad)`` with the weights taken exactly (their float32
rounding is not differentiated). Both backwards are made of differentiable ops (the native ops
again, and PyTorch's), so double backward works too.
"""

from __future__ import annotations

import torch

from fastdream.ops import library


def _extract_setup(ctx, inputs, output) -> None:
    image, ys, xs, tile_h, tile_w, roll_y, roll_x = inputs
    ctx.args = (list(ys), list(xs), image.shape[-2], image.shape[-1], roll_y, roll_x)


def _extract_backward(ctx, grad):
    ys, xs, h, w, roll_y, roll_x = ctx.args
    th, tw = grad.shape[-2:]
    ones_y = torch.ones(len(ys), th, dtype=grad.dtype, device=grad.device)
    ones_x = torch.ones(len(xs), tw, dtype=grad.dtype, device=grad.device)
    gi = torch.ops.fastdream.blend_tiles(grad, ys, xs, ones_y, ones_x, h, w, roll_y, roll_x)
    return gi, None, None, None, None, None, None


def _weights(weight_y: torch.Tensor, weight_x: torch.Tensor) -> torch.Tensor:
    """(ny * nx, th, tw): tile ``r * nx + q``'s weights, products of float32 values as in the kernel."""
    wy, wx = weight_y.float(), weight_x.float()
    return (wy[:, None, :, None] * wx[None, :, None, :]).flatten(0, 1)


def _blend_setup(ctx, inputs, output) -> None:
    tiles, ys, xs, weight_y, weight_x, height, width, roll_y, roll_x = inputs
    ctx.args = (list(ys), list(xs), roll_y, roll_x)
    # The tiles are kept only when the weights want a gradient (it is sum(tile * grad) per weight).
    want_weights = ctx.needs_input_grad[3] or ctx.needs_input_grad[4]
    ctx.save_for_backward(weight_y, weight_x, tiles if want_weights else None)


def _blend_backward(ctx, grad):
    ys, xs, roll_y, roll_x = ctx.args
    weight_y, weight_x, tiles = ctx.saved_tensors
    th, tw = weight_y.shape[1], weight_x.shape[1]
    cut = torch.ops.fastdream.extract_tiles(grad, ys, xs, th, tw, roll_y, roll_x)
    count = len(ys) * len(xs)
    n, c = cut.shape[0] // count, cut.shape[1]
    cut = cut.reshape(n, count, c, th, tw)
    g_tiles = g_wy = g_wx = None
    if ctx.needs_input_grad[0]:
        g_tiles = (cut * _weights(weight_y, weight_x).to(cut.dtype)[None, :, None]).reshape(n * count, c, th, tw)
    if tiles is not None:
        # p[r, q, i, j] = sum over samples and channels of tile * grad: d out / d (wy[r, i] wx[q, j]).
        p = (cut * tiles.reshape(cut.shape)).sum((0, 2)).reshape(len(ys), len(xs), th, tw)
        if ctx.needs_input_grad[3]:
            g_wy = torch.einsum("rqij,qj->ri", p, weight_x.to(p.dtype)).to(weight_y.dtype)
        if ctx.needs_input_grad[4]:
            g_wx = torch.einsum("rqij,ri->qj", p, weight_y.to(p.dtype)).to(weight_x.dtype)
    return g_tiles, None, None, g_wy, g_wx, None, None, None, None


def register(extract: str, blend: str) -> None:
    """Registers both formulas (called once the ops are defined)."""
    library.register_autograd(extract, _extract_backward, _extract_setup)
    library.register_autograd(blend, _blend_backward, _blend_setup)
