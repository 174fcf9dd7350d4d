// Reads the cache hierarchy (CPUID, else sysfs, else defaults) and turns it into GEMM blocks.
#include "cache_model.h"
#include <algorithm>
#include <fstream>
#include <sstream>
#include <string>
#if defined(__x86_64__) || defined(_M_X64)
#include <cpuid.h>
#endif

namespace brisknet::detail {
namespace {

bool plausible(const CacheLevel& c, int64_t lo, int64_t hi) {
  return c.bytes >= lo && c.bytes <= hi && c.ways >= 1 && c.ways <= 64 && c.line >= 16 && c.line <= 256 &&
         c.shared_by >= 1;
}

// Deterministic cache parameters: CPUID leaf 4 (Intel) and 0x8000001D (AMD) share one layout.
bool read_cpuid(CacheHierarchy& h) {
#if defined(__x86_64__) || defined(_M_X64)
  unsigned a, b, c, d;
  if (!__get_cpuid(0, &a, &b, &c, &d)) return false;
  const bool amd = b == 0x68747541;  // "Auth"enticAMD
  unsigned leaf = 4;
  if (amd) {
    if (!__get_cpuid(0x80000000, &a, &b, &c, &d) || a < 0x8000001D) return false;
    __get_cpuid(0x80000001, &a, &b, &c, &d);
    if (!(c & (1u << 22))) return false;  // TopologyExtensions: leaf 0x8000001D is valid
    leaf = 0x8000001D;
  } else if (a < 4) {
    return false;
  }
  bool found = false;
  for (unsigned sub = 0; sub < 16; ++sub) {
    __cpuid_count(leaf, sub, a, b, c, d);
    const unsigned type = a & 0x1f, level = (a >> 5) & 0x7;
    if (type == 0) break;
    if (type == 2) continue;  // instruction cache
    CacheLevel lv;
    lv.line = int((b & 0xfff) + 1);
    const int64_t partitions = ((b >> 12) & 0x3ff) + 1;
    lv.ways = int(((b >> 22) & 0x3ff) + 1);
    lv.bytes = int64_t(lv.ways) * partitions * lv.line * (int64_t(c) + 1);
    lv.shared_by = int(((a >> 14) & 0xfff) + 1);
    if (level == 1) h.l1d = lv;
    if (level == 2) h.l2 = lv;
    if (level == 3) h.l3 = lv;
    found = true;
  }
  if (found) h.source = "cpuid";
  return found;
#else
  (void)h;
  return false;
#endif
}

std::string read_line(const std::string& path) {
  std::ifstream f(path);
  std::string s;
  std::getline(f, s);
  return s;
}

int64_t parse_size(const std::string& s) {  // "48K", "2048K", "32M"
  if (s.empty()) return 0;
  int64_t v = 0;
  size_t i = 0;
  while (i < s.size() && s[i] >= '0' && s[i] <= '9') v = v * 10 + (s[i++] - '0');
  if (i < s.size() && (s[i] == 'K' || s[i] == 'k')) v <<= 10;
  if (i < s.size() && (s[i] == 'M' || s[i] == 'm')) v <<= 20;
  return v;
}

int count_cpus(const std::string& list) {  // "0-3,8-11"
  int n = 0;
  std::stringstream ss(list);
  std::string part;
  while (std::getline(ss, part, ',')) {
    const size_t dash = part.find('-');
    if (part.empty()) continue;
    if (dash == std::string::npos) { ++n; continue; }
    n += std::stoi(part.substr(dash + 1)) - std::stoi(part.substr(0, dash)) + 1;
  }
  return std::max(1, n);
}

bool read_sysfs(CacheHierarchy& h) {
  bool found = false;
  for (int i = 0; i < 16; ++i) {
    const std::string dir = "/sys/devices/system/cpu/cpu0/cache/index" + std::to_string(i) + "/";
    const std::string type = read_line(dir + "type");
    if (type.empty()) break;
    if (type == "Instruction") continue;
    CacheLevel lv;
    lv.bytes = parse_size(read_line(dir + "size"));
    const std::string ways = read_line(dir + "ways_of_associativity"), line = read_line(dir + "coherency_line_size");
    try {
      lv.ways = ways.empty() ? 0 : std::stoi(ways);
      lv.line = line.empty() ? 64 : std::stoi(line);
      lv.shared_by = count_cpus(read_line(dir + "shared_cpu_list"));
    } catch (...) {
      continue;
    }
    const std::string level = read_line(dir + "level");
    if (level == "1") h.l1d = lv;
    if (level == "2") h.l2 = lv;
    if (level == "3") h.l3 = lv;
    found = true;
  }
  if (found) h.source = "sysfs";
  return found;
}

CacheHierarchy read_hierarchy() {
  CacheHierarchy h;
  if (!read_cpuid(h)) read_sysfs(h);
  if (h.source.empty()) h.source = "defaults";
  if (!plausible(h.l1d, 8 << 10, 1 << 20)) h.l1d = {32 << 10, 8, 64, 1};
  if (!plausible(h.l2, 64 << 10, 64 << 20)) h.l2 = {512 << 10, 8, 64, 1};
  if (!plausible(h.l3, 256 << 10, int64_t(4) << 30)) h.l3 = {h.l2.bytes * 4, 16, 64, 1};  // none: L2 backs it
  return h;
}

// v clamped to [lo, hi], then rounded down to a multiple (never below one multiple).
int64_t fit(int64_t v, int64_t lo, int64_t hi, int64_t multiple) {
  return std::max(multiple, std::clamp(v, lo, hi) / multiple * multiple);
}

}  // namespace

const CacheHierarchy& cache_hierarchy() {
  static const CacheHierarchy h = read_hierarchy();
  return h;
}

BlockSizes block_sizes(const CacheHierarchy& caches, int mr, int nr, int elem) {
  const CacheLevel& l1 = caches.l1d;
  // kc: the two packed strips one micro-kernel call reads, the B strip (kc x NR, reused across
  // the A strips) and an A strip (MR x kc), in all but one way of L1: the way left for C's tile
  // and stray lines (the model's LRU argument). Room for a second A strip too (the model's
  // strictest form) was measured 3 % slower (12 x 32 tile, kc 192 vs 256, Xeon 2026-12-02): the
  // next A strip streams from L2 in time, and a longer kc halves the passes over C.
  const int64_t l1_usable = l1.bytes / l1.ways * (l1.ways - 1);
  const int64_t kc = fit(l1_usable / (int64_t(nr + mr) * elem), 64, 1024, 16);
  // mc: the packed A block (mc x kc) in half of one core's L2 (every thread reads all of it).
  const int64_t l2_core = caches.l2.bytes / std::max(1, std::min(caches.l2.shared_by, 2));
  const int64_t mc = fit(l2_core / 2 / (kc * elem), mr, 4096, mr);
  // nc: the packed B panel (kc x nc) in one core's share of L3 (the threads split it, each
  // reading its own columns of it again for every A block).
  const int64_t l3_core = caches.l3.bytes / std::max(1, caches.l3.shared_by);
  const int64_t nc = fit(l3_core / (kc * elem), nr, 8192, nr);
  std::ostringstream why;
  why << "kc " << kc << ": B strip " << nr << " + A strip " << mr << " wide in " << (l1.ways - 1) << "/" << l1.ways
      << " of L1d " << (l1.bytes >> 10) << " KiB; mc " << mc << ": A block in half of L2 " << (l2_core >> 10)
      << " KiB per core; nc " << nc << ": B panel in L3 " << (l3_core >> 10) << " KiB per core";
  return {int(kc), int(mc), int(nc), why.str()};
}

}  // namespace brisknet::detail
