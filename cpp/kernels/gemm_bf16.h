// The bf16 GEMM (gemm_bf16.cpp): float32 operands rounded to bfloat16 as they are packed,
// float32 sums. gemm<float>() hands a product here when its GemmFusion asks for bf16.
#pragma once
#include <cstdint>
#include "brisknet/kernels.h"
#include "gemm_implicit_a.h"

namespace brisknet::detail {

void gemm_bf16(float* C, int64_t ldc, const float* A, int64_t rsa, int64_t csa, const float* B, int64_t rsb,
               int64_t csb, int64_t m, int64_t n, int64_t k, float beta, const float* bias,
               const GemmFusion<float>& fused);

// The same with op(A) packed by `a` from wherever its values live (gemm_implicit_a.h), any shape.
void gemm_bf16_implicit_a(float* C, int64_t ldc, const APacker<float>& a, const float* B, int64_t rsb, int64_t csb,
                          int64_t m, int64_t n, int64_t k, float beta, const float* bias,
                          const GemmFusion<float>& fused);

}  // namespace brisknet::detail
