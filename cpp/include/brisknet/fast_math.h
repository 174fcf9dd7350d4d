// float32 exp, sigmoid, tanh and the normal CDF in plain arithmetic (no calls, no branches), so that a row's loop
// vectorises in the AVX2 / AVX-512 copies of isa_clones.h; Cephes' expf and tanhf polynomials,
// within 2 ulp of glibc. Their files are compiled with -ffp-contract=off: every copy gives the
// same bits.
#pragma once
#include <cstdint>
#include <cstring>

namespace brisknet::fast {

// exp(x) for x <= 0: 2^n times a degree-6 polynomial; below -87 it gives exp(-87) (~1.6e-38),
// where std::exp would give a denormal or 0. NaN stays NaN.
inline float exp_nonpositive(float x) {
  x = x < -87.0f ? -87.0f : x;
  const float n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;  // round(x / ln 2)
  float r = x - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  // (NaN: any exponent, p is NaN already; converting NaN to an integer would be undefined)
  const int32_t bits = (int32_t(n == n ? n : 0.0f) + 127) * (1 << 23);
  float scale;
  std::memcpy(&scale, &bits, sizeof scale);
  return p * scale;
}

inline float abs_of(float x) { return x < 0.0f ? -x : x; }

// 1 / (1 + e^-x), from e^-|x| only (no overflow for any x).
inline float sigmoid(float x) {
  const float e = exp_nonpositive(-abs_of(x));
  const float inv = 1.0f / (1.0f + e);
  return x >= 0.0f ? inv : e * inv;
}

// tanh: x + x^3 P(x^2) below 0.625 in magnitude, else 1 - 2 / (e^2|x| + 1) from e^-2|x|, signed.
inline float tanh(float x) {
  const float a = abs_of(x), z = x * x;
  float p = -5.70498872745e-3f;
  p = p * z + 2.06390887954e-2f;
  p = p * z - 5.37397155531e-2f;
  p = p * z + 1.33314422036e-1f;
  p = p * z - 3.33332819422e-1f;
  const float small = p * z * x + x;
  const float e = exp_nonpositive(-2.0f * a);
  const float large = (1.0f - e) / (1.0f + e);
  const float big = x < 0.0f ? -large : large;
  return a < 0.625f ? small : (a == a ? big : x);
}

// Phi(x) = (1 + erf(x / sqrt 2)) / 2, GELU's gate. With u = |x| / sqrt 2: erf(u) = u P(u^2) up to
// u = 1.5, above it erfc(u) = e^-u^2 Q(1.5 / u) / u (Q: erfcx(u) u, smooth in 1 / u); both
// polynomials fitted to relative error 2e-8. The tail below x = -13 (Phi < 1e-38) gives 0.
// Relative error within 2e-7 for x >= 0, within 2e-5 below (that of e^-u^2 at float32), where
// 1 + std::erf in float32 loses as much to cancellation.
inline float normal_cdf(float x) {
  const float u = abs_of(x) * 0.707106781186547524f, z = u * u;
  float p = -5.71877217e-06f;
  p = p * z + 9.25017303e-05f;
  p = p * z - 0.000806137221f;
  p = p * z + 0.00517542986f;
  p = p * z - 0.0268395264f;
  p = p * z + 0.112830766f;
  p = p * z - 0.376125693f;
  p = p * z + 1.12837911f;
  const float erfc_small = 1.0f - u * p;
  const float big = u > 1.5f ? u : 1.5f, t = 1.5f / big;
  float q = -0.0104646897f;
  q = q * t + 0.0676081926f;
  q = q * t - 0.187913299f;
  q = q * t + 0.283200175f;
  q = q * t - 0.223814085f;
  q = q * t + 0.0373097807f;
  q = q * t + 0.0769889429f;
  q = q * t + 0.000685110455f;
  q = q * t - 0.12541239f;
  q = q * t + 7.86622479e-07f;
  q = q * t + 0.564189553f;
  float erfc_large = exp_nonpositive(-z) * q / big;
  erfc_large = z > 87.0f ? 0.0f : erfc_large;
  const float erfc = u > 1.5f ? erfc_large : erfc_small;
  const float half = 0.5f * erfc;
  return x != x ? x : (x >= 0.0f ? 1.0f - half : half);
}

}  // namespace brisknet::fast
