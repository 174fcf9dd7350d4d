// The work GEMM drivers fuse into a finished tile of C (gemm.cpp, gemm_bf16.cpp): the activation
// (forward) or its gradient (backward), while the tile is in L1.
#pragma once
#include <algorithm>
#include <cstdint>
#include "brisknet/kernels.h"
#include "activation_elementwise.h"

namespace brisknet::detail {

// Whether the micro-kernel writes the fused activation itself (ReLU, forward).
template <typename T>
inline bool relu_in_micro_kernel(const GemmFusion<T>& f) {
  return f.activation_out && f.activation == Activation::relu && !f.grad_x && !f.grad_y;
}

// The fused activation (forward) or activation gradient (backward) on rows x cols of C at
// (i0, j0), while that tile is still in L1 (nothing when the micro-kernel wrote the ReLU).
template <typename T>
inline void finish_tile(const GemmFusion<T>& f, T* C, int64_t ldc, int64_t i0, int64_t j0, int64_t rows,
                 int64_t cols, bool relu_done = false) {
  const bool grad = f.grad_x || f.grad_y;
  if ((!f.activation_out && !grad) || relu_done) return;
  if (!grad) {
    if (f.activation == Activation::linear) {
      for (int64_t i = i0; i < i0 + rows; ++i)
        std::copy_n(C + i * ldc + j0, cols, f.activation_out + i * ldc + j0);
    } else {
      detail::elementwise_activation_rows(f.activation_out + i0 * ldc + j0, ldc, C + i0 * ldc + j0, ldc, rows, cols,
                                          f.activation, f.alpha);
    }
    return;
  }
  for (int64_t i = i0; i < i0 + rows; ++i) {
    T* c = C + i * ldc + j0;
    const T* x = f.grad_x ? f.grad_x + i * ldc + j0 : nullptr;
    const T* y = f.grad_y ? f.grad_y + i * ldc + j0 : nullptr;
    detail::elementwise_activation_grad(c, c, x, y, cols, f.activation, f.alpha);
  }
}

// Asks for the lines finish_tile will read or write for this tile (the activation's input or
// output, or where the activation goes), so that they arrive while the micro-kernel runs: they
// were written long before (the forward pass) and are usually far from L1.
template <typename T>
inline void prefetch_tile_fusion(const GemmFusion<T>& f, int64_t ldc, int64_t i0, int64_t j0, int64_t rows, int64_t cols) {
  const T* streams[3] = {f.grad_x, f.grad_y, f.activation_out};
  for (const T* base : streams) {
    if (!base) continue;
    for (int64_t i = i0; i < i0 + rows; ++i)
      for (int64_t j = 0; j < cols; j += 64 / int64_t(sizeof(T))) __builtin_prefetch(base + i * ldc + j0 + j, 1);
  }
}

// The tiles of one block of C (mstrips x nstrips: row strips of MR from row i0, column strips
// from column j0, nc columns), on the threads of the enclosing parallel region (an orphaned omp
// for, with its barrier): tile(is, js) for each. With the caller's tile_done, one thread per row
// panel (MR rows x nc columns), handed to tile_done once finished when `last` (the last k block):
// the caller's update then walks whole rows, which the prefetcher streams.
template <typename T, typename Tile>
inline void for_each_tile(const GemmFusion<T>& f, T* C, int64_t ldc, int64_t i0, int64_t j0, int64_t mc, int64_t nc,
                          int MR, int64_t mstrips, int64_t nstrips, bool last, const Tile& tile) {
  if (!f.tile_done) {
#pragma omp for collapse(2) schedule(static)
    for (int64_t js = 0; js < nstrips; ++js)
      for (int64_t is = 0; is < mstrips; ++is) tile(is, js);
    return;
  }
#pragma omp for schedule(static)
  for (int64_t is = 0; is < mstrips; ++is) {
    for (int64_t js = 0; js < nstrips; ++js) tile(is, js);
    if (last) f.tile_done(f.context, C, ldc, i0 + is * MR, j0, std::min<int64_t>(MR, mc - is * MR), nc);
  }
}

}  // namespace brisknet::detail
