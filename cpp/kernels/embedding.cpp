// Embedding: a gather of table rows, and its gradient, a scatter-add into the rows that were read.
// The scatter is split by table rows, not by indices: each thread owns a range of rows and adds
// the gradients of the indices that hit them in index order, so no two threads write one row and
// the sums are the same bits on any number of threads (no dense one-hot, no atomics).
#include <algorithm>
#include <cstring>
#include <vector>

#include "brisknet/kernels.h"
#include "parallel.h"

namespace brisknet {

template <typename T>
void embedding_gather(T* out, const T* table, const int64_t* idx, int64_t n, int64_t width) {
  detail::parallel_chunks(
      n, [&](int64_t begin, int64_t end) {
        for (int64_t i = begin; i < end; ++i) std::memcpy(out + i * width, table + idx[i] * width, sizeof(T) * width);
      },
      width);
}

template <typename T>
void embedding_scatter_add(T* dtable, const T* dout, const int64_t* idx, int64_t n, int64_t rows, int64_t width) {
  const int nt = detail::threads_for(std::max(n, rows) * width, detail::kElementGrain);
#pragma omp parallel num_threads(nt)
  {
    detail::ScopedFlushDenormals ftz;
    const int t = omp_get_thread_num(), count = omp_get_num_threads();
    const int64_t per = (rows + count - 1) / count;
    const int64_t lo = std::min<int64_t>(rows, per * t), hi = std::min<int64_t>(rows, lo + per);
    std::fill(dtable + lo * width, dtable + hi * width, T(0));
    for (int64_t i = 0; i < n; ++i) {
      const int64_t r = idx[i];
      if (r < lo || r >= hi) continue;
      T* dst = dtable + r * width;
      const T* src = dout + i * width;
      for (int64_t c = 0; c < width; ++c) dst[c] += src[c];
    }
  }
}

#define BRISKNET_EMBEDDING(T)                                                                          \
  template void embedding_gather<T>(T*, const T*, const int64_t*, int64_t, int64_t);                 \
  template void embedding_scatter_add<T>(T*, const T*, const int64_t*, int64_t, int64_t, int64_t);
BRISKNET_EMBEDDING(float)
BRISKNET_EMBEDDING(double)
#undef BRISKNET_EMBEDDING

}  // namespace brisknet
