// Winograd F(2x2, 3x3) convolution (winograd.cpp), for convolution.cpp: a 3 x 3, stride-1
// convolution of many channels into many filters, and its kernel gradient, as 16 GEMMs of
// transformed 4 x 4 input tiles instead of one GEMM of 9-tap patches (2.25x fewer
// multiplications).
#pragma once
#include <cstdint>
#include "brisknet/kernels.h"

namespace brisknet::detail {

// Whether conv2d_forward takes the Winograd path for this window, groups and filters: 3 x 3
// taps, stride 1, no dilation, one group, and enough channels and filters for the transforms to
// pay (a 1-channel first layer is faster as an implicit GEMM).
bool winograd_applies(const Window2D& g, int64_t groups, int64_t filters);

// The kernel w (3 * 3 * c rows of `filters`, row-major: Keras' (kh, kw, c, filters)) transformed
// (G w G^T per channel and filter) and packed for the micro-kernel: winograd_kernel_size values.
template <typename T>
int64_t winograd_kernel_size(int64_t c, int64_t filters);
template <typename T>
void winograd_kernel(T* u, const T* w, int64_t c, int64_t filters);

// z (g.n * oh * ow rows of `filters`) = the convolution of the images x (g) with the kernel u
// (winograd_kernel) (+ bias). work: winograd_work_size(g, filters) values of the caller's.
template <typename T>
int64_t winograd_work_size(const Window2D& g, int64_t filters);
template <typename T>
void winograd_forward(T* z, const T* x, const T* u, const T* bias, const Window2D& g, int64_t filters, T* work);

// dw (3 * 3 * c rows of `filters`) = the kernel gradient of that convolution from the images x (g)
// and the output gradient dz (g.n * oh * ow rows of `filters`), its tiles summed in order (one
// chunk's; the caller sums chunks). work: winograd_gradient_work_size(g, filters) values.
template <typename T>
int64_t winograd_gradient_work_size(const Window2D& g, int64_t filters);
template <typename T>
void winograd_kernel_gradient(T* dw, const T* x, const T* dz, const Window2D& g, int64_t filters, T* work);

}  // namespace brisknet::detail
