// What the Python side asks about the CUDA build: compiled or not, for which architectures, and
// which devices are present. cudart is linked statically, so none of this needs a driver to load;
// without one the queries answer "no device" instead of failing the import.
#include "common.cuh"

#ifndef FASTDREAM_CUDA_ARCHS
#define FASTDREAM_CUDA_ARCHS ""
#endif

namespace fastdream {
namespace cuda {

bool compiled() { return true; }
std::string architectures() { return FASTDREAM_CUDA_ARCHS; }
int runtime_version() {
  int v = 0;
  return cudaRuntimeGetVersion(&v) == cudaSuccess ? v : 0;
}
int device_count() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky "no driver" error so later calls start clean
    return 0;
  }
  return n;
}
std::vector<int> device_capability(int device) {
  int major = 0, minor = 0;
  check(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device), "info",
        "capability");
  check(cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, device), "info",
        "capability");
  return {major, minor};
}

}  // namespace cuda
}  // namespace fastdream
