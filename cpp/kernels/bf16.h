// bfloat16: the top half of a float32. One rounding for every path, so that a bf16 product gives
// the same bits on CPUs with and without bf16 instructions.
#pragma once
#include <cstdint>
#include <cstring>

namespace brisknet::detail {

// float32 -> bfloat16 as VCVTNEPS2BF16 does it: round to nearest even; zeros and denormals to a
// zero of their sign; NaN stays NaN (made quiet); overflow rounds to infinity.
inline uint16_t to_bf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof(u));
  // (selects, not branches: the packing loops that call this vectorise)
  uint32_t r = (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
  r = (u & 0x7f800000u) == 0 ? (u >> 16) & 0x8000u : r;
  r = (u & 0x7fffffffu) > 0x7f800000u ? (u >> 16) | 0x40u : r;
  return uint16_t(r);
}

// Two values along k as one 32-bit word (the first in the low half): the pair a dot-product
// instruction multiplies at once.
inline uint32_t bf16_pair(float first, float second) {
  return uint32_t(to_bf16(first)) | (uint32_t(to_bf16(second)) << 16);
}

inline float from_bf16(uint16_t h) {
  const uint32_t u = uint32_t(h) << 16;
  float f;
  std::memcpy(&f, &u, sizeof(f));
  return f;
}

}  // namespace brisknet::detail
