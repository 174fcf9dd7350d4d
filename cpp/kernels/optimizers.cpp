// Optimizer updates, in place, one element loop each (Keras 3 rules; see kernels.h).
#include <algorithm>
#include <cmath>
#include "brisknet/kernels.h"
#include "parallel.h"

namespace brisknet {
namespace {
template <typename F>
void parallel_for(int64_t n, F f) {
  const int nt = detail::threads_for(n, detail::kElementGrain);
#pragma omp parallel for num_threads(nt) schedule(static)
  for (int64_t i = 0; i < n; ++i) f(i);
}
}  // namespace

template <typename T>
void sgd_step(T* p, T* velocity, const T* g, int64_t n, T lr, T momentum, bool nesterov) {
  if (!velocity) return parallel_for(n, [&](int64_t i) { p[i] -= lr * g[i]; });
  parallel_for(n, [&](int64_t i) {
    const T v = momentum * velocity[i] - lr * g[i];
    velocity[i] = v;
    p[i] += nesterov ? momentum * v - lr * g[i] : v;
  });
}

template <typename T>
void adam_step(T* p, T* m, T* v, T* vhat, const T* g, int64_t n, T alpha, T beta_1, T beta_2,
               T epsilon, T decay) {
  parallel_for(n, [&](int64_t i) {
    const T gi = g[i];
    T pi = p[i];
    if (decay != T(0)) pi -= pi * decay;
    const T mi = m[i] + (gi - m[i]) * (T(1) - beta_1);
    const T vi = v[i] + (gi * gi - v[i]) * (T(1) - beta_2);
    m[i] = mi;
    v[i] = vi;
    T denom = vi;
    if (vhat) denom = vhat[i] = std::max(vhat[i], vi);
    p[i] = pi - alpha * mi / (std::sqrt(denom) + epsilon);
  });
}

template <typename T>
void rmsprop_step(T* p, T* v, T* mg, T* mom, const T* g, int64_t n, T lr, T rho, T momentum,
                  T epsilon) {
  parallel_for(n, [&](int64_t i) {
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
  });
}

template <typename T>
void adagrad_step(T* p, T* acc, const T* g, int64_t n, T lr, T epsilon) {
  parallel_for(n, [&](int64_t i) {
    const T a = acc[i] += g[i] * g[i];
    p[i] -= lr * g[i] / std::sqrt(a + epsilon);
  });
}

#define BRISKNET_INSTANTIATE_OPTIMIZERS(T)                                                     \
  template void sgd_step<T>(T*, T*, const T*, int64_t, T, T, bool);                            \
  template void adam_step<T>(T*, T*, T*, T*, const T*, int64_t, T, T, T, T, T);                \
  template void rmsprop_step<T>(T*, T*, T*, T*, const T*, int64_t, T, T, T, T);                \
  template void adagrad_step<T>(T*, T*, const T*, int64_t, T, T);
BRISKNET_INSTANTIATE_OPTIMIZERS(float)
BRISKNET_INSTANTIATE_OPTIMIZERS(double)

}  // namespace brisknet
