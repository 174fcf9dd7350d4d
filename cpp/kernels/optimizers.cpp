// Optimizer updates, in place (Keras 3 rules; see kernels.h). Each update is a branch-free
// element loop over a chunk, so the compiler vectorises it; options are hoisted out as template
// parameters.
#include <algorithm>
#include <cmath>
#include "brisknet/kernels.h"
#include "parallel.h"

namespace brisknet {
namespace {
using detail::parallel_chunks;


template <typename T, bool kAmsgrad, bool kDecay>
void adam_chunk(T* __restrict p, T* __restrict m, T* __restrict v, T* __restrict vhat,
                const T* __restrict g, int64_t begin, int64_t end, T alpha, T beta_1, T beta_2,
                T epsilon, T decay) {
  const T one_minus_b1 = T(1) - beta_1, one_minus_b2 = T(1) - beta_2;
#pragma omp simd
  for (int64_t i = begin; i < end; ++i) {
    const T gi = g[i];
    T pi = p[i];
    if (kDecay) pi -= pi * decay;
    const T mi = m[i] + (gi - m[i]) * one_minus_b1;
    const T vi = v[i] + (gi * gi - v[i]) * one_minus_b2;
    m[i] = mi;
    v[i] = vi;
    T denom = vi;
    if (kAmsgrad) denom = vhat[i] = std::max(vhat[i], vi);
    p[i] = pi - alpha * mi / (std::sqrt(denom) + epsilon);
  }
}

}  // namespace

template <typename T>
void sgd_step_serial(T* p, T* velocity, const T* g, int64_t n, T lr, T momentum, bool nesterov) {
  const int64_t begin = 0, end = n;
  if (!velocity) {
#pragma omp simd
    for (int64_t i = begin; i < end; ++i) p[i] -= lr * g[i];
  } else if (nesterov) {
#pragma omp simd
    for (int64_t i = begin; i < end; ++i) {
      const T v = velocity[i] = momentum * velocity[i] - lr * g[i];
      p[i] += momentum * v - lr * g[i];
    }
  } else {
#pragma omp simd
    for (int64_t i = begin; i < end; ++i) p[i] += (velocity[i] = momentum * velocity[i] - lr * g[i]);
  }
}

template <typename T>
void sgd_step(T* p, T* velocity, const T* g, int64_t n, T lr, T momentum, bool nesterov) {
  parallel_chunks(n, [&](int64_t b, int64_t e) {
    sgd_step_serial(p + b, velocity ? velocity + b : nullptr, g + b, e - b, lr, momentum, nesterov);
  });
}

template <typename T>
void adam_step_serial(T* p, T* m, T* v, T* vhat, const T* g, int64_t n, T alpha, T beta_1, T beta_2,
                      T epsilon, T decay) {
  const bool ams = vhat != nullptr, dec = decay != T(0);
  if (!ams && !dec) adam_chunk<T, false, false>(p, m, v, vhat, g, 0, n, alpha, beta_1, beta_2, epsilon, decay);
  else if (!ams) adam_chunk<T, false, true>(p, m, v, vhat, g, 0, n, alpha, beta_1, beta_2, epsilon, decay);
  else if (!dec) adam_chunk<T, true, false>(p, m, v, vhat, g, 0, n, alpha, beta_1, beta_2, epsilon, decay);
  else adam_chunk<T, true, true>(p, m, v, vhat, g, 0, n, alpha, beta_1, beta_2, epsilon, decay);
}

template <typename T>
void adam_step(T* p, T* m, T* v, T* vhat, const T* g, int64_t n, T alpha, T beta_1, T beta_2,
               T epsilon, T decay) {
  parallel_chunks(n, [&](int64_t b, int64_t e) {
    adam_step_serial(p + b, m + b, v + b, vhat ? vhat + b : nullptr, g + b, e - b, alpha, beta_1, beta_2,
                     epsilon, decay);
  });
}

template <typename T>
void rmsprop_step(T* p, T* v, T* mg, T* mom, const T* g, int64_t n, T lr, T rho, T momentum,
                  T epsilon) {
  parallel_chunks(n, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const T gi = g[i];
      const T vi = v[i] = rho * v[i] + (T(1) - rho) * gi * gi;
      T denom = vi + epsilon;
      if (mg) {
        const T a = mg[i] = rho * mg[i] + (T(1) - rho) * gi;
        denom = vi - a * a + epsilon;
      }
      const T inc = lr * gi / std::sqrt(denom);
      if (mom) p[i] -= (mom[i] = momentum * mom[i] + inc);
      else p[i] -= inc;
    }
  });
}

template <typename T>
void adagrad_step(T* p, T* acc, const T* g, int64_t n, T lr, T epsilon) {
  parallel_chunks(n, [&](int64_t begin, int64_t end) {
#pragma omp simd
    for (int64_t i = begin; i < end; ++i) {
      const T a = acc[i] += g[i] * g[i];
      p[i] -= lr * g[i] / std::sqrt(a + epsilon);
    }
  });
}

#define BRISKNET_INSTANTIATE_OPTIMIZERS(T)                                                     \
  template void sgd_step<T>(T*, T*, const T*, int64_t, T, T, bool);                            \
  template void sgd_step_serial<T>(T*, T*, const T*, int64_t, T, T, bool);                     \
  template void adam_step<T>(T*, T*, T*, T*, const T*, int64_t, T, T, T, T, T);                \
  template void adam_step_serial<T>(T*, T*, T*, T*, const T*, int64_t, T, T, T, T, T);         \
  template void rmsprop_step<T>(T*, T*, T*, T*, const T*, int64_t, T, T, T, T);                \
  template void adagrad_step<T>(T*, T*, const T*, int64_t, T, T);
BRISKNET_INSTANTIATE_OPTIMIZERS(float)
BRISKNET_INSTANTIATE_OPTIMIZERS(double)

}  // namespace brisknet
