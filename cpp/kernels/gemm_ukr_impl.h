// The micro-kernel body, written once with GCC/Clang vector extensions and compiled once per ISA
// (gemm_ukr_generic.cpp, gemm_ukr_avx2.cpp, gemm_ukr_avx512.cpp), each with its own flags.
// Everything here has internal linkage (anonymous namespace) and calls no inline library code, so
// an AVX-512 instantiation can never be picked by the linker for use on another path.
#pragma once
#include <cstring>
#include <algorithm>
#include <initializer_list>
#include "gemm_ukr.h"

namespace {

// VB: vector width in bytes; MR rows; NV vectors per row (NR = NV * VB / sizeof(T)).
template <typename T, int VB, int MR, int NV>
void micro_kernel(int64_t kc, const T* __restrict Ap, const T* __restrict Bp, int64_t ldb, T* C,
                  int64_t ldc, int mr, int nr, T beta, const T* bias, T* relu) {
  typedef T V __attribute__((vector_size(VB)));
  constexpr int W = VB / int(sizeof(T));
  constexpr int NR = NV * W;

  // C's tile is read (beta != 0) or written only after the k loop: ask for its lines now, so
  // that their misses (C is often bigger than L2) overlap the loop instead of following it.
#pragma GCC unroll 32
  for (int i = 0; i < MR; ++i)
    if (i < mr)
#pragma GCC unroll 8
      for (int v = 0; v < NV; ++v) __builtin_prefetch(C + i * ldc + v * W, 1);

  V acc[MR][NV];
#pragma GCC unroll 32
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) acc[i][v] = V{};

  for (int64_t p = 0; p < kc; ++p) {
    // Both panels 16 steps ahead: A streams from L2, and a B read in place has one row per page.
    __builtin_prefetch(Ap + (p + 16) * MR);
#pragma GCC unroll 8
    for (int v = 0; v < NV; v += 64 / VB) __builtin_prefetch(Bp + (p + 16) * ldb + v * W);
    V b[NV];
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) __builtin_memcpy(&b[v], Bp + p * ldb + v * W, sizeof(V));
#pragma GCC unroll 32
    for (int i = 0; i < MR; ++i) {
      const T a = Ap[p * MR + i];
#pragma GCC unroll 8
      for (int v = 0; v < NV; ++v) acc[i][v] += a * b[v];
    }
  }

  if (mr == MR && nr == NR) {
    V bv[NV];
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) {
      bv[v] = V{};
      if (bias) __builtin_memcpy(&bv[v], bias + v * W, sizeof(V));
    }
#pragma GCC unroll 32
    for (int i = 0; i < MR; ++i) {
#pragma GCC unroll 8
      for (int v = 0; v < NV; ++v) {
        T* c = C + i * ldc + v * W;
        V r = acc[i][v];
        if (beta != T(0)) {
          V old;
          __builtin_memcpy(&old, c, sizeof(V));
          r = beta * old + r;
        }
        if (bias) r += bv[v];
        __builtin_memcpy(c, &r, sizeof(V));
        if (relu) {
          const V zero{};
          const V y = r <= zero ? zero : r;
          __builtin_memcpy(relu + i * ldc + v * W, &y, sizeof(V));
        }
      }
    }
    return;
  }
  // Edge tile: spill the registers, then write only the valid mr x nr corner.
  T tile[MR * NR];
  for (int i = 0; i < MR; ++i)
    for (int v = 0; v < NV; ++v) __builtin_memcpy(tile + i * NR + v * W, &acc[i][v], sizeof(V));
  for (int i = 0; i < mr; ++i) {
    T* c = C + i * ldc;
    for (int j = 0; j < nr; ++j) {
      T r = tile[i * NR + j];
      if (beta != T(0)) r = beta * c[j] + r;
      if (bias) r += bias[j];
      c[j] = r;
      if (relu) relu[i * ldc + j] = r <= T(0) ? T(0) : r;
    }
  }
}

template <typename T, int VB, int MR, int NV>
brisknet::detail::MicroKernel<T> tile(float rate) {
  return {&micro_kernel<T, VB, MR, NV>, MR, NV * VB / int(sizeof(T)), rate, 0, 0, 0};  // blocks: gemm.cpp
}

// At most kFewRowsMax rows of A; the caller splits columns between threads. Each C element is
// computed with exactly the operations of the packed path (micro_kernel): per block of kc values
// of k, a sum from zero of a*b in order of p (one multiply-add each), added to C; the bias last.
// So a row of C is bit-identical whichever path its batch takes (a prediction does not depend on
// the batch it is in), and does not depend on how columns are split.
using brisknet::detail::kFewRowsMax;
constexpr int64_t kFewRowsCols = 1024;  // accumulators for 4 x 1024 values stay in L1

template <typename T>
void few_rows(T* C, int64_t ldc, const T* A, int64_t rsa, int64_t csa, const T* B, int64_t rsb,
              int64_t m, int64_t n, int64_t k, T beta, const T* bias, int64_t kc) {
  T acc[kFewRowsMax][kFewRowsCols];
  for (int64_t j0 = 0; j0 < n; j0 += kFewRowsCols) {
    const int64_t w = n - j0 < kFewRowsCols ? n - j0 : kFewRowsCols;
    for (int64_t p0 = 0; p0 < k; p0 += kc) {
      const int64_t p1 = p0 + kc < k ? p0 + kc : k;
      for (int64_t i = 0; i < m; ++i)
        for (int64_t j = 0; j < w; ++j) acc[i][j] = T(0);
      int64_t p = p0;
      for (; p + 4 <= p1; p += 4) {  // four rows of B per pass: a quarter of the accumulator traffic
        const T* __restrict b0 = B + p * rsb + j0;
        const T* __restrict b1 = b0 + rsb;
        const T* __restrict b2 = b1 + rsb;
        const T* __restrict b3 = b2 + rsb;
        for (int64_t i = 0; i < m; ++i) {
          const T* a = A + i * rsa + p * csa;
          const T a0 = a[0], a1 = a[csa], a2 = a[2 * csa], a3 = a[3 * csa];
          T* __restrict c = acc[i];
          for (int64_t j = 0; j < w; ++j) c[j] = (((c[j] + a0 * b0[j]) + a1 * b1[j]) + a2 * b2[j]) + a3 * b3[j];
        }
      }
      for (; p < p1; ++p) {
        const T* __restrict b = B + p * rsb + j0;
        for (int64_t i = 0; i < m; ++i) {
          const T a = A[i * rsa + p * csa];
          T* __restrict c = acc[i];
          for (int64_t j = 0; j < w; ++j) c[j] += a * b[j];
        }
      }
      const T beta_p = p0 == 0 ? beta : T(1);  // later k blocks accumulate, as in the packed path
      const bool last = p1 == k;
      for (int64_t i = 0; i < m; ++i) {
        T* c = C + i * ldc + j0;
        for (int64_t j = 0; j < w; ++j) {
          T r = acc[i][j];
          if (beta_p != T(0)) r = beta_p * c[j] + r;
          if (bias && last) r += bias[j0 + j];
          c[j] = r;
        }
      }
    }
  }
}

// Narrow outputs, at most NV vectors wide (a 10-class layer): rows i0..i0+rows of C from A and a
// row-major B read in place, R rows at a time (R x NV accumulators). No packing: each value of A
// and B is used once per k block here, so packing would only move it. Each C element gets the
// micro-kernel's operations in its order: per kc block a sum from zero, in order of p, then
// beta * C (first block) or C added, the bias with the last block.
template <typename T, int VB, int R, int NV>
void narrow_rows(T* C, int64_t ldc, const T* A, int64_t rsa, int64_t csa, const T* B, int64_t rsb, int64_t i0,
                 int64_t rows, int64_t n, int64_t k, T beta, const T* bias, int64_t kc) {
  typedef T V __attribute__((vector_size(VB)));
  constexpr int W = VB / int(sizeof(T)), NR = NV * W;
  // A full load of row p reads NR - n values past its end (into the next row, never used); rows
  // whose load would pass B's last value come from a zero-padded copy instead.
  const int64_t end = (k - 1) * rsb + n;  // one past B's last value
  auto load_b = [&](int64_t p, V* b) {
    const T* src = B + p * rsb;
    T row[NR];
    if (p * rsb + NR > end) {
      for (int j = 0; j < NR; ++j) row[j] = j < n ? src[j] : T(0);
      src = row;
    }
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) __builtin_memcpy(&b[v], src + v * W, sizeof(V));
  };
  for (int64_t r0 = i0; r0 < i0 + rows; r0 += R) {
    const int rr = int(std::min<int64_t>(R, i0 + rows - r0));
    for (int64_t p0 = 0; p0 < k; p0 += kc) {
      const int64_t p1 = std::min(k, p0 + kc);
      V acc[R][NV];
#pragma GCC unroll 16
      for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
        for (int v = 0; v < NV; ++v) acc[r][v] = V{};
      if (rr == R) {
        for (int64_t p = p0; p < p1; ++p) {
          V b[NV];
          load_b(p, b);
          const T* a = A + r0 * rsa + p * csa;
#pragma GCC unroll 16
          for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
            for (int v = 0; v < NV; ++v) acc[r][v] += a[r * rsa] * b[v];
        }
      } else {  // the last rows of the block
        for (int64_t p = p0; p < p1; ++p) {
          V b[NV];
          load_b(p, b);
          const T* a = A + r0 * rsa + p * csa;
          for (int r = 0; r < rr; ++r)
            for (int v = 0; v < NV; ++v) acc[r][v] += a[r * rsa] * b[v];
        }
      }
      const T beta_p = p0 == 0 ? beta : T(1);
      const T* bias_p = p1 == k ? bias : nullptr;
      for (int r = 0; r < rr; ++r) {
        T out[NR];
        __builtin_memcpy(out, acc[r], sizeof(out));
        T* c = C + (r0 + r) * ldc;
        if (beta_p != T(0))
          for (int64_t j = 0; j < n; ++j) out[j] = beta_p * c[j] + out[j];
        if (bias_p)
          for (int64_t j = 0; j < n; ++j) out[j] += bias_p[j];
#pragma GCC unroll 16
        for (int j = 0; j < NR; ++j)
          if (j < n) c[j] = out[j];
      }
    }
  }
}

// tiles: the ISA's register tiles; narrow outputs: R rows x NV vectors (R * NV accumulators).
template <typename T, int VB, int R, int NV>
brisknet::detail::GemmKernels<T> gemm_kernels(std::initializer_list<brisknet::detail::MicroKernel<T>> tiles) {
  brisknet::detail::GemmKernels<T> ks{};
  for (const auto& t : tiles) ks.tiles[ks.count++] = t;
  ks.few_rows = &few_rows<T>;
  ks.narrow_rows = &narrow_rows<T, VB, R, NV>;
  ks.narrow_max = NV * VB / int(sizeof(T));
  return ks;
}

}  // namespace
