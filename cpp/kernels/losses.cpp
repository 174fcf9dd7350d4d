// Losses and their gradients, per sample, with Keras 3 semantics (probabilities are renormalised
// per row and clipped to [eps, 1 - eps]; logits go through an exact, stable log-softmax).
#include <algorithm>
#include <cmath>
#include "brisknet/kernels.h"
#include "parallel.h"

namespace brisknet {
namespace {

template <typename T> constexpr T kEps = T(1e-7);  // keras.backend.epsilon()

template <typename T> T weight_of(const T* weights, int64_t i) { return weights ? weights[i] : T(1); }
// 0, or NaN when v is NaN: the gradient where a clip or a sign would otherwise turn NaN into 0.
template <typename T> T nan_or_zero(T v) { return v != v ? v : T(0); }

template <typename T> T sigmoid(T x) {
  if (x >= T(0)) return T(1) / (T(1) + std::exp(-x));
  const T e = std::exp(x);
  return e / (T(1) + e);
}

// Cross-entropy on probabilities: q = pred / sum(pred), c = clip(q), L = -sum_k t_k log c_k with
// t = onehot(label) or target. Gradient through the normalisation: dp_j = (g_j - sum_k g_k q_k) / S
// with g_k = dL/dq_k = -t_k / q_k where q_k is not clipped, else 0.
template <typename T>
void crossentropy_from_probs(T* loss, T* dpred, const T* pred, const int64_t* labels,
                             const T* target, const T* weights, int64_t rows, int64_t cols,
                             T grad_scale) {
  const int nt = detail::threads_for(rows * cols, detail::kElementGrain);
#pragma omp parallel for num_threads(nt) schedule(static)
  for (int64_t r = 0; r < rows; ++r) {
    const T* p = pred + r * cols;
    const T* t = target ? target + r * cols : nullptr;
    T S = 0;
    for (int64_t j = 0; j < cols; ++j) S += p[j];
    const T w = weight_of(weights, r);
    T L = 0, gq = 0;  // gq = sum_k g_k q_k
    auto term = [&](int64_t k, T tk) {
      const T q = p[k] / S;
      const T c = std::min(std::max(q, kEps<T>), T(1) - kEps<T>);
      L -= tk * std::log(c);
      if (q > kEps<T> && q < T(1) - kEps<T>) gq -= tk;  // g_k q_k = -t_k
    };
    if (labels) term(labels[r], T(1));
    else
      for (int64_t k = 0; k < cols; ++k) term(k, t[k]);
    loss[r] = w * L;
    if (!dpred) continue;
    T* d = dpred + r * cols;
    const T s = grad_scale * w / S;
    for (int64_t j = 0; j < cols; ++j) {
      const T q = p[j] / S;
      const T tj = labels ? T(labels[r] == j) : t[j];
      const T g = (q > kEps<T> && q < T(1) - kEps<T>) ? -tj / q : nan_or_zero(q);
      d[j] = s * (g - gq);
    }
  }
}

}  // namespace

template <typename T>
void softmax_crossentropy(T* loss, T* dlogits, const T* logits, const int64_t* labels,
                          const T* target, const T* weights, int64_t rows, int64_t cols,
                          T grad_scale) {
  const int nt = detail::threads_for(rows * cols, detail::kElementGrain);
#pragma omp parallel for num_threads(nt) schedule(static)
  for (int64_t r = 0; r < rows; ++r) {
    const T* x = logits + r * cols;
    const T* t = target ? target + r * cols : nullptr;
    T mx = x[0];
    for (int64_t j = 1; j < cols; ++j) mx = std::max(mx, x[j]);
    T sum = 0;
    for (int64_t j = 0; j < cols; ++j) sum += std::exp(x[j] - mx);
    const T log_sum = std::log(sum);
    // log_softmax_j = (x_j - max) - log_sum (subtracting max first keeps float32 precision);
    // L = -sum_k t_k log_softmax_k; dL/dx_j = softmax_j * sum(t) - t_j
    T L = 0, tsum = 1;
    if (labels) {
      L = log_sum - (x[labels[r]] - mx);
    } else {
      tsum = 0;
      for (int64_t j = 0; j < cols; ++j) {
        L -= t[j] * ((x[j] - mx) - log_sum);
        tsum += t[j];
      }
    }
    const T w = weight_of(weights, r);
    loss[r] = w * L;
    if (!dlogits) continue;
    T* d = dlogits + r * cols;
    const T s = grad_scale * w;
    for (int64_t j = 0; j < cols; ++j) {
      const T tj = labels ? T(labels[r] == j) : t[j];
      d[j] = s * (std::exp((x[j] - mx) - log_sum) * tsum - tj);
    }
  }
}

template <typename T>
void sparse_categorical_crossentropy(T* loss, T* dpred, const T* pred, const int64_t* labels,
                                     const T* weights, int64_t rows, int64_t cols,
                                     bool from_logits, T grad_scale) {
  if (cols == 0) return;
  if (from_logits)
    return softmax_crossentropy<T>(loss, dpred, pred, labels, nullptr, weights, rows, cols, grad_scale);
  crossentropy_from_probs<T>(loss, dpred, pred, labels, nullptr, weights, rows, cols, grad_scale);
}

template <typename T>
void categorical_crossentropy(T* loss, T* dpred, const T* pred, const T* target, const T* weights,
                              int64_t rows, int64_t cols, bool from_logits, T grad_scale) {
  if (cols == 0) return;
  if (from_logits)
    return softmax_crossentropy<T>(loss, dpred, pred, nullptr, target, weights, rows, cols, grad_scale);
  crossentropy_from_probs<T>(loss, dpred, pred, nullptr, target, weights, rows, cols, grad_scale);
}

template <typename T>
void elementwise_loss(T* loss, T* dpred, const T* pred, const T* target, const T* weights,
                      int64_t rows, int64_t cols, LossKind kind, bool from_logits, T delta,
                      T grad_scale) {
  const int nt = detail::threads_for(rows * cols, detail::kElementGrain);
#pragma omp parallel for num_threads(nt) schedule(static)
  for (int64_t r = 0; r < rows; ++r) {
    const T* p = pred + r * cols;
    const T* t = target + r * cols;
    T* d = dpred ? dpred + r * cols : nullptr;
    const T w = weight_of(weights, r);
    const T s = grad_scale * w / T(cols);
    T L = 0;
    for (int64_t j = 0; j < cols; ++j) {
      T term = 0, grad = 0;
      const T x = p[j], y = t[j];
      switch (kind) {
        case LossKind::binary_crossentropy:
          if (from_logits) {  // max(x, 0) - x y + log(1 + e^-|x|)
            term = std::max(x, T(0)) - x * y + std::log1p(std::exp(-std::abs(x)));
            grad = sigmoid(x) - y;
          } else {
            const T c = std::min(std::max(x, kEps<T>), T(1) - kEps<T>);
            term = -(y * std::log(c) + (T(1) - y) * std::log(T(1) - c));
            grad = (x > kEps<T> && x < T(1) - kEps<T>) ? (T(1) - y) / (T(1) - c) - y / c : nan_or_zero(x);
          }
          break;
        case LossKind::mean_squared_error:
          term = (x - y) * (x - y);
          grad = T(2) * (x - y);
          break;
        case LossKind::mean_absolute_error:
          term = std::abs(x - y);
          grad = T((x > y) - (x < y)) + nan_or_zero(x - y);
          break;
        case LossKind::huber: {
          const T e = x - y, a = std::abs(e);
          term = a <= delta ? T(0.5) * e * e : delta * (a - T(0.5) * delta);
          grad = a <= delta ? e : delta * T((e > 0) - (e < 0)) + nan_or_zero(e);
          break;
        }
        default:  // the cross-entropies have kernels of their own (the bindings check)
          break;
      }
      L += term;
      if (d) d[j] = s * grad;
    }
    loss[r] = cols ? w * L / T(cols) : T(0);
  }
}

#define BRISKNET_INSTANTIATE_LOSSES(T)                                                          \
  template void sparse_categorical_crossentropy<T>(T*, T*, const T*, const int64_t*, const T*,  \
                                                   int64_t, int64_t, bool, T);                  \
  template void categorical_crossentropy<T>(T*, T*, const T*, const T*, const T*, int64_t,      \
                                            int64_t, bool, T);                                  \
  template void softmax_crossentropy<T>(T*, T*, const T*, const int64_t*, const T*, const T*,   \
                                        int64_t, int64_t, T);                                   \
  template void elementwise_loss<T>(T*, T*, const T*, const T*, const T*, int64_t, int64_t,     \
                                    LossKind, bool, T, T);
BRISKNET_INSTANTIATE_LOSSES(float)
BRISKNET_INSTANTIATE_LOSSES(double)

}  // namespace brisknet
