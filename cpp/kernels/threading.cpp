// The thread count every kernel obeys: brisknet.set_num_threads(n), else OMP_NUM_THREADS.
#include <omp.h>
#include <atomic>
#include "brisknet/kernels.h"

namespace brisknet {
namespace {
std::atomic<int> g_num_threads{0};  // 0: not set yet, use OpenMP's default
}

void set_num_threads(int n) { g_num_threads.store(n < 1 ? 1 : n); }

int get_num_threads() {
  const int n = g_num_threads.load();
  return n > 0 ? n : omp_get_max_threads();
}

}  // namespace brisknet
