// The bf16 GEMM driver: the cache-blocking loops of gemm.cpp (jc -> ic -> pc -> tiles) around a
// bf16 micro-kernel (gemm_bf16_ukr.h), with packing that rounds each float32 operand to bfloat16
// once. Threads split C only, and every kernel sums each element of C as one chain from its old
// value, so the bits depend neither on threads nor on the blocks.
#include <omp.h>
#include <algorithm>
#include <array>
#include <atomic>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include "bf16.h"
#include "cache_model.h"
#include "gemm_bf16.h"
#include "gemm_bf16_ukr.h"
#include "gemm_dispatch.h"
#include "gemm_epilogue.h"
#include "gemm_implicit_a.h"
#include "gemm_packing.h"
#include "isa_clones.h"
#include "parallel.h"

namespace brisknet {
namespace detail {
namespace {

int64_t round_up(int64_t v, int64_t to) { return (v + to - 1) / to * to; }

// The paths, fastest first where the CPU has them.
enum Bf16Path : int { kAmx, kAvx512Bf16, kEmulated, kPaths };
const char* const kPathNames[kPaths] = {"amx", "avx512_bf16", "emulated"};

bool path_available(int path) {
#if defined(BRISKNET_X86)
  __builtin_cpu_init();
  // (AVX-512 narrowed away by BRISKNET_ISA takes its bf16 instructions with it)
  if (path == kAmx) return isa() == "avx512" && amx_usable();
  if (path == kAvx512Bf16) return isa() == "avx512" && __builtin_cpu_supports("avx512bf16");
#endif
  return path == kEmulated;
}

Bf16Kernel with_blocks(Bf16Kernel uk) {
  const BlockSizes b = block_sizes(cache_hierarchy(), uk.mr, uk.nr, 2);
  uk.kc = int(std::max<int64_t>(uk.k_align, b.kc / uk.k_align * uk.k_align));
  uk.mc = std::max(uk.mr, b.mc / uk.mr * uk.mr);
  uk.nc = std::max(uk.nr, b.nc / uk.nr * uk.nr);
  return uk;
}

const std::array<Bf16Kernel, kPaths>& kernels() {
  static const std::array<Bf16Kernel, kPaths> ks = [] {
    std::array<Bf16Kernel, kPaths> k{};
    Bf16Kernel emulated = bf16_kernel_generic();
#if defined(BRISKNET_X86)
    if (isa() == "avx512") emulated = bf16_kernel_avx512();
    if (isa() == "avx2") emulated = bf16_kernel_avx2();
    if (path_available(kAmx)) k[kAmx] = with_blocks(bf16_kernel_amx());
    if (path_available(kAvx512Bf16)) k[kAvx512Bf16] = with_blocks(bf16_kernel_avx512_bf16());
#endif
    k[kEmulated] = with_blocks(emulated);
    return k;
  }();
  return ks;
}

// The fastest path here, or the one BRISKNET_BF16 (amx | avx512_bf16 | emulated) names if the CPU
// has it; set_bf16_path() changes it (tests run every path in one process).
int default_path() {
  int best = kEmulated;
  for (int p = kPaths - 1; p >= 0; --p)
    if (path_available(p)) best = p;
  if (const char* env = std::getenv("BRISKNET_BF16"))
    for (int p = 0; p < kPaths; ++p)
      if (kPathNames[p] == std::string(env) && path_available(p)) best = p;
  return best;
}
std::atomic<int> chosen_path{-1};

const Bf16Kernel& current_kernel() {
  int p = chosen_path.load();
  if (p < 0) chosen_path.compare_exchange_strong(p, default_path()), p = chosen_path.load();
  return kernels()[p];
}

// A strip of op(A) (rows x kc at A, zero-padded to MR x kcp) in the kernel's layout (gemm_bf16_ukr.h).
inline void pack_a_bf16(uint16_t* Ap, const float* A, int64_t rsa, int64_t csa, int rows, int64_t kc, int64_t kcp, int MR,
                 Bf16ALayout layout) {
  if (layout == Bf16ALayout::rows) {
    if (csa == 1) {
      for (int i = 0; i < rows; ++i)
        for (int64_t p = 0; p < kc; ++p) Ap[i * kcp + p] = to_bf16(A[i * rsa + p]);
    } else {  // (A^T of a row-major matrix: read along its rows)
      for (int64_t p = 0; p < kc; ++p)
        for (int i = 0; i < rows; ++i) Ap[i * kcp + p] = to_bf16(A[i * rsa + p * csa]);
    }
    for (int i = 0; i < MR; ++i)
      for (int64_t p = i < rows ? kc : 0; p < kcp; ++p) Ap[i * kcp + p] = 0;
    return;
  }
  uint32_t* dst = reinterpret_cast<uint32_t*>(Ap);
  const int64_t pairs = kcp / 2, full = kc / 2;
  auto at = [&](int i, int64_t p) { return p < kc ? A[i * rsa + p * csa] : 0.0f; };
  if (csa == 1) {  // rows contiguous along k
    for (int i = 0; i < rows; ++i)
      for (int64_t q = 0; q < pairs; ++q)
        dst[q * MR + i] = q < full ? bf16_pair(A[i * rsa + 2 * q], A[i * rsa + 2 * q + 1]) : bf16_pair(at(i, 2 * q), at(i, 2 * q + 1));
  } else {  // columns contiguous (rsa == 1: A^T of a row-major matrix) or strided
    for (int64_t q = 0; q < pairs; ++q)
      for (int i = 0; i < rows; ++i) dst[q * MR + i] = bf16_pair(at(i, 2 * q), at(i, 2 * q + 1));
  }
  for (int64_t q = 0; q < pairs; ++q)
    for (int i = rows; i < MR; ++i) dst[q * MR + i] = 0;
}

// A strip of op(B) (kc x cols at B, zero-padded to kcp x NR) in pairs; sums (when not null):
// sums[j] += B[p, j] over the strip's rows in order of p (the bias gradient).
inline void pack_b_bf16(uint16_t* Bp, const float* B, int64_t rsb, int64_t csb, int cols, int64_t kc, int64_t kcp, int NR,
                 float* sums) {
  uint32_t* dst = reinterpret_cast<uint32_t*>(Bp);
  auto at = [&](int64_t p, int j) { return p < kc && j < cols ? B[p * rsb + j * csb] : 0.0f; };
  if (csb == 1) {  // rows contiguous along n
    for (int64_t q = 0; q < kcp / 2; ++q) {
      if (2 * q + 1 < kc && cols == NR) {
        const float* b0 = B + 2 * q * rsb;
        const float* b1 = b0 + rsb;
        for (int j = 0; j < NR; ++j) dst[q * NR + j] = bf16_pair(b0[j], b1[j]);
      } else {
        for (int j = 0; j < NR; ++j) dst[q * NR + j] = bf16_pair(at(2 * q, j), at(2 * q + 1, j));
      }
    }
  } else {
    for (int j = 0; j < NR; ++j)
      for (int64_t q = 0; q < kcp / 2; ++q) dst[q * NR + j] = bf16_pair(at(2 * q, j), at(2 * q + 1, j));
  }
  if (sums)
    for (int64_t p = 0; p < kc; ++p)
      for (int j = 0; j < cols; ++j) sums[j] += B[p * rsb + j * csb];
}

// The driver. pack_a(Ap, i0, rows, p0, kc, kcp, MR, layout): rows i0..i0 + rows of op(A), k
// columns p0..p0 + kc, in the kernel's layout (pack_a_bf16's), padded to MR x kcp with zeros.
template <typename PackA>
void bf16_packed_gemm(float* C, int64_t ldc, const PackA& pack_a, const float* B, int64_t rsb, int64_t csb, int64_t m,
                      int64_t n, int64_t k, float beta, const float* bias, const GemmFusion<float>& fused) {
  const Bf16Kernel& uk = current_kernel();
  const int MR = uk.mr, NR = uk.nr;
  const int64_t KC = uk.kc, kpad = round_up(k, uk.k_align);
  const int nt = threads_for(2 * m * n * k, kGemmFlopGrain);
  // Loops: jc (a B panel of all of k x NC, packed once, in the L3 share the cache model gave a
  // kc x nc panel) -> ic (an A block of MC rows) -> pc (its kc columns packed, in L2) -> tiles.
  // With the k loop inside, each thread's C block stays in L2 across the k blocks (the AMX kernel
  // reads and writes C once per block). MC: the A block and the thread's C block in the half of
  // L2 the model gave the A block alone.
  const int64_t NC = std::min(round_up(n, NR), std::max<int64_t>(NR, int64_t(uk.nc) * KC / kpad / NR * NR));
  const int64_t c_cols = (NC + nt - 1) / nt;
  const int64_t MC = std::min(round_up(m, MR), std::max<int64_t>(MR, int64_t(uk.mc) * KC * 2 / (KC * 2 + c_cols * 4) / MR * MR));
  const int64_t kc_max = round_up(std::min<int64_t>(KC, k), uk.k_align);
  const bool relu = relu_in_micro_kernel(fused);
  uint16_t* Bp = scratch<uint16_t>(0, size_t(NC * kpad));
  uint16_t* Ap = scratch<uint16_t>(1, size_t(MC * kc_max));

#pragma omp parallel num_threads(nt)
  {
    ScopedFlushDenormals ftz;
    if (uk.enter) uk.enter();
    for (int64_t jc = 0; jc < n; jc += NC) {
      const int64_t nc = std::min(NC, n - jc), nstrips = (nc + NR - 1) / NR;
      // Block pc of the panel (kc rows, padded to kcp) at Bp + pc * round(NC); strip s of it at
      // + s * NR * kcp. The same thread packs strip s for every pc (static schedule), so its
      // column sums run in order of k.
      for (int64_t pc = 0; pc < k; pc += KC) {
        const int64_t kc = std::min(KC, k - pc), kcp = round_up(kc, uk.k_align);
#pragma omp for schedule(static) nowait
        for (int64_t s = 0; s < nstrips; ++s) {
          const int cols = int(std::min<int64_t>(NR, nc - s * NR));
          float* sums = fused.b_column_sums ? fused.b_column_sums + jc + s * NR : nullptr;
          if (sums && pc == 0) std::fill(sums, sums + cols, 0.0f);
          at_isa([&] { pack_b_bf16(Bp + pc * NC + s * NR * kcp, B + pc * rsb + (jc + s * NR) * csb, rsb, csb, cols, kc, kcp, NR, sums); });
        }
      }
#pragma omp barrier
      for (int64_t ic = 0; ic < m; ic += MC) {
        const int64_t mc = std::min(MC, m - ic), mstrips = (mc + MR - 1) / MR;
        for (int64_t pc = 0; pc < k; pc += KC) {
          const int64_t kc = std::min(KC, k - pc), kcp = round_up(kc, uk.k_align);
          const float beta_p = pc == 0 ? beta : 1.0f;
          const bool last = pc + kc == k;
          const float* bias_p = bias && last ? bias + jc : nullptr;  // bias once, at the end
          const uint16_t* Bpc = Bp + pc * NC;
#pragma omp for schedule(static)
          for (int64_t s = 0; s < mstrips; ++s)
            pack_a(Ap + s * MR * kcp, ic + s * MR, int(std::min<int64_t>(MR, mc - s * MR)), pc, kc, kcp, MR, uk.a_layout);
          auto tile = [&](int64_t is, int64_t js) {
            const int rows = int(std::min<int64_t>(MR, mc - is * MR));
            const int cols = int(std::min<int64_t>(NR, nc - js * NR));
            if (last) prefetch_tile_fusion(fused, ldc, ic + is * MR, jc + js * NR, rows, cols);
            const int64_t at = (ic + is * MR) * ldc + jc + js * NR;
            uk.run(kcp, Ap + is * MR * kcp, kcp, Bpc + js * NR * kcp, C + at, ldc, rows, cols, beta_p,
                   bias_p ? bias_p + js * NR : nullptr, last && relu ? fused.activation_out + at : nullptr);
            if (last) finish_tile(fused, C, ldc, ic + is * MR, jc + js * NR, rows, cols, relu);
          };
          for_each_tile(fused, C, ldc, ic, jc, mc, nc, MR, mstrips, nstrips, last, tile);
        }
      }
      // (the tile loop's implicit barrier ends every ic block, so the next panel may be packed)
    }
    if (uk.leave) uk.leave();
  }
}

// A strip that an APacker wrote in float32 (Ap32[p * MR + i], kc columns) into the kernel's layout.
inline void strip_to_bf16(uint16_t* Ap, const float* strip, int64_t kc, int64_t kcp, int MR, Bf16ALayout layout) {
  if (layout == Bf16ALayout::rows) {
    for (int64_t p = 0; p < kcp; ++p)
      for (int i = 0; i < MR; ++i) Ap[i * kcp + p] = p < kc ? to_bf16(strip[p * MR + i]) : 0;
    return;
  }
  uint32_t* dst = reinterpret_cast<uint32_t*>(Ap);
  for (int64_t q = 0; q < kcp / 2; ++q)
    for (int i = 0; i < MR; ++i)
      dst[q * MR + i] = bf16_pair(2 * q < kc ? strip[2 * q * MR + i] : 0.0f, 2 * q + 1 < kc ? strip[(2 * q + 1) * MR + i] : 0.0f);
}

}  // namespace

const Bf16Kernel& bf16_kernel() { return current_kernel(); }

int64_t packed_bf16_size(const Bf16Kernel& uk, bool a_side, int64_t rows_or_cols, int64_t k) {
  const int width = a_side ? uk.mr : uk.nr;
  return round_up(rows_or_cols, width) * round_up(std::max<int64_t>(k, 1), uk.k_align);
}

PackedBf16 pack_bf16_a(const Bf16Kernel& uk, uint16_t* buf, const float* A, int64_t rsa, int64_t csa, int64_t m,
                       int64_t k) {
  const PackedBf16 a{buf, k, round_up(std::max<int64_t>(k, 1), uk.k_align), m, (m + uk.mr - 1) / uk.mr, uk.mr};
  at_isa([&] {
    for (int64_t s = 0; s < a.strips; ++s)
      pack_a_bf16(buf + s * uk.mr * a.kp, A + s * uk.mr * rsa, rsa, csa, int(std::min<int64_t>(uk.mr, m - s * uk.mr)),
                  k, a.kp, uk.mr, uk.a_layout);
  });
  return a;
}

PackedBf16 pack_bf16_b(const Bf16Kernel& uk, uint16_t* buf, const float* B, int64_t rsb, int64_t csb, int64_t k,
                       int64_t n) {
  const PackedBf16 b{buf, k, round_up(std::max<int64_t>(k, 1), uk.k_align), n, (n + uk.nr - 1) / uk.nr, uk.nr};
  at_isa([&] {
    for (int64_t s = 0; s < b.strips; ++s)
      pack_b_bf16(buf + s * uk.nr * b.kp, B + s * uk.nr * csb, rsb, csb, int(std::min<int64_t>(uk.nr, n - s * uk.nr)),
                  k, b.kp, uk.nr, nullptr);
  });
  return b;
}

void multiply_packed_bf16(const Bf16Kernel& uk, float* C, int64_t ldc, const PackedBf16& A, const PackedBf16& B,
                          int64_t m, int64_t n, int64_t k, float beta, Triangle zero) {
  const int64_t mstrips = (m + uk.mr - 1) / uk.mr, nstrips = (n + uk.nr - 1) / uk.nr, align = uk.k_align;
  if (uk.enter) uk.enter();
  for (int64_t is = 0; is < mstrips; ++is) {
    const int64_t i0 = is * uk.mr;
    const int rows = int(std::min<int64_t>(uk.mr, m - i0));
    int64_t lo = 0, hi = k;  // the k range this row strip needs (past it, its A is zero)
    if (zero.kind == Triangle::k_upto) hi = std::min(hi, i0 + rows + zero.shift);
    if (zero.kind == Triangle::k_from) lo = std::max(lo, i0 - zero.shift);
    lo = lo / align * align;
    hi = std::min(round_up(std::max(hi, lo), align), round_up(k, align));
    int64_t js_end = nstrips;
    if (zero.kind == Triangle::wanted_columns) js_end = std::min(nstrips, (i0 + rows + zero.shift + uk.nr - 1) / uk.nr);
    // (k offset lo, even: lo * MR values into a strip of pairs; lo along each row of the rows layout)
    const uint16_t* a = A.strip(is) + (uk.a_layout == Bf16ALayout::rows ? lo : lo * uk.mr);
    for (int64_t js = 0; js < js_end; ++js) {
      const int cols = int(std::min<int64_t>(uk.nr, n - js * uk.nr));
      float* c = C + i0 * ldc + js * uk.nr;
      if (lo >= hi) {  // nothing to add: beta alone
        for (int r = 0; r < rows; ++r)
          for (int x = 0; x < cols; ++x) c[r * ldc + x] = beta == 0.0f ? 0.0f : beta * c[r * ldc + x];
        continue;
      }
      uk.run(hi - lo, a, A.kp, B.strip(js) + lo * uk.nr, c, ldc, rows, cols, beta, nullptr, nullptr);
    }
  }
  if (uk.leave) uk.leave();
}

void gemm_bf16(float* C, int64_t ldc, const float* A, int64_t rsa, int64_t csa, const float* B, int64_t rsb,
               int64_t csb, int64_t m, int64_t n, int64_t k, float beta, const float* bias,
               const GemmFusion<float>& fused) {
  bf16_packed_gemm(C, ldc, [&](uint16_t* Ap, int64_t i0, int rows, int64_t p0, int64_t kc, int64_t kcp, int MR,
                               Bf16ALayout layout) {
    at_isa([&] { pack_a_bf16(Ap, A + i0 * rsa + p0 * csa, rsa, csa, rows, kc, kcp, MR, layout); });
  }, B, rsb, csb, m, n, k, beta, bias, fused);
}

void gemm_bf16_implicit_a(float* C, int64_t ldc, const APacker<float>& a, const float* B, int64_t rsb, int64_t csb,
                          int64_t m, int64_t n, int64_t k, float beta, const float* bias,
                          const GemmFusion<float>& fused) {
  bf16_packed_gemm(C, ldc, [&](uint16_t* Ap, int64_t i0, int rows, int64_t p0, int64_t kc, int64_t kcp, int MR,
                               Bf16ALayout layout) {
    float* strip = scratch<float>(0, size_t(MR) * size_t(kc));  // (the packing thread's own)
    a.pack(a.context, strip, i0, rows, p0, kc, MR);
    at_isa([&] { strip_to_bf16(Ap, strip, kc, kcp, MR, layout); });
  }, B, rsb, csb, m, n, k, beta, bias, fused);
}

}  // namespace detail

using detail::kPathNames;
using detail::kPaths;
using detail::path_available;

std::vector<std::string> bf16_paths() {
  std::vector<std::string> out;
  for (int p = 0; p < kPaths; ++p)
    if (path_available(p)) out.push_back(kPathNames[p]);
  return out;
}

std::string bf16_path() { return detail::current_kernel().name; }

void set_bf16_path(const std::string& name) {
  for (int p = 0; p < kPaths; ++p)
    if (name == kPathNames[p]) {
      if (!path_available(p)) throw std::invalid_argument("bf16 path '" + name + "' is not available on this CPU");
      detail::chosen_path = p;
      return;
    }
  throw std::invalid_argument("unknown bf16 path '" + name + "' (amx, avx512_bf16 or emulated)");
}

}  // namespace brisknet
