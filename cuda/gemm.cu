// Our SGEMM on the GPU, row-major like the CPU's, with the CPU GEMM's fused epilogues.
//
// FP32 (the default): each block computes a BM x BN tile of C from BK-deep slices of A and B
// staged in shared memory (float4 loads where the tile lies inside the matrix and rows are
// 16-byte aligned), each thread a TM x TN register block of outer products. Three tile shapes:
// 128x128 when the product has enough tiles to fill the multiprocessors, 64x64 when it has
// fewer, 32x64 with split-k for few-row products (batch 32: C is 32 x 1000, a handful of tiles):
// the k range is cut into parts whose partial products are summed in a fixed order by a second
// kernel that applies the epilogue, so the result does not depend on timing.
//
// TF32 (opt-in, brisknet.cuda.allow_tf32): 64x64 tiles on the tensor cores (wmma m16n16k8,
// four warps of 32x32), inputs rounded to TF32, accumulation in FP32, the same epilogues.
//
// The bias gradient of a weight-gradient GEMM (dW = X^T dZ, db = dZ's column sums) is summed by
// the first row of blocks from the dZ tiles they stage anyway, in k order (the CPU's order).
#include <mma.h>

#include <algorithm>
#include <stdexcept>

#include "kernels.cuh"

namespace brisknet::cuda {
namespace {

// f(x) for a run-time activation (the epilogue's): one switch over the shared math, for the
// piecewise-linear activations (fused_in_gemm); the others' exp, erf, tanh in the epilogue would
// make the tile kernels spill registers, so gemm() runs them as a separate element-wise pass.
__device__ __forceinline__ float activate_rt(Activation act, float v, float alpha) {
  switch (act) {
#define BRISKNET_CASE(A) \
  case Activation::A:    \
    return math::activate<Activation::A>(v, alpha);
    BRISKNET_CASE(relu) BRISKNET_CASE(relu6) BRISKNET_CASE(leaky_relu) BRISKNET_CASE(hard_sigmoid)
    BRISKNET_CASE(hard_silu) BRISKNET_CASE(hard_tanh)
#undef BRISKNET_CASE
    default:
      return v;  // linear
  }
}

__device__ __forceinline__ float activate_grad_rt(Activation act, float g, float x, float y, float alpha) {
  switch (act) {
#define BRISKNET_CASE(A) \
  case Activation::A:    \
    return math::activate_grad<Activation::A>(g, x, y, alpha);
    BRISKNET_CASE(relu) BRISKNET_CASE(relu6) BRISKNET_CASE(leaky_relu) BRISKNET_CASE(hard_sigmoid)
    BRISKNET_CASE(hard_silu) BRISKNET_CASE(hard_tanh)
#undef BRISKNET_CASE
    default:
      return g;
  }
}

// C[i, j] from its product v, through the epilogue.
__device__ __forceinline__ void store_output(const GemmArgs& g, const Epilogue& e, int64_t i, int64_t j, float v) {
  const int64_t at = i * g.ldc + j;
  if (e.through) {
    g.c[at] = activate_grad_rt(e.act, v, e.grad_z[at], e.grad_y[at], e.alpha);
    return;
  }
  if (e.bias) v += e.bias[j];
  if (e.pre) e.pre[at] = v;
  g.c[at] = activate_rt(e.act, v, e.alpha);
}

// Stages an R x C tile of a row-major matrix (rows from r0 below rmax, columns from c0 below
// cmax, zeros outside) through put(r, c, value); float4 loads when the whole tile is inside and
// its rows are 16-byte aligned (C and c0 are multiples of 4).
template <int R, int C, int kThreads, typename Put>
__device__ __forceinline__ void stage_tile(const float* src, int64_t ld, int64_t r0, int64_t c0, int64_t rmax,
                                           int64_t cmax, bool aligned, Put put) {
  const float* origin = src + r0 * ld + c0;
  if (aligned && r0 + R <= rmax && c0 + C <= cmax) {
    constexpr int kVectors = R * C / 4;
#pragma unroll
    for (int it = 0; it < (kVectors + kThreads - 1) / kThreads; ++it) {
      const int idx = int(threadIdx.x) + it * kThreads;
      if (kVectors % kThreads == 0 || idx < kVectors) {
        const int r = idx / (C / 4), c = (idx % (C / 4)) * 4;
        const float4 v = *reinterpret_cast<const float4*>(origin + r * ld + c);
        put(r, c, v.x);
        put(r, c + 1, v.y);
        put(r, c + 2, v.z);
        put(r, c + 3, v.w);
      }
    }
  } else {
    const int rows = rmax - r0 < R ? int(rmax - r0) : R, cols = cmax - c0 < C ? int(cmax - c0) : C;
#pragma unroll
    for (int it = 0; it < (R * C + kThreads - 1) / kThreads; ++it) {
      const int idx = int(threadIdx.x) + it * kThreads;
      if ((R * C) % kThreads == 0 || idx < R * C) {
        const int r = idx / C, c = idx % C;
        put(r, c, r < rows && c < cols ? origin[r * ld + c] : 0.0f);
      }
    }
  }
}

bool aligned16(const float* p, int64_t ld) { return (reinterpret_cast<uintptr_t>(p) % 16 == 0) && ld % 4 == 0; }

// The k range of split blockIdx.z: [begin, end)
struct KRange {
  int64_t begin, end;
};
__device__ __forceinline__ KRange k_range(int64_t k, int64_t per_split) {
  const int64_t b = int64_t(blockIdx.z) * per_split;
  return {b, min(k, b + per_split)};
}

template <int BM, int BN, int BK, int TM, int TN, bool TA, bool TB>
__global__ void __launch_bounds__((BM / TM) * (BN / TN))
    sgemm_kernel(GemmArgs g, Epilogue e, int64_t per_split, float* partial, bool a_aligned, bool b_aligned) {
  constexpr int kThreads = (BM / TM) * (BN / TN);
  __shared__ float As[BK][BM];  // op(A)'s slice, k-major: a thread reads TM consecutive rows
  __shared__ float Bs[BK][BN];
  const int tx = threadIdx.x % (BN / TN), ty = threadIdx.x / (BN / TN);
  const int64_t m0 = int64_t(blockIdx.y) * BM, n0 = int64_t(blockIdx.x) * BN;
  const KRange kr = k_range(g.k, per_split);
  float acc[TM][TN];
#pragma unroll
  for (int i = 0; i < TM; ++i)
#pragma unroll
    for (int j = 0; j < TN; ++j) acc[i][j] = 0.0f;
  // the first row of blocks also sums B's columns (one split only: gemm() sees to it)
  const bool sums = e.b_column_sums && blockIdx.y == 0 && ty == 0;
  float colsum[TN];
#pragma unroll
  for (int j = 0; j < TN; ++j) colsum[j] = 0.0f;

  for (int64_t k0 = kr.begin; k0 < kr.end; k0 += BK) {
    if (TA)  // A is [k, m]
      stage_tile<BK, BM, kThreads>(g.a, g.lda, k0, m0, kr.end, g.m, a_aligned, [&](int r, int c, float v) { As[r][c] = v; });
    else  // A is [m, k]
      stage_tile<BM, BK, kThreads>(g.a, g.lda, m0, k0, g.m, kr.end, a_aligned, [&](int r, int c, float v) { As[c][r] = v; });
    if (TB)  // B is [n, k]
      stage_tile<BN, BK, kThreads>(g.b, g.ldb, n0, k0, g.n, kr.end, b_aligned, [&](int r, int c, float v) { Bs[c][r] = v; });
    else  // B is [k, n]
      stage_tile<BK, BN, kThreads>(g.b, g.ldb, k0, n0, kr.end, g.n, b_aligned, [&](int r, int c, float v) { Bs[r][c] = v; });
    __syncthreads();
#pragma unroll
    for (int kk = 0; kk < BK; ++kk) {
      float a[TM], b[TN];
#pragma unroll
      for (int i = 0; i < TM; ++i) a[i] = As[kk][ty * TM + i];
#pragma unroll
      for (int j = 0; j < TN; ++j) b[j] = Bs[kk][tx * TN + j];
#pragma unroll
      for (int i = 0; i < TM; ++i)
#pragma unroll
        for (int j = 0; j < TN; ++j) acc[i][j] = fmaf(a[i], b[j], acc[i][j]);
      if (sums)
#pragma unroll
        for (int j = 0; j < TN; ++j) colsum[j] += b[j];
    }
    __syncthreads();
  }
  if (sums)
#pragma unroll
    for (int j = 0; j < TN; ++j)
      if (n0 + tx * TN + j < g.n) e.b_column_sums[n0 + tx * TN + j] = colsum[j];
#pragma unroll
  for (int i = 0; i < TM; ++i) {
    const int64_t row = m0 + ty * TM + i;
    if (row >= g.m) break;
#pragma unroll
    for (int j = 0; j < TN; ++j) {
      const int64_t col = n0 + tx * TN + j;
      if (col >= g.n) break;
      if (partial) partial[(int64_t(blockIdx.z) * g.m + row) * g.n + col] = acc[i][j];
      else store_output(g, e, row, col, acc[i][j]);
    }
  }
}

template <bool TA, bool TB>
__global__ void __launch_bounds__(128)
    tf32_kernel(GemmArgs g, Epilogue e, int64_t per_split, float* partial, bool a_aligned, bool b_aligned) {
  using namespace nvcuda;
  constexpr int BM = 64, BN = 64, BK = 8, kThreads = 128, LA = BK + 4, LB = BN + 4, LC = BN + 4;
  __shared__ __align__(32) float As[BM * LA];  // [m][k]
  __shared__ __align__(32) float Bs[BK * LB];  // [k][n]
  __shared__ __align__(32) float Cs[BM * LC];
  const int warp = threadIdx.x / 32, wm = warp / 2, wn = warp % 2;
  const int64_t m0 = int64_t(blockIdx.y) * BM, n0 = int64_t(blockIdx.x) * BN;
  const KRange kr = k_range(g.k, per_split);
  wmma::fragment<wmma::accumulator, 16, 16, 8, float> acc[2][2];
#pragma unroll
  for (int i = 0; i < 2; ++i)
#pragma unroll
    for (int j = 0; j < 2; ++j) wmma::fill_fragment(acc[i][j], 0.0f);
  const bool sums = e.b_column_sums && blockIdx.y == 0 && threadIdx.x < BN;  // B's column sums, in FP32
  float colsum = 0.0f;

  for (int64_t k0 = kr.begin; k0 < kr.end; k0 += BK) {
    if (TA)
      stage_tile<BK, BM, kThreads>(g.a, g.lda, k0, m0, kr.end, g.m, a_aligned, [&](int r, int c, float v) { As[c * LA + r] = v; });
    else
      stage_tile<BM, BK, kThreads>(g.a, g.lda, m0, k0, g.m, kr.end, a_aligned, [&](int r, int c, float v) { As[r * LA + c] = v; });
    if (TB)
      stage_tile<BN, BK, kThreads>(g.b, g.ldb, n0, k0, g.n, kr.end, b_aligned, [&](int r, int c, float v) { Bs[c * LB + r] = v; });
    else
      stage_tile<BK, BN, kThreads>(g.b, g.ldb, k0, n0, kr.end, g.n, b_aligned, [&](int r, int c, float v) { Bs[r * LB + c] = v; });
    __syncthreads();
    if (sums)
#pragma unroll
      for (int kk = 0; kk < BK; ++kk) colsum += Bs[kk * LB + threadIdx.x];
    wmma::fragment<wmma::matrix_a, 16, 16, 8, wmma::precision::tf32, wmma::row_major> af[2];
    wmma::fragment<wmma::matrix_b, 16, 16, 8, wmma::precision::tf32, wmma::row_major> bf[2];
#pragma unroll
    for (int i = 0; i < 2; ++i) {
      wmma::load_matrix_sync(af[i], As + (wm * 32 + i * 16) * LA, LA);
#pragma unroll
      for (int t = 0; t < af[i].num_elements; ++t) af[i].x[t] = wmma::__float_to_tf32(af[i].x[t]);
      wmma::load_matrix_sync(bf[i], Bs + wn * 32 + i * 16, LB);
#pragma unroll
      for (int t = 0; t < bf[i].num_elements; ++t) bf[i].x[t] = wmma::__float_to_tf32(bf[i].x[t]);
    }
#pragma unroll
    for (int i = 0; i < 2; ++i)
#pragma unroll
      for (int j = 0; j < 2; ++j) wmma::mma_sync(acc[i][j], af[i], bf[j], acc[i][j]);
    __syncthreads();
  }
  if (sums && n0 + threadIdx.x < g.n) e.b_column_sums[n0 + threadIdx.x] = colsum;
#pragma unroll
  for (int i = 0; i < 2; ++i)
#pragma unroll
    for (int j = 0; j < 2; ++j)
      wmma::store_matrix_sync(Cs + (wm * 32 + i * 16) * LC + wn * 32 + j * 16, acc[i][j], LC, wmma::mem_row_major);
  __syncthreads();
  for (int idx = threadIdx.x; idx < BM * BN; idx += kThreads) {
    const int r = idx / BN, c = idx % BN;
    const int64_t row = m0 + r, col = n0 + c;
    if (row >= g.m || col >= g.n) continue;
    if (partial) partial[(int64_t(blockIdx.z) * g.m + row) * g.n + col] = Cs[r * LC + c];
    else store_output(g, e, row, col, Cs[r * LC + c]);
  }
}

// The split-k parts summed in order, then the epilogue.
__global__ void sum_splits_kernel(GemmArgs g, Epilogue e, const float* partial, int splits) {
  const int64_t mn = g.m * g.n;
  for (int64_t idx = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; idx < mn; idx += int64_t(gridDim.x) * blockDim.x) {
    float v = partial[idx];
    for (int s = 1; s < splits; ++s) v += partial[int64_t(s) * mn + idx];
    store_output(g, e, idx / g.n, idx % g.n, v);
  }
}

enum class Tile { large, medium, small, tf32 };

struct Plan {
  Tile tile;
  int bm, bn, bk, threads, splits;
  int64_t per_split;
};

Plan plan_for(const GemmArgs& g, bool tf32, int splits) {
  const int sms = multiprocessors();
  auto tiles = [&](int bm, int bn) { return ((g.m + bm - 1) / bm) * ((g.n + bn - 1) / bn); };
  Plan p;
  if (tf32) {
    p = {Tile::tf32, 64, 64, 8, 128, 1, 0};
  } else if (g.m >= 128 && g.n >= 128 && tiles(128, 128) >= sms) {
    p = {Tile::large, 128, 128, 8, 256, 1, 0};
  } else if (tiles(64, 64) >= sms / 2) {
    p = {Tile::medium, 64, 64, 8, 256, 1, 0};
  } else {
    p = {Tile::small, 32, 64, 16, 256, 1, 0};
  }
  if (splits <= 0) {  // enough blocks for two per multiprocessor, each still a few slices of k deep
    const int64_t t = tiles(p.bm, p.bn);
    splits = int(std::max<int64_t>(1, std::min<int64_t>((2 * sms + t - 1) / t, g.k / (4 * p.bk))));
    if (p.tile == Tile::large) splits = 1;
  }
  // each part a whole number of k slices
  p.per_split = ((g.k + splits - 1) / splits + p.bk - 1) / p.bk * p.bk;
  p.splits = int(std::max<int64_t>(1, (g.k + p.per_split - 1) / std::max<int64_t>(1, p.per_split)));
  if (g.k == 0) p.splits = 1, p.per_split = 0;
  return p;
}

template <bool TA, bool TB>
void launch(cudaStream_t s, const Plan& p, const GemmArgs& g, const Epilogue& e, float* partial) {
  const dim3 grid(unsigned((g.n + p.bn - 1) / p.bn), unsigned((g.m + p.bm - 1) / p.bm), unsigned(p.splits));
  const bool aa = aligned16(g.a, g.lda), ba = aligned16(g.b, g.ldb);
  switch (p.tile) {
    case Tile::large:
      sgemm_kernel<128, 128, 8, 8, 8, TA, TB><<<grid, p.threads, 0, s>>>(g, e, p.per_split, partial, aa, ba);
      break;
    case Tile::medium:
      sgemm_kernel<64, 64, 8, 4, 4, TA, TB><<<grid, p.threads, 0, s>>>(g, e, p.per_split, partial, aa, ba);
      break;
    case Tile::small:
      sgemm_kernel<32, 64, 16, 2, 4, TA, TB><<<grid, p.threads, 0, s>>>(g, e, p.per_split, partial, aa, ba);
      break;
    case Tile::tf32:
      tf32_kernel<TA, TB><<<grid, p.threads, 0, s>>>(g, e, p.per_split, partial, aa, ba);
      break;
  }
}

}  // namespace

int multiprocessors() {
  static int count = [] {
    int device = 0, n = 0;
    BRISKNET_CUDA_CHECK(cudaGetDevice(&device));
    BRISKNET_CUDA_CHECK(cudaDeviceGetAttribute(&n, cudaDevAttrMultiProcessorCount, device));
    return n;
  }();
  return count;
}

int64_t gemm_workspace(const GemmArgs& g, bool tf32) {
  const Plan p = plan_for(g, tf32, 0);
  return p.splits > 1 ? int64_t(p.splits) * g.m * g.n : 0;
}

bool fused_in_gemm(Activation act) {
  switch (act) {
    case Activation::linear: case Activation::relu: case Activation::relu6: case Activation::leaky_relu:
    case Activation::hard_sigmoid: case Activation::hard_silu: case Activation::hard_tanh:
      return true;
    default:
      return false;
  }
}

void gemm(cudaStream_t s, const GemmArgs& g, const Epilogue& epilogue, bool tf32, DeviceBuffer<float>& workspace,
          int splits) {
  if (g.m == 0 || g.n == 0) return;
  Epilogue e = epilogue;
  const bool separate = !fused_in_gemm(e.act);  // the activation after the product, element-wise
  if (separate && g.ldc != g.n) throw std::invalid_argument("gemm: an unfused activation needs a dense C (ldc == n)");
  if (separate) {
    e.act = Activation::linear;
    if (e.through) e.through = false;  // the raw product, then its activation gradient
  }
  const Plan p = plan_for(g, tf32, splits);
  float* sums = e.b_column_sums;
  if (p.splits > 1) e.b_column_sums = nullptr;  // each part sees a slice of k: summed apart, below
  float* partial = nullptr;
  if (p.splits > 1) {
    workspace.reserve(int64_t(p.splits) * g.m * g.n);
    partial = workspace.get();
  }
  if (g.trans_a && g.trans_b) launch<true, true>(s, p, g, e, partial);
  else if (g.trans_a) launch<true, false>(s, p, g, e, partial);
  else if (g.trans_b) launch<false, true>(s, p, g, e, partial);
  else launch<false, false>(s, p, g, e, partial);
  BRISKNET_CUDA_LAUNCHED("gemm");
  if (partial) {
    const int64_t mn = g.m * g.n;
    const int blocks = int(std::min<int64_t>((mn + 255) / 256, 4 * int64_t(multiprocessors())));
    sum_splits_kernel<<<blocks, 256, 0, s>>>(g, e, partial, p.splits);
    BRISKNET_CUDA_LAUNCHED("gemm split-k sum");
  }
  if (sums && p.splits > 1) {  // op(B) is [k, n] row-major here (the weight-gradient GEMM's dZ)
    if (g.trans_b || g.ldb != g.n) throw std::invalid_argument("gemm: column sums need B as a dense [k, n]");
    column_sums(s, sums, g.b, g.k, g.n);
  }
  if (separate) {
    if (epilogue.through)
      activation_backward(s, g.c, g.c, epilogue.grad_z, epilogue.grad_y, g.m, g.n, epilogue.act, epilogue.alpha);
    else
      activation_forward(s, g.c, e.pre ? e.pre : g.c, g.m, g.n, epilogue.act, epilogue.alpha);
  }
}

}  // namespace brisknet::cuda
