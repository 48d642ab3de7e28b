// One-pass affine resampling (zoom / rotate / shift about the image center) on the CPU, bilinear
// or bicubic.
//
// Coordinates are computed on the fly, in double, row by row: no grid tensor is built, and
// the per-pixel taps and weights are shared by all channels. Boundary rules and the pixel-center
// convention are those of grid_sample(align_corners=False), which the reference uses.
#include <cmath>
#include <stdexcept>
#include <type_traits>
#include <vector>

#include "../checks.h"
#include "../fastdream.h"
#include "parallel.h"

namespace fastdream {
namespace cpu {
namespace {

// Reflection about the pixel edges -0.5 and size-0.5 (grid_sample's align_corners=False rule),
// followed by the clip that grid_sample applies after reflecting.
inline double reflect_coord(double v, int64_t size) {
  if (v >= 0.0 && v <= double(size - 1)) return v;  // the common case: inside the image
  // One period is two spans (there and back): fmod by it needs no count of flips, whose cast to
  // an integer is undefined for huge coordinates (and differed between the CPU and the GPU).
  const double lo = -0.5, span = double(size);
  const double e = std::fmod(std::fabs(v - lo), 2.0 * span);
  v = (e < span ? e : 2.0 * span - e) + lo;
  return v != v ? v : std::min(std::max(v, 0.0), double(size - 1));  // (NaN stays: no taps)
}

// Taps of one source coordinate along one axis: two indices and their weights. A neighbour
// outside the image weighs 0 (zeros padding, or the exact right/bottom edge); its index points at
// a valid pixel so the gather needs no branch.
template <int kPadding, typename A>
inline void axis_taps(double v, int64_t size, int64_t& i0, int64_t& i1, A& w0, A& w1) {
  if (kPadding == kPadBorder)
    v = std::min(std::max(v, 0.0), double(size - 1));
  else if (kPadding == kPadReflect)
    v = reflect_coord(v, size);
  // Truncate-and-fix floor: std::floor is a libm call on baseline x86-64 (no SSE4.1 round). A NaN
  // coordinate (from an infinite one) weighs 0, as one far outside does.
  v = v != v ? -1e15 : std::min(std::max(v, -1e15), 1e15);
  i0 = int64_t(v);
  i0 -= double(i0) > v;
  i1 = i0 + 1;
  w1 = A(v - double(i0));
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

// One output row: per pixel, the taps (shared by every channel), then all channels' samples.
// One fused loop, no tap buffer: at 3 channels the coordinates cost as much as the gathers.
template <typename T, typename A, int kPadding>
FASTDREAM_CLONES void zoom_row(const ZoomShiftArgs& a, int64_t n, int64_t y) {
  const Tensor4& s = a.src;
  const Tensor4& d = a.dst;
  const T* sp = static_cast<const T*>(s.data) + n * s.sn;
  T* dp = static_cast<T*>(d.data) + n * d.sn + y * d.sh;
  const int64_t C = d.c, W = d.w;
  const double rx = a.m[1] * y + a.bx, ry = a.m[3] * y + a.by;
  const double xmax = double(s.w - 1), ymax = double(s.h - 1);
  for (int64_t x = 0; x < W; ++x) {
    const double sx = a.m[0] * x + rx, sy = a.m[2] * x + ry;
    int64_t x0, x1, y0, y1;
    A wx0, wx1, wy0, wy1;
    if (sx >= 0.0 && sx < xmax && sy >= 0.0 && sy < ymax) {
      // Interior (most pixels): all four neighbours exist, truncation is the floor.
      x0 = int64_t(sx);
      y0 = int64_t(sy);
      x1 = x0 + 1;
      y1 = y0 + 1;
      wx1 = A(sx - double(x0));
      wy1 = A(sy - double(y0));
      wx0 = A(1) - wx1;
      wy0 = A(1) - wy1;
    } else {
      axis_taps<kPadding>(sx, s.w, x0, x1, wx0, wx1);
      axis_taps<kPadding>(sy, s.h, y0, y1, wy0, wy1);
    }
    const int64_t o00 = y0 * s.sh + x0 * s.sw, o01 = y0 * s.sh + x1 * s.sw;
    const int64_t o10 = y1 * s.sh + x0 * s.sw, o11 = y1 * s.sh + x1 * s.sw;
    const A w00 = wy0 * wx0, w01 = wy0 * wx1, w10 = wy1 * wx0, w11 = wy1 * wx1;
    T* q = dp + x * d.sw;
    for (int64_t c = 0; c < C; ++c) {
      const T* p = sp + c * s.sc;
      q[c * d.sc] = T(w00 * A(p[o00]) + w01 * A(p[o01]) + w10 * A(p[o10]) + w11 * A(p[o11]));
    }
  }
}

// Keys' cubic convolution weights of the taps floor(v) - 1 .. floor(v) + 2, t = v - floor(v), with
// a = -0.5: Catmull-Rom. Its taps sum to 1, it keeps far more detail than bilinear when a zoom
// video resamples every frame from the last, and at no offset does it amplify any frequency:
// grid_sample's a = -0.75 boosts mid frequencies by up to 3%, which sixty half-pixel shifts grew
// into halos clipped to black and white. In double: the outer taps' polynomials cancel, and in
// float they were off by 2e-7, a 1e-5 share of a faint pixel at a zoomed-out edge.
template <typename A>
inline void cubic_weights(double t, A w[4]) {
  const double a = -0.5;
  const auto near = [a](double x) { return ((a + 2) * x - (a + 3)) * x * x + 1; };
  const auto far = [a](double x) { return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a; };
  w[0] = A(far(t + 1));
  w[1] = A(near(t));
  w[2] = A(near(1 - t));
  w[3] = A(far(2 - t));
}

// Each tap is padded, not the coordinate (grid_sample's bicubic rule): a tap outside the image reads its
// reflected or clamped pixel, or weighs 0 (zeros). Returns the tap's offset along the axis.
template <int kPadding, typename A>
inline int64_t cubic_tap(int64_t i, int64_t size, int64_t stride, A& w) {
  if (i >= 0 && i < size) return i * stride;
  if (kPadding == kPadZeros) {
    w = A(0);
    return 0;
  }
  if (kPadding == kPadBorder) return (i < 0 ? 0 : size - 1) * stride;
  return int64_t(reflect_coord(double(i), size)) * stride;
}

// A bicubic source coordinate brought near the image without changing what its taps read: past
// [-3, size + 2] every tap reads the edge (border) or nothing (zeros); reflect taps repeat every
// 2 * size pixels, so a far coordinate moves by whole periods (an int64 floor of 1e16 overflowed).
template <int kPadding>
inline double cubic_coord(double v, int64_t size) {
  if (kPadding != kPadReflect) return std::min(std::max(v, -3.0), double(size) + 2.0);
  if (std::fabs(v) < 1e15) return v;
  const double period = 2.0 * double(size), r = std::fmod(v, period);
  return r < 0 ? r + period : r;
}

// One output row of the bicubic resampling: 4x4 taps per pixel, shared by every channel.
template <typename T, typename A, int kPadding>
FASTDREAM_CLONES void zoom_row_cubic(const ZoomShiftArgs& a, int64_t n, int64_t y) {
  const Tensor4& s = a.src;
  const Tensor4& d = a.dst;
  const T* sp = static_cast<const T*>(s.data) + n * s.sn;
  T* dp = static_cast<T*>(d.data) + n * d.sn + y * d.sh;
  const double rx = a.m[1] * y + a.bx, ry = a.m[3] * y + a.by;
  for (int64_t x = 0; x < d.w; ++x) {
    T* q = dp + x * d.sw;
    double sx = a.m[0] * x + rx, sy = a.m[2] * x + ry;
    if (sx != sx || sy != sy) {  // NaN (from an infinite coordinate): 0, as bilinear
      for (int64_t c = 0; c < d.c; ++c) q[c * d.sc] = T(0);
      continue;
    }
    sx = cubic_coord<kPadding>(sx, s.w);
    sy = cubic_coord<kPadding>(sy, s.h);
    if (sx != sx || sy != sy) {  // an infinite coordinate reflected (fmod gives NaN): 0 too
      for (int64_t c = 0; c < d.c; ++c) q[c * d.sc] = T(0);
      continue;
    }
    int64_t fx = int64_t(sx), fy = int64_t(sy);  // floor by truncate-and-fix (see axis_taps)
    fx -= double(fx) > sx;
    fy -= double(fy) > sy;
    A wx[4], wy[4];
    cubic_weights(sx - double(fx), wx);
    cubic_weights(sy - double(fy), wy);
    int64_t ox[4], oy[4];
    for (int k = 0; k < 4; ++k) {
      ox[k] = cubic_tap<kPadding>(fx - 1 + k, s.w, s.sw, wx[k]);
      oy[k] = cubic_tap<kPadding>(fy - 1 + k, s.h, s.sh, wy[k]);
    }
    for (int64_t c = 0; c < d.c; ++c) {
      const T* p = sp + c * s.sc;
      A v = A(0);
      for (int j = 0; j < 4; ++j) {
        const T* r = p + oy[j];
        v += wy[j] * (wx[0] * A(r[ox[0]]) + wx[1] * A(r[ox[1]]) + wx[2] * A(r[ox[2]]) +
                      wx[3] * A(r[ox[3]]));
      }
      q[c * d.sc] = T(v);
    }
  }
}

template <typename T, int kPadding>
void zoom_shift_rows(const ZoomShiftArgs& a, int threads) {
  // float weights for float data (what grid_sample does), double for double.
  using A = typename std::conditional<std::is_same<T, double>::value, double, float>::type;
  const int64_t H = a.dst.h;
  // Weighted 8x (bilinear: 4 gathers and their weights per value, ~8x a streaming op's work) or
  // 24x (bicubic: 16 gathers).
  const bool cubic = a.interp == kBicubic;
  const int64_t work = (cubic ? 24 : 8) * a.dst.n * a.dst.c * H * a.dst.w;
  parallel_for(a.dst.n * H, threads_for(threads, work), 4, [&](int64_t b, int64_t e, int) {
    for (int64_t row = b; row < e; ++row) {
      if (cubic)
        zoom_row_cubic<T, A, kPadding>(a, row / H, row % H);
      else
        zoom_row<T, A, kPadding>(a, row / H, row % H);
    }
  });
}

template <typename T>
void zoom_shift_impl(const ZoomShiftArgs& a, int threads) {
  switch (a.padding) {
    case kPadZeros:
      return zoom_shift_rows<T, kPadZeros>(a, threads);
    case kPadBorder:
      return zoom_shift_rows<T, kPadBorder>(a, threads);
    default:
      return zoom_shift_rows<T, kPadReflect>(a, threads);
  }
}

}  // namespace

void zoom_shift(const ZoomShiftArgs& a, int dtype, int threads) {
  check_zoom_shift(a, "zoom_shift");
  switch (dtype) {
    case kFloat32:
      return zoom_shift_impl<float>(a, threads);
    case kFloat64:
      return zoom_shift_impl<double>(a, threads);
    default:
      throw std::invalid_argument("zoom_shift: the CPU kernel supports float32 and float64");
  }
}

}  // namespace cpu
}  // namespace fastdream
