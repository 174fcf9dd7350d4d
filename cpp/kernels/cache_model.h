// The cache hierarchy of the CPU we run on, and the GEMM block sizes derived from it (the
// analytical model of Low et al., "Analytical Modeling Is Enough for High-Performance BLIS",
// ACM TOMS 2016), so that no block size is tuned to one machine.
#pragma once
#include <cstdint>
#include <string>

namespace brisknet::detail {

struct CacheLevel {
  int64_t bytes = 0;  // total size of one instance
  int ways = 0;       // associativity
  int line = 64;      // bytes per line
  int shared_by = 1;  // logical CPUs sharing one instance
};

struct CacheHierarchy {
  CacheLevel l1d, l2, l3;
  std::string source;  // "cpuid", "sysfs" or "defaults"
};

// Read once: CPUID leaf 4 (Intel) or 0x8000001D (AMD) on x86, else Linux's sysfs, else a
// conservative default (32 KiB 8-way L1d, 512 KiB L2, 2 MiB of L3 per core). Any level that
// reads as empty or absurd takes its default.
const CacheHierarchy& cache_hierarchy();

// Block sizes for a micro-kernel with an MR x NR register tile of `elem`-byte values, in
// gemm.cpp's loop order: a packed B strip (kc x NR) stays in L1 while the A strips (MR x kc) of
// the packed A block stream past it from L2; the packed B panel (kc x nc) lives in L3.
struct BlockSizes {
  int kc, mc, nc;
  std::string why;  // the arithmetic, for cpu_info()
};
BlockSizes block_sizes(const CacheHierarchy& caches, int mr, int nr, int elem);

}  // namespace brisknet::detail
