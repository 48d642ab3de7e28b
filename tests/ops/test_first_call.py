"""The first call of each native op in a fresh process costs what the second does: registering the
ops through torch.library.Library keeps eager calls away from torch._dynamo (and sympy), which
torch.library.custom_op imported on first use (1.1-1.7 s in every process)."""

import json
import subprocess
import sys

from tests.conftest import needs_native

SCRIPT = r"""
import json, sys, time
import torch
import fastdream as fd

x = torch.rand(2, 3, 64, 48)
g = torch.randn_like(x)
grid = fd.ops.tile_grid((64, 48), 32)
calls = {
    "ascent_step_": lambda: fd.ops.ascent_step_(x, g, 0.1),
    "zoom_shift": lambda: fd.ops.zoom_shift(x, zoom=1.1, angle=2.0),
    "extract_tiles": lambda: fd.ops.extract_tiles(x, grid, roll=(3, 4)),
    "blend_tiles": lambda: fd.ops.blend_tiles(torch.rand(2 * grid.count, 3, grid.tile_h, grid.tile_w), grid),
    "laplacian_normalize": lambda: fd.ops.laplacian_normalize(g),
}
first = {}
with fd.use_backend("native"):
    for name, call in calls.items():
        t = time.perf_counter()
        call()
        first[name] = time.perf_counter() - t
    # backward through the native ops does not load the compiler either
    xr = x.clone().requires_grad_()
    fd.ops.laplacian_normalize(fd.ops.zoom_shift(xr, zoom=1.1)).sum().backward()
loaded = [m for m in ("torch._dynamo", "sympy", "torch.fx.experimental.symbolic_shapes") if m in sys.modules]
print(json.dumps({"first": first, "loaded": loaded}))
"""


@needs_native
def test_first_native_calls_are_fast_and_load_no_compiler():
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, check=True, timeout=120)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["loaded"] == [], f"eager op calls imported {result['loaded']}"
    slow = {k: round(v, 3) for k, v in result["first"].items() if v >= 0.1}
    assert not slow, f"first calls of 0.1 s or more: {slow}"
