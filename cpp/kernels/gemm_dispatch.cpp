// Which GEMM micro-kernel runs here: the ISA chosen at first use by CPUID (narrowed by
// BRISKNET_ISA), its register tiles with block sizes from this CPU's caches, the tile per shape,
// and the micro-kernel's measured peak.
#include <omp.h>
#include <algorithm>
#include <cstdlib>
#include <string>
#include <vector>
#include "brisknet/kernels.h"
#include "cache_model.h"
#include "gemm_dispatch.h"
#include "parallel.h"

namespace brisknet {
namespace detail {
namespace {

// The widest micro-kernel this CPU runs, narrowed by BRISKNET_ISA=avx512|avx2|generic.
std::string select_isa() {
  std::string best = "generic";
#if defined(BRISKNET_X86)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) best = "avx2";
  if (best == "avx2" && __builtin_cpu_supports("avx512f")) best = "avx512";
#endif
  const char* env = std::getenv("BRISKNET_ISA");
  if (!env || !*env) return best;
  const std::string want = env;
  const std::vector<std::string> order = {"generic", "avx2", "avx512"};
  const auto w = std::find(order.begin(), order.end(), want);
  if (w == order.end()) return best;  // unknown value: ignore it (bindings warn about it)
  const auto b = std::find(order.begin(), order.end(), best);
  return w < b ? want : best;  // never wider than the CPU supports
}

}  // namespace

const std::string& isa() {
  static const std::string chosen = select_isa();
  return chosen;
}

int isa_level() { return isa() == "avx512" ? 2 : isa() == "avx2" ? 1 : 0; }

namespace {

template <typename T>
GemmKernels<T> kernels_for_isa() {
#if defined(BRISKNET_X86)
  if (isa() == "avx512") return detail::gemm_kernels_avx512<T>();
  if (isa() == "avx2") return detail::gemm_kernels_avx2<T>();
#endif
  return detail::gemm_kernels_generic<T>();
}

}  // namespace

template <typename T>
const GemmKernels<T>& gemm_kernels() {
  static const GemmKernels<T> k = [] {
    GemmKernels<T> ks = kernels_for_isa<T>();
    const detail::BlockSizes b = detail::block_sizes(detail::cache_hierarchy(), ks.tiles[0].mr, ks.tiles[0].nr, sizeof(T));
    for (int t = 0; t < ks.count; ++t) {
      MicroKernel<T>& uk = ks.tiles[t];
      uk.kc = b.kc;
      uk.mc = std::max(uk.mr, b.mc / uk.mr * uk.mr);
      uk.nc = std::max(uk.nr, b.nc / uk.nr * uk.nr);
    }
    return ks;
  }();
  return k;
}

template <typename T>
const MicroKernel<T>& pick_tile(const GemmKernels<T>& ks, int64_t m, int64_t n) {
  int best = 0;
  double best_cost = 0;
  for (int t = 0; t < ks.count; ++t) {
    const MicroKernel<T>& uk = ks.tiles[t];
    const double cost = double((m + uk.mr - 1) / uk.mr * uk.mr) * double((n + uk.nr - 1) / uk.nr * uk.nr) / uk.rate;
    if (t == 0 || cost < best_cost) best = t, best_cost = cost;
  }
  return ks.tiles[best];
}

template const GemmKernels<float>& gemm_kernels<float>();
template const GemmKernels<double>& gemm_kernels<double>();
template const MicroKernel<float>& pick_tile<float>(const GemmKernels<float>&, int64_t, int64_t);
template const MicroKernel<double>& pick_tile<double>(const GemmKernels<double>&, int64_t, int64_t);

}  // namespace detail

using detail::GemmKernels;
using detail::MicroKernel;

std::string gemm_isa() { return detail::isa(); }

GemmConfig gemm_config() {
  const GemmKernels<float>& ks = detail::gemm_kernels<float>();
  const MicroKernel<float>& uk = ks.tiles[0];
  const detail::CacheHierarchy& c = detail::cache_hierarchy();
  GemmConfig g{detail::isa(), c.source, detail::block_sizes(c, uk.mr, uk.nr, sizeof(float)).why, {}, uk.kc, uk.mc, uk.nc,
               c.l1d.bytes, c.l2.bytes, c.l3.bytes, c.l1d.ways, c.l2.ways, c.l3.ways, c.l2.shared_by, c.l3.shared_by};
  for (int t = 0; t < ks.count; ++t) g.tiles.push_back({ks.tiles[t].mr, ks.tiles[t].nr, ks.tiles[t].rate});
  return g;
}

double gemm_peak_gflops(double seconds) {
  const MicroKernel<float>& uk = detail::gemm_kernels<float>().tiles[0];
  constexpr int64_t kc = 256, kCalls = 64;  // panels of 256: a few KB, in L1
  const int nt = detail::usable_threads();
  double flops = 0;
  const double start = omp_get_wtime();
#pragma omp parallel num_threads(nt) reduction(+ : flops)
  {
    detail::ScopedFlushDenormals ftz;
    std::vector<float> a(size_t(uk.mr) * kc, 0.5f), b(size_t(uk.nr) * kc, 0.25f), c(size_t(uk.mr) * uk.nr);
    do {
      for (int64_t i = 0; i < kCalls; ++i)
        uk.run(kc, a.data(), b.data(), uk.nr, c.data(), uk.nr, uk.mr, uk.nr, 0.0f, nullptr, nullptr);
      flops += 2.0 * uk.mr * uk.nr * kc * kCalls;
    } while (omp_get_wtime() - start < seconds);
  }
  return flops / (omp_get_wtime() - start) / 1e9;
}


}  // namespace brisknet
