// Thread-count policy shared by all kernels (OpenMP underneath).
#pragma once
#include <algorithm>
#include <cstdint>
#include "brisknet/kernels.h"

namespace brisknet::detail {

// Threads worth waking for `work` units when one thread should get at least `grain` of them.
inline int threads_for(int64_t work, int64_t grain) {
  const int64_t useful = std::max<int64_t>(1, work / std::max<int64_t>(1, grain));
  return int(std::min<int64_t>(get_num_threads(), useful));
}

// Element-wise loops: below this many elements per thread, waking threads costs more than it saves.
constexpr int64_t kElementGrain = 1 << 15;

}  // namespace brisknet::detail
