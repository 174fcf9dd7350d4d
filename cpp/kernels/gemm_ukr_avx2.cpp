// AVX2 + FMA micro-kernels (compiled with -mavx2 -mfma): 6 x 16 (12 ymm accumulators, BLIS's
// Haswell tile) and 12 x 8 for narrow packed outputs, e.g. a transposed B (1.25x the 6 x 8 tile's
// speed in L1, Intel Xeon, Sapphire Rapids class, 2026-12-02). Outputs of at most 16 columns from
// a row-major B take narrow_rows, 6 rows x 2 vectors.
#include "gemm_ukr_impl.h"

namespace brisknet::detail {
template <> GemmKernels<float> gemm_kernels_avx2<float>() {
  return gemm_kernels<float, 32, 6, 2>({tile<float, 32, 6, 2>(1.0f), tile<float, 32, 12, 1>(0.85f)});
}
template <> GemmKernels<double> gemm_kernels_avx2<double>() {
  return gemm_kernels<double, 32, 6, 2>({tile<double, 32, 6, 2>(1.0f), tile<double, 32, 12, 1>(0.85f)});
}
}  // namespace brisknet::detail

#include "gemm_bf16_ukr_impl.h"
namespace brisknet::detail {
Bf16Kernel bf16_kernel_avx2() { return bf16_emulated<32, 6, 2>(); }
}  // namespace brisknet::detail
