// Activations, forward and backward side by side, with Keras 3 definitions.
#include <algorithm>
#include <cmath>
#include "brisknet/elementwise_math.h"
#include "brisknet/kernels.h"
#include "activation_elementwise.h"
#include "isa_clones.h"
#include "parallel.h"

namespace brisknet {
namespace {
using detail::at_isa;

// Outputs may alias inputs only at the same index (y == x, dx == dy): no dependence between
// iterations, so the loop vectorises (ivdep spares the compiler's alias checks).
template <typename F>
void each(int64_t n, F f) {
#pragma GCC ivdep
  for (int64_t i = 0; i < n; ++i) f(i);
}

template <typename T>
void softmax_rows(T* y, const T* x, int64_t rows, int64_t cols, bool log) {
  const int nt = detail::threads_for(rows * cols, detail::kElementGrain);
#pragma omp parallel for num_threads(nt) schedule(static)
  for (int64_t r = 0; r < rows; ++r) math::softmax_row(y + r * cols, x + r * cols, cols, log);
}

}  // namespace

namespace detail {

template <typename T>
void elementwise_activation(T* y, const T* x, int64_t n, Activation act, T alpha) {
  if (act == Activation::linear) {
    if (y != x) each(n, [&](int64_t i) { y[i] = x[i]; });
    return;
  }
  elementwise_activation_rows(y, n, x, n, 1, n, act, alpha);
}

template <typename T>
void elementwise_activation_rows(T* y, int64_t ldy, const T* x, int64_t ldx, int64_t rows, int64_t cols,
                                 Activation act, T alpha) {
  // (the clamps are selects: vector blends, see -fno-trapping-math in CMakeLists.txt)
  math::with_activation(act, [&](auto a) {
    at_isa([&] {
      for (int64_t r = 0; r < rows; ++r) {
        T* yr = y + r * ldy;
        const T* xr = x + r * ldx;
        each(cols, [&](int64_t i) { yr[i] = math::activate<decltype(a)::value>(xr[i], alpha); });
      }
    });
  });
}

template <typename T>
void elementwise_activation_grad(T* dx, const T* dy, const T* x, const T* y, int64_t n, Activation act,
                                 T alpha) {
  if (act == Activation::linear) {
    if (dx != dy) each(n, [&](int64_t i) { dx[i] = dy[i]; });
    return;
  }
  math::with_activation(act, [&](auto a) {
    at_isa([&] {
      each(n, [&](int64_t i) { dx[i] = math::activate_grad<decltype(a)::value>(dy[i], x[i], y[i], alpha); });
    });
  });
}

}  // namespace detail

template <typename T>
void activation_forward(T* y, const T* x, int64_t rows, int64_t cols, Activation act, T alpha) {
  if (!is_elementwise(act))
    return softmax_rows(y, x, rows, cols, act == Activation::log_softmax);
  detail::parallel_chunks(rows * cols, [&](int64_t begin, int64_t end) {
    detail::elementwise_activation(y + begin, x + begin, end - begin, act, alpha);
  });
}

template <typename T>
void activation_backward(T* dx, const T* dy, const T* x, const T* y, int64_t rows, int64_t cols,
                         Activation act, T alpha) {
  const int64_t n = rows * cols;
  if (!is_elementwise(act)) {
    const bool log = act == Activation::log_softmax;
    const int nt = detail::threads_for(n, detail::kElementGrain);
#pragma omp parallel for num_threads(nt) schedule(static)
    for (int64_t r = 0; r < rows; ++r) math::softmax_row_grad(dx + r * cols, dy + r * cols, y + r * cols, cols, log);
    return;
  }
  detail::parallel_chunks(n, [&](int64_t begin, int64_t end) {
    detail::elementwise_activation_grad(dx + begin, dy + begin, x + begin, y + begin, end - begin, act, alpha);
  });
}


template void activation_forward<float>(float*, const float*, int64_t, int64_t, Activation, float);
template void activation_forward<double>(double*, const double*, int64_t, int64_t, Activation, double);
template void activation_backward<float>(float*, const float*, const float*, const float*, int64_t,
                                         int64_t, Activation, float);
template void activation_backward<double>(double*, const double*, const double*, const double*,
                                          int64_t, int64_t, Activation, double);

}  // namespace brisknet

namespace brisknet::detail {
template void elementwise_activation<float>(float*, const float*, int64_t, Activation, float);
template void elementwise_activation<double>(double*, const double*, int64_t, Activation, double);
template void elementwise_activation_rows<float>(float*, int64_t, const float*, int64_t, int64_t, int64_t,
                                                 Activation, float);
template void elementwise_activation_rows<double>(double*, int64_t, const double*, int64_t, int64_t, int64_t,
                                                  Activation, double);
template void elementwise_activation_grad<float>(float*, const float*, const float*, const float*,
                                                 int64_t, Activation, float);
template void elementwise_activation_grad<double>(double*, const double*, const double*,
                                                  const double*, int64_t, Activation, double);
}  // namespace brisknet::detail
