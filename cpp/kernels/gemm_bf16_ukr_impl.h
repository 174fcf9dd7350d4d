// The emulated bf16 micro-kernel (gemm_bf16_ukr.h): bfloat16 pairs widened to float32 by a shift
// or a mask, then multiplied and added in VDPBF16PS's order. Written once with GCC/Clang vector
// extensions and compiled per ISA (the gemm_ukr_*.cpp files), like gemm_ukr_impl.h.
#pragma once
#include <cstring>
#include "gemm_bf16_ukr.h"

namespace {

// (a vector_size with a template argument on a non-template element type is dropped by GCC 12)
template <typename E, int VB>
struct Vector {
  typedef E type __attribute__((vector_size(VB)));
};

// The epilogue every bf16 kernel shares: acc holds the chain's result for the tile (row stride
// lda; acc == C in place); C[0:mr, 0:nr] := acc (+ bias), and its ReLU into relu when asked.
inline void store_bf16_tile(const float* acc, int64_t lda, float* C, int64_t ldc, int mr, int nr, const float* bias,
                            float* relu) {
  for (int i = 0; i < mr; ++i) {
    float* c = C + i * ldc;
    const float* a = acc + i * lda;
    if (bias) {
      for (int j = 0; j < nr; ++j) c[j] = a[j] + bias[j];
    } else {
      for (int j = 0; j < nr; ++j) c[j] = a[j];
    }
    if (relu)
      for (int j = 0; j < nr; ++j) relu[i * ldc + j] = c[j] <= 0.0f ? 0.0f : c[j];
  }
}

// beta * C[0:mr, 0:nr] into tile (row stride NR), zeros elsewhere: the chain's start.
template <int MR, int NR>
inline void load_bf16_tile(float* tile, const float* C, int64_t ldc, int mr, int nr, float beta) {
  for (int i = 0; i < MR; ++i)
    for (int j = 0; j < NR; ++j)
      tile[i * NR + j] = (beta != 0.0f && i < mr && j < nr) ? (beta == 1.0f ? C[i * ldc + j] : beta * C[i * ldc + j]) : 0.0f;
}

template <int VB, int MR, int NV>
void bf16_emulated_kernel(int64_t kc, const uint16_t* Ap, int64_t lda, const uint16_t* Bp, float* C, int64_t ldc, int mr, int nr,
                          float beta, const float* bias, float* relu) {
  (void)lda;  // (pairs)
  using V = typename Vector<float, VB>::type;
  using U = typename Vector<uint32_t, VB>::type;
  constexpr int W = VB / 4, NR = NV * W;
  alignas(64) float tile[MR * NR];
  load_bf16_tile<MR, NR>(tile, C, ldc, mr, nr, beta);
  V acc[MR][NV];
#pragma GCC unroll 32
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) std::memcpy(&acc[i][v], tile + i * NR + v * W, sizeof(V));

  const U high = U{} + 0xffff0000u;
  for (int64_t q = 0; q < kc / 2; ++q) {
    V b_odd[NV], b_even[NV];
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) {
      U w;
      std::memcpy(&w, Bp + 2 * (q * NR + v * W), sizeof(U));
      b_odd[v] = (V)(w & high);
      b_even[v] = (V)(w << 16);
    }
#pragma GCC unroll 32
    for (int i = 0; i < MR; ++i) {
      uint32_t w;
      std::memcpy(&w, Ap + 2 * (q * MR + i), sizeof(w));
      const uint32_t odd_bits = w & 0xffff0000u, even_bits = w << 16;
      float a_odd, a_even;
      std::memcpy(&a_odd, &odd_bits, sizeof(float));
      std::memcpy(&a_even, &even_bits, sizeof(float));
#pragma GCC unroll 8
      for (int v = 0; v < NV; ++v) {
        acc[i][v] += a_odd * b_odd[v];
        acc[i][v] += a_even * b_even[v];
      }
    }
  }
#pragma GCC unroll 32
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) std::memcpy(tile + i * NR + v * W, &acc[i][v], sizeof(V));
  store_bf16_tile(tile, NR, C, ldc, mr, nr, bias, relu);
}

template <int VB, int MR, int NV>
brisknet::detail::Bf16Kernel bf16_emulated() {
  return {"emulated", &bf16_emulated_kernel<VB, MR, NV>, MR, NV * VB / 4, 2, brisknet::detail::Bf16ALayout::pairs,
          nullptr, nullptr, 0, 0, 0};
}

}  // namespace
