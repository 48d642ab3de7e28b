// One-pass affine resampling on the GPU, bilinear or bicubic: one thread per output pixel,
// coordinates computed on the fly (no grid tensor), taps shared by all channels. Same convention
// as the CPU kernel.
#include "common.cuh"

namespace fastdream {
namespace cuda {
namespace {

__device__ __forceinline__ double reflect_coord(double v, long long size) {
  if (v >= 0.0 && v <= double(size - 1)) return v;
  // As the CPU kernel: fmod by the period of two spans, no integer count of flips.
  const double lo = -0.5, span = double(size);
  const double e = fmod(fabs(v - lo), 2.0 * span);
  v = (e < span ? e : 2.0 * span - e) + lo;
  return v != v ? v : fmin(fmax(v, 0.0), double(size - 1));  // (fmax would turn a NaN into 0)
}

template <typename A>
__device__ __forceinline__ void axis_taps(double v, long long size, int padding, long long& i0,
                                          long long& i1, A& w0, A& w1) {
  if (padding == kPadBorder)
    v = fmin(fmax(v, 0.0), double(size - 1));
  else if (padding == kPadReflect)
    v = reflect_coord(v, size);
  v = v != v ? -1e15 : fmin(fmax(v, -1e15), 1e15);  // as the CPU: NaN or huge weighs 0, no overflow
  double f = floor(v);
  i0 = (long long)f;
  i1 = i0 + 1;
  w1 = A(v - f);
  w0 = A(1) - w1;
  if (i0 < 0 || i0 >= size) {
    w0 = A(0);
    i0 = 0;
  }
  if (i1 < 0 || i1 >= size) {
    w1 = A(0);
    i1 = 0;
  }
}

// As the CPU kernel: Keys' cubic weights with a = -0.5 (Catmull-Rom: it amplifies no frequency,
// so frames resampled from frames neither blur nor ring), and each tap padded on its own
// (reflected, clamped, or weighing 0).
template <typename A>
__device__ __forceinline__ void cubic_weights(double t, A w[4]) {
  const double a = -0.5;  // (in double, as the CPU: the outer taps' polynomials cancel)
  const double t1 = t + 1, t2 = 1 - t, t3 = 2 - t;
  w[0] = A(((a * t1 - 5 * a) * t1 + 8 * a) * t1 - 4 * a);
  w[1] = A(((a + 2) * t - (a + 3)) * t * t + 1);
  w[2] = A(((a + 2) * t2 - (a + 3)) * t2 * t2 + 1);
  w[3] = A(((a * t3 - 5 * a) * t3 + 8 * a) * t3 - 4 * a);
}

template <typename A>
__device__ __forceinline__ long long cubic_tap(long long i, long long size, long long stride,
                                               int padding, A& w) {
  if (i >= 0 && i < size) return i * stride;
  if (padding == kPadZeros) {
    w = A(0);
    return 0;
  }
  if (padding == kPadBorder) return (i < 0 ? 0 : size - 1) * stride;
  return (long long)reflect_coord(double(i), size) * stride;
}

// As the CPU kernel: a far coordinate brought near the image without changing what its taps read.
__device__ __forceinline__ double cubic_coord(double v, long long size, int padding) {
  if (padding != kPadReflect) return fmin(fmax(v, -3.0), double(size) + 2.0);
  if (fabs(v) < 1e15) return v;
  const double period = 2.0 * double(size), r = fmod(v, period);
  return r < 0 ? r + period : r;
}

template <typename T>
__device__ void cubic_pixel(const ZoomShiftArgs& a, double sx, double sy, const T* sp, T* dp) {
  using A = acc_t<T>;
  const Tensor4& s = a.src;
  const Tensor4& d = a.dst;
  if (sx != sx || sy != sy) {  // NaN (from an infinite coordinate): 0, as the CPU (fmax drops NaN)
    for (long long c = 0; c < d.c; ++c) dp[c * d.sc] = from_acc<T>(A(0));
    return;
  }
  sx = cubic_coord(sx, s.w, a.padding);
  sy = cubic_coord(sy, s.h, a.padding);
  if (sx != sx || sy != sy) {  // an infinite coordinate reflected (fmod gives NaN): 0 too
    for (long long c = 0; c < d.c; ++c) dp[c * d.sc] = from_acc<T>(A(0));
    return;
  }
  const double fx = floor(sx), fy = floor(sy);
  A wx[4], wy[4];
  cubic_weights(sx - fx, wx);
  cubic_weights(sy - fy, wy);
  long long ox[4], oy[4];
  for (int k = 0; k < 4; ++k) {
    ox[k] = cubic_tap((long long)fx - 1 + k, s.w, s.sw, a.padding, wx[k]);
    oy[k] = cubic_tap((long long)fy - 1 + k, s.h, s.sh, a.padding, wy[k]);
  }
  for (long long c = 0; c < d.c; ++c) {
    const T* p = sp + c * s.sc;
    A v = A(0);
    for (int j = 0; j < 4; ++j) {
      const T* r = p + oy[j];
      v += wy[j] * (wx[0] * to_acc(r[ox[0]]) + wx[1] * to_acc(r[ox[1]]) + wx[2] * to_acc(r[ox[2]]) +
                    wx[3] * to_acc(r[ox[3]]));
    }
    dp[c * d.sc] = from_acc<T>(v);
  }
}

template <typename T>
__global__ void zoom_shift_kernel(ZoomShiftArgs a) {
  const Tensor4& s = a.src;
  const Tensor4& d = a.dst;
  const long long total = d.n * d.h * d.w;
  for (long long p = (long long)blockIdx.x * blockDim.x + threadIdx.x; p < total;
       p += (long long)gridDim.x * blockDim.x) {
    const long long x = p % d.w, y = (p / d.w) % d.h, n = p / (d.w * d.h);
    const double sx = a.m[0] * x + a.m[1] * y + a.bx;
    const double sy = a.m[2] * x + a.m[3] * y + a.by;
    const T* sp = static_cast<const T*>(s.data) + n * s.sn;
    T* dp = static_cast<T*>(d.data) + n * d.sn + y * d.sh + x * d.sw;
    if (a.interp == kBicubic) {
      cubic_pixel<T>(a, sx, sy, sp, dp);
      continue;
    }
    using A = acc_t<T>;
    long long x0, x1, y0, y1;
    A wx0, wx1, wy0, wy1;
    axis_taps(sx, s.w, a.padding, x0, x1, wx0, wx1);
    axis_taps(sy, s.h, a.padding, y0, y1, wy0, wy1);
    for (long long c = 0; c < d.c; ++c) {
      const T* q = sp + c * s.sc;
      A v =
          wy0 * (wx0 * to_acc(q[y0 * s.sh + x0 * s.sw]) + wx1 * to_acc(q[y0 * s.sh + x1 * s.sw])) +
          wy1 * (wx0 * to_acc(q[y1 * s.sh + x0 * s.sw]) + wx1 * to_acc(q[y1 * s.sh + x1 * s.sw]));
      dp[c * d.sc] = from_acc<T>(v);
    }
  }
}

}  // namespace

void zoom_shift(const ZoomShiftArgs& a, int dtype, void* stream_ptr) {
  const char* op = "zoom_shift";
  check_zoom_shift(a, op);
  const long long total = a.dst.n * a.dst.h * a.dst.w;
  if (total == 0) return;
  dispatch_dtype(dtype, op, [&](auto tag) {
    using T = decltype(tag);
    zoom_shift_kernel<T>
        <<<blocks_for(total, 256), 256, 0, static_cast<cudaStream_t>(stream_ptr)>>>(a);
    check_launch(op);
  });
}

}  // namespace cuda
}  // namespace fastdream
