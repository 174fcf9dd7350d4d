// The optimizer update rules as element loops over one range, on the calling thread (Keras 3
// rules, one element at a time in brisknet/elementwise_math.h, which the CUDA kernels run too).
// The kernels in optimizers.cpp run them one range per thread; the engine (optimizer_step.cpp)
// runs them per variable or per finished GEMM tile: element for element the same arithmetic
// whichever way a buffer is cut.
#pragma once
#include <cstdint>

#include "brisknet/elementwise_math.h"

namespace brisknet {
namespace detail {

using math::sign_of;

template <typename T>
inline void sgd_range(T* p, T* velocity, const T* g, int64_t n, T lr, T momentum, bool nesterov) {
  if (!velocity) {
#pragma omp simd
    for (int64_t i = 0; i < n; ++i) math::sgd_element<T>(p[i], nullptr, g[i], lr, momentum, false);
  } else if (nesterov) {
#pragma omp simd
    for (int64_t i = 0; i < n; ++i) math::sgd_element<T>(p[i], velocity + i, g[i], lr, momentum, true);
  } else {
#pragma omp simd
    for (int64_t i = 0; i < n; ++i) math::sgd_element<T>(p[i], velocity + i, g[i], lr, momentum, false);
  }
}

template <typename T, bool kAmsgrad, bool kDecay>
void adam_loop(T* __restrict p, T* __restrict m, T* __restrict v, T* __restrict vhat,
               const T* __restrict g, int64_t n, T alpha, T beta_1, T beta_2, T epsilon, T decay) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i)
    math::adam_element<T, kAmsgrad, kDecay>(p[i], m[i], v[i], kAmsgrad ? vhat + i : nullptr, g[i], alpha, beta_1,
                                            beta_2, epsilon, decay);
}

template <typename T>
inline void adam_range(T* p, T* m, T* v, T* vhat, const T* g, int64_t n, T alpha, T beta_1, T beta_2,
                T epsilon, T decay) {
  const bool ams = vhat != nullptr, dec = decay != T(0);
  if (!ams && !dec) adam_loop<T, false, false>(p, m, v, vhat, g, n, alpha, beta_1, beta_2, epsilon, decay);
  else if (!ams) adam_loop<T, false, true>(p, m, v, vhat, g, n, alpha, beta_1, beta_2, epsilon, decay);
  else if (!dec) adam_loop<T, true, false>(p, m, v, vhat, g, n, alpha, beta_1, beta_2, epsilon, decay);
  else adam_loop<T, true, true>(p, m, v, vhat, g, n, alpha, beta_1, beta_2, epsilon, decay);
}

template <typename T>
inline void rmsprop_range(T* p, T* v, T* mg, T* mom, const T* g, int64_t n, T lr, T rho, T momentum, T epsilon) {
  for (int64_t i = 0; i < n; ++i)
    math::rmsprop_element<T>(p[i], v[i], mg ? mg + i : nullptr, mom ? mom + i : nullptr, g[i], lr, rho, momentum,
                             epsilon);
}

template <typename T>
inline void adagrad_range(T* p, T* acc, const T* g, int64_t n, T lr, T epsilon) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) math::adagrad_element<T>(p[i], acc[i], g[i], lr, epsilon);
}

template <typename T>
inline void adamax_range(T* p, T* m, T* u, const T* g, int64_t n, T lr_t, T beta_1, T beta_2, T epsilon) {
  for (int64_t i = 0; i < n; ++i) math::adamax_element<T>(p[i], m[i], u[i], g[i], lr_t, beta_1, beta_2, epsilon);
}

template <typename T>
inline void nadam_range(T* p, T* m, T* v, const T* g, int64_t n, T lr, T c_m, T c_g, T v_scale, T beta_1,
                 T beta_2, T epsilon) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i)
    math::nadam_element<T>(p[i], m[i], v[i], g[i], lr, c_m, c_g, v_scale, beta_1, beta_2, epsilon);
}

template <typename T>
inline void adadelta_range(T* p, T* ag, T* ad, const T* g, int64_t n, T lr, T rho, T epsilon) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) math::adadelta_element<T>(p[i], ag[i], ad[i], g[i], lr, rho, epsilon);
}

template <typename T>
inline void lion_range(T* p, T* m, const T* g, int64_t n, T lr, T beta_1, T beta_2) {
  for (int64_t i = 0; i < n; ++i) math::lion_element<T>(p[i], m[i], g[i], lr, beta_1, beta_2);
}

// What happens to a gradient before the update, element by element: the L1/L2 penalty's gradient
// and clipping to [-limit, limit].
inline void add_penalty_gradient_range(float* g, const float* w, int64_t n, float l1, float l2x2) {
  for (int64_t i = 0; i < n; ++i) g[i] = math::penalty_gradient(g[i], w[i], l1, l2x2);
}

inline void clip_by_value_range(float* g, int64_t n, float limit) {
  for (int64_t i = 0; i < n; ++i) g[i] = math::clip_value(g[i], limit);
}

}  // namespace detail

}  // namespace brisknet
