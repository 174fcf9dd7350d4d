// The GEMM micro-kernel interface shared by gemm.cpp and the per-ISA files.
#pragma once
#include <cstdint>

namespace brisknet::detail {

// Computes one MR x NR tile of C from packed panels:
//   C[0:mr, 0:nr] := beta * C + Ap(MR x kc) @ Bp(kc x NR) (+ bias[0:nr] when bias != nullptr)
// Ap holds kc columns of MR values (Ap[p*MR + i]); Bp holds kc rows of NR values (Bp[p*NR + j]).
// mr <= MR and nr <= NR handle edge tiles; C is never read when beta == 0.
template <typename T>
using MicroKernelFn = void (*)(int64_t kc, const T* Ap, const T* Bp, T* C, int64_t ldc, int mr,
                               int nr, T beta, const T* bias);

template <typename T>
struct MicroKernel {
  MicroKernelFn<T> run;
  int mr, nr;        // register tile
  int kc, mc, nc;    // cache blocks: kc fixed per kernel, so results never depend on threads
};

// One getter per ISA file; each is compiled with its own flags.
template <typename T> MicroKernel<T> micro_kernel_generic();
template <typename T> MicroKernel<T> micro_kernel_avx2();
template <typename T> MicroKernel<T> micro_kernel_avx512();

}  // namespace brisknet::detail
