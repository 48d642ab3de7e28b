// The pybind11 module fastdream._C: argument unpacking only, no logic.
//
// Tensors arrive as (data_ptr, sizes, strides) tuples built by fastdream/_native.py, never as
// torch objects, so this file needs no torch header. The GIL is released around every kernel.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

#include "fastdream.h"

namespace py = pybind11;
using fastdream::Tensor4;
using Desc = std::tuple<uintptr_t, std::vector<int64_t>, std::vector<int64_t>>;

namespace {

Tensor4 tensor4(const Desc& d) {
  const auto& [ptr, sizes, strides] = d;
  if (sizes.size() != 4 || strides.size() != 4)
    throw std::invalid_argument("fastdream._C: expected a 4-d tensor description");
  return Tensor4{reinterpret_cast<void*>(ptr),
                 sizes[0],
                 sizes[1],
                 sizes[2],
                 sizes[3],
                 strides[0],
                 strides[1],
                 strides[2],
                 strides[3]};
}

template <typename P>
const P* ptr(uintptr_t p) {
  return reinterpret_cast<const P*>(p);
}

fastdream::AscentStepArgs ascent_args(const Desc& image, uintptr_t grad, uintptr_t mask,
                                      int64_t mask_stride_n, bool channels_last, double step_size,
                                      double eps, bool clamp, double lo, double hi, int norm,
                                      uintptr_t scratch) {
  return fastdream::AscentStepArgs{tensor4(image),
                                   ptr<void>(grad),
                                   ptr<void>(mask),
                                   mask_stride_n,
                                   channels_last,
                                   step_size,
                                   eps,
                                   lo,
                                   hi,
                                   clamp,
                                   norm,
                                   reinterpret_cast<double*>(scratch)};
}

fastdream::ZoomShiftArgs zoom_args(const Desc& src, const Desc& dst, const std::vector<double>& m,
                                   double bx, double by, int padding, int interp) {
  if (m.size() != 4) throw std::invalid_argument("fastdream._C: zoom_shift needs a 2x2 matrix");
  return fastdream::ZoomShiftArgs{tensor4(src), tensor4(dst), {m[0], m[1], m[2], m[3]}, bx, by,
                                  padding,      interp};
}

fastdream::TileArgs tile_args(const Desc& image, const Desc& tiles, uintptr_t ys, uintptr_t xs,
                              int64_t ny, int64_t nx, int64_t roll_y, int64_t roll_x, uintptr_t wy,
                              uintptr_t wx) {
  return fastdream::TileArgs{
      tensor4(image), tensor4(tiles), ptr<int64_t>(ys), ptr<int64_t>(xs), ny, nx,
      roll_y,         roll_x,         ptr<float>(wy),   ptr<float>(wx)};
}

fastdream::LaplacianArgs laplacian_args(const Desc& src, const Desc& dst, int64_t levels,
                                        double eps) {
  return fastdream::LaplacianArgs{tensor4(src), tensor4(dst), levels, eps};
}

void* stream_ptr(uintptr_t s) { return reinterpret_cast<void*>(s); }

}  // namespace

PYBIND11_MODULE(_C, m) {
  m.doc() = "fastdream native kernels (CPU and, when built, CUDA); called by fastdream.ops only";
  auto nogil = py::call_guard<py::gil_scoped_release>();

  m.def(
      "cpu_ascent_step",
      [](const Desc& image, uintptr_t grad, uintptr_t mask, int64_t msn, bool cl, double step,
         double eps, bool clamp, double lo, double hi, int norm, uintptr_t scratch, int dtype,
         int threads) {
        fastdream::cpu::ascent_step(
            ascent_args(image, grad, mask, msn, cl, step, eps, clamp, lo, hi, norm, scratch), dtype,
            threads);
      },
      nogil);
  m.def(
      "cpu_zoom_shift",
      [](const Desc& src, const Desc& dst, const std::vector<double>& mat, double bx, double by,
         int padding, int interp, int dtype, int threads) {
        fastdream::cpu::zoom_shift(zoom_args(src, dst, mat, bx, by, padding, interp), dtype,
                                   threads);
      },
      nogil);
  m.def(
      "cpu_extract_tiles",
      [](const Desc& image, const Desc& tiles, uintptr_t ys, uintptr_t xs, int64_t ny, int64_t nx,
         int64_t ry, int64_t rx, int dtype, int threads) {
        fastdream::cpu::extract_tiles(tile_args(image, tiles, ys, xs, ny, nx, ry, rx, 0, 0), dtype,
                                      threads);
      },
      nogil);
  m.def(
      "cpu_blend_tiles",
      [](const Desc& image, const Desc& tiles, uintptr_t ys, uintptr_t xs, int64_t ny, int64_t nx,
         int64_t ry, int64_t rx, uintptr_t wy, uintptr_t wx, int dtype, int threads) {
        fastdream::cpu::blend_tiles(tile_args(image, tiles, ys, xs, ny, nx, ry, rx, wy, wx), dtype,
                                    threads);
      },
      nogil);

  m.def(
      "cpu_laplacian_normalize",
      [](const Desc& src, const Desc& dst, int64_t levels, double eps, int dtype, int threads) {
        fastdream::cpu::laplacian_normalize(laplacian_args(src, dst, levels, eps), dtype, threads);
      },
      nogil);

  m.def("cuda_compiled", &fastdream::cuda::compiled);
  m.def("cuda_architectures", &fastdream::cuda::architectures);
  m.def("cuda_runtime_version", &fastdream::cuda::runtime_version);
  m.def("cuda_device_count", &fastdream::cuda::device_count);
  m.def("cuda_device_capability", &fastdream::cuda::device_capability);
  m.def(
      "cuda_ascent_step",
      [](const Desc& image, uintptr_t grad, uintptr_t mask, int64_t msn, bool cl, double step,
         double eps, bool clamp, double lo, double hi, int norm, uintptr_t scratch, int dtype,
         uintptr_t stream) {
        fastdream::cuda::ascent_step(
            ascent_args(image, grad, mask, msn, cl, step, eps, clamp, lo, hi, norm, scratch), dtype,
            stream_ptr(stream));
      },
      nogil);
  m.def(
      "cuda_zoom_shift",
      [](const Desc& src, const Desc& dst, const std::vector<double>& mat, double bx, double by,
         int padding, int interp, int dtype, uintptr_t stream) {
        fastdream::cuda::zoom_shift(zoom_args(src, dst, mat, bx, by, padding, interp), dtype,
                                    stream_ptr(stream));
      },
      nogil);
  m.def(
      "cuda_extract_tiles",
      [](const Desc& image, const Desc& tiles, uintptr_t ys, uintptr_t xs, int64_t ny, int64_t nx,
         int64_t ry, int64_t rx, int dtype, uintptr_t stream) {
        fastdream::cuda::extract_tiles(tile_args(image, tiles, ys, xs, ny, nx, ry, rx, 0, 0), dtype,
                                       stream_ptr(stream));
      },
      nogil);
  m.def(
      "cuda_blend_tiles",
      [](const Desc& image, const Desc& tiles, uintptr_t ys, uintptr_t xs, int64_t ny, int64_t nx,
         int64_t ry, int64_t rx, uintptr_t wy, uintptr_t wx, int dtype, uintptr_t stream) {
        fastdream::cuda::blend_tiles(tile_args(image, tiles, ys, xs, ny, nx, ry, rx, wy, wx), dtype,
                                     stream_ptr(stream));
      },
      nogil);
}
