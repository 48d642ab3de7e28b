// Tile extraction and blending with the circular jitter folded into the indexing.
//
// extract: tiles[n, r, q][c, i, j] = image[n, c, (ys[r] + i - roll_y) mod H, (xs[q] + j - roll_x) mod W]
// blend:   image[n, c, y', x'] = sum over tiles covering the rolled pixel (y, x) = (y' + roll_y,
//          x' + roll_x) mod (H, W) of wy[r][y - ys[r]] * wx[q][x - xs[q]] * tile value.
// Blend is a gather over output rows, so threads never write the same pixel.
#include <stdexcept>
#include <vector>

#include "../fastdream.h"
#include "parallel.h"

namespace fastdream {
namespace cpu {
namespace {

inline int64_t wrap(int64_t v, int64_t size) { return v >= size ? v - size : (v < 0 ? v + size : v); }

template <typename T>
void extract_impl(const TileArgs& a, int threads) {
  const Tensor4& im = a.image;
  const Tensor4& tl = a.tiles;
  const T* src = static_cast<const T*>(im.data);
  T* dst = static_cast<T*>(tl.data);
  const int64_t T_ = a.ny * a.nx, th = tl.h, tw = tl.w, C = im.c;
  // One work item = one row of one tile.
  parallel_for(tl.n * th, threads_for(threads, tl.n * C * th * tw), 16, [&](int64_t b, int64_t e, int) {
    std::vector<int64_t> xoff(tw);
    for (int64_t item = b; item < e; ++item) {
      const int64_t tile = item / th, i = item % th;
      const int64_t n = tile / T_, k = tile % T_, r = k / a.nx, q = k % a.nx;
      const int64_t y = wrap(a.ys[r] + i - a.roll_y, im.h);
      for (int64_t j = 0; j < tw; ++j) xoff[j] = wrap(a.xs[q] + j - a.roll_x, im.w) * im.sw;
      const T* s = src + n * im.sn + y * im.sh;
      T* d = dst + tile * tl.sn + i * tl.sh;
      for (int64_t c = 0; c < C; ++c)
        for (int64_t j = 0; j < tw; ++j) d[c * tl.sc + j * tl.sw] = s[c * im.sc + xoff[j]];
    }
  });
}

template <typename T>
void blend_impl(const TileArgs& a, int threads) {
  const Tensor4& im = a.image;
  const Tensor4& tl = a.tiles;
  T* dst = static_cast<T*>(im.data);
  const T* src = static_cast<const T*>(tl.data);
  const int64_t T_ = a.ny * a.nx, th = tl.h, tw = tl.w, C = im.c, H = im.h, W = im.w;
  // One work item = one output row of one sample.
  parallel_for(im.n * H, threads_for(threads, im.n * C * H * W), 4, [&](int64_t b, int64_t e, int) {
    for (int64_t item = b; item < e; ++item) {
      const int64_t n = item / H, yo = item % H;
      const int64_t y = wrap(yo + a.roll_y, H);  // row in the rolled image
      T* d = dst + n * im.sn + yo * im.sh;
      for (int64_t c = 0; c < C; ++c)
        for (int64_t x = 0; x < W; ++x) d[c * im.sc + x * im.sw] = T(0);
      for (int64_t r = 0; r < a.ny; ++r) {
        const int64_t i = y - a.ys[r];
        if (i < 0 || i >= th) continue;
        const float wyv = a.wy[r * th + i];
        for (int64_t q = 0; q < a.nx; ++q) {
          const T* s = src + (n * T_ + r * a.nx + q) * tl.sn + i * tl.sh;
          const float* wxq = a.wx + q * tw;
          for (int64_t j = 0; j < tw; ++j) {
            const int64_t xo = wrap(a.xs[q] + j - a.roll_x, W);
            const T w = T(wyv * wxq[j]);
            for (int64_t c = 0; c < C; ++c) d[c * im.sc + xo * im.sw] += w * s[c * tl.sc + j * tl.sw];
          }
        }
      }
    }
  });
}

}  // namespace

void extract_tiles(const TileArgs& a, int dtype, int threads) {
  switch (dtype) {
    case kFloat32: return extract_impl<float>(a, threads);
    case kFloat64: return extract_impl<double>(a, threads);
    default: throw std::invalid_argument("extract_tiles: the CPU kernel supports float32 and float64");
  }
}

void blend_tiles(const TileArgs& a, int dtype, int threads) {
  switch (dtype) {
    case kFloat32: return blend_impl<float>(a, threads);
    case kFloat64: return blend_impl<double>(a, threads);
    default: throw std::invalid_argument("blend_tiles: the CPU kernel supports float32 and float64");
  }
}

}  // namespace cpu
}  // namespace fastdream
