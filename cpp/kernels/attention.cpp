// Scaled dot-product attention, fused (FlashAttention's scheme on a CPU): for each (sample, head),
// query rows in blocks against key rows in blocks, the scores of one block pair at a time, an
// online softmax (running maximum and sum per row), the product with V accumulated, so the full
// (queries x keys) score matrix is never written. The backward pass recomputes each block's
// probabilities from the saved log-sum-exp. A causal mask skips whole key blocks past a query
// block. One (sample, head) is one thread's task, in a fixed order: the same bits on any number
// of threads.
//
// Layout: q (batch, tq, heads, d), k (batch, tk, heads, d), v (batch, tk, heads, dv), o (batch,
// tq, heads, dv) - what Keras' MultiHeadAttention projections give - and lse (batch, heads, tq).
// mask (batch, tq, tk), optional: nonzero where a query may attend to a key. A query that may
// attend to no key gets the mean of all values, as Keras' softmax with its -1e9 mask gives.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include <type_traits>

#include "brisknet/kernels.h"
#include "fast_math.h"
#include "isa_clones.h"
#include "parallel.h"

namespace brisknet {
namespace {

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

// p[j] = e^(p[j] - top) for j < n; returns their sum (8 partial sums: the loop vectorises).
template <typename T>
T exp_shifted_sum(T* __restrict p, int64_t n, T top) {
  for (int64_t j = 0; j < n; ++j) p[j] = exp_nonpositive(p[j] - top);
  T lanes[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t j = 0;
  for (; j + 8 <= n; j += 8)
    for (int k = 0; k < 8; ++k) lanes[k] += p[j + k];
  for (; j < n; ++j) lanes[0] += p[j];
  return ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) + ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7]));
}

using detail::at_isa;

constexpr int64_t kQueryBlock = 32;
constexpr int64_t kKeyBlock = 64;

struct Shape {
  int64_t batch, heads, tq, tk, d, dv;
  bool causal;
  const uint8_t* mask;
};

// Rows of one (sample, head): element (row, i) of a (batch, t, heads, width) tensor.
template <typename T>
struct Rows {
  T* base;
  int64_t stride;  // heads * width
  T* row(int64_t r) const { return base + r * stride; }
};

template <typename T>
Rows<T> rows_of(T* p, const Shape& s, int64_t b, int64_t h, int64_t t, int64_t width) {
  return {p + (b * t * s.heads + h) * width, s.heads * width};
}

// The thread's workspaces, grown once (no allocation in steady-state steps).
template <typename T>
std::vector<T>& scratch(int which, size_t size) {
  thread_local std::vector<T> buffers[6];
  std::vector<T>& b = buffers[which];
  if (b.size() < size) {
    b.resize(size);
    count_workspace_allocation();
  }
  return b;
}

// cols x n (transposed, contiguous) from n rows of `cols` values.
template <typename T>
void transpose_rows(T* out, const Rows<const T>& in, int64_t n, int64_t cols) {
  for (int64_t j = 0; j < n; ++j) {
    const T* r = in.row(j);
    for (int64_t c = 0; c < cols; ++c) out[c * n + j] = r[c];
  }
}

// scores[i][j] = scale * q_i . k_j for the block (queries i0.., keys j0..), -inf where masked.
template <typename T>
void block_scores(T* s, const Rows<const T>& q, const T* kt, const Shape& sh, int64_t b, int64_t i0, int64_t ni,
                  int64_t j0, int64_t nj, T scale) {
  for (int64_t i = 0; i < ni; ++i) {
    T* si = s + i * kKeyBlock;
    std::fill(si, si + nj, T(0));
    const T* qi = q.row(i0 + i);
    for (int64_t c = 0; c < sh.d; ++c) {
      const T qc = qi[c] * scale;
      const T* kc = kt + c * sh.tk + j0;
      for (int64_t j = 0; j < nj; ++j) si[j] += qc * kc[j];
    }
    const uint8_t* m = sh.mask ? sh.mask + (b * sh.tq + i0 + i) * sh.tk + j0 : nullptr;
    const int64_t last = sh.causal ? i0 + i - j0 : nj - 1;  // keys past the query: masked
    for (int64_t j = 0; j < nj; ++j)
      if (j > last || (m && !m[j])) si[j] = -std::numeric_limits<T>::infinity();
  }
}

template <typename T>
void forward_task(T* o, T* lse, const T* q, const T* k, const T* v, const Shape& s, int64_t b, int64_t h, T scale) {
  const Rows<const T> qr = rows_of(q, s, b, h, s.tq, s.d), kr = rows_of(k, s, b, h, s.tk, s.d),
                      vr = rows_of(v, s, b, h, s.tk, s.dv);
  const Rows<T> orow = rows_of(o, s, b, h, s.tq, s.dv);
  T* kt = scratch<T>(0, size_t(s.d * s.tk)).data();
  T* sc = scratch<T>(1, size_t(kQueryBlock * kKeyBlock)).data();
  T* acc = scratch<T>(2, size_t(kQueryBlock * s.dv)).data();
  T* run = scratch<T>(3, size_t(2 * kQueryBlock)).data();  // running maximum, running sum
  transpose_rows(kt, kr, s.tk, s.d);
  T* out_lse = lse + (b * s.heads + h) * s.tq;
  const T inf = std::numeric_limits<T>::infinity();
  for (int64_t i0 = 0; i0 < s.tq; i0 += kQueryBlock) {
    const int64_t ni = std::min(kQueryBlock, s.tq - i0);
    std::fill(acc, acc + ni * s.dv, T(0));
    std::fill(run, run + ni, -inf);
    std::fill(run + kQueryBlock, run + kQueryBlock + ni, T(0));
    const int64_t key_end = s.causal ? std::min(s.tk, i0 + ni) : s.tk;  // whole blocks above the diagonal skipped
    for (int64_t j0 = 0; j0 < key_end; j0 += kKeyBlock) {
      const int64_t nj = std::min(kKeyBlock, key_end - j0);
      block_scores(sc, qr, kt, s, b, i0, ni, j0, nj, scale);
      for (int64_t i = 0; i < ni; ++i) {
        T* si = sc + i * kKeyBlock;
        T top = run[i];
        for (int64_t j = 0; j < nj; ++j) top = std::max(top, si[j]);
        if (top == -inf) continue;  // nothing to attend to yet
        const T keep = exp_nonpositive(run[i] - top);  // (0 on the first block)
        const T sum = exp_shifted_sum(si, nj, top);
        run[i] = top;
        run[kQueryBlock + i] = run[kQueryBlock + i] * keep + sum;
        T* ai = acc + i * s.dv;
        for (int64_t c = 0; c < s.dv; ++c) ai[c] *= keep;
        for (int64_t j = 0; j < nj; ++j) {
          const T p = si[j];
          if (p == T(0)) continue;
          const T* vj = vr.row(j0 + j);
          for (int64_t c = 0; c < s.dv; ++c) ai[c] += p * vj[c];
        }
      }
    }
    for (int64_t i = 0; i < ni; ++i) {
      T* oi = orow.row(i0 + i);
      const T sum = run[kQueryBlock + i];
      if (sum == T(0)) {  // no key to attend to: the mean of all values (Keras' -1e9 mask)
        std::fill(oi, oi + s.dv, T(0));
        for (int64_t j = 0; j < s.tk; ++j)
          for (int64_t c = 0; c < s.dv; ++c) oi[c] += vr.row(j)[c];
        for (int64_t c = 0; c < s.dv; ++c) oi[c] /= T(s.tk);
        out_lse[i0 + i] = -inf;
        continue;
      }
      const T* ai = acc + i * s.dv;
      for (int64_t c = 0; c < s.dv; ++c) oi[c] = ai[c] / sum;
      out_lse[i0 + i] = run[i] + std::log(sum);
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
  T* kt = scratch<T>(0, size_t(s.d * s.tk)).data();
  T* vt = scratch<T>(1, size_t(s.dv * s.tk)).data();
  T* p = scratch<T>(2, size_t(kQueryBlock * kKeyBlock)).data();
  T* dp = scratch<T>(3, size_t(kQueryBlock * kKeyBlock)).data();
  T* dk_acc = scratch<T>(4, size_t(s.tk * (s.d + s.dv))).data();  // dK then dV, rows of this head
  T* dv_acc = dk_acc + s.tk * s.d;
  T* delta = scratch<T>(5, size_t(kQueryBlock)).data();
  transpose_rows(kt, kr, s.tk, s.d);
  transpose_rows(vt, vr, s.tk, s.dv);
  std::fill(dk_acc, dk_acc + s.tk * (s.d + s.dv), T(0));
  const T* row_lse = lse + (b * s.heads + h) * s.tq;
  const T inf = std::numeric_limits<T>::infinity();
  for (int64_t i0 = 0; i0 < s.tq; i0 += kQueryBlock) {
    const int64_t ni = std::min(kQueryBlock, s.tq - i0);
    for (int64_t i = 0; i < ni; ++i) {  // delta_i = dO_i . O_i
      const T* a = dor.row(i0 + i);
      const T* c = orow.row(i0 + i);
      T sum = 0;
      for (int64_t x = 0; x < s.dv; ++x) sum += a[x] * c[x];
      delta[i] = sum;
      T* dqi = dqr.row(i0 + i);
      std::fill(dqi, dqi + s.d, T(0));
    }
    const int64_t key_end = s.causal ? std::min(s.tk, i0 + ni) : s.tk;
    for (int64_t j0 = 0; j0 < s.tk; j0 += kKeyBlock) {
      const int64_t nj = std::min(kKeyBlock, s.tk - j0);
      bool uniform_rows = false;  // rows that attend to nothing: P = 1 / tk, no gradient to the scores
      for (int64_t i = 0; i < ni; ++i) uniform_rows |= row_lse[i0 + i] == -inf;
      if (j0 >= key_end && !uniform_rows) break;
      block_scores(p, qr, kt, s, b, i0, ni, j0, nj, scale);
      for (int64_t i = 0; i < ni; ++i) {
        T* pi = p + i * kKeyBlock;
        const T l = row_lse[i0 + i];
        if (l == -inf)
          std::fill(pi, pi + nj, T(1) / T(s.tk));
        else
          for (int64_t j = 0; j < nj; ++j) pi[j] = exp_nonpositive(pi[j] - l);
        // dP_i = dO_i V^T over this block
        T* dpi = dp + i * kKeyBlock;
        std::fill(dpi, dpi + nj, T(0));
        const T* doi = dor.row(i0 + i);
        for (int64_t c = 0; c < s.dv; ++c) {
          const T g = doi[c];
          const T* vc = vt + c * s.tk + j0;
          for (int64_t j = 0; j < nj; ++j) dpi[j] += g * vc[j];
        }
        // dV_j += P_ij dO_i
        for (int64_t j = 0; j < nj; ++j) {
          const T pij = pi[j];
          if (pij == T(0)) continue;
          T* dvj = dv_acc + (j0 + j) * s.dv;
          for (int64_t c = 0; c < s.dv; ++c) dvj[c] += pij * doi[c];
        }
        // dS_ij = P_ij (dP_ij - delta_i); dQ_i += dS K, dK_j += dS Q (scaled at the end)
        const T* qi = qr.row(i0 + i);
        T* dqi = dqr.row(i0 + i);
        for (int64_t j = 0; j < nj; ++j) {
          const T ds = l == -inf ? T(0) : pi[j] * (dpi[j] - delta[i]);
          if (ds == T(0)) continue;
          const T* kj = kr.row(j0 + j);
          T* dkj = dk_acc + (j0 + j) * s.d;
          for (int64_t c = 0; c < s.d; ++c) {
            dqi[c] += ds * kj[c];
            dkj[c] += ds * qi[c];
          }
        }
      }
    }
    for (int64_t i = 0; i < ni; ++i) {
      T* dqi = dqr.row(i0 + i);
      for (int64_t c = 0; c < s.d; ++c) dqi[c] *= scale;
    }
  }
  for (int64_t j = 0; j < s.tk; ++j) {
    T* dkj = dkr.row(j);
    T* dvj = dvr.row(j);
    for (int64_t c = 0; c < s.d; ++c) dkj[c] = dk_acc[j * s.d + c] * scale;
    for (int64_t c = 0; c < s.dv; ++c) dvj[c] = dv_acc[j * s.dv + c];
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
