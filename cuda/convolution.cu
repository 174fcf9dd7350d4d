// The launchers of the image kernels (image_kernels.cuh), declared in kernels.cuh.
#include "kernels.cuh"  // (first: device.cuh's BRISKNET_GRID_STRIDE)
#include "image_kernels.cuh"

namespace brisknet::cuda {

using namespace image_kernels;

void im2col(cudaStream_t s, float* cols, const float* x, const Window2D& g, int64_t c0, int64_t cg) {
  const int64_t n = g.n * g.oh * g.ow * g.kh * g.kw * cg;
  if (n == 0) return;
  im2col_kernel<<<blocks_for(n), kThreads, 0, s>>>(cols, x, g, c0, cg);
  BRISKNET_CUDA_LAUNCHED("im2col");
}

void col2im(cudaStream_t s, float* dx, const float* cols, const Window2D& g, int64_t c0, int64_t cg, const float* bias) {
  const int64_t n = g.n * g.h * g.w * cg;
  if (n == 0) return;
  col2im_kernel<<<blocks_for(n), kThreads, 0, s>>>(dx, cols, g, c0, cg, bias);
  BRISKNET_CUDA_LAUNCHED("col2im");
}

void max_pool_forward(cudaStream_t s, float* y, int32_t* argmax, const float* x, const Window2D& g) {
  const int64_t n = g.n * g.oh * g.ow * g.c;
  if (n == 0) return;
  max_pool_kernel<<<blocks_for(n), kThreads, 0, s>>>(y, argmax, x, g);
  BRISKNET_CUDA_LAUNCHED("max_pool_forward");
}

void max_pool_backward(cudaStream_t s, float* dx, const float* dy, const int32_t* argmax, const Window2D& g) {
  const int64_t n = g.n * g.h * g.w * g.c;
  if (n == 0) return;
  max_pool_grad_kernel<<<blocks_for(n), kThreads, 0, s>>>(dx, dy, argmax, g);
  BRISKNET_CUDA_LAUNCHED("max_pool_backward");
}

void avg_pool_forward(cudaStream_t s, float* y, const float* x, const Window2D& g) {
  const int64_t n = g.n * g.oh * g.ow * g.c;
  if (n == 0) return;
  avg_pool_kernel<<<blocks_for(n), kThreads, 0, s>>>(y, x, g);
  BRISKNET_CUDA_LAUNCHED("avg_pool_forward");
}

void avg_pool_backward(cudaStream_t s, float* dx, const float* dy, const Window2D& g) {
  const int64_t n = g.n * g.h * g.w * g.c;
  if (n == 0) return;
  avg_pool_grad_kernel<<<blocks_for(n), kThreads, 0, s>>>(dx, dy, g);
  BRISKNET_CUDA_LAUNCHED("avg_pool_backward");
}

void shift_image(cudaStream_t s, float* y, const float* x, int64_t n, int64_t h, int64_t w, int64_t c, int64_t oh,
                 int64_t ow, int64_t top, int64_t left) {
  const int64_t total = n * oh * ow * c;
  if (total == 0) return;
  shift_kernel<<<blocks_for(total), kThreads, 0, s>>>(y, x, n, h, w, c, oh, ow, top, left);
  BRISKNET_CUDA_LAUNCHED("shift_image");
}

void upsample_forward(cudaStream_t s, float* y, const float* x, int64_t n, int64_t h, int64_t w, int64_t c, int64_t sh,
                      int64_t sw) {
  const int64_t total = n * h * sh * w * sw * c;
  if (total == 0) return;
  upsample_kernel<<<blocks_for(total), kThreads, 0, s>>>(y, x, n, h, w, c, sh, sw);
  BRISKNET_CUDA_LAUNCHED("upsample_forward");
}

void upsample_backward(cudaStream_t s, float* dx, const float* dy, int64_t n, int64_t h, int64_t w, int64_t c,
                       int64_t sh, int64_t sw) {
  const int64_t total = n * h * w * c;
  if (total == 0) return;
  upsample_grad_kernel<<<blocks_for(total), kThreads, 0, s>>>(dx, dy, n, h, w, c, sh, sw);
  BRISKNET_CUDA_LAUNCHED("upsample_backward");
}

void spatial_dropout_forward(cudaStream_t s, float* y, uint8_t* mask, const float* x, int64_t rows,
                             int64_t positions, int64_t channels, float rate, uint64_t base_seed, const int64_t* calls,
                             const int64_t* step) {
  const int64_t row = positions * channels;
  if (rows * row == 0) return;
  const float scale = rate < 1.0f ? 1.0f / (1.0f - rate) : 0.0f;
  spatial_dropout_kernel<<<blocks_for(rows * row), kThreads, 0, s>>>(y, mask, x, rows, row, channels, rate, scale,
                                                                      base_seed, calls, step);
  BRISKNET_CUDA_LAUNCHED("spatial_dropout_forward");
}

}  // namespace brisknet::cuda
