// GEMM with an implicit A (gemm.cpp): the caller packs A's strips straight from wherever its
// values live, so A is never laid out as a matrix (convolution.cpp: an image's patches).
#pragma once
#include <cstdint>
#include "brisknet/kernels.h"

namespace brisknet::detail {

// pack(context, Ap, i0, rows, p0, kc, MR): rows i0..i0 + rows of op(A), k columns p0..p0 + kc,
// into Ap[p * MR + i] as gemm_packing.h's pack_a_strip, rows rows..MR zero.
template <typename T>
struct APacker {
  void (*pack)(const void* context, T* Ap, int64_t i0, int rows, int64_t p0, int64_t kc, int MR);
  const void* context;
};

// Whether gemm packs op(A) for this shape (B row-major: csb == 1); otherwise it reads A in place
// (a few rows, or narrow outputs) and an implicit A must be laid out first.
template <typename T>
bool gemm_packs_a(int64_t m, int64_t n, int64_t k, int64_t csb);

// gemm (kernels.h) with op(A) packed by `a`; only for shapes where gemm_packs_a. The same
// operations in the same order: the same bits as gemm on the laid-out A.
template <typename T>
void gemm_implicit_a(T* C, int64_t ldc, const APacker<T>& a, const T* B, int64_t rsb, int64_t csb, int64_t m,
                     int64_t n, int64_t k, T beta, const T* bias, const GemmFusion<T>& fused = GemmFusion<T>());

}  // namespace brisknet::detail
