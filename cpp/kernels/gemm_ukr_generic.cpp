// Portable micro-kernel: 16-byte vectors (SSE2 on x86-64, NEON on arm64, scalar elsewhere).
#include "gemm_ukr_impl.h"

namespace brisknet::detail {
template <> GemmKernels<float> gemm_kernels_generic<float>() {
  return make_gemm_kernels<float, 16, 6, 2>(256, 96, 4096);
}
template <> GemmKernels<double> gemm_kernels_generic<double>() {
  return make_gemm_kernels<double, 16, 6, 2>(256, 96, 4096);
}
}  // namespace brisknet::detail
