// Built instead of csrc/cuda/*.cu when the CUDA kernels are not compiled (FASTDREAM_CUDA=OFF, or
// AUTO without nvcc). Python checks cuda_compiled() first and never calls the kernels then; the
// throws only guard against a caller that skips that check.
#include <stdexcept>

#include "fastdream.h"

namespace fastdream {
namespace cuda {
namespace {
[[noreturn]] void absent(const char* op) {
  throw std::runtime_error(std::string(op) + ": this build of fastdream has no CUDA kernels");
}
}  // namespace

bool compiled() { return false; }
std::string architectures() { return ""; }
int runtime_version() { return 0; }
int device_count() { return 0; }
std::vector<int> device_capability(int) { return {0, 0}; }
void ascent_step(const AscentStepArgs&, int, void*) { absent("ascent_step_"); }
void zoom_shift(const ZoomShiftArgs&, int, void*) { absent("zoom_shift"); }
void extract_tiles(const TileArgs&, int, void*) { absent("extract_tiles"); }
void blend_tiles(const TileArgs&, int, void*) { absent("blend_tiles"); }
}  // namespace cuda
}  // namespace fastdream
