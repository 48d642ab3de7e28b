// Tile extraction and blending with the circular jitter folded into the indexing.
//
// extract: tiles[n, r, q][c, i, j] =
//            image[n, c, (ys[r] + i - roll_y) mod H, (xs[q] + j - roll_x) mod W]
// blend:   image[n, c, y', x'] = sum over the tiles covering the rolled pixel
//            (y, x) = (y' + roll_y, x' + roll_x) mod (H, W) of wy[r][y - ys[r]] * wx[q][x - xs[q]] * value
// Blend is a gather over output rows, so threads never write the same pixel.
#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <vector>

#include "../checks.h"
#include "../fastdream.h"
#include "parallel.h"

namespace fastdream {
namespace cpu {
namespace {

inline int64_t wrap(int64_t v, int64_t size) {
  return v >= size ? v - size : (v < 0 ? v + size : v);
}

// A tile row covers tile columns [0, tw) = image columns x0, x0+1, ... wrapping once at W (the
// roll is in [0, W) and tiles lie inside the image): at most two runs of consecutive columns.
// Each run is copied or accumulated as a block, not pixel by pixel with a wrap per pixel.
struct Run {
  int64_t j, x, len;  // tile column, image column, length
};

inline int runs(int64_t x0, int64_t tw, int64_t W, Run out[2]) {
  const int64_t first = std::min(tw, W - x0);
  out[0] = {0, x0, first};
  if (first == tw) return 1;
  out[1] = {first, 0, tw - first};
  return 2;
}

template <typename T>
void extract_impl(const TileArgs& a, int threads) {
  const Tensor4& im = a.image;
  const Tensor4& tl = a.tiles;
  const T* src = static_cast<const T*>(im.data);
  T* dst = static_cast<T*>(tl.data);
  const int64_t T_ = a.ny * a.nx, th = tl.h, tw = tl.w, C = im.c;
  // Pixels (all channels) contiguous in both (channels_last), or each channel's row contiguous.
  const bool packed = im.sc == 1 && tl.sc == 1 && im.sw == C && tl.sw == C;
  const bool planar = im.sw == 1 && tl.sw == 1;
  // One work item = one row of one tile.
  parallel_for(tl.n * th, threads_for(threads, tl.n * C * th * tw), 16,
               [&](int64_t b, int64_t e, int) {
                 for (int64_t item = b; item < e; ++item) {
                   const int64_t tile = item / th, i = item % th;
                   const int64_t n = tile / T_, k = tile % T_, r = k / a.nx, q = k % a.nx;
                   const int64_t y = wrap(a.ys[r] + i - a.roll_y, im.h);
                   const T* s = src + n * im.sn + y * im.sh;
                   T* d = dst + tile * tl.sn + i * tl.sh;
                   Run run[2];
                   const int nr = runs(wrap(a.xs[q] - a.roll_x, im.w), tw, im.w, run);
                   for (int u = 0; u < nr; ++u) {
                     const Run& R = run[u];
                     if (packed) {
                       std::memcpy(d + R.j * C, s + R.x * C, sizeof(T) * R.len * C);
                     } else if (planar) {
                       for (int64_t c = 0; c < C; ++c)
                         std::memcpy(d + c * tl.sc + R.j, s + c * im.sc + R.x, sizeof(T) * R.len);
                     } else {
                       for (int64_t c = 0; c < C; ++c)
                         for (int64_t j = 0; j < R.len; ++j)
                           d[c * tl.sc + (R.j + j) * tl.sw] = s[c * im.sc + (R.x + j) * im.sw];
                     }
                   }
                 }
               });
}

// d[x] += wy * wx[x] * s[x] over one run of one channel (or of all channels, interleaved).
template <typename T>
FASTDREAM_CLONES void accumulate_run(T* __restrict d, const T* __restrict s,
                                     const float* __restrict wx, float wy, int64_t len) {
#pragma omp simd
  for (int64_t j = 0; j < len; ++j) d[j] += T(wy * wx[j]) * s[j];
}

template <typename T>
void blend_impl(const TileArgs& a, int threads) {
  const Tensor4& im = a.image;
  const Tensor4& tl = a.tiles;
  T* dst = static_cast<T*>(im.data);
  const T* src = static_cast<const T*>(tl.data);
  const int64_t T_ = a.ny * a.nx, th = tl.h, tw = tl.w, C = im.c, H = im.h, W = im.w;
  const bool packed = im.sc == 1 && tl.sc == 1 && im.sw == C && tl.sw == C;
  const bool planar = im.sw == 1 && tl.sw == 1;
  // channels_last: the x weights repeated per channel, so a run is one flat vectorized loop.
  std::vector<float> wxc;
  if (packed) {
    wxc.resize(a.nx * tw * C);
    for (int64_t k = 0; k < a.nx * tw; ++k)
      for (int64_t c = 0; c < C; ++c) wxc[k * C + c] = a.wx[k];
  }
  // One work item = one output row of one sample: threads never write the same pixel, and each
  // pixel sums its tiles in the same order (r, then q) as the reference.
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
          Run run[2];
          const int nr = runs(wrap(a.xs[q] - a.roll_x, W), tw, W, run);
          for (int u = 0; u < nr; ++u) {
            const Run& R = run[u];
            if (packed) {
              accumulate_run(d + R.x * C, s + R.j * C, wxc.data() + (q * tw + R.j) * C, wyv,
                             R.len * C);
            } else if (planar) {
              for (int64_t c = 0; c < C; ++c)
                accumulate_run(d + c * im.sc + R.x, s + c * tl.sc + R.j, wxq + R.j, wyv, R.len);
            } else {
              for (int64_t j = 0; j < R.len; ++j) {
                const T w = T(wyv * wxq[R.j + j]);
                for (int64_t c = 0; c < C; ++c)
                  d[c * im.sc + (R.x + j) * im.sw] += w * s[c * tl.sc + (R.j + j) * tl.sw];
              }
            }
          }
        }
      }
    }
  });
}

}  // namespace

void extract_tiles(const TileArgs& a, int dtype, int threads) {
  check_tiles(a, "extract_tiles", false, true);
  switch (dtype) {
    case kFloat32:
      return extract_impl<float>(a, threads);
    case kFloat64:
      return extract_impl<double>(a, threads);
    default:
      throw std::invalid_argument("extract_tiles: the CPU kernel supports float32 and float64");
  }
}

void blend_tiles(const TileArgs& a, int dtype, int threads) {
  check_tiles(a, "blend_tiles", true, true);
  switch (dtype) {
    case kFloat32:
      return blend_impl<float>(a, threads);
    case kFloat64:
      return blend_impl<double>(a, threads);
    default:
      throw std::invalid_argument("blend_tiles: the CPU kernel supports float32 and float64");
  }
}

}  // namespace cpu
}  // namespace fastdream
