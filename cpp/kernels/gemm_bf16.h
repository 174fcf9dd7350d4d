// The bf16 GEMM (gemm_bf16.cpp): float32 operands rounded to bfloat16 as they are packed,
// float32 sums. gemm<float>() hands a product here when its GemmFusion asks for bf16.
#pragma once
#include <cstdint>
#include "brisknet/kernels.h"
#include "gemm_bf16_ukr.h"
#include "gemm_implicit_a.h"
#include "gemm_panels.h"

namespace brisknet::detail {

void gemm_bf16(float* C, int64_t ldc, const float* A, int64_t rsa, int64_t csa, const float* B, int64_t rsb,
               int64_t csb, int64_t m, int64_t n, int64_t k, float beta, const float* bias,
               const GemmFusion<float>& fused);

// The same with op(A) packed by `a` from wherever its values live (gemm_implicit_a.h), any shape.
void gemm_bf16_implicit_a(float* C, int64_t ldc, const APacker<float>& a, const float* B, int64_t rsb, int64_t csb,
                          int64_t m, int64_t n, int64_t k, float beta, const float* bias,
                          const GemmFusion<float>& fused);

// Small products by one thread on operands packed once and used many times (attention, as
// gemm_panels.h for float32), in the bf16 kernel in use. The whole of k is one block, padded to
// the kernel's k_align with zeros.
struct PackedBf16 {
  const uint16_t* data;
  int64_t k, kp, rows_or_cols, strips, width;  // width: the kernel's MR (A) or NR (B)
  const uint16_t* strip(int64_t s) const { return data + s * width * kp; }
};
const Bf16Kernel& bf16_kernel();
int64_t packed_bf16_size(const Bf16Kernel& uk, bool a_side, int64_t rows_or_cols, int64_t k);
// op(A) (m x k, A[i, p] at A + i * rsa + p * csa) or op(B) (k x n, B[p, j] at B + p * rsb + j * csb)
PackedBf16 pack_bf16_a(const Bf16Kernel& uk, uint16_t* buf, const float* A, int64_t rsa, int64_t csa, int64_t m,
                       int64_t k);
PackedBf16 pack_bf16_b(const Bf16Kernel& uk, uint16_t* buf, const float* B, int64_t rsb, int64_t csb, int64_t k,
                       int64_t n);
// C (m x n, row stride ldc) := beta C + A B over the first k values of both (k <= A.k, B.k). The
// triangle (gemm_panels.h) skips C's unwanted tiles; the k ranges of zeros it names are trimmed to
// the kernel's k_align (the rest of them multiplied: zeros).
void multiply_packed_bf16(const Bf16Kernel& uk, float* C, int64_t ldc, const PackedBf16& A, const PackedBf16& B,
                          int64_t m, int64_t n, int64_t k, float beta, Triangle zero);

}  // namespace brisknet::detail
