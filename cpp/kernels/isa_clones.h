// Element-wise loops compiled for the GEMM's ISA: at_isa(f) runs f() inlined into a copy of the
// caller's code compiled for AVX-512 or AVX2 when detail::isa() is that (BRISKNET_ISA narrows it,
// so every copy is tested), and the baseline x86-64 copy otherwise. Call it inside a parallel
// region, never around one (OpenMP's outlined bodies are not inlined: they would stay baseline).
// The files that use it are compiled with -ffp-contract=off (cpp/CMakeLists.txt): a wider copy
// may not fuse a * b + c where the baseline rounds twice, so every copy gives the same bits.
#pragma once
#include "gemm_dispatch.h"

namespace brisknet::detail {

int isa_level();  // 2: avx512, 1: avx2, 0: the baseline (gemm_dispatch.cpp)

#if defined(BRISKNET_X86) && defined(__GNUC__)
template <typename F>
__attribute__((target("avx512f"), flatten)) void run_avx512(const F& f) { f(); }
template <typename F>
__attribute__((target("avx2"), flatten)) void run_avx2(const F& f) { f(); }
template <typename F>
__attribute__((flatten)) void run_baseline(const F& f) { f(); }

template <typename F>
inline void at_isa(const F& f) {
  static const int level = isa_level();
  if (level == 2) return run_avx512(f);
  if (level == 1) return run_avx2(f);
  run_baseline(f);
}
#else
template <typename F>
inline void at_isa(const F& f) { f(); }
#endif

}  // namespace brisknet::detail
