// AVX-512F micro-kernels (compiled with -mavx512f), picked per shape by their rates. Measured on
// an Intel Xeon (Sapphire Rapids class), 2 threads, 2026-12-02: on L1-resident panels 12 x 32
// runs 335-355 GFLOP/s, 8 x 48 220-330, 16 x 16 305; inside whole GEMMs, where the panels stream
// from L2, 8 x 48 matched 12 x 32 at batch 512 and beat it by 6 % training at batch 128 and by
// 18 % in batch-1024 predict: hence these rates. 16 x 16 serves narrow packed outputs (a
// transposed B); narrow outputs from a row-major B take narrow_rows, 16 rows x 1 vector.
#include "gemm_ukr_impl.h"

namespace brisknet::detail {
template <> GemmKernels<float> gemm_kernels_avx512<float>() {
  return gemm_kernels<float, 64, 16, 1>({tile<float, 64, 8, 3>(1.0f), tile<float, 64, 12, 2>(0.95f), tile<float, 64, 16, 1>(0.9f)});
}
template <> GemmKernels<double> gemm_kernels_avx512<double>() {
  return gemm_kernels<double, 64, 16, 1>({tile<double, 64, 8, 3>(1.0f), tile<double, 64, 12, 2>(0.95f), tile<double, 64, 16, 1>(0.9f)});
}
}  // namespace brisknet::detail

#include "gemm_bf16_ukr_impl.h"
namespace brisknet::detail {
Bf16Kernel bf16_kernel_avx512() { return bf16_emulated<64, 12, 2>(); }
}  // namespace brisknet::detail
