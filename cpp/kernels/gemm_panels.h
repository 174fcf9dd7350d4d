// Small products by one thread on operands packed once and used many times: attention packs a
// head's K and V once and multiplies them by every block of queries, where gemm() would pack them
// again per call (18 % of attention's time) and enter its parallel region per call. The same
// micro-kernel and packing as gemm.cpp, in blocks of the micro-kernel's kc along k; no cache
// blocking, as these operands fit in L2.
#pragma once
#include <algorithm>
#include <cstdint>
#include "gemm_dispatch.h"
#include "gemm_packing.h"

namespace brisknet::detail {

// op(B) (k x n), packed for a micro-kernel: block p0 of kc rows (p0 = 0, kc, 2 kc, ...) holds the
// strips of NR columns, strip s at data + p0 * strips * NR + s * NR * (that block's rows). Any
// leading rows and columns of it can be multiplied (a causal block's keys).
template <typename T>
struct PackedB {
  const T* data;
  int64_t k, n, strips, kc, nr;
  const T* strip(int64_t p0, int64_t s) const { return data + p0 * strips * nr + s * nr * std::min(kc, k - p0); }
};

template <typename T>
int64_t packed_b_size(const MicroKernel<T>& uk, int64_t k, int64_t n) {
  return k * ((n + uk.nr - 1) / uk.nr * uk.nr);
}
template <typename T>
int64_t packed_a_size(const MicroKernel<T>& uk, int64_t m, int64_t k) {
  return k * ((m + uk.mr - 1) / uk.mr * uk.mr);
}

// B[p, j] at B + p * rsb + j * csb into buf (packed_b_size values).
template <typename T>
PackedB<T> pack_b(const MicroKernel<T>& uk, T* buf, const T* B, int64_t rsb, int64_t csb, int64_t k, int64_t n) {
  const PackedB<T> b{buf, k, n, (n + uk.nr - 1) / uk.nr, uk.kc, uk.nr};
  for (int64_t p0 = 0; p0 < k; p0 += uk.kc)
    for (int64_t s = 0; s < b.strips; ++s)
      pack_b_strip(const_cast<T*>(b.strip(p0, s)), B + p0 * rsb + s * uk.nr * csb, rsb, csb,
                   int(std::min<int64_t>(uk.nr, n - s * uk.nr)), std::min<int64_t>(uk.kc, k - p0), uk.nr, (T*)nullptr);
  return b;
}

// A[i, p] at A + i * rsa + p * csa (m x k) into buf (packed_a_size values): block p0 of kc columns
// holds the strips of MR rows, strip s at buf + p0 * strips * MR + s * MR * (that block's columns).
template <typename T>
void pack_a(const MicroKernel<T>& uk, T* buf, const T* A, int64_t rsa, int64_t csa, int64_t m, int64_t k) {
  const int64_t strips = (m + uk.mr - 1) / uk.mr;
  for (int64_t p0 = 0; p0 < k; p0 += uk.kc) {
    const int64_t kc = std::min<int64_t>(uk.kc, k - p0);
    for (int64_t s = 0; s < strips; ++s)
      pack_a_strip(buf + p0 * strips * uk.mr + s * uk.mr * kc, A + s * uk.mr * rsa + p0 * csa, rsa, csa,
                   int(std::min<int64_t>(uk.mr, m - s * uk.mr)), kc, uk.mr);
  }
}

// The triangle of a product that a causal mask makes zero or unwanted, by row i of A and C:
// none; wanted_columns: C[i, j] is wanted for j <= i + shift only (a tile wholly past that is
// not computed: C keeps what it held); k_upto: A[i, p] = 0 for p > i + shift; k_from: A[i, p] = 0
// for p < i - shift. Skipping the zero products adds nothing but signed zeros.
struct Triangle {
  enum Kind { none, wanted_columns, k_upto, k_from } kind = none;
  int64_t shift = 0;
};

// C (m x n, row stride ldc) := beta C + A B over the first k rows of B: A packed by pack_a with
// this k, B's first n columns. Each C value sums its kc blocks in order, as gemm's.
template <typename T>
void multiply_packed(const MicroKernel<T>& uk, T* C, int64_t ldc, const T* Ap, const PackedB<T>& B, int64_t m,
                     int64_t n, int64_t k, T beta, Triangle zero = {}) {
  const int64_t mstrips = (m + uk.mr - 1) / uk.mr, nstrips = (n + uk.nr - 1) / uk.nr;
  for (int64_t p0 = 0; p0 < k; p0 += uk.kc) {
    const int64_t kc = std::min<int64_t>(uk.kc, k - p0);
    const T* a = Ap + p0 * mstrips * uk.mr;
    for (int64_t is = 0; is < mstrips; ++is) {
      const int64_t i0 = is * uk.mr;
      const int rows = int(std::min<int64_t>(uk.mr, m - i0));
      int64_t lo = p0, hi = p0 + kc;  // the k range of this block that row strip needs
      if (zero.kind == Triangle::k_upto) hi = std::min(hi, i0 + rows + zero.shift);
      if (zero.kind == Triangle::k_from) lo = std::max(lo, i0 - zero.shift);
      int64_t js_end = nstrips;
      if (zero.kind == Triangle::wanted_columns)
        js_end = std::min(nstrips, (i0 + rows + zero.shift + uk.nr - 1) / uk.nr);
      for (int64_t js = 0; js < js_end; ++js) {
        const int cols = int(std::min<int64_t>(uk.nr, n - js * uk.nr));
        T* c = C + i0 * ldc + js * uk.nr;
        if (lo >= hi) {  // nothing to add: only the first block's beta
          if (p0 == 0)
            for (int r = 0; r < rows; ++r)
              for (int x = 0; x < cols; ++x) c[r * ldc + x] = beta == T(0) ? T(0) : beta * c[r * ldc + x];
          continue;
        }
        uk.run(hi - lo, a + i0 * kc + (lo - p0) * uk.mr, B.strip(p0, js) + (lo - p0) * uk.nr, uk.nr, c, ldc, rows,
               cols, p0 == 0 ? beta : T(1), nullptr, nullptr);
      }
    }
  }
}

}  // namespace brisknet::detail
