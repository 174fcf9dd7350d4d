// The bias gradient: column sums of dy, rows in order whatever the thread count.
#include <algorithm>
#include "brisknet/kernels.h"
#include "parallel.h"

namespace brisknet {

template <typename T>
void column_sums(T* db, const T* dy, int64_t m, int64_t n, T beta) {
  constexpr int64_t kBlock = 256;
  const int64_t nblocks = (n + kBlock - 1) / kBlock;
  const int nt = detail::threads_for(m * n, detail::kElementGrain);
#pragma omp parallel for num_threads(nt) schedule(static)
  for (int64_t b = 0; b < nblocks; ++b) {
    detail::ScopedFlushDenormals ftz;  // as inside gemm, whose packing can compute the same sums
    const int64_t j0 = b * kBlock, width = std::min(kBlock, n - j0);
    T acc[kBlock] = {};
    for (int64_t i = 0; i < m; ++i)  // rows in order: the same sum for any thread count
      for (int64_t j = 0; j < width; ++j) acc[j] += dy[i * n + j0 + j];
    for (int64_t j = 0; j < width; ++j)
      db[j0 + j] = beta != T(0) ? beta * db[j0 + j] + acc[j] : acc[j];
  }
}

template void column_sums<float>(float*, const float*, int64_t, int64_t, float);
template void column_sums<double>(double*, const double*, int64_t, int64_t, double);

}  // namespace brisknet
