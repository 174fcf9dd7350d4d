// The optimizer update rules as element loops over one range, on the calling thread (Keras 3
// rules; see kernels.h). The kernels in optimizers.cpp run them one range per thread; the engine
// (optimizer_step.cpp) runs them per variable or per finished GEMM tile: element for element the
// same arithmetic whichever way a buffer is cut.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>

namespace brisknet {
namespace detail {
namespace rule_helpers {

template <typename T> T sign_of(T x) { return x != x ? x : T((x > T(0)) - (x < T(0))); }  // numpy's sign

template <typename T, bool kAmsgrad, bool kDecay>
void adam_loop(T* __restrict p, T* __restrict m, T* __restrict v, T* __restrict vhat,
               const T* __restrict g, int64_t n, T alpha, T beta_1, T beta_2, T epsilon, T decay) {
  const T one_minus_b1 = T(1) - beta_1, one_minus_b2 = T(1) - beta_2;
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) {
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

}  // namespace rule_helpers
using rule_helpers::sign_of;
using rule_helpers::adam_loop;

template <typename T>
inline void sgd_range(T* p, T* velocity, const T* g, int64_t n, T lr, T momentum, bool nesterov) {
  if (!velocity) {
#pragma omp simd
    for (int64_t i = 0; i < n; ++i) p[i] -= lr * g[i];
  } else if (nesterov) {
#pragma omp simd
    for (int64_t i = 0; i < n; ++i) {
      const T v = velocity[i] = momentum * velocity[i] - lr * g[i];
      p[i] += momentum * v - lr * g[i];
    }
  } else {
#pragma omp simd
    for (int64_t i = 0; i < n; ++i) p[i] += (velocity[i] = momentum * velocity[i] - lr * g[i]);
  }
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
  for (int64_t i = 0; i < n; ++i) {
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
}

template <typename T>
inline void adagrad_range(T* p, T* acc, const T* g, int64_t n, T lr, T epsilon) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) {
    const T a = acc[i] += g[i] * g[i];
    p[i] -= lr * g[i] / std::sqrt(a + epsilon);
  }
}

template <typename T>
inline void adamax_range(T* p, T* m, T* u, const T* g, int64_t n, T lr_t, T beta_1, T beta_2, T epsilon) {
  const T one_minus_b1 = T(1) - beta_1;
  for (int64_t i = 0; i < n; ++i) {
    const T mi = m[i] += (g[i] - m[i]) * one_minus_b1;
    const T a = u[i] * beta_2, b = std::abs(g[i]);
    const T ui = u[i] = (a != a || a > b) ? a : b;  // numpy's maximum: NaN wins
    p[i] -= lr_t * mi / (ui + epsilon);
  }
}

template <typename T>
inline void nadam_range(T* p, T* m, T* v, const T* g, int64_t n, T lr, T c_m, T c_g, T v_scale, T beta_1,
                 T beta_2, T epsilon) {
  const T one_minus_b1 = T(1) - beta_1, one_minus_b2 = T(1) - beta_2;
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) {
    const T gi = g[i];
    const T mi = m[i] += (gi - m[i]) * one_minus_b1;
    const T vi = v[i] += (gi * gi - v[i]) * one_minus_b2;
    const T m_hat = c_m * mi + c_g * gi;
    p[i] -= lr * m_hat / (std::sqrt(vi / v_scale) + epsilon);
  }
}

template <typename T>
inline void adadelta_range(T* p, T* ag, T* ad, const T* g, int64_t n, T lr, T rho, T epsilon) {
  const T one_minus_rho = T(1) - rho;
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) {
    const T gi = g[i];
    const T a = ag[i] = rho * ag[i] + one_minus_rho * gi * gi;
    const T d = -std::sqrt(ad[i] + epsilon) * gi / std::sqrt(a + epsilon);
    ad[i] = rho * ad[i] + one_minus_rho * d * d;
    p[i] += lr * d;
  }
}

template <typename T>
inline void lion_range(T* p, T* m, const T* g, int64_t n, T lr, T beta_1, T beta_2) {
  const T one_minus_b1 = T(1) - beta_1, one_minus_b2 = T(1) - beta_2;
  for (int64_t i = 0; i < n; ++i) {
    p[i] -= lr * sign_of(m[i] * beta_1 + g[i] * one_minus_b1);
    m[i] = m[i] * beta_2 + g[i] * one_minus_b2;
  }
}

// What happens to a gradient before the update, element by element: the L1/L2 penalty's gradient
// (g += l1 sign(w), then g += l2x2 w, each skipped when 0) and clipping to [-limit, limit].
inline void add_penalty_gradient_range(float* g, const float* w, int64_t n, float l1, float l2x2) {
  for (int64_t i = 0; i < n; ++i) {
    float gi = g[i];
    const float wi = w[i];
    if (l1 != 0.0f) gi += l1 * sign_of(wi);
    if (l2x2 != 0.0f) gi += l2x2 * wi;
    g[i] = gi;
  }
}

inline void clip_by_value_range(float* g, int64_t n, float limit) {
  for (int64_t i = 0; i < n; ++i) {
    const float v = g[i];
    g[i] = v < -limit ? -limit : (v > limit ? limit : v);  // NaN compares false: stays NaN
  }
}

}  // namespace detail

}  // namespace brisknet
