// Thread-count policy shared by all kernels (OpenMP underneath).
#pragma once
#include <omp.h>
#include <algorithm>
#include <cstdint>
#include "brisknet/kernels.h"
#if defined(__x86_64__) || defined(_M_X64)
#include <xmmintrin.h>
#endif

namespace brisknet::detail {

// The most threads worth running: the setting, but never more than the cores this process may
// use (more threads than cores only time-slice them: 3x slower at batch-32 GEMM shapes here).
inline int usable_threads() {
  static const int cores = omp_get_num_procs();  // honours the affinity mask (taskset, cgroups)
  if (in_forked_child()) return 1;               // the OpenMP pool stayed in the parent
  if (omp_in_parallel()) return 1;               // called by a thread of another kernel's parallel loop
  return std::max(1, std::min(get_num_threads(), cores));
}

// Threads worth waking for `work` units when one thread should get at least `grain` of them.
inline int threads_for(int64_t work, int64_t grain) {
  const int64_t useful = std::max<int64_t>(1, work / std::max<int64_t>(1, grain));
  return int(std::min<int64_t>(usable_threads(), useful));
}

// Element-wise loops: below this many elements per thread, waking threads costs more than it saves.
constexpr int64_t kElementGrain = 1 << 15;
// GEMM-like loops: floating-point operations per thread.
constexpr int64_t kGemmFlopGrain = int64_t(1) << 21;

// Flush-to-zero + denormals-are-zero on this thread while in scope; the thread's own mode comes
// back at the end, so code outside brisknet's kernels never sees it. Subnormal operands cost
// about 3x per element on current x86 cores, and Adam's moments go subnormal in real training.
class ScopedFlushDenormals {
 public:
#if defined(__x86_64__) || defined(_M_X64)
  ScopedFlushDenormals() : saved_(_mm_getcsr()) { _mm_setcsr(saved_ | 0x8040u); }  // FTZ | DAZ
  ~ScopedFlushDenormals() { _mm_setcsr(saved_); }

 private:
  unsigned saved_;
#endif
};

// f(begin, end) on one contiguous chunk per thread, each thread under ScopedFlushDenormals;
// `per_element`: values an element's work touches (threads are woken by the whole work).
template <typename F>
void parallel_chunks(int64_t n, F f, int64_t per_element = 1) {
  const int nt = threads_for(n * per_element, kElementGrain);
  if (nt <= 1) {
    ScopedFlushDenormals ftz;
    return f(int64_t(0), n);
  }
#pragma omp parallel num_threads(nt)
  {
    ScopedFlushDenormals ftz;
    const int t = omp_get_thread_num(), count = omp_get_num_threads();
    const int64_t per = (n + count - 1) / count;
    const int64_t begin = std::min<int64_t>(n, per * t), end = std::min<int64_t>(n, begin + per);
    f(begin, end);
  }
}

}  // namespace brisknet::detail
