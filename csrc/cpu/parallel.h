// A minimal parallel_for for the CPU kernels.
#pragma once
#include <algorithm>
#include <cstdint>
#include <exception>
#include <thread>
#include <vector>

// Hot loops are compiled twice, for baseline x86-64 and for AVX2, and picked by CPU feature at
// load time: a wheel must not assume AVX2, but nearly every machine it meets has it.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define FASTDREAM_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define FASTDREAM_CLONES
#endif

namespace fastdream {
namespace cpu {

// Splits [0, n) into at most `threads` contiguous ranges and runs fn(begin, end, part) on each,
// the first on the calling thread. Threads are started per call instead of kept in a pool: the ops
// take milliseconds, the ~20 us start is noise, and nothing survives a fork (DataLoader workers)
// in a broken state. The thread count comes from Python (torch.get_num_threads()).
template <typename F>
void parallel_for(int64_t n, int threads, int64_t min_grain, F&& fn) {
  if (n <= 0) return;
  int64_t parts = std::max<int64_t>(1, std::min<int64_t>(threads, n / std::max<int64_t>(min_grain, 1)));
  if (parts == 1) {
    fn(int64_t(0), n, 0);
    return;
  }
  std::vector<std::thread> pool;
  std::vector<std::exception_ptr> errors(parts);
  int64_t chunk = (n + parts - 1) / parts;
  for (int64_t p = 1; p < parts; ++p) {
    pool.emplace_back([&, p] {
      try {
        int64_t b = p * chunk, e = std::min(n, b + chunk);
        if (b < e) fn(b, e, int(p));
      } catch (...) {
        errors[p] = std::current_exception();
      }
    });
  }
  try {
    fn(int64_t(0), std::min(n, chunk), 0);
  } catch (...) {
    errors[0] = std::current_exception();
  }
  for (auto& t : pool) t.join();
  for (auto& e : errors)
    if (e) std::rethrow_exception(e);
}

// Number of parts parallel_for will use, so callers can size per-part scratch.
inline int64_t parallel_parts(int64_t n, int threads, int64_t min_grain) {
  if (n <= 0) return 1;
  return std::max<int64_t>(1, std::min<int64_t>(threads, n / std::max<int64_t>(min_grain, 1)));
}

}  // namespace cpu
}  // namespace fastdream
