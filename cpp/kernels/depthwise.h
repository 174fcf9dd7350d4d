// Depthwise convolution (DepthwiseConv2D, SeparableConv2D's first half: one input channel per
// group, m filters per channel) by direct loops over each output position's taps, vectorised over
// the channels of channels_last images. As patches times kernel it would be one GEMM per channel
// with k = taps and n = m: far too thin for the micro-kernel (the patches alone cost more than the
// arithmetic). Called by conv2d_forward / conv2d_backward on one chunk of images, on one thread.
#pragma once
#include <cstdint>

#include "brisknet/kernels.h"

namespace brisknet::detail {

// z[positions, c * m] = sum over the window's taps of x * w (+ bias), taps in (kh, kw) order.
template <typename T>
void depthwise_forward(T* z, const T* x, const T* w, const T* bias, const Window2D& g, int64_t m);

// dw = sum over positions of x (at each tap) * dz, db = the column sums of dz (each written, not
// added, unless null), positions in order; dx = the taps of dz * w added back into zeroed images.
template <typename T>
void depthwise_backward(T* dw, T* db, T* dx, const T* dz, const T* x, const T* w, const Window2D& g, int64_t m);

}  // namespace brisknet::detail
