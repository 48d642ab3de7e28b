"""Backend selection and info(); the ops' own tests (opcheck, torch.compile, ...) are in tests/ops/tester.py."""

import subprocess
import sys
import warnings

import numpy as np
import pytest
import torch

import fastdream as fd
from fastdream.ops import _native, backend
from tests.conftest import needs_native


def test_env_variable_is_read_at_call_time(monkeypatch):
    monkeypatch.setenv("FASTDREAM_BACKEND", "reference")
    assert backend.requested() == "reference"
    assert fd.info()["backend_cpu"] == "reference"
    monkeypatch.setenv("FASTDREAM_BACKEND", "native")
    assert backend.requested() == "native"
    with fd.use_backend("reference"):  # code wins over the variable
        assert backend.requested() == "reference"
    monkeypatch.setenv("FASTDREAM_BACKEND", "fast")
    with pytest.raises(ValueError, match="FASTDREAM_BACKEND"):
        fd.ops.zoom_shift(torch.rand(1, 1, 4, 4))
    with pytest.raises(ValueError, match="backend"), fd.use_backend("fast"):
        pass


def test_blocks_of_two_threads_ending_in_either_order_leave_the_setting_as_it_was(monkeypatch):
    """Thread A's "reference" block began, then B's "native"; A ended first, then B: the process
    stayed on "reference" for good (each block put back what it had found)."""
    import threading

    monkeypatch.delenv("FASTDREAM_BACKEND", raising=False)
    a_in, b_in, a_out = threading.Event(), threading.Event(), threading.Event()
    seen = {}

    def a():
        with fd.use_backend("reference"):
            a_in.set()
            b_in.wait()
        a_out.set()

    def b():
        a_in.wait()
        with fd.use_backend("native"):
            b_in.set()
            a_out.wait()
            seen["b inside, a gone"] = backend.requested()
        seen["both gone"] = backend.requested()

    threads = [threading.Thread(target=f) for f in (a, b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert seen == {"b inside, a gone": "native", "both gone": "auto"}
    assert backend.requested() == "auto"


@needs_native
def test_auto_uses_native_on_cpu_for_float32(monkeypatch):
    monkeypatch.delenv("FASTDREAM_BACKEND", raising=False)
    assert backend.use_native("zoom_shift", torch.device("cpu"), torch.float32)
    # float16 on the CPU is a documented gap of the kernels: auto takes the reference, native refuses
    assert not backend.use_native("zoom_shift", torch.device("cpu"), torch.float16)
    with fd.use_backend("native"), pytest.raises(RuntimeError, match="float32 and float64"):
        fd.ops.zoom_shift(torch.rand(1, 1, 4, 4, dtype=torch.float16), zoom=1.1)
    with fd.use_backend("auto"):
        out = fd.ops.zoom_shift(torch.rand(1, 1, 4, 4, dtype=torch.float16), zoom=1.1)
    assert out.dtype == torch.float16


def test_cuda_tensor_without_cuda_kernels_is_refused(monkeypatch):
    monkeypatch.setattr(_native, "cuda_compiled", lambda: False)
    reason = backend.native_unavailable_reason(torch.device("cuda"), torch.float32)
    assert "no CUDA kernels" in reason
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda d=None: (9, 0))
    with fd.use_backend("native"), pytest.raises(RuntimeError, match="no CUDA kernels"):
        backend.use_native("ascent_step_", torch.device("cuda"), torch.float32)


def test_missing_native_module_falls_back_with_one_warning(monkeypatch):
    monkeypatch.setattr(_native, "_C", None)
    monkeypatch.setattr(_native, "LOAD_ERROR", "ImportError: simulated")
    monkeypatch.setattr(backend, "_warned", set())
    monkeypatch.delenv("FASTDREAM_BACKEND", raising=False)
    image = torch.rand(1, 3, 8, 8)
    with pytest.warns(RuntimeWarning, match="simulated"):
        fd.ops.zoom_shift(image, zoom=1.1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # said once, not on every call
        fd.ops.zoom_shift(image, zoom=1.1)
    assert fd.info()["native_cpu"] is False and fd.info()["backend_cpu"] == "reference"
    with fd.use_backend("native"), pytest.raises(RuntimeError, match="did not load"):
        fd.ops.zoom_shift(image, zoom=1.1)


def test_cuda_coverage_rules(monkeypatch):
    monkeypatch.setattr(_native, "cuda_architectures", lambda: ["80-real", "90"])
    assert _native.cuda_covers((8, 0)) and _native.cuda_covers((8, 6))  # SASS runs on later minors
    assert _native.cuda_covers((9, 0)) and _native.cuda_covers((12, 0))  # PTX of 90 JITs forward
    assert not _native.cuda_covers((7, 5))
    monkeypatch.setattr(_native, "cuda_architectures", lambda: ["80-real"])
    assert not _native.cuda_covers((9, 0))
    # CMake's all / all-major cover every GPU (they were read as covering none: always the slow
    # path); arch-specific 90a only sm_90 itself, family-specific 100f sm_10x from 10.0 on
    for every in ("all", "all-major"):
        monkeypatch.setattr(_native, "cuda_architectures", lambda every=every: [every])
        assert _native.cuda_covers((7, 5)) and _native.cuda_covers((12, 0))
    monkeypatch.setattr(_native, "cuda_architectures", lambda: ["90a-real", "100f"])
    assert _native.cuda_covers((9, 0)) and not _native.cuda_covers((9, 1))
    assert _native.cuda_covers((10, 3)) and not _native.cuda_covers((12, 0))


def test_info_command():
    d = fd.info()
    for key in ("version", "torch", "native_cpu", "native_cuda", "cuda_architectures", "backend_cpu"):
        assert key in d
    out = subprocess.run([sys.executable, "-m", "fastdream.cli", "info"], capture_output=True, text=True, check=True)
    assert "fastdream " + fd.__version__ in out.stdout and "backend: auto" in out.stdout


def test_native_build_is_the_one_ci_expects():
    """CI sets FASTDREAM_EXPECT_NATIVE so a build that silently lost its kernels fails loudly
    instead of passing on the reference path."""
    import os

    expected = [e for e in os.environ.get("FASTDREAM_EXPECT_NATIVE", "").split(",") if e]
    if not expected:
        pytest.skip("FASTDREAM_EXPECT_NATIVE not set")
    if "cpu" in expected:
        assert _native.available(), _native.LOAD_ERROR
    if "cuda" in expected:
        assert _native.cuda_compiled() and _native.cuda_architectures()


def test_use_backend_checks_its_name_at_the_call():
    """It was checked only on entering the block: fd.use_backend("bogus") without `with` passed, and
    a numpy array gave numpy's "truth value ... ambiguous"."""
    with pytest.raises(ValueError, match=r"^backend must be one of auto, native, reference, got 'bogus'"):
        fd.use_backend("bogus")
    with pytest.raises(TypeError, match=r"^backend must be one of"):
        fd.use_backend(np.array([1, 2]))
