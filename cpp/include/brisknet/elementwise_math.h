// The element-wise math, written once for the CPU kernels (cpp/kernels) and the CUDA kernels
// (cuda/): each activation and its gradient at one element, the dropout mask's counter-based
// hash, the optimizer rules at one element, and the losses of one sample. The CPU tests exercise every function here; the
// GPU runs the very same expressions (its exp, tanh, ... may differ from glibc's by an ulp or two).
#pragma once
#include <cmath>
#include <cstdint>
#include <type_traits>

#include "brisknet/kernels.h"
#include "brisknet/fast_math.h"

#if defined(__CUDACC__)
#define BRISKNET_HD __host__ __device__ __forceinline__
#else
#define BRISKNET_HD inline
#endif

namespace brisknet::math {

template <typename T> BRISKNET_HD T selu_alpha() { return T(1.6732632423543772848170429916717); }
template <typename T> BRISKNET_HD T selu_scale() { return T(1.0507009873554804934193349852946); }
template <typename T> BRISKNET_HD T sqrt_2_over_pi() { return T(0.7978845608028654); }
template <typename T> BRISKNET_HD T inv_sqrt_2() { return T(0.7071067811865476); }
template <typename T> BRISKNET_HD T inv_sqrt_2pi() { return T(0.3989422804014327); }

template <typename T> BRISKNET_HD T max_of(T a, T b) { return a < b ? b : a; }
template <typename T> BRISKNET_HD T min_of(T a, T b) { return b < a ? b : a; }

template <typename T> BRISKNET_HD T sigmoid(T x) {
  // exp of a non-positive number only: no overflow for any x
  if (x >= T(0)) return T(1) / (T(1) + std::exp(-x));
  const T e = std::exp(x);
  return e / (T(1) + e);
}

template <typename T> BRISKNET_HD T softplus(T v) {  // log(1 + e^x) without overflow
  return max_of(v, T(0)) + std::log1p(std::exp(-std::abs(v)));
}

// f(x) of an element-wise activation (Keras 3's definitions). Clamps are selects: a NaN fails every
// comparison and passes through (as in Keras, PyTorch and np.maximum).
template <Activation A, typename T>
BRISKNET_HD T activate(T v, T alpha) {
  if constexpr (A == Activation::linear) {
    return v;
  } else if constexpr (A == Activation::relu) {
    return v <= T(0) ? T(0) : v;
  } else if constexpr (A == Activation::relu6) {
    T r = v <= T(0) ? T(0) : v;
    return v > T(6) ? T(6) : r;
  } else if constexpr (A == Activation::leaky_relu) {
    return v * (v > T(0) ? T(1) : alpha);  // NaN stays NaN
  } else if constexpr (A == Activation::elu) {
    return v > T(0) ? v : alpha * std::expm1(v);
  } else if constexpr (A == Activation::selu) {
    return selu_scale<T>() * (v > T(0) ? v : selu_alpha<T>() * std::expm1(v));
  } else if constexpr (A == Activation::gelu) {
#if !defined(__CUDA_ARCH__)
    if constexpr (std::is_same_v<T, float>) return v * fast::normal_cdf(v);  // (vectorises; std::erf does not)
#endif
    return T(0.5) * v * (T(1) + std::erf(v * inv_sqrt_2<T>()));
  } else if constexpr (A == Activation::gelu_tanh) {
    return T(0.5) * v * (T(1) + std::tanh(sqrt_2_over_pi<T>() * (v + T(0.044715) * v * v * v)));
  } else if constexpr (A == Activation::sigmoid) {
    return sigmoid(v);
  } else if constexpr (A == Activation::hard_sigmoid) {  // Keras 3: relu6(x + 3) / 6
    const T u = v + T(3);
    T r = u < T(0) ? T(0) : u;
    r = u > T(6) ? T(6) : r;
    return r / T(6);
  } else if constexpr (A == Activation::tanh) {
    return std::tanh(v);
  } else if constexpr (A == Activation::softplus) {
    return softplus(v);
  } else if constexpr (A == Activation::softsign) {
    return v / (T(1) + std::abs(v));
  } else if constexpr (A == Activation::swish) {
    return v * sigmoid(v);
  } else if constexpr (A == Activation::exponential) {
    return std::exp(v);
  } else if constexpr (A == Activation::mish) {  // x tanh(softplus(x))
    return v * std::tanh(softplus(v));
  } else if constexpr (A == Activation::hard_silu) {  // x relu6(x + 3) / 6
    const T u = v + T(3);
    T r = u < T(0) ? T(0) : u;
    r = u > T(6) ? T(6) : r;
    return v * r / T(6);
  } else if constexpr (A == Activation::log_sigmoid) {  // -softplus(-x) = min(x, 0) - log(1 + e^-|x|)
    return min_of(v, T(0)) - std::log1p(std::exp(-std::abs(v)));
  } else if constexpr (A == Activation::hard_tanh) {  // clip(x, -1, 1), NaN passing through
    T r = v < T(-1) ? T(-1) : v;
    return v > T(1) ? T(1) : r;
  } else {
    static_assert(A != A, "softmax and log_softmax act on rows, not elements");
    return v;
  }
}

// dx = dy * f'(x), given x and y = f(x). The piecewise-linear ones: dy times the slope, the slope
// built by selects (no branch on the sign, which is random in real data). The slope of a NaN
// input is NaN (the last select), and a NaN dy times a zero slope stays NaN, so NaN propagates
// backwards as it does forwards.
template <Activation A, typename T>
BRISKNET_HD T activate_grad(T g, T v, T out, T alpha) {
  if constexpr (A == Activation::linear) {
    return g;
  } else if constexpr (A == Activation::relu) {
    T s = v > T(0) ? T(1) : T(0);
    s = v != v ? v : s;
    return g * s;
  } else if constexpr (A == Activation::relu6) {
    T s = (v > T(0)) & (v < T(6)) ? T(1) : T(0);
    s = v != v ? v : s;
    return g * s;
  } else if constexpr (A == Activation::leaky_relu) {
    T s = v > T(0) ? T(1) : alpha;
    s = v != v ? v : s;
    return g * s;
  } else if constexpr (A == Activation::elu) {  // d/dx alpha (e^x - 1) = y + alpha
    return v > T(0) ? g : g * (out + alpha);
  } else if constexpr (A == Activation::selu) {
    return v > T(0) ? selu_scale<T>() * g : g * (out + selu_scale<T>() * selu_alpha<T>());
  } else if constexpr (A == Activation::gelu) {  // Phi(x) + x phi(x)
#if !defined(__CUDA_ARCH__)
    if constexpr (std::is_same_v<T, float>)
      return g * (fast::normal_cdf(v) + v * 0.398942280401432678f * fast::exp_nonpositive(-0.5f * v * v));
#endif
    const T cdf = T(0.5) * (T(1) + std::erf(v * inv_sqrt_2<T>()));
    return g * (cdf + v * inv_sqrt_2pi<T>() * std::exp(T(-0.5) * v * v));
  } else if constexpr (A == Activation::gelu_tanh) {
    const T t = std::tanh(sqrt_2_over_pi<T>() * (v + T(0.044715) * v * v * v));
    const T du = sqrt_2_over_pi<T>() * (T(1) + T(3 * 0.044715) * v * v);
    return g * (T(0.5) * (T(1) + t) + T(0.5) * v * (T(1) - t * t) * du);
  } else if constexpr (A == Activation::sigmoid) {
    return g * out * (T(1) - out);
  } else if constexpr (A == Activation::hard_sigmoid) {
    T s = (v > T(-3)) & (v < T(3)) ? T(1) : T(0);
    s = v != v ? v : s;
    return g * s / T(6);
  } else if constexpr (A == Activation::tanh) {
    return g * (T(1) - out * out);
  } else if constexpr (A == Activation::softplus) {
    return g * sigmoid(v);
  } else if constexpr (A == Activation::softsign) {
    const T d = T(1) + std::abs(v);
    return g / (d * d);
  } else if constexpr (A == Activation::swish) {
    const T s = sigmoid(v);
    return g * (s + v * s * (T(1) - s));
  } else if constexpr (A == Activation::exponential) {
    return g * out;
  } else if constexpr (A == Activation::mish) {  // tanh(sp) + x sech^2(sp) sigmoid(x), sp = softplus(x)
    const T t = std::tanh(softplus(v));
    return g * (t + v * (T(1) - t * t) * sigmoid(v));
  } else if constexpr (A == Activation::hard_silu) {  // (2x + 3) / 6 inside (-3, 3), 0 below, 1 above
    const T inside = (T(2) * v + T(3)) / T(6);
    T s = v >= T(3) ? T(1) : T(0);
    s = (v > T(-3)) & (v < T(3)) ? inside : s;
    s = v != v ? v : s;
    return g * s;
  } else if constexpr (A == Activation::log_sigmoid) {
    return g * sigmoid(-v);
  } else if constexpr (A == Activation::hard_tanh) {
    T s = (v > T(-1)) & (v < T(1)) ? T(1) : T(0);
    s = v != v ? v : s;
    return g * s;
  } else {
    static_assert(A != A, "softmax and log_softmax act on rows, not elements");
    return g;
  }
}

// softmax (or log_softmax) of one row of cols values; y may alias x. Subtracting the row's max
// first keeps float32 precision at large x.
template <typename T>
BRISKNET_HD void softmax_row(T* y, const T* x, int64_t cols, bool log) {
  if (cols == 0) return;
  T mx = x[0];
  for (int64_t j = 1; j < cols; ++j) mx = max_of(mx, x[j]);
  T sum = 0;
  if (log) {
    for (int64_t j = 0; j < cols; ++j) sum += std::exp(x[j] - mx);
    const T log_sum = std::log(sum);
    for (int64_t j = 0; j < cols; ++j) y[j] = (x[j] - mx) - log_sum;
  } else {
    for (int64_t j = 0; j < cols; ++j) sum += (y[j] = std::exp(x[j] - mx));
    const T inv = T(1) / sum;
    for (int64_t j = 0; j < cols; ++j) y[j] *= inv;
  }
}

// Its gradient given y = softmax_row(x): dx = y (dy - sum(dy y)); log: dx = dy - e^y sum(dy).
template <typename T>
BRISKNET_HD void softmax_row_grad(T* dx, const T* dy, const T* y, int64_t cols, bool log) {
  T dot = 0;
  for (int64_t j = 0; j < cols; ++j) dot += log ? dy[j] : dy[j] * y[j];
  for (int64_t j = 0; j < cols; ++j) dx[j] = log ? dy[j] - std::exp(y[j]) * dot : y[j] * (dy[j] - dot);
}

// Calls f(std::integral_constant<Activation, act>{}) for an element-wise activation (a kernel
// templated on it is chosen once per call, not per element); softmax and log_softmax: nothing.
template <typename F>
void with_activation(Activation act, F&& f) {
  using A = Activation;
  auto c = [&](auto a) { f(a); };
  switch (act) {
    case A::linear: return c(std::integral_constant<A, A::linear>{});
    case A::relu: return c(std::integral_constant<A, A::relu>{});
    case A::relu6: return c(std::integral_constant<A, A::relu6>{});
    case A::leaky_relu: return c(std::integral_constant<A, A::leaky_relu>{});
    case A::elu: return c(std::integral_constant<A, A::elu>{});
    case A::selu: return c(std::integral_constant<A, A::selu>{});
    case A::gelu: return c(std::integral_constant<A, A::gelu>{});
    case A::gelu_tanh: return c(std::integral_constant<A, A::gelu_tanh>{});
    case A::sigmoid: return c(std::integral_constant<A, A::sigmoid>{});
    case A::hard_sigmoid: return c(std::integral_constant<A, A::hard_sigmoid>{});
    case A::tanh: return c(std::integral_constant<A, A::tanh>{});
    case A::softplus: return c(std::integral_constant<A, A::softplus>{});
    case A::softsign: return c(std::integral_constant<A, A::softsign>{});
    case A::swish: return c(std::integral_constant<A, A::swish>{});
    case A::exponential: return c(std::integral_constant<A, A::exponential>{});
    case A::mish: return c(std::integral_constant<A, A::mish>{});
    case A::hard_silu: return c(std::integral_constant<A, A::hard_silu>{});
    case A::log_sigmoid: return c(std::integral_constant<A, A::log_sigmoid>{});
    case A::hard_tanh: return c(std::integral_constant<A, A::hard_tanh>{});
    case A::softmax:
    case A::log_softmax:
      return;
  }
}

// ---------------------------------------------------------------- dropout
// Element i of a run keeps when a uniform 53-bit draw from a hash of (seed, i) is >= rate: the
// mask depends on nothing else (not the thread count, nor the device).
BRISKNET_HD uint64_t mix(uint64_t z) {  // SplitMix64's finaliser
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}
BRISKNET_HD uint64_t dropout_key(uint64_t seed) { return mix(seed + 0x9e3779b97f4a7c15ULL); }
BRISKNET_HD uint64_t dropout_threshold(double rate) { return uint64_t(rate * 9007199254740992.0); }  // rate 2^53
BRISKNET_HD bool dropout_keeps(uint64_t key, uint64_t threshold, int64_t index) {
  return (mix(key ^ (uint64_t(index) * 0x9e3779b97f4a7c15ULL)) >> 11) >= threshold;
}
// The step's seed of a dropout layer: its base seed and the number of masks drawn before.
BRISKNET_HD uint64_t dropout_step_seed(uint64_t base_seed, int64_t calls) {
  return base_seed * 1000003ULL + uint64_t(calls);
}

// ---------------------------------------------------------------- optimizer rules, one element
// Keras 3's rules. p: the parameter, g: its gradient; the state slots as named.

template <typename T> BRISKNET_HD T sign_of(T x) { return x != x ? x : T((x > T(0)) - (x < T(0))); }  // numpy's

template <typename T>
BRISKNET_HD void sgd_element(T& p, T* velocity, T g, T lr, T momentum, bool nesterov) {
  if (!velocity) {
    p -= lr * g;
  } else if (nesterov) {
    const T v = *velocity = momentum * *velocity - lr * g;
    p += momentum * v - lr * g;
  } else {
    p += (*velocity = momentum * *velocity - lr * g);
  }
}

// Adam with AdamW's decoupled decay folded in (decay = lr * weight_decay) and AMSGrad's vhat.
template <typename T, bool kAmsgrad, bool kDecay>
BRISKNET_HD void adam_element(T& p, T& m, T& v, T* vhat, T g, T alpha, T beta_1, T beta_2, T epsilon, T decay) {
  T pi = p;
  if (kDecay) pi -= pi * decay;
  const T mi = m + (g - m) * (T(1) - beta_1);
  const T vi = v + (g * g - v) * (T(1) - beta_2);
  m = mi;
  v = vi;
  T denom = vi;
  if (kAmsgrad) denom = *vhat = max_of(*vhat, vi);
  p = pi - alpha * mi / (std::sqrt(denom) + epsilon);
}

template <typename T>
BRISKNET_HD void rmsprop_element(T& p, T& v, T* mg, T* mom, T g, T lr, T rho, T momentum, T epsilon) {
  const T vi = v = rho * v + (T(1) - rho) * g * g;
  T denom = vi + epsilon;
  if (mg) {
    const T a = *mg = rho * *mg + (T(1) - rho) * g;
    denom = vi - a * a + epsilon;
  }
  const T inc = lr * g / std::sqrt(denom);
  if (mom) p -= (*mom = momentum * *mom + inc);
  else p -= inc;
}

template <typename T>
BRISKNET_HD void adagrad_element(T& p, T& acc, T g, T lr, T epsilon) {
  const T a = acc += g * g;
  p -= lr * g / std::sqrt(a + epsilon);
}

template <typename T>
BRISKNET_HD void adamax_element(T& p, T& m, T& u, T g, T lr_t, T beta_1, T beta_2, T epsilon) {
  const T mi = m += (g - m) * (T(1) - beta_1);
  const T a = u * beta_2, b = std::abs(g);
  const T ui = u = (a != a || a > b) ? a : b;  // numpy's maximum: NaN wins
  p -= lr_t * mi / (ui + epsilon);
}

template <typename T>
BRISKNET_HD void nadam_element(T& p, T& m, T& v, T g, T lr, T c_m, T c_g, T v_scale, T beta_1, T beta_2,
                               T epsilon) {
  const T mi = m += (g - m) * (T(1) - beta_1);
  const T vi = v += (g * g - v) * (T(1) - beta_2);
  const T m_hat = c_m * mi + c_g * g;
  p -= lr * m_hat / (std::sqrt(vi / v_scale) + epsilon);
}

template <typename T>
BRISKNET_HD void adadelta_element(T& p, T& ag, T& ad, T g, T lr, T rho, T epsilon) {
  const T a = ag = rho * ag + (T(1) - rho) * g * g;
  const T d = -std::sqrt(ad + epsilon) * g / std::sqrt(a + epsilon);
  ad = rho * ad + (T(1) - rho) * d * d;
  p += lr * d;
}

template <typename T>
BRISKNET_HD void lion_element(T& p, T& m, T g, T lr, T beta_1, T beta_2) {
  p -= lr * sign_of(m * beta_1 + g * (T(1) - beta_1));
  m = m * beta_2 + g * (T(1) - beta_2);
}

// The scalars of update number t (from 1) at learning rate lr, in double from Keras'
// expressions: Adam's and Adamax's corrected rate lr_t, Nadam's momentum-schedule coefficients
// (u_product: the running product of its schedule, advanced here).
struct StepScalars {
  float lr, decay, lr_t, c_m, c_g, v_scale;
};
BRISKNET_HD StepScalars step_scalars(OptimizerKind kind, double lr, double t, double beta_1, double beta_2,
                                     double weight_decay, double* u_product) {
  StepScalars u{float(lr), float(lr * weight_decay), 0.0f, 0.0f, 0.0f, 0.0f};
  switch (kind) {
    case OptimizerKind::adam:
      u.lr_t = float(lr * std::sqrt(1.0 - std::pow(beta_2, t)) / (1.0 - std::pow(beta_1, t)));
      break;
    case OptimizerKind::adamax:
      u.lr_t = float(lr / (1.0 - std::pow(beta_1, t)));
      break;
    case OptimizerKind::nadam: {  // Keras' momentum schedule, decay 0.96
      const double u_t = beta_1 * (1.0 - 0.5 * std::pow(0.96, t));
      const double u_next = beta_1 * (1.0 - 0.5 * std::pow(0.96, t + 1));
      const double product = *u_product * u_t, product_next = product * u_next;
      u.c_m = float(u_next / (1.0 - product_next));
      u.c_g = float((1.0 - u_t) / (1.0 - product));
      u.v_scale = float(1.0 - std::pow(beta_2, t));
      *u_product = product;
      break;
    }
    default:
      break;
  }
  return u;
}

// What happens to a gradient element before the update: the L1/L2 penalty's gradient (g += l1
// sign(w), then g += l2x2 w, each skipped when 0), and clipping to [-limit, limit] (NaN stays).
BRISKNET_HD float penalty_gradient(float g, float w, float l1, float l2x2) {
  if (l1 != 0.0f) g += l1 * sign_of(w);
  if (l2x2 != 0.0f) g += l2x2 * w;
  return g;
}
BRISKNET_HD float clip_value(float v, float limit) { return v < -limit ? -limit : (v > limit ? limit : v); }

// ---------------------------------------------------------------- losses, one sample (a row)
// Keras 3 semantics: probabilities are renormalised per row and clipped to [eps, 1 - eps]; logits
// go through an exact, stable log-softmax. Each writes the sample's loss times its weight w and,
// when d != nullptr, d[cols] = s * d(w loss)/d(pred) with s = grad_scale. label < 0: t holds the
// target row (categorical), else the sparse label.

template <typename T> BRISKNET_HD T loss_epsilon() { return T(1e-7); }  // keras.backend.epsilon()
// 0, or NaN when v is NaN: the gradient where a clip or a sign would otherwise turn NaN into 0.
template <typename T> BRISKNET_HD T nan_or_zero(T v) { return v != v ? v : T(0); }

// Cross-entropy on logits: log_softmax_j = (x_j - max) - log_sum (subtracting max first keeps
// float32 precision); L = -sum_k t_k log_softmax_k; dL/dx_j = softmax_j * sum(t) - t_j.
template <typename T>
BRISKNET_HD T softmax_crossentropy_row(T* d, const T* x, int64_t label, const T* t, T w, int64_t cols,
                                       T grad_scale) {
  T mx = x[0];
  for (int64_t j = 1; j < cols; ++j) mx = max_of(mx, x[j]);
  T sum = 0;
  for (int64_t j = 0; j < cols; ++j) sum += std::exp(x[j] - mx);
  const T log_sum = std::log(sum);
  T L = 0, tsum = 1;
  if (label >= 0) {
    L = log_sum - (x[label] - mx);
  } else {
    tsum = 0;
    for (int64_t j = 0; j < cols; ++j) {
      L -= t[j] * ((x[j] - mx) - log_sum);
      tsum += t[j];
    }
  }
  if (d) {
    const T s = grad_scale * w;
    for (int64_t j = 0; j < cols; ++j) {
      const T tj = label >= 0 ? T(label == j) : t[j];
      d[j] = s * (std::exp((x[j] - mx) - log_sum) * tsum - tj);
    }
  }
  return w * L;
}

// Cross-entropy on probabilities: q = p / sum(p), c = clip(q), L = -sum_k t_k log c_k. Gradient
// through the normalisation: dp_j = (g_j - sum_k g_k q_k) / S with g_k = dL/dq_k = -t_k / q_k where
// q_k is not clipped, else 0.
template <typename T>
BRISKNET_HD T crossentropy_from_probs_row(T* d, const T* p, int64_t label, const T* t, T w, int64_t cols,
                                          T grad_scale) {
  const T eps = loss_epsilon<T>();
  T S = 0;
  for (int64_t j = 0; j < cols; ++j) S += p[j];
  T L = 0, gq = 0;  // gq = sum_k g_k q_k
  for (int64_t k = label >= 0 ? label : 0; k < (label >= 0 ? label + 1 : cols); ++k) {
    const T tk = label >= 0 ? T(1) : t[k];
    const T q = p[k] / S;
    const T c = min_of(max_of(q, eps), T(1) - eps);
    L -= tk * std::log(c);
    if (q > eps && q < T(1) - eps) gq -= tk;  // g_k q_k = -t_k
  }
  if (d) {
    const T s = grad_scale * w / S;
    for (int64_t j = 0; j < cols; ++j) {
      const T q = p[j] / S;
      const T tj = label >= 0 ? T(label == j) : t[j];
      const T g = (q > eps && q < T(1) - eps) ? -tj / q : nan_or_zero(q);
      d[j] = s * (g - gq);
    }
  }
  return w * L;
}

// The mean over the row of an element-wise term: binary cross-entropy, squared and absolute
// error, Huber.
template <typename T>
BRISKNET_HD T elementwise_loss_row(T* d, const T* p, const T* t, T w, int64_t cols, LossKind kind, bool from_logits,
                                   T delta, T grad_scale) {
  const T eps = loss_epsilon<T>();
  const T s = grad_scale * w / T(cols);
  T L = 0;
  for (int64_t j = 0; j < cols; ++j) {
    T term = 0, grad = 0;
    const T x = p[j], y = t[j];
    switch (kind) {
      case LossKind::binary_crossentropy:
        if (from_logits) {  // max(x, 0) - x y + log(1 + e^-|x|)
          term = max_of(x, T(0)) - x * y + std::log1p(std::exp(-std::abs(x)));
          grad = sigmoid(x) - y;
        } else {
          const T c = min_of(max_of(x, eps), T(1) - eps);
          term = -(y * std::log(c) + (T(1) - y) * std::log(T(1) - c));
          grad = (x > eps && x < T(1) - eps) ? (T(1) - y) / (T(1) - c) - y / c : nan_or_zero(x);
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
      default:  // the cross-entropies have row functions of their own
        break;
    }
    L += term;
    if (d) d[j] = s * grad;
  }
  return cols ? w * L / T(cols) : T(0);
}

}  // namespace brisknet::math
