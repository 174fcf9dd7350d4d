// The micro-kernel body, written once with GCC/Clang vector extensions and compiled once per ISA
// (gemm_ukr_generic.cpp, gemm_ukr_avx2.cpp, gemm_ukr_avx512.cpp), each with its own flags.
// Everything here has internal linkage (anonymous namespace) and calls no inline library code, so
// an AVX-512 instantiation can never be picked by the linker for use on another path.
#pragma once
#include <cstring>
#include "gemm_ukr.h"

namespace {

// VB: vector width in bytes; MR rows; NV vectors per row (NR = NV * VB / sizeof(T)).
template <typename T, int VB, int MR, int NV>
void micro_kernel(int64_t kc, const T* __restrict Ap, const T* __restrict Bp, T* C, int64_t ldc,
                  int mr, int nr, T beta, const T* bias) {
  typedef T V __attribute__((vector_size(VB)));
  constexpr int W = VB / int(sizeof(T));
  constexpr int NR = NV * W;

  V acc[MR][NV];
#pragma GCC unroll 32
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) acc[i][v] = V{} ;

  for (int64_t p = 0; p < kc; ++p) {
    V b[NV];
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) __builtin_memcpy(&b[v], Bp + p * NR + v * W, sizeof(V));
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
    }
  }
}

template <typename T, int VB, int MR, int NV>
brisknet::detail::MicroKernel<T> make_micro_kernel(int kc, int mc, int nc) {
  return {&micro_kernel<T, VB, MR, NV>, MR, NV * VB / int(sizeof(T)), kc, mc, nc};
}

}  // namespace
