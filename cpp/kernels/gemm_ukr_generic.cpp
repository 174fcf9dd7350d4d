// Portable micro-kernel: 16-byte vectors (SSE2 on x86-64, NEON on arm64, scalar elsewhere).
#include "gemm_ukr_impl.h"

namespace brisknet::detail {
template <> MicroKernel<float> micro_kernel_generic<float>() {
  return make_micro_kernel<float, 16, 6, 2>(256, 96, 4096);
}
template <> MicroKernel<double> micro_kernel_generic<double>() {
  return make_micro_kernel<double, 16, 6, 2>(256, 96, 4096);
}
}  // namespace brisknet::detail
