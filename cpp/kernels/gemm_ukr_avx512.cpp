// AVX-512F micro-kernel (compiled with -mavx512f): 12 x 32 floats, 24 zmm accumulators.
#include "gemm_ukr_impl.h"

namespace brisknet::detail {
template <> MicroKernel<float> micro_kernel_avx512<float>() {
  return make_micro_kernel<float, 64, 12, 2>(384, 96, 4096);
}
template <> MicroKernel<double> micro_kernel_avx512<double>() {
  return make_micro_kernel<double, 64, 12, 2>(384, 96, 4096);
}
}  // namespace brisknet::detail
