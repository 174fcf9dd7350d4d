// bf16 micro-kernels on bf16 instructions (compiled with -mavx512bf16 -mamx-tile -mamx-bf16; run
// only where CPUID says so, gemm_bf16.cpp): VDPBF16PS (AVX512-BF16: Zen 4, Zen 5, Cooper Lake,
// Sapphire Rapids) and AMX's TDPBF16PS (Sapphire Rapids and later).
#include <immintrin.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <cpuid.h>
#include "gemm_bf16_ukr_impl.h"

namespace brisknet::detail {
namespace {

// MR x NV vectors of 16 floats, from pairs packed as gemm_bf16_ukr.h says. The same chain as
// the emulated kernel: VDPBF16PS adds the odd product, rounds, then the even one, rounds.
template <int MR, int NV>
void dot_kernel(int64_t kc, const uint16_t* Ap, int64_t lda, const uint16_t* Bp, float* C, int64_t ldc, int mr, int nr,
                float beta, const float* bias, float* relu) {
  (void)lda;  // (pairs)
  constexpr int NR = NV * 16;
  alignas(64) float tile[MR * NR];
  load_bf16_tile<MR, NR>(tile, C, ldc, mr, nr, beta);
  __m512 acc[MR][NV];
#pragma GCC unroll 32
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) acc[i][v] = _mm512_load_ps(tile + i * NR + v * 16);
  const int* a32 = reinterpret_cast<const int*>(Ap);
  for (int64_t q = 0; q < kc / 2; ++q) {
    __m512i b[NV];
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) b[v] = _mm512_loadu_si512(Bp + 2 * (q * NR + v * 16));
#pragma GCC unroll 32
    for (int i = 0; i < MR; ++i) {
      const __m512i a = _mm512_set1_epi32(a32[q * MR + i]);
#pragma GCC unroll 8
      for (int v = 0; v < NV; ++v) acc[i][v] = _mm512_dpbf16_ps(acc[i][v], (__m512bh)a, (__m512bh)b[v]);
    }
  }
#pragma GCC unroll 32
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) _mm512_store_ps(tile + i * NR + v * 16, acc[i][v]);
  store_bf16_tile(tile, NR, C, ldc, mr, nr, bias, relu);
}

// AMX: a 32 x 32 block of C in four 16 x 16 tiles (tmm0-3), two A tiles of 16 rows x 32 k
// (tmm4-5) and two B tiles of 16 pairs x 16 columns (tmm6-7) per 32 values of k.
struct TileConfig {
  uint8_t palette = 1, start_row = 0;
  uint8_t reserved[14] = {};
  uint16_t colsb[16] = {};
  uint8_t rows[16] = {};
};

// A global, not a local: GCC 12 drops the stores to a local configuration, as if LDTILECFG did
// not read memory, and the instruction faults on the garbage.
constexpr TileConfig eight_full_tiles() {
  TileConfig cfg;
  for (int t = 0; t < 8; ++t) cfg.rows[t] = 16, cfg.colsb[t] = 64;
  return cfg;
}
alignas(64) const TileConfig kTileConfig = eight_full_tiles();

void amx_enter() { _tile_loadconfig(&kTileConfig); }
void amx_leave() { _tile_release(); }

void amx_kernel(int64_t kc, const uint16_t* Ap, int64_t lda, const uint16_t* Bp, float* C, int64_t ldc, int mr, int nr,
                float beta, const float* bias, float* relu) {
  constexpr int MR = 32, NR = 32;
  alignas(64) float tile[MR * NR];
  const bool direct = mr == MR && nr == NR && (beta == 0.0f || beta == 1.0f);  // C itself holds the chain
  float* c = direct ? C : tile;
  const int64_t ldt = direct ? ldc : NR;
  if (!direct) load_bf16_tile<MR, NR>(tile, C, ldc, mr, nr, beta);
  if (direct && beta == 0.0f) {
    _tile_zero(0); _tile_zero(1); _tile_zero(2); _tile_zero(3);
  } else {
    _tile_loadd(0, c, ldt * 4);
    _tile_loadd(1, c + 16, ldt * 4);
    _tile_loadd(2, c + 16 * ldt, ldt * 4);
    _tile_loadd(3, c + 16 * ldt + 16, ldt * 4);
  }
  const int64_t a_stride = lda * 2;  // bytes per packed row of A
  for (int64_t p = 0; p < kc; p += 32) {
    _tile_loadd(4, Ap + p, a_stride);
    _tile_loadd(5, Ap + 16 * lda + p, a_stride);
    const uint16_t* b = Bp + p * NR;  // 16 pair rows of 2 * NR values
    _tile_loadd(6, b, NR * 4);
    _tile_loadd(7, b + 32, NR * 4);
    _tile_dpbf16ps(0, 4, 6);
    _tile_dpbf16ps(1, 4, 7);
    _tile_dpbf16ps(2, 5, 6);
    _tile_dpbf16ps(3, 5, 7);
  }
  _tile_stored(0, c, ldt * 4);
  _tile_stored(1, c + 16, ldt * 4);
  _tile_stored(2, c + 16 * ldt, ldt * 4);
  _tile_stored(3, c + 16 * ldt + 16, ldt * 4);
  if (direct) {
    if (bias || relu)  // the last k block: the epilogue on C in place
      store_bf16_tile(C, ldc, C, ldc, mr, nr, bias, relu);
    return;
  }
  store_bf16_tile(tile, NR, C, ldc, mr, nr, bias, relu);
}

bool cpu_has_amx_bf16() {
  unsigned a, b, c, d;
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return false;
  return (d & (1u << 24)) && (d & (1u << 22));  // AMX-TILE, AMX-BF16
}

}  // namespace

bool amx_usable() {
  static const bool usable = [] {
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & (1u << 27))) return false;  // OSXSAVE
    if (!cpu_has_amx_bf16()) return false;
    // Linux hands out AMX's 8 KiB of tile state only to processes that ask (ARCH_REQ_XCOMP_PERM
    // for XFEATURE_XTILEDATA); a kernel without the call, or a hypervisor hiding it, says no.
    constexpr long kReqXcompPerm = 0x1023, kXtileData = 18;
    return syscall(SYS_arch_prctl, kReqXcompPerm, kXtileData) == 0;
  }();
  return usable;
}

Bf16Kernel bf16_kernel_avx512_bf16() {
  return {"avx512_bf16", &dot_kernel<12, 2>, 12, 32, 2, Bf16ALayout::pairs, nullptr, nullptr, 0, 0, 0};
}

Bf16Kernel bf16_kernel_amx() {
  return {"amx", &amx_kernel, 32, 32, 32, Bf16ALayout::rows, &amx_enter, &amx_leave, 0, 0, 0};
}

}  // namespace brisknet::detail
