// Packing for the GEMM driver (gemm.cpp): A and B strips in the micro-kernel's layout, the bias
// gradient's column sums taken while B is packed (or from a B read in place), and per-thread
// packing buffers.
#pragma once
#include <algorithm>
#include <cstdint>
#include <type_traits>
#include <vector>
#include "brisknet/kernels.h"
#include "isa_clones.h"

namespace brisknet::detail {

// Four vectors contiguous along k (a[q][0..kc): rows i0..i0+3 of a row-major A, or columns of a
// transposed B) into a panel that is contiguous along the other index (Ap[p*MR + i0 + q]), a 4 x 4
// block at a time transposed in 16-byte vectors: the scalar transpose cost 7 % of a batch-1024
// predict.
inline void pack_rows4_f32(float* Ap, const float* const a[4], int i0, int64_t kc, int MR) {
  typedef float V4 __attribute__((vector_size(16)));
  int64_t p = 0;
  for (; p + 4 <= kc; p += 4) {
    V4 r[4];
    for (int q = 0; q < 4; ++q) __builtin_memcpy(&r[q], a[q] + p, sizeof(V4));
    const V4 t0 = __builtin_shufflevector(r[0], r[1], 0, 4, 1, 5), t1 = __builtin_shufflevector(r[0], r[1], 2, 6, 3, 7);
    const V4 t2 = __builtin_shufflevector(r[2], r[3], 0, 4, 1, 5), t3 = __builtin_shufflevector(r[2], r[3], 2, 6, 3, 7);
    const V4 c[4] = {__builtin_shufflevector(t0, t2, 0, 1, 4, 5), __builtin_shufflevector(t0, t2, 2, 3, 6, 7),
                     __builtin_shufflevector(t1, t3, 0, 1, 4, 5), __builtin_shufflevector(t1, t3, 2, 3, 6, 7)};
    for (int q = 0; q < 4; ++q) __builtin_memcpy(Ap + (p + q) * MR + i0, &c[q], sizeof(V4));
  }
  for (; p < kc; ++p)
    for (int q = 0; q < 4; ++q) Ap[p * MR + i0 + q] = a[q][p];
}

// The same for two rows (the last two of a 6-row strip, AVX2's tile), in pairs of values.
inline void pack_rows2_f32(float* Ap, const float* a0, const float* a1, int i0, int64_t kc, int MR) {
  typedef float V4 __attribute__((vector_size(16)));
  typedef float V2 __attribute__((vector_size(8)));
  int64_t p = 0;
  for (; p + 4 <= kc; p += 4) {
    V4 r0, r1;
    __builtin_memcpy(&r0, a0 + p, sizeof(V4));
    __builtin_memcpy(&r1, a1 + p, sizeof(V4));
    const V4 lo = __builtin_shufflevector(r0, r1, 0, 4, 1, 5), hi = __builtin_shufflevector(r0, r1, 2, 6, 3, 7);
    const V2 c[4] = {__builtin_shufflevector(lo, lo, 0, 1), __builtin_shufflevector(lo, lo, 2, 3),
                     __builtin_shufflevector(hi, hi, 0, 1), __builtin_shufflevector(hi, hi, 2, 3)};
    for (int q = 0; q < 4; ++q) __builtin_memcpy(Ap + (p + q) * MR + i0, &c[q], sizeof(V2));
  }
  for (; p < kc; ++p) {
    Ap[p * MR + i0] = a0[p];
    Ap[p * MR + i0 + 1] = a1[p];
  }
}

// Rows i0.. of a matrix, `stride` apart, as above.
inline void pack_rows4_f32(float* Ap, const float* A, int64_t stride, int i0, int64_t kc, int MR) {
  const float* a[4] = {A + i0 * stride, A + (i0 + 1) * stride, A + (i0 + 2) * stride, A + (i0 + 3) * stride};
  pack_rows4_f32(Ap, a, i0, kc, MR);
}
inline void pack_rows2_f32(float* Ap, const float* A, int64_t stride, int i0, int64_t kc, int MR) {
  pack_rows2_f32(Ap, A + i0 * stride, A + (i0 + 1) * stride, i0, kc, MR);
}

// f(std::integral_constant<int, MR>{}) for the register tiles' strip heights (6, 8, 12, 16; 32:
// the AMX tile's, whose implicit A is packed through a float32 strip), so that a copy of MR values
// compiles to a few vector moves; false, calling nothing, for another MR.
template <typename F>
inline bool with_strip_height(int MR, F&& f) {
  switch (MR) {
    case 6: f(std::integral_constant<int, 6>{}); return true;
    case 8: f(std::integral_constant<int, 8>{}); return true;
    case 12: f(std::integral_constant<int, 12>{}); return true;
    case 16: f(std::integral_constant<int, 16>{}); return true;
    case 32: f(std::integral_constant<int, 32>{}); return true;
    default: return false;
  }
}

// Columns of a transposed A (rsa == 1: each p's MR values contiguous) copied whole, MR a constant.
template <int MR, typename T>
inline void pack_columns(T* Ap, const T* A, int64_t csa, int64_t kc) {
  for (int64_t p = 0; p < kc; ++p) __builtin_memcpy(Ap + p * MR, A + p * csa, sizeof(T) * MR);
}

// Ap: ceil(mc/MR) strips, each kc columns of MR values, rows past mc zero-filled.
template <typename T>
inline void pack_a_strip(T* Ap, const T* A, int64_t rsa, int64_t csa, int rows, int64_t kc, int MR) {
  // A^T of a row-major matrix (a weight gradient's inputs)
  if (rsa == 1 && rows == MR &&
      with_strip_height(MR, [&](auto mr) { pack_columns<decltype(mr)::value>(Ap, A, csa, kc); }))
    return;
  int i0 = 0;
  if constexpr (std::is_same_v<T, float>)
    if (csa == 1) {
      for (; i0 + 4 <= rows; i0 += 4) pack_rows4_f32(Ap, A, rsa, i0, kc, MR);
      for (; i0 + 2 <= rows; i0 += 2) pack_rows2_f32(Ap, A, rsa, i0, kc, MR);
    }
  if (csa == 1) {  // rows of A are contiguous along k
    for (int i = i0; i < rows; ++i)
      for (int64_t p = 0; p < kc; ++p) Ap[p * MR + i] = A[i * rsa + p];
  } else {
    for (int64_t p = 0; p < kc; ++p)
      for (int i = i0; i < rows; ++i) Ap[p * MR + i] = A[i * rsa + p * csa];
  }
  for (int64_t p = 0; p < kc; ++p)
    for (int i = rows; i < MR; ++i) Ap[p * MR + i] = T(0);
}

// Bp: ceil(nc/NR) strips, each kc rows of NR values, columns past nc zero-filled.
// sums (when not null): sums[j] += B[p, j] over the packed rows, in order of p.
template <typename T>
inline void pack_b_strip(T* Bp, const T* B, int64_t rsb, int64_t csb, int cols, int64_t kc, int NR, T* sums) {
  if (csb == 1) {  // rows of B are contiguous along n
    // One row every rsb elements defeats the hardware prefetcher (it stops at page boundaries):
    // ask for the rows a few iterations ahead, so a cold B streams instead of stalling per row.
    constexpr int64_t kAhead = 12;
    for (int64_t p = 0; p < kc; ++p) {
      const T* b = B + p * rsb;
      if (p + kAhead < kc) {
        __builtin_prefetch(b + kAhead * rsb);
        __builtin_prefetch(b + kAhead * rsb + cols - 1);
      }
      T* dst = Bp + p * NR;
      if (cols == NR) {
        for (int j = 0; j < NR; ++j) dst[j] = b[j];
      } else {  // one select per value: two loops here became a memset call per row
        for (int j = 0; j < NR; ++j) dst[j] = j < cols ? b[j] : T(0);
      }
      if (sums)
        for (int j = 0; j < cols; ++j) sums[j] += b[j];
    }
  } else {
    // A transpose: go through it in blocks of kBlock values of k, so the destination rows being
    // written (kBlock x NR) stay in L1 instead of sweeping the whole kc x NR strip per column.
    int j0 = 0;
    if constexpr (std::is_same_v<T, float>)
      if (rsb == 1 && !sums)  // B^T of a row-major matrix (dX = dZ W^T): 4 x 4 register transposes
        for (; j0 + 4 <= cols; j0 += 4) pack_rows4_f32(Bp, B, csb, j0, kc, NR);
    constexpr int64_t kBlock = 16;
    for (int64_t p0 = 0; p0 < kc; p0 += kBlock) {
      const int64_t p1 = std::min(kc, p0 + kBlock);
      for (int j = j0; j < cols; ++j) {
        const T* b = B + j * csb;
        for (int64_t p = p0; p < p1; ++p) Bp[p * NR + j] = b[p * rsb];
        if (sums)
          for (int64_t p = p0; p < p1; ++p) sums[j] += b[p * rsb];
      }
      for (int64_t p = p0; p < p1; ++p)
        for (int j = cols; j < NR; ++j) Bp[p * NR + j] = T(0);
    }
  }
}

// sums[j] += B[p, j] for rows p < kc of a row-major B, in order of p: pack_b_strip's sums, for a
// strip read in place.
template <typename T>
inline void sum_b_rows(T* sums, const T* B, int64_t rsb, int cols, int64_t kc) {
  constexpr int kWidest = 64;  // (a strip: NR columns)
  at_isa([&] {  // (sums only: every copy adds the same way)
    T acc[kWidest];
    for (int j0 = 0; j0 < cols; j0 += kWidest) {
      const int w = std::min(kWidest, cols - j0);
      std::copy_n(sums + j0, w, acc);
      for (int64_t p = 0; p < kc; ++p) {
        const T* __restrict b = B + p * rsb + j0;
        for (int j = 0; j < w; ++j) acc[j] += b[j];
      }
      std::copy_n(acc, w, sums + j0);
    }
  });
}

// Packing buffers live per calling thread and only grow: no allocation in steady state.
template <typename T>
inline T* scratch(int which, size_t count) {
  thread_local std::vector<T> buffers[2];
  std::vector<T>& b = buffers[which];
  if (b.size() < count) {
    b.resize(count);
    count_workspace_allocation();
  }
  return b.data();
}


}  // namespace brisknet::detail
