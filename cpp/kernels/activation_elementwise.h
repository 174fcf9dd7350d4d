// The element-wise activations on one thread, for callers that already run in parallel: the
// public activation_forward/backward split them over threads, and the GEMM epilogue applies them
// to each output tile while it is still in L1. Softmax and log_softmax (row-wise) are not here.
#pragma once
#include <cstdint>
#include "brisknet/kernels.h"

namespace brisknet::detail {

// y[0:n] = f(x[0:n]); y may alias x.
template <typename T>
void elementwise_activation(T* y, const T* x, int64_t n, Activation act, T alpha);

// y[r, 0:cols] = f(x[r, 0:cols]) for rows r (leading dimensions ldy, ldx): one dispatch on `act`
// for a whole tile (the GEMM's epilogue); y may alias x. No softmax.
template <typename T>
void elementwise_activation_rows(T* y, int64_t ldy, const T* x, int64_t ldx, int64_t rows, int64_t cols,
                                 Activation act, T alpha);

// dx[0:n] = dy * f'(x), given x and y = f(x); dx may alias dy.
template <typename T>
void elementwise_activation_grad(T* dx, const T* dy, const T* x, const T* y, int64_t n,
                                 Activation act, T alpha);

}  // namespace brisknet::detail
