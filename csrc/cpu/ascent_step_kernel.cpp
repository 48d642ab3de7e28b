// Fused DeepDream update on the CPU: per-sample gradient statistic, then step + mask + clamp.
//
// Two passes over grad (one to reduce, one to update) and one read-modify-write of image; no
// temporaries. Non-finite gradient entries count as 0 in both passes, so one NaN/Inf from the
// network cannot poison the statistic or the image (the reference defines the same rule).
#include <cmath>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <vector>

#include "../checks.h"
#include "../fastdream.h"
#include "parallel.h"

namespace fastdream {
namespace cpu {
namespace {

struct Moments {
  double sum = 0, sumsq = 0, sumabs = 0;
};

template <typename T>
struct Bits;
template <>
struct Bits<float> {
  using U = uint32_t;
  static constexpr U kExp = 0x7f800000u;
};
template <>
struct Bits<double> {
  using U = uint64_t;
  static constexpr U kExp = 0x7ff0000000000000ull;
};

// NaN and +-Inf (all exponent bits set) become 0. Written with integer masks, not a compare and
// select on floats, because GCC turns the float select into a branch and the loops stay scalar.
template <typename T>
inline T finite_or_zero(T g) {
  using U = typename Bits<T>::U;
  U u;
  std::memcpy(&u, &g, sizeof(T));
  u &= U(0) - U((u & Bits<T>::kExp) != Bits<T>::kExp);
  std::memcpy(&g, &u, sizeof(T));
  return g;
}

// Sum and sum of squares of one block, in T (vectorized). Kept as separate small functions:
// GCC leaves the loop scalar when both norms' loops share one body.
// Explicit 32-byte vectors (GCC vector extensions: one AVX register, or two SSE ones on the
// baseline clone). The auto-vectorizer mangles this two-accumulator loop into scalar code.
template <typename T>
FASTDREAM_CLONES void block_sums(const T* g, int64_t len, T& s_out, T& ss_out) {
  using U = typename Bits<T>::U;
  typedef T V __attribute__((vector_size(32)));
  typedef U VU __attribute__((vector_size(32)));
  constexpr int kLanes = 32 / sizeof(T);
  V s = {}, ss = {}, s2 = {}, ss2 = {};
  int64_t i = 0;
  for (; i + 2 * kLanes <= len; i += 2 * kLanes) {
    VU a, b;
    std::memcpy(&a, g + i, sizeof(a));
    std::memcpy(&b, g + i + kLanes, sizeof(b));
    a &= (a & Bits<T>::kExp) != Bits<T>::kExp;  // vector compare: all-ones where finite
    b &= (b & Bits<T>::kExp) != Bits<T>::kExp;
    V x = reinterpret_cast<V>(a), y = reinterpret_cast<V>(b);
    s += x;
    ss += x * x;
    s2 += y;
    ss2 += y * y;
  }
  s += s2;
  ss += ss2;
  T sum = 0, sumsq = 0;
  for (int k = 0; k < kLanes; ++k) {
    sum += s[k];
    sumsq += ss[k];
  }
  for (; i < len; ++i) {
    T v = finite_or_zero(g[i]);
    sum += v;
    sumsq += v * v;
  }
  s_out = sum;
  ss_out = sumsq;
}

template <typename T>
FASTDREAM_CLONES T block_abs_sum(const T* g, int64_t len) {
  T sa = 0;
#pragma omp simd reduction(+ : sa)
  for (int64_t i = 0; i < len; ++i) sa += std::fabs(finite_or_zero(g[i]));
  return sa;
}

// Sums a span in float blocks and folds each block into double, which keeps the statistic
// within ~1e-7 of an exact sum at 4096^2 without paying for double-width SIMD.
template <typename T>
Moments reduce_span(const T* g, int64_t len, int norm) {
  constexpr int64_t kBlock = 2048;
  Moments m;
  for (int64_t b = 0; b < len; b += kBlock) {
    const int64_t n = std::min(kBlock, len - b);
    if (norm == kNormStd) {
      T s, ss;
      block_sums(g + b, n, s, ss);
      m.sum += s;
      m.sumsq += ss;
    } else {
      m.sumabs += block_abs_sum(g + b, n);
    }
  }
  return m;
}

template <typename T>
inline T clamp_value(T v, T lo, T hi) {
  // Same NaN rule as torch.clamp: a NaN already in the image stays NaN.
  return std::min(std::max(v, lo), hi);
}

template <typename T>
FASTDREAM_CLONES void update_span(T* x, const T* g, int64_t len, T scale, bool clamp, T lo, T hi) {
  if (clamp) {
#pragma omp simd
    for (int64_t i = 0; i < len; ++i)
      x[i] = clamp_value(x[i] + scale * finite_or_zero(g[i]), lo, hi);
  } else {
#pragma omp simd
    for (int64_t i = 0; i < len; ++i) x[i] = x[i] + scale * finite_or_zero(g[i]);
  }
}

// NCHW with a mask: the span lies in one channel plane, the mask is indexed by pixel.
template <typename T>
FASTDREAM_CLONES void update_span_mask_planar(T* x, const T* g, const T* m, int64_t len, T scale,
                                              bool clamp, T lo, T hi) {
  if (clamp) {
#pragma omp simd
    for (int64_t i = 0; i < len; ++i)
      x[i] = clamp_value(x[i] + scale * finite_or_zero(g[i]) * m[i], lo, hi);
  } else {
#pragma omp simd
    for (int64_t i = 0; i < len; ++i) x[i] = x[i] + scale * finite_or_zero(g[i]) * m[i];
  }
}

template <typename T>
void ascent_step_impl(const AscentStepArgs& a, int threads) {
  const Tensor4& t = a.image;
  T* image = static_cast<T*>(t.data);
  const T* grad = static_cast<const T*>(a.grad);
  const T* mask = static_cast<const T*>(a.mask);
  const int64_t N = t.n, C = t.c, HW = t.h * t.w, per = C * HW, total = N * per;
  if (total == 0) return;
  constexpr int64_t kGrain = 1 << 16;

  // Pass 1: per-chunk moments of every sample the chunk touches (chunks may straddle samples),
  // summed in chunk order below: the same bits whatever the thread count.
  const int64_t parts = parallel_chunks(total, kGrain);
  std::vector<Moments> partial(parts * N);
  parallel_for(total, threads_for(threads, total), kGrain, [&](int64_t b, int64_t e, int p) {
    for (int64_t i = b; i < e;) {
      int64_t n = i / per, end = std::min(e, (n + 1) * per);
      Moments m = reduce_span(grad + i, end - i, a.norm);
      Moments& acc = partial[p * N + n];
      acc.sum += m.sum;
      acc.sumsq += m.sumsq;
      acc.sumabs += m.sumabs;
      i = end;
    }
  });
  std::vector<T> scale(N);
  for (int64_t n = 0; n < N; ++n) {
    Moments m;
    for (int64_t p = 0; p < parts; ++p) {
      m.sum += partial[p * N + n].sum;
      m.sumsq += partial[p * N + n].sumsq;
      m.sumabs += partial[p * N + n].sumabs;
    }
    double stat;
    if (a.norm == kNormStd) {
      // Unbiased (n-1) like torch.std; one element has no spread, so its std is 0.
      double var = (m.sumsq - m.sum * m.sum / double(per)) / double(per > 1 ? per - 1 : 1);
      stat = std::sqrt(std::max(var, 0.0));
    } else {
      stat = m.sumabs / double(per);
    }
    scale[n] = T(a.step_size / (stat + a.eps));
  }

  // Pass 2: the update, split into spans that stay inside one sample (and one plane with a mask).
  const T lo = T(a.clamp_lo), hi = T(a.clamp_hi);
  parallel_for(total, threads_for(threads, total), kGrain, [&](int64_t b, int64_t e, int) {
    for (int64_t i = b; i < e;) {
      int64_t n = i / per, off = i - n * per;
      if (!mask) {
        int64_t end = std::min(e, (n + 1) * per);
        update_span(image + i, grad + i, end - i, scale[n], a.clamp, lo, hi);
        i = end;
      } else if (!a.channels_last) {
        int64_t hw = off % HW, end = std::min(e, i + (HW - hw));
        const T* m = mask + n * a.mask_stride_n + hw;
        update_span_mask_planar(image + i, grad + i, m, end - i, scale[n], a.clamp, lo, hi);
        i = end;
      } else {
        // NHWC: C neighbours share one mask value; spans are short, so no SIMD here.
        int64_t end = std::min(e, (n + 1) * per);
        const T* m = mask + n * a.mask_stride_n;
        for (int64_t j = i; j < end; ++j) {
          T v = image[j] + scale[n] * finite_or_zero(grad[j]) * m[(j - n * per) / C];
          image[j] = a.clamp ? clamp_value(v, lo, hi) : v;
        }
        i = end;
      }
    }
  });
}

}  // namespace

void ascent_step(const AscentStepArgs& a, int dtype, int threads) {
  check_ascent_step(a, "ascent_step_");
  switch (dtype) {
    case kFloat32:
      return ascent_step_impl<float>(a, threads);
    case kFloat64:
      return ascent_step_impl<double>(a, threads);
    default:
      throw std::invalid_argument("ascent_step_: the CPU kernel supports float32 and float64");
  }
}

}  // namespace cpu
}  // namespace fastdream
