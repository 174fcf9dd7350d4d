// Portable micro-kernels: 16-byte vectors (SSE2 on x86-64, NEON on arm64, scalar elsewhere).
#include "gemm_ukr_impl.h"

namespace brisknet::detail {
template <> GemmKernels<float> gemm_kernels_generic<float>() {
  return gemm_kernels<float, 16, 6, 2>({tile<float, 16, 6, 2>(1.0f), tile<float, 16, 6, 1>(0.7f)});
}
template <> GemmKernels<double> gemm_kernels_generic<double>() {
  return gemm_kernels<double, 16, 6, 2>({tile<double, 16, 6, 2>(1.0f), tile<double, 16, 6, 1>(0.7f)});
}
}  // namespace brisknet::detail

#include "gemm_bf16_ukr_impl.h"
namespace brisknet::detail {
Bf16Kernel bf16_kernel_generic() { return bf16_emulated<16, 6, 2>(); }
}  // namespace brisknet::detail
