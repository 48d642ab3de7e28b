// Declarations of every native kernel, shared by the binding and the backends.
//
// The extension never sees a torch header: Python hands over raw data pointers, sizes, strides
// and a dtype code, so one compiled module works with any torch version (no C++ ABI coupling).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace fastdream {

// dtype codes passed from Python (fastdream/_native.py keeps the same table).
enum DType : int { kFloat32 = 0, kFloat64 = 1, kFloat16 = 2, kBFloat16 = 3 };
enum Norm : int { kNormStd = 0, kNormMeanAbs = 1 };
enum Padding : int { kPadZeros = 0, kPadBorder = 1, kPadReflect = 2 };
enum Interp : int { kBilinear = 0, kBicubic = 1 };

// A dense 4-D tensor as Python sees it: NCHW sizes plus element strides.
struct Tensor4 {
  void* data;
  int64_t n, c, h, w;
  int64_t sn, sc, sh, sw;
};

struct AscentStepArgs {
  Tensor4 image;          // written in place
  const void* grad;       // same sizes and strides as image
  const void* mask;       // nullptr or float/dtype-of-image (N or 1, H, W) contiguous
  int64_t mask_stride_n;  // 0 when one mask is shared by the batch
  bool channels_last;     // memory order of image/grad: NCHW or NHWC, both dense per sample
  double step_size, eps, clamp_lo, clamp_hi;
  bool clamp;
  int norm;
  double* scratch;  // CUDA: 3 * N zeroed doubles from torch's allocator (the per-sample moments)
};

struct ZoomShiftArgs {
  Tensor4 src, dst;  // same sizes, any strides
  double m[4];       // inverse 2x2 matrix (output offset -> source offset), row major
  double bx, by;     // source = m * (x, y) + b, in pixel coordinates
  int padding;
  int interp;  // kBilinear (2x2 taps) or kBicubic (4x4 taps, Catmull-Rom: Keys' a = -0.5)
};

// A grid of ny x nx tiles of th x tw pixels laid over the circularly rolled image
// (rolled[y, x] = image[(y - roll_y) mod H, (x - roll_x) mod W], torch.roll's rule), so the
// jitter costs no full-size copy. Tile k = r * nx + q of sample n is tiles[n * ny * nx + k].
struct TileArgs {
  Tensor4 image;      // (N, C, H, W): the source of extract, the output of blend
  Tensor4 tiles;      // (N * ny * nx, C, th, tw)
  const int64_t* ys;  // ny tile tops in the rolled image
  const int64_t* xs;  // nx tile lefts
  int64_t ny, nx;
  int64_t roll_y, roll_x;  // in [0, H) and [0, W)
  const float* wy;         // blend only: ny * th weights along y (sum to 1 over tiles at each y)
  const float* wx;         // blend only: nx * tw weights along x
};

// Laplacian-pyramid normalization (fastdream.ops.laplacian_normalize): src and dst have the same
// sizes, any strides; `levels` bands at most, each divided by its RMS (+ eps) per sample.
struct LaplacianArgs {
  Tensor4 src, dst;
  int64_t levels;
  double eps;
};

namespace cpu {
void laplacian_normalize(const LaplacianArgs& a, int dtype, int threads);
void ascent_step(const AscentStepArgs& a, int dtype, int threads);
void zoom_shift(const ZoomShiftArgs& a, int dtype, int threads);
void extract_tiles(const TileArgs& a, int dtype, int threads);
void blend_tiles(const TileArgs& a, int dtype, int threads);
}  // namespace cpu

namespace cuda {
bool compiled();
std::string architectures();  // e.g. "75-real,80-real,90": the build's list, comma-separated
int runtime_version();        // cudart version linked in, 0 without CUDA
int device_count();           // 0 without a driver or device (never throws)
std::vector<int> device_capability(int device);  // {major, minor}
void ascent_step(const AscentStepArgs& a, int dtype, void* stream);
void zoom_shift(const ZoomShiftArgs& a, int dtype, void* stream);
void extract_tiles(const TileArgs& a, int dtype, void* stream);
void blend_tiles(const TileArgs& a, int dtype, void* stream);
}  // namespace cuda

}  // namespace fastdream
