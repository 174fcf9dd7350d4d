// Activations, forward and backward side by side, with Keras 3 definitions.
#include <algorithm>
#include <cmath>
#include "brisknet/kernels.h"
#include "activation_elementwise.h"
#include "parallel.h"

namespace brisknet {
namespace {

template <typename T> constexpr T kSeluAlpha = T(1.6732632423543772848170429916717);
template <typename T> constexpr T kSeluScale = T(1.0507009873554804934193349852946);
template <typename T> constexpr T kSqrt2OverPi = T(0.7978845608028654);  // sqrt(2/pi)
template <typename T> constexpr T kInvSqrt2 = T(0.7071067811865476);
template <typename T> constexpr T kInvSqrt2Pi = T(0.3989422804014327);   // 1/sqrt(2 pi)

template <typename T> T sigmoid(T x) {
  // exp of a non-positive number only: no overflow for any x
  if (x >= T(0)) return T(1) / (T(1) + std::exp(-x));
  const T e = std::exp(x);
  return e / (T(1) + e);
}

// Outputs may alias inputs only at the same index (y == x, dx == dy): no dependence between
// iterations, so the loop vectorises (ivdep spares the compiler's alias checks).
template <typename F>
void each(int64_t n, F f) {
#pragma GCC ivdep
  for (int64_t i = 0; i < n; ++i) f(i);
}

template <typename T>
void softmax_rows(T* y, const T* x, int64_t rows, int64_t cols, bool log) {
  if (cols == 0) return;
  const int nt = detail::threads_for(rows * cols, detail::kElementGrain);
#pragma omp parallel for num_threads(nt) schedule(static)
  for (int64_t r = 0; r < rows; ++r) {
    const T* xr = x + r * cols;
    T* yr = y + r * cols;
    T mx = xr[0];
    for (int64_t j = 1; j < cols; ++j) mx = std::max(mx, xr[j]);
    T sum = 0;
    if (log) {
      for (int64_t j = 0; j < cols; ++j) sum += std::exp(xr[j] - mx);
      const T log_sum = std::log(sum);  // (x - max) - log_sum keeps float32 precision at large x
      for (int64_t j = 0; j < cols; ++j) yr[j] = (xr[j] - mx) - log_sum;
    } else {
      for (int64_t j = 0; j < cols; ++j) sum += (yr[j] = std::exp(xr[j] - mx));
      const T inv = T(1) / sum;
      for (int64_t j = 0; j < cols; ++j) yr[j] *= inv;
    }
  }
}

}  // namespace

namespace detail {

template <typename T>
void elementwise_activation(T* y, const T* x, int64_t n, Activation act, T alpha) {
  switch (act) {
    case Activation::linear:
      if (y != x) each(n, [&](int64_t i) { y[i] = x[i]; });
      return;
    case Activation::relu:
      // Clamps as selects (vector blends, see -fno-trapping-math in CMakeLists.txt): a NaN fails
      // every comparison and passes through (as in Keras, PyTorch and np.maximum), and a
      // subnormal, which compares as 0 under DAZ, gives 0.
      return each(n, [&](int64_t i) {
        const T v = x[i];
        y[i] = v <= T(0) ? T(0) : v;
      });
    case Activation::relu6:
      return each(n, [&](int64_t i) {
        const T v = x[i];
        T r = v <= T(0) ? T(0) : v;
        r = v > T(6) ? T(6) : r;
        y[i] = r;
      });
    case Activation::leaky_relu:
      return each(n, [&](int64_t i) { y[i] = x[i] * (x[i] > T(0) ? T(1) : alpha); });  // NaN stays NaN
    case Activation::elu:
      return each(n, [&](int64_t i) { y[i] = x[i] > T(0) ? x[i] : alpha * std::expm1(x[i]); });
    case Activation::selu:
      return each(n, [&](int64_t i) {
        y[i] = kSeluScale<T> * (x[i] > T(0) ? x[i] : kSeluAlpha<T> * std::expm1(x[i]));
      });
    case Activation::gelu:
      return each(n, [&](int64_t i) {
        y[i] = T(0.5) * x[i] * (T(1) + std::erf(x[i] * kInvSqrt2<T>));
      });
    case Activation::gelu_tanh:
      return each(n, [&](int64_t i) {
        const T v = x[i];
        y[i] = T(0.5) * v * (T(1) + std::tanh(kSqrt2OverPi<T> * (v + T(0.044715) * v * v * v)));
      });
    case Activation::sigmoid:
      return each(n, [&](int64_t i) { y[i] = sigmoid(x[i]); });
    case Activation::hard_sigmoid:  // Keras 3: relu6(x + 3) / 6
      return each(n, [&](int64_t i) {
        const T u = x[i] + T(3);
        T r = u < T(0) ? T(0) : u;
        r = u > T(6) ? T(6) : r;
        y[i] = r / T(6);
      });
    case Activation::tanh:
      return each(n, [&](int64_t i) { y[i] = std::tanh(x[i]); });
    case Activation::softplus:  // log(1 + e^x) without overflow
      return each(n, [&](int64_t i) {
        y[i] = std::max(x[i], T(0)) + std::log1p(std::exp(-std::abs(x[i])));
      });
    case Activation::softsign:
      return each(n, [&](int64_t i) { y[i] = x[i] / (T(1) + std::abs(x[i])); });
    case Activation::swish:
      return each(n, [&](int64_t i) { y[i] = x[i] * sigmoid(x[i]); });
    case Activation::exponential:
      return each(n, [&](int64_t i) { y[i] = std::exp(x[i]); });
    case Activation::mish:  // x tanh(softplus(x))
      return each(n, [&](int64_t i) {
        const T v = x[i];
        y[i] = v * std::tanh(std::max(v, T(0)) + std::log1p(std::exp(-std::abs(v))));
      });
    case Activation::hard_silu:  // x relu6(x + 3) / 6
      return each(n, [&](int64_t i) {
        const T v = x[i], u = v + T(3);
        T r = u < T(0) ? T(0) : u;
        r = u > T(6) ? T(6) : r;
        y[i] = v * r / T(6);
      });
    case Activation::log_sigmoid:  // -softplus(-x) = min(x, 0) - log(1 + e^-|x|)
      return each(n, [&](int64_t i) {
        const T v = x[i];
        y[i] = std::min(v, T(0)) - std::log1p(std::exp(-std::abs(v)));
      });
    case Activation::hard_tanh:  // clip(x, -1, 1), NaN passing through
      return each(n, [&](int64_t i) {
        const T v = x[i];
        T r = v < T(-1) ? T(-1) : v;
        r = v > T(1) ? T(1) : r;
        y[i] = r;
      });
    case Activation::softmax:
    case Activation::log_softmax:
      return;  // row-wise: see activation_forward
  }
}

template <typename T>
void elementwise_activation_grad(T* dx, const T* dy, const T* x, const T* y, int64_t n, Activation act,
                                 T alpha) {
  switch (act) {
    case Activation::linear:
      if (dx != dy) each(n, [&](int64_t i) { dx[i] = dy[i]; });
      return;
    // The piecewise-linear ones: dy times the slope, the slope built by selects (no branch on the
    // sign, which is random in real data). The slope of a NaN input is NaN (the last select), and
    // a NaN dy times a zero slope stays NaN, so NaN propagates backwards as it does forwards.
    case Activation::relu:
      return each(n, [&](int64_t i) {
        const T v = x[i];
        T s = v > T(0) ? T(1) : T(0);
        s = v != v ? v : s;
        dx[i] = dy[i] * s;
      });
    case Activation::relu6:
      return each(n, [&](int64_t i) {
        const T v = x[i];
        T s = (v > T(0)) & (v < T(6)) ? T(1) : T(0);
        s = v != v ? v : s;
        dx[i] = dy[i] * s;
      });
    case Activation::leaky_relu:
      return each(n, [&](int64_t i) {
        const T v = x[i];
        T s = v > T(0) ? T(1) : alpha;
        s = v != v ? v : s;
        dx[i] = dy[i] * s;
      });
    case Activation::elu:  // d/dx alpha (e^x - 1) = y + alpha
      return each(n, [&](int64_t i) {
        const T g = dy[i], v = x[i], out = y[i];
        dx[i] = v > T(0) ? g : g * (out + alpha);
      });
    case Activation::selu:
      return each(n, [&](int64_t i) {
        dx[i] = x[i] > T(0) ? kSeluScale<T> * dy[i] : dy[i] * (y[i] + kSeluScale<T> * kSeluAlpha<T>);
      });
    case Activation::gelu:  // Phi(x) + x phi(x)
      return each(n, [&](int64_t i) {
        const T v = x[i];
        const T cdf = T(0.5) * (T(1) + std::erf(v * kInvSqrt2<T>));
        dx[i] = dy[i] * (cdf + v * kInvSqrt2Pi<T> * std::exp(T(-0.5) * v * v));
      });
    case Activation::gelu_tanh:
      return each(n, [&](int64_t i) {
        const T v = x[i];
        const T t = std::tanh(kSqrt2OverPi<T> * (v + T(0.044715) * v * v * v));
        const T du = kSqrt2OverPi<T> * (T(1) + T(3 * 0.044715) * v * v);
        dx[i] = dy[i] * (T(0.5) * (T(1) + t) + T(0.5) * v * (T(1) - t * t) * du);
      });
    case Activation::sigmoid:
      return each(n, [&](int64_t i) { dx[i] = dy[i] * y[i] * (T(1) - y[i]); });
    case Activation::hard_sigmoid:
      return each(n, [&](int64_t i) {
        const T v = x[i];
        T s = (v > T(-3)) & (v < T(3)) ? T(1) : T(0);
        s = v != v ? v : s;
        dx[i] = dy[i] * s / T(6);
      });
    case Activation::tanh:
      return each(n, [&](int64_t i) { dx[i] = dy[i] * (T(1) - y[i] * y[i]); });
    case Activation::softplus:
      return each(n, [&](int64_t i) { dx[i] = dy[i] * sigmoid(x[i]); });
    case Activation::softsign:
      return each(n, [&](int64_t i) {
        const T d = T(1) + std::abs(x[i]);
        dx[i] = dy[i] / (d * d);
      });
    case Activation::swish:
      return each(n, [&](int64_t i) {
        const T s = sigmoid(x[i]);
        dx[i] = dy[i] * (s + x[i] * s * (T(1) - s));
      });
    case Activation::exponential:
      return each(n, [&](int64_t i) { dx[i] = dy[i] * y[i]; });
    case Activation::mish:  // tanh(sp) + x sech^2(sp) sigmoid(x), sp = softplus(x)
      return each(n, [&](int64_t i) {
        const T v = x[i];
        const T t = std::tanh(std::max(v, T(0)) + std::log1p(std::exp(-std::abs(v))));
        dx[i] = dy[i] * (t + v * (T(1) - t * t) * sigmoid(v));
      });
    case Activation::hard_silu:  // (2x + 3) / 6 inside (-3, 3), 0 below, 1 above
      return each(n, [&](int64_t i) {
        const T v = x[i], inside = (T(2) * v + T(3)) / T(6);
        T s = v >= T(3) ? T(1) : T(0);
        s = (v > T(-3)) & (v < T(3)) ? inside : s;
        s = v != v ? v : s;
        dx[i] = dy[i] * s;
      });
    case Activation::log_sigmoid:
      return each(n, [&](int64_t i) { dx[i] = dy[i] * sigmoid(-x[i]); });
    case Activation::hard_tanh:
      return each(n, [&](int64_t i) {
        const T v = x[i];
        T s = (v > T(-1)) & (v < T(1)) ? T(1) : T(0);
        s = v != v ? v : s;
        dx[i] = dy[i] * s;
      });
    case Activation::softmax:
    case Activation::log_softmax:
      return;  // row-wise: see activation_backward
  }
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
    for (int64_t r = 0; r < rows; ++r) {
      const T* dyr = dy + r * cols;
      const T* yr = y + r * cols;
      T* dxr = dx + r * cols;
      T dot = 0;  // softmax: sum(dy * y); log_softmax: sum(dy)
      for (int64_t j = 0; j < cols; ++j) dot += log ? dyr[j] : dyr[j] * yr[j];
      for (int64_t j = 0; j < cols; ++j)
        dxr[j] = log ? dyr[j] - std::exp(yr[j]) * dot : yr[j] * (dyr[j] - dot);
    }
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
template void elementwise_activation_grad<float>(float*, const float*, const float*, const float*,
                                                 int64_t, Activation, float);
template void elementwise_activation_grad<double>(double*, const double*, const double*,
                                                  const double*, int64_t, Activation, double);
}  // namespace brisknet::detail
