// One-pass affine resampling (zoom / rotate / shift about the image center) on the CPU.
//
// Coordinates are computed on the fly, in double, row by row: no grid tensor is built, and
// the per-pixel taps and weights are shared by all channels. Boundary rules and the pixel-center
// convention are those of grid_sample(align_corners=False), which the reference uses.
#include <cmath>
#include <stdexcept>
#include <type_traits>
#include <vector>

#include "../fastdream.h"
#include "parallel.h"

namespace fastdream {
namespace cpu {
namespace {

// Reflection about the pixel edges -0.5 and size-0.5 (grid_sample's align_corners=False rule),
// followed by the clip that grid_sample applies after reflecting.
inline double reflect_coord(double v, int64_t size) {
  if (v >= 0.0 && v <= double(size - 1)) return v;  // the common case: inside the image
  const double lo = -0.5, span = double(size);
  double d = std::fabs(v - lo);
  double extra = std::fmod(d, span);
  int64_t flips = int64_t(std::floor(d / span));
  v = (flips % 2 == 0) ? extra + lo : span - extra + lo;
  return std::min(std::max(v, 0.0), double(size - 1));
}

template <typename A>
struct Tap {
  int64_t o00, o01, o10, o11;  // element offsets of the 4 neighbours inside one channel plane
  A w00, w01, w10, w11;        // bilinear weights; 0 for a neighbour outside the image
};

// Computes the taps of one source coordinate along one axis: two indices and their weights.
template <typename A>
inline void axis_taps(double v, int64_t size, int padding, int64_t& i0, int64_t& i1, A& w0, A& w1) {
  if (padding == kPadBorder) v = std::min(std::max(v, 0.0), double(size - 1));
  else if (padding == kPadReflect) v = reflect_coord(v, size);
  double f = std::floor(v);
  i0 = int64_t(f);
  i1 = i0 + 1;
  w1 = A(v - f);
  w0 = A(1) - w1;
  // A neighbour outside the image weighs 0 (zeros padding; or the exact right/bottom edge).
  // Its index is pointed at a valid pixel so the gather loop needs no branch.
  if (i0 < 0 || i0 >= size) { w0 = A(0); i0 = 0; }
  if (i1 < 0 || i1 >= size) { w1 = A(0); i1 = 0; }
}

template <typename T>
void zoom_shift_impl(const ZoomShiftArgs& a, int threads) {
  // float weights for float data (what grid_sample does), double for double.
  using A = typename std::conditional<std::is_same<T, double>::value, double, float>::type;
  const Tensor4& s = a.src;
  const Tensor4& d = a.dst;
  const T* src = static_cast<const T*>(s.data);
  T* dst = static_cast<T*>(d.data);
  const int64_t N = d.n, C = d.c, H = d.h, W = d.w;
  parallel_for(N * H, threads, 4, [&](int64_t b, int64_t e, int) {
    std::vector<Tap<A>> taps(W);
    for (int64_t row = b; row < e; ++row) {
      const int64_t n = row / H, y = row % H;
      for (int64_t x = 0; x < W; ++x) {
        double sx = a.m[0] * x + a.m[1] * y + a.bx;
        double sy = a.m[2] * x + a.m[3] * y + a.by;
        int64_t x0, x1, y0, y1;
        A wx0, wx1, wy0, wy1;
        axis_taps(sx, s.w, a.padding, x0, x1, wx0, wx1);
        axis_taps(sy, s.h, a.padding, y0, y1, wy0, wy1);
        Tap<A>& t = taps[x];
        t.o00 = y0 * s.sh + x0 * s.sw;
        t.o01 = y0 * s.sh + x1 * s.sw;
        t.o10 = y1 * s.sh + x0 * s.sw;
        t.o11 = y1 * s.sh + x1 * s.sw;
        t.w00 = wy0 * wx0;
        t.w01 = wy0 * wx1;
        t.w10 = wy1 * wx0;
        t.w11 = wy1 * wx1;
      }
      const T* sp = src + n * s.sn;
      T* dp = dst + n * d.sn + y * d.sh;
      if (d.sw == 1) {
        // NCHW output: write each channel's row sequentially.
        for (int64_t c = 0; c < C; ++c) {
          const T* p = sp + c * s.sc;
          T* q = dp + c * d.sc;
          for (int64_t x = 0; x < W; ++x) {
            const Tap<A>& t = taps[x];
            q[x] = T(t.w00 * A(p[t.o00]) + t.w01 * A(p[t.o01]) + t.w10 * A(p[t.o10]) +
                     t.w11 * A(p[t.o11]));
          }
        }
      } else {
        // NHWC output (or any other strides): all channels of one pixel together.
        for (int64_t x = 0; x < W; ++x) {
          const Tap<A>& t = taps[x];
          T* q = dp + x * d.sw;
          for (int64_t c = 0; c < C; ++c) {
            const T* p = sp + c * s.sc;
            q[c * d.sc] = T(t.w00 * A(p[t.o00]) + t.w01 * A(p[t.o01]) +
                            t.w10 * A(p[t.o10]) + t.w11 * A(p[t.o11]));
          }
        }
      }
    }
  });
}

}  // namespace

void zoom_shift(const ZoomShiftArgs& a, int dtype, int threads) {
  switch (dtype) {
    case kFloat32: return zoom_shift_impl<float>(a, threads);
    case kFloat64: return zoom_shift_impl<double>(a, threads);
    default: throw std::invalid_argument("zoom_shift: the CPU kernel supports float32 and float64");
  }
}

}  // namespace cpu
}  // namespace fastdream
