// The bf16 GEMM's micro-kernels: operands rounded to bfloat16 when packed (bf16.h), products
// summed in float32. The driver is gemm_bf16.cpp; kernels live in the per-ISA files.
//
// Every dot-product kernel (emulated or AVX512-BF16) computes each element of C as one chain
// from its old value: per pair of k values (2q, 2q + 1) it adds a[2q+1] b[2q+1], rounds, then
// adds a[2q] b[2q], rounds (VDPBF16PS's order; a product of two bf16 values is exact in float32,
// so a multiply then an add is a fused multiply-add). The chain starts from beta * C, not from
// zero per k block, so the bits depend neither on the cache blocks nor on the CPU: they are the
// same on a machine with the instruction and one without (outside float32's denormal range,
// where VDPBF16PS flushes its fused result and the emulation its product).
// AMX sums a tile's 32 products in an order of its own (measured: neither pair order), so its
// results agree with the others to bf16 GEMM accuracy, not to the bit.
#pragma once
#include <cstdint>

namespace brisknet::detail {

// C[0:mr, 0:nr] := chain(beta * C, Ap, Bp) (+ bias[0:nr]); relu (when not null): the ReLU of the
// stored tile there too, leading dimension ldc. kc: k values, a multiple of the kernel's k_align
// (the packers pad with zeros). Ap, Bp: packed by gemm_bf16.cpp in the kernel's layouts; lda: the
// rows layout's row stride in values (kc for a strip of its own; ignored by the pairs layout).
using Bf16KernelFn = void (*)(int64_t kc, const uint16_t* Ap, int64_t lda, const uint16_t* Bp, float* C, int64_t ldc, int mr,
                              int nr, float beta, const float* bias, float* relu);

// A's packed layout: pairs (Ap32[q * MR + i] holds A[i, 2q] and A[i, 2q + 1]: a broadcast word
// per row), or rows (AMX: row i's kc values contiguous, Ap[i * kc + p]). B is always in pairs:
// Bp32[q * NR + j] holds B[2q, j] and B[2q + 1, j] (AMX's "VNNI" layout).
enum class Bf16ALayout { pairs, rows };

struct Bf16Kernel {
  const char* name;  // "amx", "avx512_bf16" or "emulated"
  Bf16KernelFn run;
  int mr, nr, k_align;
  Bf16ALayout a_layout;
  void (*enter)();  // per thread, before its first tile of a GEMM (AMX: the tile configuration)
  void (*leave)();  // per thread, after its last
  int kc, mc, nc;   // cache blocks (gemm_bf16.cpp)
};

// One getter per ISA file (each compiled with its own flags).
Bf16Kernel bf16_kernel_generic();
Bf16Kernel bf16_kernel_avx2();
Bf16Kernel bf16_kernel_avx512();
Bf16Kernel bf16_kernel_avx512_bf16();
Bf16Kernel bf16_kernel_amx();
bool amx_usable();  // the CPU has AMX-BF16 and the kernel lets this process use it

}  // namespace brisknet::detail
