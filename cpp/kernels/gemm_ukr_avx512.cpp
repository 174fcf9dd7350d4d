// AVX-512F micro-kernel (compiled with -mavx512f): 12 x 32 floats, 24 zmm accumulators.
#include "gemm_ukr_impl.h"

namespace brisknet::detail {
template <> GemmKernels<float> gemm_kernels_avx512<float>() {
  return make_gemm_kernels<float, 64, 12>(384, 96, 4096);
}
template <> GemmKernels<double> gemm_kernels_avx512<double>() {
  return make_gemm_kernels<double, 64, 12>(384, 96, 4096);
}
}  // namespace brisknet::detail
