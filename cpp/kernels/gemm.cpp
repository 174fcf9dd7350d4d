// GEMM: packing and cache-blocking loops around one register-tiled micro-kernel (BLIS style),
// with the micro-kernel chosen at run time by CPUID. Threads split the output (M and N) only,
// never the k reduction, so results are bit-identical for any thread count.
#include <omp.h>
#include <algorithm>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>
#include "brisknet/kernels.h"
#include "activation_elementwise.h"
#include "cache_model.h"
#include "gemm_ukr.h"
#include "parallel.h"

namespace brisknet {
namespace {

using detail::GemmKernels;
using detail::MicroKernel;

// The widest micro-kernel this CPU runs, narrowed by BRISKNET_ISA=avx512|avx2|generic.
std::string select_isa() {
  std::string best = "generic";
#if defined(BRISKNET_X86)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) best = "avx2";
  if (best == "avx2" && __builtin_cpu_supports("avx512f")) best = "avx512";
#endif
  const char* env = std::getenv("BRISKNET_ISA");
  if (!env || !*env) return best;
  const std::string want = env;
  const std::vector<std::string> order = {"generic", "avx2", "avx512"};
  const auto w = std::find(order.begin(), order.end(), want);
  if (w == order.end()) return best;  // unknown value: ignore it (bindings warn about it)
  const auto b = std::find(order.begin(), order.end(), best);
  return w < b ? want : best;  // never wider than the CPU supports
}

const std::string& isa() {
  static const std::string chosen = select_isa();
  return chosen;
}

template <typename T>
GemmKernels<T> kernels_for_isa() {
#if defined(BRISKNET_X86)
  if (isa() == "avx512") return detail::gemm_kernels_avx512<T>();
  if (isa() == "avx2") return detail::gemm_kernels_avx2<T>();
#endif
  return detail::gemm_kernels_generic<T>();
}

// The ISA's tiles with block sizes from this CPU's caches. Every tile (and the few-rows path)
// shares tiles[0]'s kc: a row's sums then never depend on the shape that computed them.
template <typename T>
const GemmKernels<T>& kernels() {
  static const GemmKernels<T> k = [] {
    GemmKernels<T> ks = kernels_for_isa<T>();
    const detail::BlockSizes b = detail::block_sizes(detail::cache_hierarchy(), ks.tiles[0].mr, ks.tiles[0].nr, sizeof(T));
    for (int t = 0; t < ks.count; ++t) {
      MicroKernel<T>& uk = ks.tiles[t];
      uk.kc = b.kc;
      uk.mc = std::max(uk.mr, b.mc / uk.mr * uk.mr);
      uk.nc = std::max(uk.nr, b.nc / uk.nr * uk.nr);
    }
    return ks;
  }();
  return k;
}

// The tile with the least time per padded tile area: ceil(m / MR) MR * ceil(n / NR) NR / rate.
template <typename T>
const MicroKernel<T>& pick_tile(const GemmKernels<T>& ks, int64_t m, int64_t n) {
  int best = 0;
  double best_cost = 0;
  for (int t = 0; t < ks.count; ++t) {
    const MicroKernel<T>& uk = ks.tiles[t];
    const double cost = double((m + uk.mr - 1) / uk.mr * uk.mr) * double((n + uk.nr - 1) / uk.nr * uk.nr) / uk.rate;
    if (t == 0 || cost < best_cost) best = t, best_cost = cost;
  }
  return ks.tiles[best];
}

// Four vectors contiguous along k (rows i0..i0+3 of a row-major A, or columns of a transposed B:
// `stride` apart) into a panel that is contiguous along the other index (dst[p*ld + i]), a 4 x 4
// block at a time transposed in 16-byte vectors: the scalar transpose cost 7 % of a batch-1024
// predict.
inline void pack_rows4_f32(float* Ap, const float* A, int64_t stride, int i0, int64_t kc, int MR) {
  typedef float V4 __attribute__((vector_size(16)));
  const float* a[4] = {A + i0 * stride, A + (i0 + 1) * stride, A + (i0 + 2) * stride, A + (i0 + 3) * stride};
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

// Ap: ceil(mc/MR) strips, each kc columns of MR values, rows past mc zero-filled.
template <typename T>
void pack_a_strip(T* Ap, const T* A, int64_t rsa, int64_t csa, int rows, int64_t kc, int MR) {
  int i0 = 0;
  if constexpr (std::is_same_v<T, float>)
    if (csa == 1)
      for (; i0 + 4 <= rows; i0 += 4) pack_rows4_f32(Ap, A, rsa, i0, kc, MR);
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
void pack_b_strip(T* Bp, const T* B, int64_t rsb, int64_t csb, int cols, int64_t kc, int NR, T* sums) {
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

// Packing buffers live per calling thread and only grow: no allocation in steady state.
template <typename T>
T* scratch(int which, size_t count) {
  thread_local std::vector<T> buffers[2];
  std::vector<T>& b = buffers[which];
  if (b.size() < count) {
    b.resize(count);
    count_workspace_allocation();
  }
  return b.data();
}

// The fused activation (forward) or activation gradient (backward) on rows x cols of C at
// (i0, j0), while that tile is still in L1.
template <typename T>
void finish_tile(const GemmFusion<T>& f, T* C, int64_t ldc, int64_t i0, int64_t j0, int64_t rows,
                 int64_t cols) {
  const bool grad = f.grad_x || f.grad_y;
  if (!f.activation_out && !grad) return;
  for (int64_t i = i0; i < i0 + rows; ++i) {
    T* c = C + i * ldc + j0;
    if (!grad) {
      detail::elementwise_activation(f.activation_out + i * ldc + j0, c, cols, f.activation, f.alpha);
      continue;
    }
    const T* x = f.grad_x ? f.grad_x + i * ldc + j0 : nullptr;
    const T* y = f.grad_y ? f.grad_y + i * ldc + j0 : nullptr;
    detail::elementwise_activation_grad(c, c, x, y, cols, f.activation, f.alpha);
  }
}

// Asks for the lines finish_tile will read or write for this tile (the activation's input or
// output, or where the activation goes), so that they arrive while the micro-kernel runs: they
// were written long before (the forward pass) and are usually far from L1.
template <typename T>
void prefetch_tile_fusion(const GemmFusion<T>& f, int64_t ldc, int64_t i0, int64_t j0, int64_t rows, int64_t cols) {
  const T* streams[3] = {f.grad_x, f.grad_y, f.activation_out};
  for (const T* base : streams) {
    if (!base) continue;
    for (int64_t i = i0; i < i0 + rows; ++i)
      for (int64_t j = 0; j < cols; j += 64 / int64_t(sizeof(T))) __builtin_prefetch(base + i * ldc + j0 + j, 1);
  }
}

// finish_tile, then the caller's tile_done, on a finished block of C (the paths without tiles).
template <typename T>
void finish_block(const GemmFusion<T>& f, T* C, int64_t ldc, int64_t i0, int64_t j0, int64_t rows,
                  int64_t cols) {
  finish_tile(f, C, ldc, i0, j0, rows, cols);
  if (f.tile_done) f.tile_done(f.context, C, ldc, i0, j0, rows, cols);
}

constexpr int64_t kGemmFlopGrain = int64_t(1) << 21;  // per thread
constexpr int64_t kDirectBRowStrips = 8;  // at most this many row strips of A read B in place

template <typename T>
void scale_and_bias(T* C, int64_t ldc, int64_t m, int64_t n, T beta, const T* bias) {
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      T r = beta != T(0) ? beta * C[i * ldc + j] : T(0);
      C[i * ldc + j] = bias ? r + bias[j] : r;
    }
}

}  // namespace

std::string gemm_isa() { return isa(); }

GemmConfig gemm_config() {
  const GemmKernels<float>& ks = kernels<float>();
  const MicroKernel<float>& uk = ks.tiles[0];
  const detail::CacheHierarchy& c = detail::cache_hierarchy();
  GemmConfig g{isa(), c.source, detail::block_sizes(c, uk.mr, uk.nr, sizeof(float)).why, {}, uk.kc, uk.mc, uk.nc,
               c.l1d.bytes, c.l2.bytes, c.l3.bytes, c.l1d.ways, c.l2.ways, c.l3.ways, c.l2.shared_by, c.l3.shared_by};
  for (int t = 0; t < ks.count; ++t) g.tiles.push_back({ks.tiles[t].mr, ks.tiles[t].nr, ks.tiles[t].rate});
  return g;
}

double gemm_peak_gflops(double seconds) {
  const MicroKernel<float>& uk = kernels<float>().tiles[0];
  constexpr int64_t kc = 256, kCalls = 64;  // panels of 256: a few KB, in L1
  const int nt = detail::usable_threads();
  double flops = 0;
  const double start = omp_get_wtime();
#pragma omp parallel num_threads(nt) reduction(+ : flops)
  {
    detail::ScopedFlushDenormals ftz;
    std::vector<float> a(size_t(uk.mr) * kc, 0.5f), b(size_t(uk.nr) * kc, 0.25f), c(size_t(uk.mr) * uk.nr);
    do {
      for (int64_t i = 0; i < kCalls; ++i)
        uk.run(kc, a.data(), b.data(), uk.nr, c.data(), uk.nr, uk.mr, uk.nr, 0.0f, nullptr);
      flops += 2.0 * uk.mr * uk.nr * kc * kCalls;
    } while (omp_get_wtime() - start < seconds);
  }
  return flops / (omp_get_wtime() - start) / 1e9;
}

template <typename T>
void gemm(T* C, int64_t ldc, const T* A, int64_t rsa, int64_t csa, const T* B, int64_t rsb,
          int64_t csb, int64_t m, int64_t n, int64_t k, T beta, const T* bias,
          const GemmFusion<T>& fused) {
  if (!is_elementwise(fused.activation))
    throw std::invalid_argument("gemm: only element-wise activations can be fused");
  if (n == 0) return;
  const GemmKernels<T>& ks = kernels<T>();
  const bool narrow = csb == 1 && n <= ks.narrow_max && m > detail::kFewRowsMax;
  if (m == 0 || k == 0 || (m <= detail::kFewRowsMax && csb == 1) || narrow) {
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
    const int nt = int(std::min<int64_t>(blocks, detail::threads_for(2 * m * n * k, kGemmFlopGrain / 4)));
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
  if (m <= detail::kFewRowsMax && csb == 1) {  // matrix-vector shapes: stream B, no packing
    // One contiguous column range per thread (a multiple of 16 columns): each thread streams
    // long runs of every row of B, which the prefetcher follows.
    const int nt = int(std::min<int64_t>((n + 15) / 16, detail::threads_for(2 * m * n * k, kGemmFlopGrain / 4)));
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
  const MicroKernel<T>& uk = pick_tile(ks, m, n);
  const int MR = uk.mr, NR = uk.nr;
  const int64_t KC = uk.kc, kc_max = std::min(KC, k);
  const int nt = detail::threads_for(2 * m * n * k, kGemmFlopGrain);
  // Loops: jc (a B panel of KK x NC, KK all of k unless k is huge, packed once, in L3) -> ic (an
  // A block of MC rows) -> pc (k blocks: the A block's kc columns packed, in L2) -> tiles. With
  // the k loop inside, each thread's C block (MC x NC / threads) stays in L2 across the k blocks
  // instead of streaming from memory once per k block. Every element of C still sums its k
  // blocks in order. NC and KK: the B panel no bigger than the kc x nc the cache model sized;
  // MC: the A block and the thread's C block together in the half of L2 the model gave the A
  // block alone.
  const int64_t panel = int64_t(uk.nc) * KC;  // values
  const int64_t NC = std::min(n, std::max<int64_t>(NR, panel / std::max(k, KC) / NR * NR));
  const int64_t KK = std::max(KC, panel / NC / KC * KC);
  const int64_t c_cols = (NC + nt - 1) / nt;
  const int64_t MC = std::max<int64_t>(MR, uk.mc * KC / (KC + c_cols) / MR * MR);
  const int64_t nstrips_max = (NC + NR - 1) / NR;
  // A few row strips of A (batch 32) use each value of B only a few times: packing B would move
  // it three times (read, write, read) for so little use, so the micro-kernel reads whole strips
  // of a row-major B in place and only a partial last strip is packed. The bias gradient is
  // summed while packing, so a GEMM that asks for it packs.
  const bool b_in_place = csb == 1 && !fused.b_column_sums && (m + MR - 1) / MR <= kDirectBRowStrips;
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
          if (b_in_place && cols == NR) continue;
          T* sums = fused.b_column_sums ? fused.b_column_sums + jc + s * NR : nullptr;
          if (sums && pc == 0) std::fill(sums, sums + cols, T(0));
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
            pack_a_strip(Ap + s * MR * kc, A + (ic + s * MR) * rsa + pc * csa, rsa, csa,
                         int(std::min<int64_t>(MR, mc - s * MR)), kc, MR);

          auto tile = [&](int64_t is, int64_t js) {
            const int rows = int(std::min<int64_t>(MR, mc - is * MR));
            const int cols = int(std::min<int64_t>(NR, nc - js * NR));
            if (last) prefetch_tile_fusion(fused, ldc, ic + is * MR, jc + js * NR, rows, cols);
            const bool in_place = b_in_place && cols == NR;
            const T* b = in_place ? B + pc * rsb + jc + js * NR : Bpc + js * NR * kc;
            uk.run(kc, Ap + is * MR * kc, b, in_place ? rsb : NR, C + (ic + is * MR) * ldc + jc + js * NR,
                   ldc, rows, cols, beta_p, bias_p ? bias_p + js * NR : nullptr);
            if (last) finish_tile(fused, C, ldc, ic + is * MR, jc + js * NR, rows, cols);
          };
          if (!fused.tile_done) {
#pragma omp for collapse(2) schedule(static)
            for (int64_t js = 0; js < nstrips; ++js)
              for (int64_t is = 0; is < mstrips; ++is) tile(is, js);
          } else {
            // One thread per row panel (MR rows x nc columns), handed to tile_done when finished:
            // the caller's update then walks whole rows, which the prefetcher streams.
#pragma omp for schedule(static)
            for (int64_t is = 0; is < mstrips; ++is) {
              for (int64_t js = 0; js < nstrips; ++js) tile(is, js);
              if (last)
                fused.tile_done(fused.context, C, ldc, ic + is * MR, jc, std::min<int64_t>(MR, mc - is * MR), nc);
            }
          }
        }
      }
      // (the tile loop's implicit barrier ends every ic block, so the next panel may be packed)
    }
  }
}

template <typename T>
void column_sums(T* db, const T* dy, int64_t m, int64_t n, T beta) {
  constexpr int64_t kBlock = 256;
  const int64_t nblocks = (n + kBlock - 1) / kBlock;
  const int nt = detail::threads_for(m * n, detail::kElementGrain);
#pragma omp parallel for num_threads(nt) schedule(static)
  for (int64_t b = 0; b < nblocks; ++b) {
    detail::ScopedFlushDenormals ftz;  // as inside gemm, whose packing can compute the same sums
    const int64_t j0 = b * kBlock, width = std::min(kBlock, n - j0);
    T acc[kBlock] = {};
    for (int64_t i = 0; i < m; ++i)  // rows in order: the same sum for any thread count
      for (int64_t j = 0; j < width; ++j) acc[j] += dy[i * n + j0 + j];
    for (int64_t j = 0; j < width; ++j)
      db[j0 + j] = beta != T(0) ? beta * db[j0 + j] + acc[j] : acc[j];
  }
}

template void gemm<float>(float*, int64_t, const float*, int64_t, int64_t, const float*, int64_t,
                          int64_t, int64_t, int64_t, int64_t, float, const float*,
                          const GemmFusion<float>&);
template void gemm<double>(double*, int64_t, const double*, int64_t, int64_t, const double*,
                           int64_t, int64_t, int64_t, int64_t, int64_t, double, const double*,
                           const GemmFusion<double>&);
template void column_sums<float>(float*, const float*, int64_t, int64_t, float);
template void column_sums<double>(double*, const double*, int64_t, int64_t, double);

}  // namespace brisknet
