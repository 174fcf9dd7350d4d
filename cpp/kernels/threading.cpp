// The thread count every kernel obeys (brisknet.set_num_threads(n), else OMP_NUM_THREADS), and
// the count of workspace allocations.
#include <omp.h>
#include <pthread.h>
#include <atomic>
#include "brisknet/kernels.h"

namespace brisknet {
namespace {
std::atomic<int> g_num_threads{0};  // 0: not set yet, use OpenMP's default
std::atomic<int64_t> g_workspace_allocations{0};

// GNU OpenMP's thread pool does not survive fork(): a child's first multi-threaded region waits
// forever for threads that exist only in the parent. So a forked child runs every kernel on its
// own thread (multiprocessing's fork start method, tested in tests/test_faults.py).
std::atomic<bool> g_forked_child{false};
void on_fork_child() { g_forked_child.store(true); }
const int g_atfork_registered = pthread_atfork(nullptr, nullptr, &on_fork_child);
}  // namespace

bool in_forked_child() { return g_forked_child.load(); }

int64_t workspace_allocations() { return g_workspace_allocations.load(); }
void count_workspace_allocation() { g_workspace_allocations.fetch_add(1); }

void set_num_threads(int n) { g_num_threads.store(n < 1 ? 1 : n); }

int get_num_threads() {
  const int n = g_num_threads.load();
  return n > 0 ? n : omp_get_max_threads();
}

}  // namespace brisknet
