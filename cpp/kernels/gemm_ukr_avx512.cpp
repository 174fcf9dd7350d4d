// AVX-512F micro-kernels (compiled with -mavx512f). Rates: L1-resident panels, 2 threads, Intel
// Xeon (Sapphire Rapids class) 2026-12-02: 12 x 32 runs 335-355 GFLOP/s, 8 x 48 220-330 (its 3
// B loads and 8 broadcasts per 24 FMAs), 16 x 16 305; 8 x 48 stays for 8-row multiples (batch 32).
#include "gemm_ukr_impl.h"

namespace brisknet::detail {
template <> GemmKernels<float> gemm_kernels_avx512<float>() {
  return gemm_kernels<float>({tile<float, 64, 12, 2>(1.0f), tile<float, 64, 8, 3>(0.9f), tile<float, 64, 16, 1>(0.9f)});
}
template <> GemmKernels<double> gemm_kernels_avx512<double>() {
  return gemm_kernels<double>({tile<double, 64, 12, 2>(1.0f), tile<double, 64, 8, 3>(0.9f), tile<double, 64, 16, 1>(0.9f)});
}
}  // namespace brisknet::detail
