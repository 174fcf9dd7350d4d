// Scaled dot-product attention, fused (FlashAttention's scheme on a CPU): for each (sample, head),
// a block of query rows against the keys it may see, the block's scores, their softmax and the
// product with V, so the (queries x keys) score matrix is never written whole: a thread's
// workspace is one block of rows (linear in the sequence's length). The products run on GEMM's
// micro-kernel (gemm_panels.h), with a head's K and V packed once for all its blocks of queries;
// the backward pass recomputes each block's probabilities from the saved log-sum-exp. A causal
// mask leaves out every key past a block's last query, and the tiles of the block's products
// that lie wholly past the diagonal. One (sample, head) is one thread's task, in a fixed order:
// the same bits on any number of threads.
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
#include "gemm_bf16.h"
#include "gemm_panels.h"
#include "isa_clones.h"
#include "parallel.h"

namespace brisknet {
namespace {

using detail::at_isa;
using detail::gemm_kernels;
using detail::MicroKernel;
using detail::multiply_packed;
using detail::pack_a;
using detail::pack_b;
using detail::packed_a_size;
using detail::packed_b_size;
using detail::PackedB;
using detail::Triangle;

constexpr int64_t kMaxQueryBlock = 128;

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

// The largest scale * p[j] over j < n where seen (m, when not null: nonzero), -inf where none:
// in 8 lanes, so the loop vectorises (one running maximum does not).
template <typename T>
T scaled_max(const T* p, const uint8_t* m, int64_t n, T scale) {
  const T inf = std::numeric_limits<T>::infinity();
  T lanes[8] = {-inf, -inf, -inf, -inf, -inf, -inf, -inf, -inf};
  auto max_into = [&](auto seen) {
    int64_t j = 0;
    for (; j + 8 <= n; j += 8)
      for (int k = 0; k < 8; ++k) lanes[k] = seen(j + k) > lanes[k] ? seen(j + k) : lanes[k];
    for (; j < n; ++j) lanes[0] = seen(j) > lanes[0] ? seen(j) : lanes[0];
  };
  if (m)
    max_into([&](int64_t j) { return m[j] ? p[j] * scale : -inf; });
  else
    max_into([&](int64_t j) { return p[j] * scale; });
  T top = lanes[0];
  for (int k = 1; k < 8; ++k) top = lanes[k] > top ? lanes[k] : top;
  return top;
}

// p[j] := e^(scale * p[j] - top) over j < n, 0 where m (when not null) is 0: a softmax's
// numerators from raw scores in one pass.
template <typename T>
void scaled_exp(T* p, const uint8_t* m, int64_t n, T scale, T top) {
  if (!m) {
    for (int64_t j = 0; j < n; ++j) p[j] = exp_nonpositive(p[j] * scale - top);
  } else {
    for (int64_t j = 0; j < n; ++j) p[j] = m[j] ? exp_nonpositive(p[j] * scale - top) : T(0);
  }
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

// a . b in 8 partial sums (vectorises; a fixed order).
template <typename T>
T dot(const T* a, const T* b, int64_t n) {
  T lanes[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t j = 0;
  for (; j + 8 <= n; j += 8)
    for (int k = 0; k < 8; ++k) lanes[k] += a[j + k] * b[j + k];
  for (; j < n; ++j) lanes[0] += a[j] * b[j];
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

// The thread's workspaces, grown once (no allocation in steady-state steps): a block's scores
// and score gradients, a packed A operand, the packed per-head operands and a packed block.
enum Workspace { kScores, kScoreGrads, kPackedA, kKeysT, kKeys, kValues, kValuesT, kPackedBlock, kWorkspaces };

template <typename T>
T* scratch(Workspace which, int64_t size) {
  thread_local std::vector<T> buffers[kWorkspaces];
  std::vector<T>& b = buffers[which];
  if (b.size() < size_t(size)) {
    b.resize(size_t(size));
    count_workspace_allocation();
  }
  return b.data();
}

// Query blocks of about 64 rows, a whole number of the micro-kernel's row strips.
inline int64_t query_block(int64_t mr) { return std::min<int64_t>(kMaxQueryBlock, (64 + mr - 1) / mr * mr); }

// The row stride of a block's scores: tk and a little more, an odd number of cache lines, so that
// packing a column of them (P^T, dS^T) does not read every row through one set of L1 (a stride
// of 4 KiB did: 30 % of the backward pass's own time at 1,024 keys).
template <typename T>
int64_t score_stride(int64_t tk) {
  const int64_t line = 64 / int64_t(sizeof(T));
  return ((tk + line - 1) / line | 1) * line;
}

// The part of a block's product (queries from i0) that a causal mask makes zero or unwanted.
inline Triangle causal_part(const Shape& s, Triangle::Kind kind, int64_t i0) {
  return s.causal ? Triangle{kind, i0} : Triangle{};
}

// The products of a task on GEMM's float32 micro-kernel (gemm_panels.h): op(B) packed into the
// thread's workspace `which` once, then C (m x n) := beta C + A B with A packed per product.
template <typename T>
struct Float32Products {
  const MicroKernel<T>& uk = gemm_kernels<T>().tiles[0];
  using Packed = PackedB<T>;
  int64_t block() const { return query_block(uk.mr); }
  Packed pack(Workspace which, const T* base, int64_t rsb, int64_t csb, int64_t k, int64_t n) const {
    return pack_b(uk, scratch<T>(which, packed_b_size(uk, k, n)), base, rsb, csb, k, n);
  }
  void multiply(T* C, int64_t ldc, const T* A, int64_t rsa, int64_t csa, const Packed& B, int64_t m, int64_t n,
                int64_t k, T beta, Triangle zero = {}) const {
    T* Ap = scratch<T>(kPackedA, packed_a_size(uk, m, k));
    pack_a(uk, Ap, A, rsa, csa, m, k);
    multiply_packed(uk, C, ldc, Ap, B, m, n, k, beta, zero);
  }
};

// The same products in bf16 (mixed_bfloat16: operands rounded to bfloat16, float32 sums).
struct Bf16Products {
  const detail::Bf16Kernel& uk = detail::bf16_kernel();
  using Packed = detail::PackedBf16;
  int64_t block() const { return query_block(uk.mr); }
  Packed pack(Workspace which, const float* base, int64_t rsb, int64_t csb, int64_t k, int64_t n) const {
    return detail::pack_bf16_b(uk, scratch<uint16_t>(which, detail::packed_bf16_size(uk, false, n, k)), base, rsb, csb,
                               k, n);
  }
  void multiply(float* C, int64_t ldc, const float* A, int64_t rsa, int64_t csa, const Packed& B, int64_t m, int64_t n,
                int64_t k, float beta, Triangle zero = {}) const {
    uint16_t* Ap = scratch<uint16_t>(kPackedA, detail::packed_bf16_size(uk, true, m, k));
    detail::multiply_packed_bf16(uk, C, ldc, detail::pack_bf16_a(uk, Ap, A, rsa, csa, m, k), B, m, n, k, beta, zero);
  }
};

// The keys row i sees, [0, returned): the causal mask ends the row there (the caller zeroes the
// rest, which the products may not have written). mask: row i's, or null.
inline int64_t keys_seen(const Shape& s, int64_t i, int64_t keys) { return s.causal ? std::min(keys, i + 1) : keys; }
inline const uint8_t* row_mask(const Shape& s, int64_t b, int64_t i) {
  return s.mask ? s.mask + (b * s.tq + i) * s.tk : nullptr;
}

// A query that may attend to no key: the mean of all values (Keras' -1e9 mask gives it).
template <typename T>
void mean_of_values(T* oi, const Rows<const T>& v, int64_t tk, int64_t dv) {
  std::fill(oi, oi + dv, T(0));
  for (int64_t j = 0; j < tk; ++j)
    for (int64_t c = 0; c < dv; ++c) oi[c] += v.row(j)[c];
  for (int64_t c = 0; c < dv; ++c) oi[c] /= T(tk);
}

// Every block of queries multiplies the head's K^T and V: packed once per head.
template <typename T, typename Products>
void forward_task(const Products& prod, T* o, T* lse, const T* q, const T* k, const T* v, const Shape& s, int64_t b,
                  int64_t h, T scale) {
  const Rows<const T> qr = rows_of(q, s, b, h, s.tq, s.d), kr = rows_of(k, s, b, h, s.tk, s.d),
                      vr = rows_of(v, s, b, h, s.tk, s.dv);
  const Rows<T> orow = rows_of(o, s, b, h, s.tq, s.dv);
  const int64_t block = prod.block();
  const int64_t ld = score_stride<T>(s.tk);
  T* P = scratch<T>(kScores, block * ld);
  const auto keys_t = prod.pack(kKeysT, kr.base, 1, kr.stride, s.d, s.tk);
  const auto values = prod.pack(kValues, vr.base, vr.stride, 1, s.tk, s.dv);
  T* row_lse = lse + (b * s.heads + h) * s.tq;
  const T inf = std::numeric_limits<T>::infinity();
  for (int64_t i0 = 0; i0 < s.tq; i0 += block) {
    const int64_t n = std::min(block, s.tq - i0), keys = s.keys_for(i0, n);
    // the causal triangle: scores past the diagonal unwanted, probabilities there zero
    const Triangle wanted = causal_part(s, Triangle::wanted_columns, i0), upto = causal_part(s, Triangle::k_upto, i0);
    prod.multiply(P, ld, qr.row(i0), qr.stride, 1, keys_t, n, keys, s.d, T(0), wanted);  // S = Q K^T
    T sums[kMaxQueryBlock];
    for (int64_t i = 0; i < n; ++i) {  // each row's softmax, unnormalised: e^(x - max)
      T* pi = P + i * ld;
      const int64_t seen = keys_seen(s, i0 + i, keys);
      const uint8_t* m = row_mask(s, b, i0 + i);
      const T top = scaled_max(pi, m, seen, scale);
      std::fill(pi + seen, pi + keys, T(0));
      if (top == -inf) {  // no key: P stays 0, the row is the mean of the values (below)
        std::fill(pi, pi + seen, T(0));
        row_lse[i0 + i] = -inf;
        continue;
      }
      scaled_exp(pi, m, seen, scale, top);
      sums[i] = sum_of(pi, seen);
      row_lse[i0 + i] = top + std::log(sums[i]);
    }
    // O = (P V) / the rows' sums
    prod.multiply(orow.row(i0), orow.stride, P, ld, 1, values, n, s.dv, keys, T(0), upto);
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

// K^T, V^T and K packed once per head; each block's dO and Q packed once for dV and dK.
template <typename T, typename Products>
void backward_task(const Products& prod, T* dq, T* dk, T* dv, const T* dout, const T* q, const T* k, const T* v,
                   const T* o, const T* lse, const Shape& s, int64_t b, int64_t h, T scale) {
  const Rows<const T> qr = rows_of(q, s, b, h, s.tq, s.d), kr = rows_of(k, s, b, h, s.tk, s.d),
                      vr = rows_of(v, s, b, h, s.tk, s.dv), dor = rows_of(dout, s, b, h, s.tq, s.dv),
                      orow = rows_of(o, s, b, h, s.tq, s.dv);
  const Rows<T> dqr = rows_of(dq, s, b, h, s.tq, s.d), dkr = rows_of(dk, s, b, h, s.tk, s.d),
                dvr = rows_of(dv, s, b, h, s.tk, s.dv);
  const int64_t block = prod.block();
  const int64_t ld = score_stride<T>(s.tk);
  T* P = scratch<T>(kScores, block * ld);
  T* dS = scratch<T>(kScoreGrads, block * ld);
  const auto keys_t = prod.pack(kKeysT, kr.base, 1, kr.stride, s.d, s.tk);
  const auto values_t = prod.pack(kValuesT, vr.base, 1, vr.stride, s.dv, s.tk);
  const auto keys = prod.pack(kKeys, kr.base, kr.stride, 1, s.tk, s.d);
  const T* row_lse = lse + (b * s.heads + h) * s.tq;
  const T inf = std::numeric_limits<T>::infinity();
  for (int64_t j = 0; j < s.tk; ++j) {  // dK and dV accumulate over the query blocks
    std::fill(dkr.row(j), dkr.row(j) + s.d, T(0));
    std::fill(dvr.row(j), dvr.row(j) + s.dv, T(0));
  }
  for (int64_t i0 = 0; i0 < s.tq; i0 += block) {
    const int64_t n = std::min(block, s.tq - i0);
    bool uniform = false;  // a row that attends to nothing: P = 1 / tk over every key, no score gradient
    for (int64_t i = 0; i < n; ++i) uniform |= row_lse[i0 + i] == -inf;
    const int64_t nk = uniform ? s.tk : s.keys_for(i0, n);
    const Triangle wanted = uniform ? Triangle{} : causal_part(s, Triangle::wanted_columns, i0),
                   upto = uniform ? Triangle{} : causal_part(s, Triangle::k_upto, i0),
                   from = uniform ? Triangle{} : causal_part(s, Triangle::k_from, i0);
    prod.multiply(P, ld, qr.row(i0), qr.stride, 1, keys_t, n, nk, s.d, T(0), wanted);        // S = Q K^T
    prod.multiply(dS, ld, dor.row(i0), dor.stride, 1, values_t, n, nk, s.dv, T(0), wanted);  // dP = dO V^T
    for (int64_t i = 0; i < n; ++i) {
      T* pi = P + i * ld;
      T* dsi = dS + i * ld;
      const T l = row_lse[i0 + i];
      if (l == -inf) {
        std::fill(pi, pi + nk, T(1) / T(s.tk));
        std::fill(dsi, dsi + nk, T(0));
        continue;
      }
      const int64_t seen = keys_seen(s, i0 + i, nk);
      scaled_exp(pi, row_mask(s, b, i0 + i), seen, scale, l);
      std::fill(pi + seen, pi + nk, T(0));
      std::fill(dsi + seen, dsi + nk, T(0));
      // dS = P (dP - delta), delta = dO . O; the scale of the scores folded in
      const T* a = dor.row(i0 + i);
      const T* c = orow.row(i0 + i);
      const T delta = dot(a, c, s.dv);
      for (int64_t j = 0; j < seen; ++j) dsi[j] = pi[j] * (dsi[j] - delta) * scale;
    }
    // dV += P^T dO, dK += dS^T Q, dQ = dS K
    const auto dout_block = prod.pack(kPackedBlock, dor.row(i0), dor.stride, int64_t(1), n, s.dv);
    prod.multiply(dvr.base, dvr.stride, P, 1, ld, dout_block, nk, s.dv, n, T(1), from);
    const auto q_block = prod.pack(kPackedBlock, qr.row(i0), qr.stride, int64_t(1), n, s.d);
    prod.multiply(dkr.base, dkr.stride, dS, 1, ld, q_block, nk, s.d, n, T(1), from);
    prod.multiply(dqr.row(i0), dqr.stride, dS, ld, 1, keys, n, s.d, nk, T(0), upto);
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

// f(products): the float32 products, or (float, bf16) the bf16 ones.
template <typename T, typename F>
void with_products(bool bf16, F&& f) {
  if constexpr (std::is_same_v<T, float>)
    if (bf16) return f(Bf16Products{});
  f(Float32Products<T>{});
}

template <typename T>
void attention_forward(T* o, T* lse, const T* q, const T* k, const T* v, const uint8_t* mask, int64_t batch,
                       int64_t heads, int64_t tq, int64_t tk, int64_t d, int64_t dv, T scale, bool causal, bool bf16) {
  const Shape s{batch, heads, tq, tk, d, dv, causal, mask};
  with_products<T>(bf16, [&](const auto& prod) {
    each_head(s, [&](int64_t b, int64_t h) { forward_task(prod, o, lse, q, k, v, s, b, h, scale); });
  });
}

template <typename T>
void attention_backward(T* dq, T* dk, T* dv, const T* dout, const T* q, const T* k, const T* v, const T* o,
                        const T* lse, const uint8_t* mask, int64_t batch, int64_t heads, int64_t tq, int64_t tk,
                        int64_t d, int64_t dv_width, T scale, bool causal, bool bf16) {
  const Shape s{batch, heads, tq, tk, d, dv_width, causal, mask};
  with_products<T>(bf16, [&](const auto& prod) {
    each_head(s, [&](int64_t b, int64_t h) { backward_task(prod, dq, dk, dv, dout, q, k, v, o, lse, s, b, h, scale); });
  });
}

#define BRISKNET_ATTENTION(T)                                                                                        \
  template void attention_forward<T>(T*, T*, const T*, const T*, const T*, const uint8_t*, int64_t, int64_t,       \
                                     int64_t, int64_t, int64_t, int64_t, T, bool, bool);                            \
  template void attention_backward<T>(T*, T*, T*, const T*, const T*, const T*, const T*, const T*, const T*,       \
                                      const uint8_t*, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, T, bool, \
                                      bool);
BRISKNET_ATTENTION(float)
BRISKNET_ATTENTION(double)
#undef BRISKNET_ATTENTION

}  // namespace brisknet
