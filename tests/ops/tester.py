"""The one op tester: every native op is held to its reference by the same tests.

An op's test module subclasses :class:`OpTests` and says how to make a case (its tensors and
parameters), how to call the public op on it, and which raw ``torch.ops.fastdream`` call it makes.
The base class then tests, on fresh random cases (hypothesis): parity with the reference over odd
sizes, batch > 1, NCHW / channels_last / non-contiguous inputs and both CPU dtypes; opcheck;
gradients equal to the reference path's and gradcheck in float64; torch.compile; and the same
parity on a GPU (marked ``cuda``) in every dtype the CUDA kernels take.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import fastdream as fd
from tests.conftest import max_rel_err, needs_cuda, needs_native

LAYOUTS = ("nchw", "channels_last", "strided")
#: Max relative error of the native result against the float64 oracle, per dtype.
TOLERANCE = {torch.float32: 1e-5, torch.float64: 1e-10, torch.float16: 2e-3, torch.bfloat16: 1.6e-2}
CUDA_DTYPES = (torch.float32, torch.float64, torch.float16, torch.bfloat16)


def relayout(t: torch.Tensor, layout: str) -> torch.Tensor:
    """A copy of the 4-d ``t`` in ``layout``: dense NCHW, dense channels_last, or a strided view
    with gaps between columns (neither layout, so the op must cope with any strides)."""
    if layout == "channels_last":
        return t.contiguous(memory_format=torch.channels_last)
    if layout == "strided":
        wide = torch.full((*t.shape[:-1], 2 * t.shape[-1]), float("nan"), dtype=t.dtype, device=t.device)
        view = wide[..., ::2]
        view.copy_(t)
        return view
    return t.contiguous()


def fresh(t: torch.Tensor) -> torch.Tensor:
    """A new tensor equal to ``t`` with the same strides (gaps included): for in-place ops."""
    return torch.empty_strided(t.shape, t.stride(), dtype=t.dtype, device=t.device).copy_(t)


@dataclasses.dataclass
class Case:
    """One call: the op's tensors (by name) and its other parameters."""

    tensors: dict[str, torch.Tensor]
    params: dict[str, Any]
    layout: str = "nchw"

    def map(self, fn: Callable[[torch.Tensor], torch.Tensor]) -> Case:
        return Case({k: fn(v) for k, v in self.tensors.items()}, dict(self.params), self.layout)

    def with_tensors(self, values) -> Case:
        return Case(dict(zip(self.tensors, values)), dict(self.params), self.layout)


class OpTests:
    """Base class of an op's tests (not collected itself: its name does not start with Test).

    A subclass sets :attr:`op` and implements :meth:`make`, :meth:`call` and :meth:`op_args`;
    the rest has defaults that fit most ops.
    """

    op: str  #: the name under torch.ops.fastdream
    differentiable = True  #: has an autograd formula (tested against the reference's gradients)
    cuda_kernel = True  #: has a CUDA kernel (the CUDA tests are about the kernels)
    min_hw = 1  #: smallest image side the op takes

    # -- what a subclass says ---------------------------------------------------------------------

    def params(self, h: int, w: int) -> dict[str, st.SearchStrategy]:
        """Strategies for the op's other parameters, for an image of ``h x w``."""
        return {}

    def fixed_params(self, h: int, w: int) -> dict[str, Any]:
        """The parameters of the fixed small case (:meth:`small`)."""
        return {}

    def make(self, gen: torch.Generator, n: int, c: int, h: int, w: int, dtype: torch.dtype, params) -> Case:
        """A random case for an (n, c, h, w) image on the CPU, with the drawn ``params``."""
        raise NotImplementedError

    def call(self, case: Case) -> torch.Tensor:
        """The public op on ``case`` (under whichever backend is active); returns its result."""
        raise NotImplementedError

    def op_args(self, case: Case) -> tuple:
        """The arguments of the raw ``torch.ops.fastdream`` op for ``case``."""
        raise NotImplementedError

    def oracle(self, case: Case) -> torch.Tensor:
        """What the op must give: the reference path on the inputs in float64."""
        with fd.use_backend("reference"):
            return self.call(case.map(torch.Tensor.double))

    def check_layout(self, case: Case, out: torch.Tensor) -> None:
        """A dense input's memory format is kept."""
        if case.layout != "strided":
            fmt = torch.channels_last if case.layout == "channels_last" else torch.contiguous_format
            assert out.is_contiguous(memory_format=fmt)

    # -- helpers ----------------------------------------------------------------------------------

    def small(self, dtype=torch.float32, layout="nchw", seed=0, device="cpu") -> Case:
        """A fixed small case with odd sizes and batch 2, for the slower checks."""
        h, w = 9, 11
        case = self.make(torch.Generator().manual_seed(seed), 2, 3, h, w, dtype, self.fixed_params(h, w))
        return Case({k: relayout(v.to(device), layout) for k, v in case.tensors.items()}, case.params, layout)

    def native(self, case: Case) -> torch.Tensor:
        with fd.use_backend("native"):
            return self.call(case)

    def raw(self):
        return getattr(torch.ops.fastdream, self.op).default

    def assert_matches(self, case: Case, tol_dtype: torch.dtype | None = None) -> None:
        out = self.native(case)
        expected = self.oracle(case.map(lambda t: t.cpu()))
        assert out.shape == expected.shape and out.dtype == next(iter(case.tensors.values())).dtype
        err = max_rel_err(out.cpu(), expected)
        assert err <= TOLERANCE[tol_dtype or out.dtype], f"max relative error {err:.3g}"
        self.check_layout(case, out)

    # -- the tests --------------------------------------------------------------------------------

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)

        # One hypothesis test per op class: an inherited @given method would be one test run
        # from several classes, which hypothesis refuses (its example database keys on it).
        @needs_native
        @given(data=st.data())
        def test_matches_reference(self, data):
            self.random_case_matches(data)

        cls.test_matches_reference = test_matches_reference

    def random_case_matches(self, data) -> None:
        n, c = data.draw(st.integers(1, 3), "n"), data.draw(st.integers(1, 4), "c")
        h, w = data.draw(st.integers(self.min_hw, 41), "h"), data.draw(st.integers(self.min_hw, 41), "w")
        dtype = data.draw(st.sampled_from([torch.float32, torch.float64]), "dtype")
        layout = data.draw(st.sampled_from(LAYOUTS), "layout")
        params = {k: data.draw(s, k) for k, s in self.params(h, w).items()}
        gen = torch.Generator().manual_seed(data.draw(st.integers(0, 2**31 - 1), "seed"))
        case = self.make(gen, n, c, h, w, dtype, params)
        case = Case({k: relayout(v, layout) for k, v in case.tensors.items()}, case.params, layout)
        self.assert_matches(case)

    @needs_native
    @pytest.mark.parametrize("layout", ["nchw", "channels_last"])
    def test_opcheck(self, layout):
        case = self.small(torch.float64, layout)
        torch.library.opcheck(self.raw(), self.op_args(case))
        if self.differentiable:  # with inputs that want gradients: the autograd formula too
            torch.library.opcheck(self.raw(), self.op_args(case.map(lambda t: t.requires_grad_())))

    def _grads(self, case: Case, backend: str):
        tensors = [t.detach().clone().requires_grad_() for t in case.tensors.values()]
        with fd.use_backend(backend):
            out = self.call(case.with_tensors(tensors))
        weight = torch.linspace(-1, 1, out.numel(), dtype=out.dtype, device=out.device).reshape(out.shape)
        return torch.autograd.grad((out * weight).sum(), tensors)

    @needs_native
    @pytest.mark.parametrize("layout", ["nchw", "channels_last"])
    def test_gradients_match_reference(self, layout):
        if not self.differentiable:
            pytest.skip(f"{self.op} is not differentiable")
        case = self.small(torch.float64, layout)
        for got, want in zip(self._grads(case, "native"), self._grads(case, "reference")):
            assert max_rel_err(got, want) <= 1e-10

    @needs_native
    def test_gradcheck_float64(self):
        if not self.differentiable:
            pytest.skip(f"{self.op} is not differentiable")
        case = self.small(torch.float64)
        inputs = tuple(t.detach().clone().requires_grad_() for t in case.tensors.values())
        with fd.use_backend("native"):
            assert torch.autograd.gradcheck(lambda *ts: self.call(case.with_tensors(ts)), inputs)

    @needs_native
    def test_torch_compile(self):
        case = self.small()
        with fd.use_backend("native"):
            expected = self.call(case)
            torch._dynamo.reset()
            compiled = torch.compile(lambda *ts: self.call(case.with_tensors(ts)), fullgraph=True, backend="aot_eager")
            got = compiled(*case.tensors.values())
        torch.testing.assert_close(got, expected, rtol=1e-6, atol=1e-6)

    @pytest.mark.cuda
    @needs_cuda
    @pytest.mark.parametrize("layout", LAYOUTS)
    @pytest.mark.parametrize("dtype", CUDA_DTYPES)
    def test_cuda_matches_reference(self, dtype, layout):
        if not self.cuda_kernel:
            pytest.skip(f"{self.op} has no CUDA kernel")
        case = self.small(dtype, layout, device="cuda")
        # The oracle sees the values the GPU sees (rounded to dtype), in float64.
        self.assert_matches(case)
        if self.differentiable and dtype == torch.float64:
            for got, want in zip(self._grads(case, "native"), self._grads(case, "reference")):
                assert max_rel_err(got, want) <= 1e-10

    @pytest.mark.cuda
    @needs_cuda
    def test_cuda_opcheck(self):
        if not self.cuda_kernel:
            pytest.skip(f"{self.op} has no CUDA kernel")
        case = self.small(torch.float32, device="cuda")
        torch.library.opcheck(self.raw(), self.op_args(case))
