// GEMM: the cache-blocking loops around one register-tiled micro-kernel (BLIS style; the
// micro-kernel chosen in gemm_dispatch.cpp, the packing in gemm_packing.h), and the fused epilogues. Threads split the output (M and N) only,
// never the k reduction, so results are bit-identical for any thread count.
#include <omp.h>
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>
#include "brisknet/kernels.h"
#include "gemm_bf16.h"
#include "gemm_dispatch.h"
#include "gemm_epilogue.h"
#include "gemm_implicit_a.h"
#include "gemm_packing.h"
#include "parallel.h"


namespace brisknet {
namespace {

using detail::finish_tile;
using detail::prefetch_tile_fusion;
using detail::relu_in_micro_kernel;
using detail::GemmKernels;
using detail::MicroKernel;
using detail::pack_a_strip;
using detail::pack_b_strip;
using detail::scratch;

// finish_tile, then the caller's tile_done, on a finished block of C (the paths without tiles).
template <typename T>
void finish_block(const GemmFusion<T>& f, T* C, int64_t ldc, int64_t i0, int64_t j0, int64_t rows,
                  int64_t cols) {
  finish_tile(f, C, ldc, i0, j0, rows, cols);
  if (f.tile_done) f.tile_done(f.context, C, ldc, i0, j0, rows, cols);
}

constexpr int64_t kDirectBRowStrips = 8;  // at most this many row strips of A read B in place

template <typename T>
void scale_and_bias(T* C, int64_t ldc, int64_t m, int64_t n, T beta, const T* bias) {
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      T r = beta != T(0) ? beta * C[i * ldc + j] : T(0);
      C[i * ldc + j] = bias ? r + bias[j] : r;
    }
}

// The shapes gemm computes without packing A: a 10-class layer (narrow_rows) and matrix-vector
// shapes (few_rows), both for a row-major B.
template <typename T>
bool narrow_shape(const GemmKernels<T>& ks, int64_t m, int64_t n, int64_t csb) {
  return csb == 1 && n <= ks.narrow_max && m > detail::kFewRowsMax;
}
inline bool few_rows_shape(int64_t m, int64_t csb) { return m <= detail::kFewRowsMax && csb == 1; }

// How much of k one B panel (panel values, in L3) covers: A is packed again for every panel
// (n / NC times) and C is read and written again for every panel depth of k (k / KK times), so
// with NC = panel / KK the two costs balance near KK = sqrt(panel). All of a larger k in one panel
// made NC a few hundred columns at the weight gradients of batches of thousands and the input
// gradient of a 20,000-wide layer: A packed dozens of times (0.7-0.8x OpenBLAS there).
inline int64_t panel_depth(int64_t panel, int64_t KC) {
  const auto root = int64_t(std::sqrt(double(panel)));
  return std::max(KC, (root + KC / 2) / KC * KC);
}

// The packed path (every shape but those gemm hands to few_rows or narrow_rows). pack_a(Ap, i0,
// rows, p0, kc, MR) packs rows i0..i0 + rows of op(A), k columns p0..p0 + kc, as pack_a_strip.
template <typename T, typename PackA>
void packed_gemm(T* C, int64_t ldc, const PackA& pack_a, const T* B, int64_t rsb, int64_t csb, int64_t m,
                 int64_t n, int64_t k, T beta, const T* bias, const GemmFusion<T>& fused) {
  const GemmKernels<T>& ks = detail::gemm_kernels<T>();
  const MicroKernel<T>& uk = detail::pick_tile(ks, m, n);
  const int MR = uk.mr, NR = uk.nr;
  const int64_t KC = uk.kc, kc_max = std::min(KC, k);
  const int nt = detail::threads_for(2 * m * n * k, detail::kGemmFlopGrain);
  // Loops: jc (a B panel of KK x NC, KK all of k up to panel_depth, packed once, in L3) -> ic (an
  // A block of MC rows) -> pc (k blocks: the A block's kc columns packed, in L2) -> tiles. With
  // the k loop inside, each thread's C block (MC x NC / threads) stays in L2 across the k blocks
  // instead of streaming from memory once per k block. Every element of C still sums its k
  // blocks in order. NC and KK: the B panel no bigger than the kc x nc the cache model sized;
  // MC: the A block and the thread's C block together in the half of L2 the model gave the A
  // block alone.
  const int64_t panel = int64_t(uk.nc) * KC;  // values
  const int64_t depth = std::min(std::max(k, KC), panel_depth(panel, KC));
  const int64_t NC = std::min(n, std::max<int64_t>(NR, panel / depth / NR * NR));
  const int64_t KK = std::max(KC, panel / NC / KC * KC);
  const int64_t c_cols = (NC + nt - 1) / nt;
  const int64_t MC = std::max<int64_t>(MR, uk.mc * KC / (KC + c_cols) / MR * MR);
  const int64_t nstrips_max = (NC + NR - 1) / NR;
  // A few row strips of A (batch 32) use each value of B only a few times: packing B would move
  // it three times (read, write, read) for so little use, so the micro-kernel reads whole strips
  // of a row-major B in place and only a partial last strip is packed (a bias gradient is then
  // summed from B in the same order as packing would).
  const bool b_in_place = csb == 1 && (m + MR - 1) / MR <= kDirectBRowStrips;
  const bool relu = relu_in_micro_kernel(fused);
  T* Bp = scratch<T>(0, size_t(nstrips_max * NR * std::min(KK, k)));
  T* Ap = scratch<T>(1, size_t((std::min(MC, m) + MR - 1) / MR * MR * kc_max));

#pragma omp parallel num_threads(nt)
  {
    detail::ScopedFlushDenormals ftz;
    for (int64_t jc = 0; jc < n; jc += NC)
    for (int64_t kk = 0; kk < k; kk += KK) {
      const int64_t nc = std::min(NC, n - jc), k_end = std::min(k, kk + KK);
      const int64_t nstrips = (nc + NR - 1) / NR;
      // Block pc of the panel starts at Bp + (pc - kk) * nstrips * NR; the same thread packs a
      // strip for every pc (static schedule), so the fused column sums add up in order of k.
      for (int64_t pc = kk; pc < k_end; pc += KC) {
        const int64_t kc = std::min(KC, k - pc);
#pragma omp for schedule(static) nowait
        for (int64_t s = 0; s < nstrips; ++s) {
          const int cols = int(std::min<int64_t>(NR, nc - s * NR));
          T* sums = fused.b_column_sums ? fused.b_column_sums + jc + s * NR : nullptr;
          if (sums && pc == 0) std::fill(sums, sums + cols, T(0));
          if (b_in_place && cols == NR) {
            if (sums) detail::sum_b_rows(sums, B + pc * rsb + jc + s * NR, rsb, NR, kc);
            continue;
          }
          pack_b_strip(Bp + (pc - kk) * nstrips * NR + s * NR * kc, B + pc * rsb + (jc + s * NR) * csb, rsb, csb,
                       cols, kc, NR, sums);
        }
      }
#pragma omp barrier

      for (int64_t ic = 0; ic < m; ic += MC) {
        const int64_t mc = std::min(MC, m - ic);
        const int64_t mstrips = (mc + MR - 1) / MR;
        for (int64_t pc = kk; pc < k_end; pc += KC) {
          const int64_t kc = std::min(KC, k - pc);
          const T beta_p = pc == 0 ? beta : T(1);
          const bool last = pc + kc == k;
          const T* bias_p = (bias && last) ? bias + jc : nullptr;  // bias once, at the end
          const T* Bpc = Bp + (pc - kk) * nstrips * NR;
#pragma omp for schedule(static)
          for (int64_t s = 0; s < mstrips; ++s)
            pack_a(Ap + s * MR * kc, ic + s * MR, int(std::min<int64_t>(MR, mc - s * MR)), pc, kc, MR);

          auto tile = [&](int64_t is, int64_t js) {
            const int rows = int(std::min<int64_t>(MR, mc - is * MR));
            const int cols = int(std::min<int64_t>(NR, nc - js * NR));
            if (last) prefetch_tile_fusion(fused, ldc, ic + is * MR, jc + js * NR, rows, cols);
            const bool in_place = b_in_place && cols == NR;
            const T* b = in_place ? B + pc * rsb + jc + js * NR : Bpc + js * NR * kc;
            const int64_t at = (ic + is * MR) * ldc + jc + js * NR;
            uk.run(kc, Ap + is * MR * kc, b, in_place ? rsb : NR, C + at, ldc, rows, cols, beta_p,
                   bias_p ? bias_p + js * NR : nullptr, last && relu ? fused.activation_out + at : nullptr);
            if (last) finish_tile(fused, C, ldc, ic + is * MR, jc + js * NR, rows, cols, relu);
          };
          detail::for_each_tile(fused, C, ldc, ic, jc, mc, nc, MR, mstrips, nstrips, last, tile);
        }
      }
      // (the tile loop's implicit barrier ends every ic block, so the next panel may be packed)
    }
  }
}

}  // namespace

template <typename T>
void gemm(T* C, int64_t ldc, const T* A, int64_t rsa, int64_t csa, const T* B, int64_t rsb,
          int64_t csb, int64_t m, int64_t n, int64_t k, T beta, const T* bias,
          const GemmFusion<T>& fused) {
  if (!is_elementwise(fused.activation))
    throw std::invalid_argument("gemm: only element-wise activations can be fused");
  if (n == 0) return;
  if constexpr (std::is_same_v<T, float>)
    if (fused.bf16 && m > 0 && k > 0) return detail::gemm_bf16(C, ldc, A, rsa, csa, B, rsb, csb, m, n, k, beta, bias, fused);
  const GemmKernels<T>& ks = detail::gemm_kernels<T>();
  const bool narrow = narrow_shape(ks, m, n, csb);
  if (m == 0 || k == 0 || few_rows_shape(m, csb) || narrow) {
    // No packed B on these paths: the bias gradient is a separate pass.
    if (fused.b_column_sums) {
      detail::ScopedFlushDenormals ftz;  // the same sums as column_sums and the packed path
      for (int64_t j = 0; j < n; ++j) {
        T sum = T(0);
        for (int64_t p = 0; p < k; ++p) sum += B[p * rsb + j * csb];
        fused.b_column_sums[j] = sum;
      }
    }
    if (m == 0) return;
  }
  if (k == 0) {
    scale_and_bias(C, ldc, m, n, beta, bias);
    return finish_block(fused, C, ldc, 0, 0, m, n);
  }

  if (narrow) {  // a 10-class layer: blocks of rows per thread, A and B read in place
    constexpr int64_t kRowBlock = 64;  // a multiple of narrow_rows' 16 rows
    const int64_t blocks = (m + kRowBlock - 1) / kRowBlock;
    const int nt = int(std::min<int64_t>(blocks, detail::threads_for(2 * m * n * k, detail::kGemmFlopGrain / 4)));
    const int64_t kc = ks.tiles[0].kc;
#pragma omp parallel for num_threads(nt) schedule(static)
    for (int64_t b = 0; b < blocks; ++b) {
      detail::ScopedFlushDenormals ftz;
      const int64_t i0 = b * kRowBlock, rows = std::min(kRowBlock, m - i0);
      ks.narrow_rows(C, ldc, A, rsa, csa, B, rsb, i0, rows, n, k, beta, bias, kc);
      finish_block(fused, C, ldc, i0, 0, rows, n);
    }
    return;
  }
  if (few_rows_shape(m, csb)) {  // matrix-vector shapes: stream B, no packing
    // One contiguous column range per thread (a multiple of 16 columns): each thread streams
    // long runs of every row of B, which the prefetcher follows.
    const int nt = int(std::min<int64_t>((n + 15) / 16, detail::threads_for(2 * m * n * k, detail::kGemmFlopGrain / 4)));
    const int64_t per = ((n + nt - 1) / nt + 15) / 16 * 16;
#pragma omp parallel for num_threads(nt) schedule(static)
    for (int t = 0; t < nt; ++t) {
      detail::ScopedFlushDenormals ftz;
      const int64_t j0 = std::min(n, t * per), w = std::min(per, n - j0);
      if (w > 0) {
        ks.few_rows(C + j0, ldc, A, rsa, csa, B + j0, rsb, m, w, k, beta, bias ? bias + j0 : nullptr, ks.tiles[0].kc);
        finish_block(fused, C, ldc, 0, j0, m, w);
      }
    }
    return;
  }
  packed_gemm(C, ldc, [&](T* Ap, int64_t i0, int rows, int64_t p0, int64_t kc, int MR) {
    pack_a_strip(Ap, A + i0 * rsa + p0 * csa, rsa, csa, rows, kc, MR);
  }, B, rsb, csb, m, n, k, beta, bias, fused);
}

namespace detail {

template <typename T>
bool gemm_packs_a(int64_t m, int64_t n, int64_t k, int64_t csb) {
  return m > 0 && n > 0 && k > 0 && !narrow_shape(gemm_kernels<T>(), m, n, csb) && !few_rows_shape(m, csb);
}

template <typename T>
void gemm_implicit_a(T* C, int64_t ldc, const APacker<T>& a, const T* B, int64_t rsb, int64_t csb, int64_t m,
                     int64_t n, int64_t k, T beta, const T* bias, const GemmFusion<T>& fused) {
  if (!is_elementwise(fused.activation))
    throw std::invalid_argument("gemm: only element-wise activations can be fused");
  if constexpr (std::is_same_v<T, float>)
    if (fused.bf16 && m > 0 && n > 0 && k > 0) return gemm_bf16_implicit_a(C, ldc, a, B, rsb, csb, m, n, k, beta, bias, fused);
  if (!gemm_packs_a<T>(m, n, k, csb)) throw std::logic_error("gemm_implicit_a: a shape gemm reads A in place for");
  packed_gemm(C, ldc, [&](T* Ap, int64_t i0, int rows, int64_t p0, int64_t kc, int MR) {
    a.pack(a.context, Ap, i0, rows, p0, kc, MR);
  }, B, rsb, csb, m, n, k, beta, bias, fused);
}

}  // namespace detail

template void gemm<float>(float*, int64_t, const float*, int64_t, int64_t, const float*, int64_t,
                          int64_t, int64_t, int64_t, int64_t, float, const float*,
                          const GemmFusion<float>&);
template void gemm<double>(double*, int64_t, const double*, int64_t, int64_t, const double*,
                           int64_t, int64_t, int64_t, int64_t, int64_t, double, const double*,
                           const GemmFusion<double>&);

namespace detail {  // (instances)
template bool gemm_packs_a<float>(int64_t, int64_t, int64_t, int64_t);
template bool gemm_packs_a<double>(int64_t, int64_t, int64_t, int64_t);
template void gemm_implicit_a<float>(float*, int64_t, const APacker<float>&, const float*, int64_t, int64_t, int64_t,
                                     int64_t, int64_t, float, const float*, const GemmFusion<float>&);
template void gemm_implicit_a<double>(double*, int64_t, const APacker<double>&, const double*, int64_t, int64_t,
                                      int64_t, int64_t, int64_t, double, const double*, const GemmFusion<double>&);
}  // namespace detail

}  // namespace brisknet
