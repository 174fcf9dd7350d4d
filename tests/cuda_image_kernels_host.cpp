// The CUDA engine's image kernels (cuda/image_kernels.cuh) built for the host: each kernel's
// grid-stride loop run by one thread covering the whole grid, with C entry points that
// tests/test_cuda_image_kernels.py loads with ctypes. It checks their index arithmetic and orders
// of summation against the CPU kernels on a machine without a GPU; not the GPU's scheduling,
// memory or launches (tests/test_cuda.py, on a GPU).
#include <cmath>
#include <cstdint>

#include "brisknet/elementwise_math.h"
#include "brisknet/kernels.h"

namespace {
struct HostDim {
  unsigned x;
};
const HostDim blockIdx{0}, threadIdx{0}, blockDim{1}, gridDim{1};
}  // namespace
#define __global__
#define __device__
#define __forceinline__ inline
#define BRISKNET_GRID_STRIDE(i, n) \
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < (n); i += int64_t(gridDim.x) * blockDim.x)
#include "image_kernels.cuh"

using brisknet::Window2D;
using namespace brisknet::cuda::image_kernels;

namespace {
// n, h, w, c, kh, kw, sh, sw, dh, dw, pt, pl, oh, ow
Window2D window(const int64_t* v) {
  return {v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9], v[10], v[11], v[12], v[13]};
}
}  // namespace

extern "C" {
void host_im2col(float* cols, const float* x, const int64_t* g, int64_t c0, int64_t cg) {
  im2col_kernel(cols, x, window(g), c0, cg);
}
void host_col2im(float* dx, const float* cols, const int64_t* g, int64_t c0, int64_t cg, const float* bias) {
  col2im_kernel(dx, cols, window(g), c0, cg, bias);
}
void host_max_pool(float* y, int32_t* argmax, const float* x, const int64_t* g) {
  max_pool_kernel(y, argmax, x, window(g));
}
void host_max_pool_grad(float* dx, const float* dy, const int32_t* argmax, const int64_t* g) {
  max_pool_grad_kernel(dx, dy, argmax, window(g));
}
void host_avg_pool(float* y, const float* x, const int64_t* g) { avg_pool_kernel(y, x, window(g)); }
void host_avg_pool_grad(float* dx, const float* dy, const int64_t* g) { avg_pool_grad_kernel(dx, dy, window(g)); }
void host_shift(float* y, const float* x, int64_t n, int64_t h, int64_t w, int64_t c, int64_t oh, int64_t ow,
                int64_t top, int64_t left) {
  shift_kernel(y, x, n, h, w, c, oh, ow, top, left);
}
void host_upsample(float* y, const float* x, int64_t n, int64_t h, int64_t w, int64_t c, int64_t sh, int64_t sw) {
  upsample_kernel(y, x, n, h, w, c, sh, sw);
}
void host_upsample_grad(float* dx, const float* dy, int64_t n, int64_t h, int64_t w, int64_t c, int64_t sh,
                        int64_t sw) {
  upsample_grad_kernel(dx, dy, n, h, w, c, sh, sw);
}
void host_spatial_dropout(float* y, uint8_t* mask, const float* x, int64_t rows, int64_t row, int64_t channels,
                          float rate, uint64_t base_seed, const int64_t* calls, const int64_t* step) {
  spatial_dropout_kernel(y, mask, x, rows, row, channels, rate, rate < 1.0f ? 1.0f / (1.0f - rate) : 0.0f, base_seed,
                         calls, step);
}
uint64_t host_dropout_step_seed(uint64_t base_seed, int64_t calls) {
  return brisknet::math::dropout_step_seed(base_seed, calls);
}
}
