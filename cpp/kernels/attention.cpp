// Scaled dot-product attention, fused (FlashAttention's scheme on a CPU): for each (sample, head),
// a block of query rows against the keys it may see, the block's scores, their softmax and the
// product with V, so the (queries x keys) score matrix is never written whole: a thread's
// workspace is one block of rows (linear in the sequence's length). The products are brisknet's
// GEMM reading q, k, v and o in place through their strides; the backward pass recomputes each
// block's probabilities from the saved log-sum-exp. A causal mask leaves out every key past a
// block's last query. One (sample, head) is one thread's task, in a fixed order: the same bits on
// any number of threads.
//
// Layout: q (batch, tq, heads, d), k (batch, tk, heads, d), v (batch, tk, heads, dv), o (batch,
// tq, heads, dv) - what Keras' MultiHeadAttention projections give - and lse (batch, heads, tq).
// mask (batch, tq, tk), optional: nonzero where a query may attend to a key. A query that may
// attend to no key gets the mean of all values, as Keras' softmax with its -1e9 mask gives.
#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>
#include <vector>

#include "brisknet/kernels.h"
#include "brisknet/fast_math.h"
#include "isa_clones.h"
#include "parallel.h"

namespace brisknet {
namespace {

using detail::at_isa;

constexpr int64_t kQueryBlock = 64;

// e^x for x <= 0 (-inf: 0): float32 vectorisable (fast_math.h; 0 below -87, where FTZ would
// flush anyway), float64 glibc's (gradient checks).
template <typename T>
inline T exp_nonpositive(T x) {
  if constexpr (std::is_same_v<T, float>) {
    const float e = fast::exp_nonpositive(x);
    return x < -87.0f ? 0.0f : e;
  } else {
    return std::exp(x);
  }
}

template <typename T>
T max_of(const T* p, int64_t n) {
  T top = -std::numeric_limits<T>::infinity();
  for (int64_t j = 0; j < n; ++j) top = p[j] > top ? p[j] : top;
  return top;
}

// The sum of p[0..n) in 8 partial sums (the loop vectorises; a fixed order).
template <typename T>
T sum_of(const T* p, int64_t n) {
  T lanes[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t j = 0;
  for (; j + 8 <= n; j += 8)
    for (int k = 0; k < 8; ++k) lanes[k] += p[j + k];
  for (; j < n; ++j) lanes[0] += p[j];
  return ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) + ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7]));
}

struct Shape {
  int64_t batch, heads, tq, tk, d, dv;
  bool causal;
  const uint8_t* mask;
  // the keys a block of queries [i0, i0 + n) may see: [0, keys_for)
  int64_t keys_for(int64_t i0, int64_t n) const { return causal ? std::min(tk, i0 + n) : tk; }
};

// One (sample, head)'s rows of a (batch, t, heads, width) tensor: row r at base + r * stride.
template <typename T>
struct Rows {
  T* base;
  int64_t stride;
  T* row(int64_t r) const { return base + r * stride; }
};

template <typename T>
Rows<T> rows_of(T* p, const Shape& s, int64_t b, int64_t h, int64_t t, int64_t width) {
  return {p + (b * t * s.heads + h) * width, s.heads * width};
}

// The thread's workspaces, grown once (no allocation in steady-state steps).
template <typename T>
T* scratch(int which, size_t size) {
  thread_local std::vector<T> buffers[2];
  std::vector<T>& b = buffers[which];
  if (b.size() < size) {
    b.resize(size);
    count_workspace_allocation();
  }
  return b.data();
}

// S[i, j] = q_i . k_j for the block's rows (ld: S's row stride), j < keys.
template <typename T>
void block_scores(T* S, int64_t ld, const Rows<const T>& q, const Rows<const T>& k, int64_t i0, int64_t n,
                  int64_t keys, int64_t d) {
  gemm<T>(S, ld, q.row(i0), q.stride, 1, k.base, 1, k.stride, n, keys, d, T(0), nullptr);
}

// Row i's scores -> scale * score with the masked keys at -inf (the causal diagonal, the mask).
template <typename T>
void masked_row(T* si, const Shape& s, int64_t b, int64_t i, int64_t keys, T scale) {
  for (int64_t j = 0; j < keys; ++j) si[j] *= scale;
  const T inf = std::numeric_limits<T>::infinity();
  if (s.causal)
    for (int64_t j = i + 1; j < keys; ++j) si[j] = -inf;
  if (s.mask) {
    const uint8_t* m = s.mask + (b * s.tq + i) * s.tk;
    for (int64_t j = 0; j < keys; ++j) si[j] = m[j] ? si[j] : -inf;
  }
}

// A query that may attend to no key: the mean of all values (Keras' -1e9 mask gives it).
template <typename T>
void mean_of_values(T* oi, const Rows<const T>& v, int64_t tk, int64_t dv) {
  std::fill(oi, oi + dv, T(0));
  for (int64_t j = 0; j < tk; ++j)
    for (int64_t c = 0; c < dv; ++c) oi[c] += v.row(j)[c];
  for (int64_t c = 0; c < dv; ++c) oi[c] /= T(tk);
}

template <typename T>
void forward_task(T* o, T* lse, const T* q, const T* k, const T* v, const Shape& s, int64_t b, int64_t h, T scale) {
  const Rows<const T> qr = rows_of(q, s, b, h, s.tq, s.d), kr = rows_of(k, s, b, h, s.tk, s.d),
                      vr = rows_of(v, s, b, h, s.tk, s.dv);
  const Rows<T> orow = rows_of(o, s, b, h, s.tq, s.dv);
  T* P = scratch<T>(0, size_t(kQueryBlock * s.tk));
  T* row_lse = lse + (b * s.heads + h) * s.tq;
  const T inf = std::numeric_limits<T>::infinity();
  for (int64_t i0 = 0; i0 < s.tq; i0 += kQueryBlock) {
    const int64_t n = std::min(kQueryBlock, s.tq - i0), keys = s.keys_for(i0, n);
    block_scores(P, s.tk, qr, kr, i0, n, keys, s.d);
    T sums[kQueryBlock];
    for (int64_t i = 0; i < n; ++i) {  // each row's softmax, unnormalised: e^(x - max)
      T* pi = P + i * s.tk;
      masked_row(pi, s, b, i0 + i, keys, scale);
      const T top = max_of(pi, keys);
      if (top == -inf) {  // no key: P stays 0, the row is the mean of the values (below)
        std::fill(pi, pi + keys, T(0));
        row_lse[i0 + i] = -inf;
        continue;
      }
      for (int64_t j = 0; j < keys; ++j) pi[j] = exp_nonpositive(pi[j] - top);
      sums[i] = sum_of(pi, keys);
      row_lse[i0 + i] = top + std::log(sums[i]);
    }
    // O = (P V) / the rows' sums
    gemm<T>(orow.row(i0), orow.stride, P, s.tk, 1, vr.base, vr.stride, 1, n, s.dv, keys, T(0), nullptr);
    for (int64_t i = 0; i < n; ++i) {
      T* oi = orow.row(i0 + i);
      if (row_lse[i0 + i] == -inf) {
        mean_of_values(oi, vr, s.tk, s.dv);
        continue;
      }
      const T inv = T(1) / sums[i];
      for (int64_t c = 0; c < s.dv; ++c) oi[c] *= inv;
    }
  }
}

template <typename T>
void backward_task(T* dq, T* dk, T* dv, const T* dout, const T* q, const T* k, const T* v, const T* o, const T* lse,
                   const Shape& s, int64_t b, int64_t h, T scale) {
  const Rows<const T> qr = rows_of(q, s, b, h, s.tq, s.d), kr = rows_of(k, s, b, h, s.tk, s.d),
                      vr = rows_of(v, s, b, h, s.tk, s.dv), dor = rows_of(dout, s, b, h, s.tq, s.dv),
                      orow = rows_of(o, s, b, h, s.tq, s.dv);
  const Rows<T> dqr = rows_of(dq, s, b, h, s.tq, s.d), dkr = rows_of(dk, s, b, h, s.tk, s.d),
                dvr = rows_of(dv, s, b, h, s.tk, s.dv);
  T* P = scratch<T>(0, size_t(kQueryBlock * s.tk));
  T* dS = scratch<T>(1, size_t(kQueryBlock * s.tk));
  const T* row_lse = lse + (b * s.heads + h) * s.tq;
  const T inf = std::numeric_limits<T>::infinity();
  for (int64_t j = 0; j < s.tk; ++j) {  // dK and dV accumulate over the query blocks
    std::fill(dkr.row(j), dkr.row(j) + s.d, T(0));
    std::fill(dvr.row(j), dvr.row(j) + s.dv, T(0));
  }
  for (int64_t i0 = 0; i0 < s.tq; i0 += kQueryBlock) {
    const int64_t n = std::min(kQueryBlock, s.tq - i0);
    bool uniform = false;  // a row that attends to nothing: P = 1 / tk over every key, no score gradient
    for (int64_t i = 0; i < n; ++i) uniform |= row_lse[i0 + i] == -inf;
    const int64_t keys = uniform ? s.tk : s.keys_for(i0, n);
    block_scores(P, s.tk, qr, kr, i0, n, keys, s.d);
    // dP = dO V^T over the block's keys
    gemm<T>(dS, s.tk, dor.row(i0), dor.stride, 1, vr.base, 1, vr.stride, n, keys, s.dv, T(0), nullptr);
    for (int64_t i = 0; i < n; ++i) {
      T* pi = P + i * s.tk;
      T* dsi = dS + i * s.tk;
      const T l = row_lse[i0 + i];
      if (l == -inf) {
        std::fill(pi, pi + keys, T(1) / T(s.tk));
        std::fill(dsi, dsi + keys, T(0));
        continue;
      }
      masked_row(pi, s, b, i0 + i, keys, scale);
      for (int64_t j = 0; j < keys; ++j) pi[j] = exp_nonpositive(pi[j] - l);
      // dS = P (dP - delta), delta = dO . O; the scale of the scores folded in
      const T* a = dor.row(i0 + i);
      const T* c = orow.row(i0 + i);
      T delta = 0;
      for (int64_t x = 0; x < s.dv; ++x) delta += a[x] * c[x];
      for (int64_t j = 0; j < keys; ++j) dsi[j] = pi[j] * (dsi[j] - delta) * scale;
    }
    // dV += P^T dO, dK += dS^T Q, dQ = dS K
    gemm<T>(dvr.base, dvr.stride, P, 1, s.tk, dor.row(i0), dor.stride, 1, keys, s.dv, n, T(1), nullptr);
    gemm<T>(dkr.base, dkr.stride, dS, 1, s.tk, qr.row(i0), qr.stride, 1, keys, s.d, n, T(1), nullptr);
    gemm<T>(dqr.row(i0), dqr.stride, dS, s.tk, 1, kr.base, kr.stride, 1, n, s.d, keys, T(0), nullptr);
  }
}

template <typename F>
void each_head(const Shape& s, F task) {
  const int64_t tasks = s.batch * s.heads;
  const int64_t flops = 4 * s.tq * s.tk * std::max(s.d, s.dv);
  const int nt = detail::threads_for(tasks * flops, detail::kGemmFlopGrain);
  const int use = int(std::min<int64_t>(nt, tasks));
#pragma omp parallel for num_threads(std::max(1, use)) schedule(static)
  for (int64_t t = 0; t < tasks; ++t) {
    detail::ScopedFlushDenormals ftz;
    at_isa([&] { task(t / s.heads, t % s.heads); });
  }
}

}  // namespace

template <typename T>
void attention_forward(T* o, T* lse, const T* q, const T* k, const T* v, const uint8_t* mask, int64_t batch,
                       int64_t heads, int64_t tq, int64_t tk, int64_t d, int64_t dv, T scale, bool causal) {
  const Shape s{batch, heads, tq, tk, d, dv, causal, mask};
  each_head(s, [&](int64_t b, int64_t h) { forward_task(o, lse, q, k, v, s, b, h, scale); });
}

template <typename T>
void attention_backward(T* dq, T* dk, T* dv, const T* dout, const T* q, const T* k, const T* v, const T* o,
                        const T* lse, const uint8_t* mask, int64_t batch, int64_t heads, int64_t tq, int64_t tk,
                        int64_t d, int64_t dv_width, T scale, bool causal) {
  const Shape s{batch, heads, tq, tk, d, dv_width, causal, mask};
  each_head(s, [&](int64_t b, int64_t h) { backward_task(dq, dk, dv, dout, q, k, v, o, lse, s, b, h, scale); });
}

#define BRISKNET_ATTENTION(T)                                                                                        \
  template void attention_forward<T>(T*, T*, const T*, const T*, const T*, const uint8_t*, int64_t, int64_t,       \
                                     int64_t, int64_t, int64_t, int64_t, T, bool);                                  \
  template void attention_backward<T>(T*, T*, T*, const T*, const T*, const T*, const T*, const T*, const T*,       \
                                      const uint8_t*, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, T, bool);
BRISKNET_ATTENTION(float)
BRISKNET_ATTENTION(double)
#undef BRISKNET_ATTENTION

}  // namespace brisknet
