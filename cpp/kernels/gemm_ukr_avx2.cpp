// AVX2 + FMA micro-kernel (compiled with -mavx2 -mfma): 6 x 16 floats, 12 ymm accumulators.
#include "gemm_ukr_impl.h"

namespace brisknet::detail {
template <> GemmKernels<float> gemm_kernels_avx2<float>() {
  return make_gemm_kernels<float, 32, 6, 2>(256, 72, 4080);
}
template <> GemmKernels<double> gemm_kernels_avx2<double>() {
  return make_gemm_kernels<double, 32, 6, 2>(256, 72, 4080);
}
}  // namespace brisknet::detail
