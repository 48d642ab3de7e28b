// A minimal parallel_for for the CPU kernels.
#pragma once
#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <memory>
#include <mutex>
#include <system_error>
#include <thread>

// Hot loops are compiled twice, for baseline x86-64 and for AVX2, and picked by CPU feature at
// load time: a wheel must not assume AVX2, but nearly every machine it meets has it.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define FASTDREAM_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define FASTDREAM_CLONES
#endif

namespace fastdream {
namespace cpu {

// Number of chunks parallel_for cuts [0, n) into: fixed by n and the grain alone, never by the
// thread count, so per-chunk partial results (reductions) sum in the same order on any machine.
inline int64_t parallel_chunks(int64_t n, int64_t grain) {
  grain = std::max<int64_t>(grain, 1);
  return n <= 0 ? 0 : (n + grain - 1) / grain;
}

// Threads worth using for an op over `elements` values: one per 2^21 (8 MB of float32), at most
// `threads`. Inside a dream or a video the ops run between PyTorch ops whose OpenMP workers are
// still spinning; there a helper only takes cores from them, and a 512 px dream ran 3% slower
// with helpers on every op (2.15 s vs 2.08 s, mean of 3) although each op alone was faster. On
// big images two threads still pay: ascent_step_ at 2048^2 took 4.5 ms on two idle threads,
// 5.5-5.7 ms on one.
inline int threads_for(int threads, int64_t elements) {
  return int(std::max<int64_t>(1, std::min<int64_t>(threads, elements >> 21)));
}

namespace detail {
struct Team {
  std::atomic<int64_t> next{0};
  std::atomic<int64_t> done{0};
  std::mutex mutex;
  std::condition_variable finished;
  std::exception_ptr error;
};

// fn is only dereferenced after a chunk is claimed, i.e. while the caller still waits for it.
template <typename F>
void run_chunks(Team& team, int64_t n, int64_t grain, int64_t chunks, F* fn) {
  for (int64_t c; (c = team.next.fetch_add(1, std::memory_order_relaxed)) < chunks;) {
    try {
      (*fn)(c* grain, std::min(n, (c + 1) * grain), c);
    } catch (...) {
      std::lock_guard<std::mutex> lock(team.mutex);
      if (!team.error) team.error = std::current_exception();
    }
    if (team.done.fetch_add(1, std::memory_order_acq_rel) + 1 == chunks) {
      std::lock_guard<std::mutex> lock(team.mutex);
      team.finished.notify_all();
    }
  }
}
}  // namespace detail

// Runs fn(begin, end, chunk) over chunks of `grain` items of [0, n), on the calling thread and up
// to threads - 1 helpers. Chunks are claimed, not assigned: PyTorch's OpenMP workers keep spinning
// for a while after each torch op, so a helper started right after a convolution may get no core
// for milliseconds; with static halves the caller would wait for it (measured: 2 threads slower
// than 1 inside a dream), with claiming the caller just does more of the work. Helpers are started
// per call (tens of us) and detached: the caller waits for its chunks, not for a helper that has
// not run yet, and a helper that starts late finds nothing left and never touches fn. No pool, so
// nothing survives a fork (DataLoader workers) in a broken state. The thread count comes from
// Python (torch.get_num_threads()).
template <typename F>
void parallel_for(int64_t n, int threads, int64_t grain, F&& fn) {
  grain = std::max<int64_t>(grain, 1);
  const int64_t chunks = parallel_chunks(n, grain);
  if (chunks == 0) return;
  const int64_t helpers = std::min<int64_t>(threads, chunks) - 1;
  if (helpers <= 0) {
    for (int64_t c = 0; c < chunks; ++c) fn(c * grain, std::min(n, (c + 1) * grain), c);
    return;
  }
  auto team = std::make_shared<detail::Team>();
  auto* f = &fn;
  for (int64_t h = 0; h < helpers; ++h) {
    try {
      std::thread([team, n, grain, chunks, f] {
        detail::run_chunks(*team, n, grain, chunks, f);
      }).detach();
    } catch (const std::system_error&) {
      break;  // no more threads to be had: the caller does the rest
    }
  }
  detail::run_chunks(*team, n, grain, chunks, f);
  if (team->done.load(std::memory_order_acquire) < chunks) {
    std::unique_lock<std::mutex> lock(team->mutex);
    team->finished.wait(lock, [&] { return team->done.load(std::memory_order_acquire) == chunks; });
  }
  if (team->error) std::rethrow_exception(team->error);
}

}  // namespace cpu
}  // namespace fastdream
