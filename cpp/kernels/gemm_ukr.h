// The GEMM micro-kernel interface shared by gemm.cpp and the per-ISA files.
#pragma once
#include <cstdint>

namespace brisknet::detail {

// Computes one MR x NR tile of C from a packed A panel and a B panel:
//   C[0:mr, 0:nr] := beta * C + Ap(MR x kc) @ Bp(kc x NR) (+ bias[0:nr] when bias != nullptr)
// Ap holds kc columns of MR values (Ap[p*MR + i]); Bp holds kc rows of NR values, row p at
// Bp + p*ldb: ldb = NR for a packed strip, or B's own row stride when B is read in place (then
// all NR columns must exist). mr <= MR and nr <= NR handle edge tiles; C is never read when
// beta == 0. relu (when not null): ReLU of the stored tile there too, leading dimension ldc
// (brisknet/elementwise_math.h's relu: v <= 0 ? 0 : v, the same bits), so that the common fused
// activation costs a select in registers instead of a pass over the tile.
template <typename T>
using MicroKernelFn = void (*)(int64_t kc, const T* Ap, const T* Bp, int64_t ldb, T* C, int64_t ldc,
                               int mr, int nr, T beta, const T* bias, T* relu);

template <typename T>
struct MicroKernel {
  MicroKernelFn<T> run;
  int mr, nr;        // register tile
  float rate;        // its speed relative to the ISA's first tile, measured (see the ISA's file)
  int kc, mc, nc;    // cache blocks (cache_model.h); kc is a pure function of the CPU, so results
                     // never depend on threads
};

// C[0:m, 0:n] := beta * C + A(m x k) @ B(k x n) (+ bias) for a few rows of A and a row-major B
// read in place, row by row (no packing): the matrix-vector shapes of batch-1 inference. Bit-
// identical to the packed path with blocks of kc values of k.
constexpr int64_t kFewRowsMax = 4;  // A with at most this many rows takes few_rows

template <typename T>
using FewRowsFn = void (*)(T* C, int64_t ldc, const T* A, int64_t rsa, int64_t csa, const T* B,
                           int64_t rsb, int64_t m, int64_t n, int64_t k, T beta, const T* bias, int64_t kc);

// An ISA's register tiles. Every tile computes each element of C with the same operations (a
// sum over each kc block of k, in order), so gemm may pick any tile per shape: the one that
// wastes least on padded rows and columns for its speed (a narrow tile for a 10-class layer).
constexpr int kMaxTiles = 3;
// C rows i0..i0+rows, n <= narrow_max columns, from A and a row-major B read in place (no
// packing), bit-identical to the packed path with blocks of kc values of k.
template <typename T>
using NarrowRowsFn = void (*)(T* C, int64_t ldc, const T* A, int64_t rsa, int64_t csa, const T* B, int64_t rsb,
                              int64_t i0, int64_t rows, int64_t n, int64_t k, T beta, const T* bias, int64_t kc);

template <typename T>
struct GemmKernels {
  MicroKernel<T> tiles[kMaxTiles];  // tiles[0] sizes the cache blocks
  int count;
  FewRowsFn<T> few_rows;
  NarrowRowsFn<T> narrow_rows;
  int narrow_max;  // the widest output narrow_rows takes (its vectors per row)
};

// One getter per ISA file; each is compiled with its own flags.
template <typename T> GemmKernels<T> gemm_kernels_generic();
template <typename T> GemmKernels<T> gemm_kernels_avx2();
template <typename T> GemmKernels<T> gemm_kernels_avx512();

}  // namespace brisknet::detail
