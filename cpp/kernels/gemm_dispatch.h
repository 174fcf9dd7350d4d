// The GEMM micro-kernel this CPU runs (gemm_dispatch.cpp), for the GEMM driver (gemm.cpp).
#pragma once
#include <cstdint>
#include <string>
#include "gemm_ukr.h"

namespace brisknet::detail {

const std::string& isa();  // "avx512", "avx2" or "generic", chosen at first use
// The ISA's tiles with block sizes from this CPU's caches. Every tile (and the few-rows path)
// shares tiles[0]'s kc: a row's sums then never depend on the shape that computed them.
template <typename T>
const GemmKernels<T>& gemm_kernels();
// The tile with the least time per padded tile area: ceil(m / MR) MR * ceil(n / NR) NR / rate.
template <typename T>
const MicroKernel<T>& pick_tile(const GemmKernels<T>& ks, int64_t m, int64_t n);

}  // namespace brisknet::detail
