// Fused DeepDream update on the GPU: one reduction pass, one update pass (same rules as the CPU
// kernel and the reference: non-finite gradient entries count as 0; unbiased std).
#include <type_traits>

#include "common.cuh"

namespace fastdream {
namespace cuda {
namespace {

constexpr int kThreads = 256;

template <typename A>
__device__ __forceinline__ A finite_or_zero(A g) {
  return fabs(g) < A(INFINITY) ? g : A(0);
}

// torch.clamp's NaN rule (a NaN in the image stays NaN); fmin/fmax alone would drop it.
template <typename A>
__device__ __forceinline__ A clamp_nan(A v, A lo, A hi) {
  return v != v ? v : fmin(fmax(v, lo), hi);
}

template <typename T>
__global__ void reduce_kernel(const T* __restrict__ grad, long long per,
                              double* __restrict__ moments) {
  const int n = blockIdx.y;
  using A = acc_t<T>;
  const T* g = grad + (long long)n * per;
  A s = 0, ss = 0, sa = 0;
  const long long stride = (long long)gridDim.x * blockDim.x;
  long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  // 16-byte loads when the sample is float32 and aligned; the tail and other types go one by one.
  if constexpr (std::is_same<T, float>::value) {
    if ((reinterpret_cast<uintptr_t>(g) & 15) == 0) {
      const long long n4 = per / 4;
      const float4* g4 = reinterpret_cast<const float4*>(g);
      for (long long k = i; k < n4; k += stride) {
        float4 v = g4[k];
        float a[4] = {finite_or_zero(v.x), finite_or_zero(v.y), finite_or_zero(v.z),
                      finite_or_zero(v.w)};
#pragma unroll
        for (int j = 0; j < 4; ++j) {
          s += a[j];
          ss += a[j] * a[j];
          sa += fabsf(a[j]);
        }
      }
      i += n4 * 4;
    }
  }
  for (; i < per; i += stride) {
    A v = finite_or_zero(to_acc(g[i]));
    s += v;
    ss += v * v;
    sa += fabs(v);
  }
  // Block reduction in double so the sum over millions of elements stays exact enough.
  __shared__ double sh[3][kThreads];
  sh[0][threadIdx.x] = s;
  sh[1][threadIdx.x] = ss;
  sh[2][threadIdx.x] = sa;
  __syncthreads();
  for (int w = kThreads / 2; w > 0; w >>= 1) {
    if (threadIdx.x < w)
      for (int k = 0; k < 3; ++k) sh[k][threadIdx.x] += sh[k][threadIdx.x + w];
    __syncthreads();
  }
  if (threadIdx.x == 0)
    for (int k = 0; k < 3; ++k) atomicAdd(&moments[n * 3 + k], sh[k][0]);
}

__device__ __forceinline__ double sample_scale(const double* m, long long per, int norm,
                                               double step, double eps) {
  double stat;
  if (norm == kNormStd) {
    double var = (m[1] - m[0] * m[0] / double(per)) / double(per > 1 ? per - 1 : 1);
    stat = sqrt(fmax(var, 0.0));
  } else {
    stat = m[2] / double(per);
  }
  return step / (stat + eps);
}

template <typename T>
__global__ void update_kernel(T* __restrict__ image, const T* __restrict__ grad,
                              const T* __restrict__ mask, long long mask_stride_n, long long per,
                              long long C, long long HW, bool channels_last,
                              const double* __restrict__ moments, int norm, double step, double eps,
                              bool clamp, double lo_, double hi_) {
  using A = acc_t<T>;
  const int n = blockIdx.y;
  const A scale = A(sample_scale(moments + 3 * n, per, norm, step, eps));
  const A lo = A(lo_), hi = A(hi_);
  T* x = image + (long long)n * per;
  const T* g = grad + (long long)n * per;
  const T* m = mask ? mask + n * mask_stride_n : nullptr;
  const long long stride = (long long)gridDim.x * blockDim.x;
  long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  // 16-byte loads and stores for aligned float32 samples without a mask (the dream's hot case).
  if constexpr (std::is_same<T, float>::value) {
    if (!m && ((reinterpret_cast<uintptr_t>(x) | reinterpret_cast<uintptr_t>(g)) & 15) == 0) {
      const long long n4 = per / 4;
      float4* x4 = reinterpret_cast<float4*>(x);
      const float4* g4 = reinterpret_cast<const float4*>(g);
      for (long long k = i; k < n4; k += stride) {
        float4 v = x4[k], d = g4[k];
        v.x += scale * finite_or_zero(d.x);
        v.y += scale * finite_or_zero(d.y);
        v.z += scale * finite_or_zero(d.z);
        v.w += scale * finite_or_zero(d.w);
        if (clamp) {
          v.x = clamp_nan(v.x, lo, hi);
          v.y = clamp_nan(v.y, lo, hi);
          v.z = clamp_nan(v.z, lo, hi);
          v.w = clamp_nan(v.w, lo, hi);
        }
        x4[k] = v;
      }
      i += n4 * 4;
    }
  }
  for (; i < per; i += stride) {
    A u = scale * finite_or_zero(to_acc(g[i]));
    if (m) u *= to_acc(m[channels_last ? i / C : i % HW]);
    A v = to_acc(x[i]) + u;
    if (clamp) v = clamp_nan(v, lo, hi);
    x[i] = from_acc<T>(v);
  }
}

}  // namespace

void ascent_step(const AscentStepArgs& a, int dtype, void* stream_ptr) {
  const char* op = "ascent_step_";
  check_ascent_step(a, op);
  cudaStream_t stream = static_cast<cudaStream_t>(stream_ptr);
  const Tensor4& t = a.image;
  const long long per = t.c * t.h * t.w, N = t.n;
  if (per == 0 || N == 0) return;
  // The moments live in the caller's zeroed scratch tensor (torch's caching allocator, on this
  // stream): no allocation here, so nothing leaks when a launch check throws.
  require(a.scratch != nullptr, op, "the CUDA kernel needs a scratch buffer of 3 * N doubles");
  // The sample is blockIdx.y, and gridDim.y stops at 65535: larger batches go in chunks of it.
  constexpr long long kMaxGridY = 65535;
  const unsigned blocks = blocks_for(per, kThreads * 8, 1024);
  dispatch_dtype(dtype, op, [&](auto tag) {
    using T = decltype(tag);
    for (long long n0 = 0; n0 < N; n0 += kMaxGridY) {
      const dim3 grid(blocks, unsigned(N - n0 < kMaxGridY ? N - n0 : kMaxGridY));
      const T* grad = static_cast<const T*>(a.grad) + n0 * per;
      const T* mask = a.mask ? static_cast<const T*>(a.mask) + n0 * a.mask_stride_n : nullptr;
      double* moments = a.scratch + 3 * n0;
      reduce_kernel<T><<<grid, kThreads, 0, stream>>>(grad, per, moments);
      check_launch(op);
      update_kernel<T><<<grid, kThreads, 0, stream>>>(
          static_cast<T*>(t.data) + n0 * per, grad, mask, a.mask_stride_n, per, t.c, t.h * t.w,
          a.channels_last, moments, a.norm, a.step_size, a.eps, a.clamp, a.clamp_lo, a.clamp_hi);
      check_launch(op);
    }
  });
}

}  // namespace cuda
}  // namespace fastdream
