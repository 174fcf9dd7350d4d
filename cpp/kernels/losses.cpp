// Losses and their gradients, per sample, with Keras 3 semantics (probabilities are renormalised
// per row and clipped to [eps, 1 - eps]; logits go through an exact, stable log-softmax).
#include <algorithm>
#include <cmath>
#include "brisknet/elementwise_math.h"
#include "brisknet/kernels.h"
#include "parallel.h"

namespace brisknet {
namespace {

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
