// Shared helpers of the CUDA kernels: error checks that name the op, and conversion of the storage
// types to their arithmetic type (statistics and interpolation in float32, or double for float64).
#pragma once
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <stdexcept>
#include <string>

#include "../checks.h"
#include "../fastdream.h"

namespace fastdream {
namespace cuda {

inline void check(cudaError_t err, const char* op, const char* what) {
  if (err != cudaSuccess)
    throw std::runtime_error(std::string(op) + ": CUDA error in " + what + ": " +
                             cudaGetErrorString(err));
}
// Every launch is followed by this: it turns a bad configuration into an exception naming the op.
inline void check_launch(const char* op) { check(cudaGetLastError(), op, "kernel launch"); }

// The arithmetic type of a storage type: float for float32 and the half types, double for
// float64 (float64 tensors are computed in double, as on the CPU and in the reference).
template <typename T>
struct Acc {
  using type = float;
};
template <>
struct Acc<double> {
  using type = double;
};
template <typename T>
using acc_t = typename Acc<T>::type;

__device__ __forceinline__ float to_acc(float v) { return v; }
__device__ __forceinline__ double to_acc(double v) { return v; }
__device__ __forceinline__ float to_acc(__half v) { return __half2float(v); }
__device__ __forceinline__ float to_acc(__nv_bfloat16 v) { return __bfloat162float(v); }

template <typename T>
__device__ __forceinline__ T from_acc(acc_t<T> v);
template <>
__device__ __forceinline__ float from_acc<float>(float v) {
  return v;
}
template <>
__device__ __forceinline__ double from_acc<double>(double v) {
  return v;
}
template <>
__device__ __forceinline__ __half from_acc<__half>(float v) {
  return __float2half_rn(v);
}
template <>
__device__ __forceinline__ __nv_bfloat16 from_acc<__nv_bfloat16>(float v) {
  return __float2bfloat16_rn(v);
}

// Calls f.template operator()<T>() with the storage type of a dtype code.
template <typename F>
void dispatch_dtype(int dtype, const char* op, F&& f) {
  switch (dtype) {
    case kFloat32:
      f(float{});
      break;
    case kFloat64:
      f(double{});
      break;
    case kFloat16:
      f(__half{});
      break;
    case kBFloat16:
      f(__nv_bfloat16{});
      break;
    default:
      throw std::invalid_argument(std::string(op) + ": unsupported dtype code");
  }
}

inline unsigned blocks_for(long long n, int threads, long long cap = 65535LL * 16) {
  long long b = (n + threads - 1) / threads;
  return unsigned(b < 1 ? 1 : (b > cap ? cap : b));
}

}  // namespace cuda
}  // namespace fastdream
