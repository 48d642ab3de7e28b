// Checks of what the kernels index by, run by every backend before a launch.
//
// The Python ops (fastdream/ops) check their arguments first and say more; these are the second
// line of defence, so a call that skips Python's checks throws std::invalid_argument (a
// ValueError in Python) instead of reading or writing out of bounds. All are O(1) or O(tiles).
#pragma once
#include <stdexcept>
#include <string>

#include "fastdream.h"

namespace fastdream {

inline void require(bool ok, const char* op, const char* what) {
  if (!ok) throw std::invalid_argument(std::string(op) + ": " + what);
}

inline int64_t numel(const Tensor4& t) { return t.n * t.c * t.h * t.w; }

inline void check_sizes(const Tensor4& t, const char* op) {
  require(t.n >= 0 && t.c >= 0 && t.h >= 0 && t.w >= 0, op, "negative tensor size");
  require(t.data != nullptr || numel(t) == 0, op, "null data pointer");
}

// Dense in the given order: each stride is the product of the sizes inside it (a dimension of
// size 1 may have any stride, as torch allows).
inline bool dense(const Tensor4& t, bool channels_last) {
  auto ok = [](int64_t size, int64_t stride, int64_t want) { return size <= 1 || stride == want; };
  if (channels_last)
    return ok(t.c, t.sc, 1) && ok(t.w, t.sw, t.c) && ok(t.h, t.sh, t.w * t.c) &&
           ok(t.n, t.sn, t.h * t.w * t.c);
  return ok(t.w, t.sw, 1) && ok(t.h, t.sh, t.w) && ok(t.c, t.sc, t.h * t.w) &&
         ok(t.n, t.sn, t.c * t.h * t.w);
}

inline void check_ascent_step(const AscentStepArgs& a, const char* op) {
  check_sizes(a.image, op);
  require(dense(a.image, a.channels_last), op, "image is not dense in the layout given");
  require(a.grad != nullptr || numel(a.image) == 0, op, "null grad pointer");
  require(a.mask_stride_n == 0 || a.mask_stride_n == a.image.h * a.image.w, op,
          "mask_stride_n must be 0 or H * W");
  require(a.norm == kNormStd || a.norm == kNormMeanAbs, op, "unknown norm code");
}

inline void check_zoom_shift(const ZoomShiftArgs& a, const char* op) {
  check_sizes(a.src, op);
  check_sizes(a.dst, op);
  // The kernel reads src at dst's sample and channel indices, and always at some pixel.
  require(a.src.n == a.dst.n && a.src.c == a.dst.c, op, "src and dst differ in N or C");
  require(numel(a.dst) == 0 || (a.src.h >= 1 && a.src.w >= 1), op, "empty source image");
  require(a.padding == kPadZeros || a.padding == kPadBorder || a.padding == kPadReflect, op,
          "unknown padding code");
  require(a.interp == kBilinear || a.interp == kBicubic, op, "unknown interpolation code");
}

// host_offsets: ys and xs can be read here (CPU). On CUDA they are device pointers, and the
// extract kernel skips any pixel outside the image instead (blend reads tiles only in range).
inline void check_tiles(const TileArgs& a, const char* op, bool blend, bool host_offsets) {
  const Tensor4& im = a.image;
  const Tensor4& tl = a.tiles;
  check_sizes(im, op);
  check_sizes(tl, op);
  require(a.ny >= 1 && a.nx >= 1, op, "empty tile grid");
  require(tl.n == im.n * a.ny * a.nx, op, "tile count is not N * ny * nx");
  require(tl.c == im.c, op, "tiles and image differ in channels");
  require(tl.h >= 1 && tl.w >= 1 && tl.h <= im.h && tl.w <= im.w, op,
          "tile empty or larger than the image");
  require(a.roll_y >= 0 && a.roll_y < im.h && a.roll_x >= 0 && a.roll_x < im.w, op,
          "roll outside [0, H) x [0, W)");
  require(a.ys != nullptr && a.xs != nullptr, op, "null tile offsets");
  if (blend) require(a.wy != nullptr && a.wx != nullptr, op, "null blend weights");
  if (!host_offsets) return;
  for (int64_t r = 0; r < a.ny; ++r)
    require(a.ys[r] >= 0 && a.ys[r] <= im.h - tl.h, op, "a tile row lies outside the image");
  for (int64_t q = 0; q < a.nx; ++q)
    require(a.xs[q] >= 0 && a.xs[q] <= im.w - tl.w, op, "a tile column lies outside the image");
}

inline void check_laplacian(const LaplacianArgs& a, const char* op) {
  check_sizes(a.src, op);
  check_sizes(a.dst, op);
  require(a.src.n == a.dst.n && a.src.c == a.dst.c && a.src.h == a.dst.h && a.src.w == a.dst.w, op,
          "src and dst differ in size");
  require(a.levels >= 1, op, "levels must be >= 1");
}

}  // namespace fastdream
