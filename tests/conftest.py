import os

# Before torch loads OpenMP: idle threads sleep instead of spinning. The suite starts subprocesses
# (CLI runs, 2-process torchrun) on 2 cores, where spinning threads starve each other (a DCGAN
# step went from 0.02 s to 1.9 s). Subprocesses inherit the setting.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import pytest
import torch
from hypothesis import settings

import fastdream as fd
from fastdream.ops import _native

# CI runs a fixed set of examples so a red run can be reproduced; locally each run draws new ones.
settings.register_profile("ci", max_examples=20, derandomize=True, deadline=None)
settings.register_profile("dev", max_examples=20, deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else "dev")

needs_native = pytest.mark.skipif(not _native.available(), reason=f"native module not built: {_native.LOAD_ERROR}")
needs_cuda = pytest.mark.skipif(
    not (torch.cuda.is_available() and _native.cuda_compiled()), reason="needs a CUDA GPU and the CUDA kernels"
)


def max_rel_err(actual: torch.Tensor, expected: torch.Tensor) -> float:
    """Max-abs error over the tensor, scaled by the largest magnitude of the expected values."""
    a, e = actual.double(), expected.double()
    return float((a - e).abs().max() / e.abs().max().clamp_min(1e-30))


def layouts(t: torch.Tensor, layout: str) -> torch.Tensor:
    return t.contiguous(memory_format=torch.channels_last) if layout == "channels_last" else t.contiguous()


@pytest.fixture
def native():
    with fd.use_backend("native"):
        yield


@pytest.fixture
def reference():
    with fd.use_backend("reference"):
        yield
