// Losses and their gradients, per sample, with Keras 3 semantics (probabilities are renormalised
// per row and clipped to [eps, 1 - eps]; logits go through an exact, stable log-softmax).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include "brisknet/elementwise_math.h"
#include "brisknet/kernels.h"
#include "brisknet/fast_math.h"
#include "isa_clones.h"
#include "parallel.h"

namespace brisknet {
namespace {

// Cross-entropy on float32 logits, one row, as math::softmax_crossentropy_row computes it but with
// each exponential taken once and vectorisable (the output layer of a language model is 20,000
// columns wide). d may not alias x.
float softmax_crossentropy_row_fast(float* d, const float* x, int64_t label, const float* t, float w, int64_t cols,
                                    float grad_scale) {
  float mx = x[0];
  for (int64_t j = 1; j < cols; ++j) mx = math::max_of(mx, x[j]);
  float lanes[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t j = 0;
  if (d) {
    for (; j + 8 <= cols; j += 8)
      for (int k = 0; k < 8; ++k) lanes[k] += d[j + k] = fast::exp_nonpositive(x[j + k] - mx);
    for (; j < cols; ++j) lanes[0] += d[j] = fast::exp_nonpositive(x[j] - mx);
  } else {
    for (; j + 8 <= cols; j += 8)
      for (int k = 0; k < 8; ++k) lanes[k] += fast::exp_nonpositive(x[j + k] - mx);
    for (; j < cols; ++j) lanes[0] += fast::exp_nonpositive(x[j] - mx);
  }
  const float sum = ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) + ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7]));
  const float log_sum = std::log(sum);
  float L = 0, tsum = 1;
  if (label >= 0) {
    L = log_sum - (x[label] - mx);
  } else {
    tsum = 0;
    for (int64_t k = 0; k < cols; ++k) {
      L -= t[k] * ((x[k] - mx) - log_sum);
      tsum += t[k];
    }
  }
  if (d) {
    const float s = grad_scale * w, scaled = s * tsum / sum;
    if (label >= 0) {
      for (int64_t k = 0; k < cols; ++k) d[k] *= scaled;
      d[label] -= s;
    } else {
      for (int64_t k = 0; k < cols; ++k) d[k] = d[k] * scaled - s * t[k];
    }
  }
  return w * L;
}

template <typename T> T weight_of(const T* weights, int64_t i) { return weights ? weights[i] : T(1); }

template <typename T>
void crossentropy_from_probs(T* loss, T* dpred, const T* pred, const int64_t* labels,
                             const T* target, const T* weights, int64_t rows, int64_t cols,
                             T grad_scale) {
  const int nt = detail::threads_for(rows * cols, detail::kElementGrain);
#pragma omp parallel for num_threads(nt) schedule(static)
  for (int64_t r = 0; r < rows; ++r)
    loss[r] = math::crossentropy_from_probs_row<T>(dpred ? dpred + r * cols : nullptr, pred + r * cols,
                                                   labels ? labels[r] : -1, target ? target + r * cols : nullptr,
                                                   weight_of(weights, r), cols, grad_scale);
}

}  // namespace

template <typename T>
void softmax_crossentropy(T* loss, T* dlogits, const T* logits, const int64_t* labels,
                          const T* target, const T* weights, int64_t rows, int64_t cols,
                          T grad_scale) {
  const int nt = detail::threads_for(rows * cols, detail::kElementGrain);
  if constexpr (std::is_same_v<T, float>) {
    if (dlogits != logits) {
#pragma omp parallel num_threads(nt)
      {
        detail::at_isa([&] {
#pragma omp for schedule(static)
          for (int64_t r = 0; r < rows; ++r)
            loss[r] = softmax_crossentropy_row_fast(dlogits ? dlogits + r * cols : nullptr, logits + r * cols,
                                                    labels ? labels[r] : -1, target ? target + r * cols : nullptr,
                                                    weight_of(weights, r), cols, grad_scale);
        });
      }
      return;
    }
  }
#pragma omp parallel for num_threads(nt) schedule(static)
  for (int64_t r = 0; r < rows; ++r)
    loss[r] = math::softmax_crossentropy_row<T>(dlogits ? dlogits + r * cols : nullptr, logits + r * cols,
                                                labels ? labels[r] : -1, target ? target + r * cols : nullptr,
                                                weight_of(weights, r), cols, grad_scale);
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
  for (int64_t r = 0; r < rows; ++r)
    loss[r] = math::elementwise_loss_row<T>(dpred ? dpred + r * cols : nullptr, pred + r * cols, target + r * cols,
                                            weight_of(weights, r), cols, kind, from_logits, delta, grad_scale);
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
