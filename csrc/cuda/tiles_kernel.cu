// Tile extraction and blending on the GPU, jitter folded into the indexing (see the CPU kernel for
// the exact formulas). Blend is a gather: one thread per output element, no atomics.
#include "common.cuh"

namespace fastdream {
namespace cuda {
namespace {

__device__ __forceinline__ long long wrap(long long v, long long size) {
  return v >= size ? v - size : (v < 0 ? v + size : v);
}

template <typename T>
__global__ void extract_kernel(TileArgs a) {
  const Tensor4& im = a.image;
  const Tensor4& tl = a.tiles;
  const long long total = tl.n * tl.c * tl.h * tl.w, per_image = a.ny * a.nx;
  for (long long p = (long long)blockIdx.x * blockDim.x + threadIdx.x; p < total;
       p += (long long)gridDim.x * blockDim.x) {
    const long long j = p % tl.w, i = (p / tl.w) % tl.h, c = (p / (tl.w * tl.h)) % tl.c;
    const long long tile = p / (tl.w * tl.h * tl.c);
    const long long n = tile / per_image, k = tile % per_image, r = k / a.nx, q = k % a.nx;
    const long long y = wrap(a.ys[r] + i - a.roll_y, im.h), x = wrap(a.xs[q] + j - a.roll_x, im.w);
    // ys/xs are device memory, which the host checks cannot read: a tile outside the image is
    // skipped here rather than read out of bounds (the Python op refuses it before the launch).
    if (y < 0 || y >= im.h || x < 0 || x >= im.w) continue;
    static_cast<T*>(tl.data)[tile * tl.sn + c * tl.sc + i * tl.sh + j * tl.sw] =
        static_cast<const T*>(im.data)[n * im.sn + c * im.sc + y * im.sh + x * im.sw];
  }
}

template <typename T>
__global__ void blend_kernel(TileArgs a, long long th, long long tw) {
  const Tensor4& im = a.image;
  const Tensor4& tl = a.tiles;
  const long long total = im.n * im.c * im.h * im.w, per_image = a.ny * a.nx;
  for (long long p = (long long)blockIdx.x * blockDim.x + threadIdx.x; p < total;
       p += (long long)gridDim.x * blockDim.x) {
    const long long xo = p % im.w, yo = (p / im.w) % im.h, c = (p / (im.w * im.h)) % im.c;
    const long long n = p / (im.w * im.h * im.c);
    const long long y = wrap(yo + a.roll_y, im.h), x = wrap(xo + a.roll_x, im.w);
    using A = acc_t<T>;
    A acc = 0;
    for (long long r = 0; r < a.ny; ++r) {
      const long long i = y - a.ys[r];
      if (i < 0 || i >= th) continue;
      for (long long q = 0; q < a.nx; ++q) {
        const long long j = x - a.xs[q];
        if (j < 0 || j >= tw) continue;
        const T v = static_cast<const T*>(
            tl.data)[(n * per_image + r * a.nx + q) * tl.sn + c * tl.sc + i * tl.sh + j * tl.sw];
        acc += A(a.wy[r * th + i] * a.wx[q * tw + j]) * to_acc(v);
      }
    }
    static_cast<T*>(im.data)[n * im.sn + c * im.sc + yo * im.sh + xo * im.sw] = from_acc<T>(acc);
  }
}

}  // namespace

// ys/xs/wy/wx must be device pointers here (the Python side moves them to the tensor's device).
void extract_tiles(const TileArgs& a, int dtype, void* stream_ptr) {
  const char* op = "extract_tiles";
  check_tiles(a, op, false, false);
  const long long total = a.tiles.n * a.tiles.c * a.tiles.h * a.tiles.w;
  if (total == 0) return;
  dispatch_dtype(dtype, op, [&](auto tag) {
    using T = decltype(tag);
    extract_kernel<T><<<blocks_for(total, 256), 256, 0, static_cast<cudaStream_t>(stream_ptr)>>>(a);
    check_launch(op);
  });
}

void blend_tiles(const TileArgs& a, int dtype, void* stream_ptr) {
  const char* op = "blend_tiles";
  check_tiles(a, op, true, false);
  const long long total = a.image.n * a.image.c * a.image.h * a.image.w;
  if (total == 0) return;
  dispatch_dtype(dtype, op, [&](auto tag) {
    using T = decltype(tag);
    blend_kernel<T><<<blocks_for(total, 256), 256, 0, static_cast<cudaStream_t>(stream_ptr)>>>(
        a, a.tiles.h, a.tiles.w);
    check_launch(op);
  });
}

}  // namespace cuda
}  // namespace fastdream
