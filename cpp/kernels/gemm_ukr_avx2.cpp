// AVX2 + FMA micro-kernel (compiled with -mavx2 -mfma): 6 x 16 floats, 12 ymm accumulators.
#include "gemm_ukr_impl.h"

namespace brisknet::detail {
template <> MicroKernel<float> micro_kernel_avx2<float>() {
  return make_micro_kernel<float, 32, 6, 2>(256, 72, 4080);
}
template <> MicroKernel<double> micro_kernel_avx2<double>() {
  return make_micro_kernel<double, 32, 6, 2>(256, 72, 4080);
}
}  // namespace brisknet::detail
