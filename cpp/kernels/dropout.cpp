// Dropout with a counter-based mask (elementwise_math.h): element i's keep/drop depends only on
// (seed, i), so the mask is reproducible and independent of the thread count and the device.
#include <algorithm>

#include "brisknet/elementwise_math.h"
#include "brisknet/kernels.h"
#include "parallel.h"

namespace brisknet {
template <typename T>
void dropout_forward(T* y, uint8_t* mask, const T* x, int64_t n, T rate, uint64_t seed) {
  dropout_forward_at<T>(y, mask, x, n, rate, seed, 0);
}

namespace {
// The keep flags of elements [first, first + n): integer arithmetic only, so every clone gives the
// same bits. Cloned per ISA: the hash's 64-bit products vectorise with AVX-512DQ (and AVX2's
// emulation of them); the baseline x86-64 build runs them one at a time (5 ns per element).
#if defined(BRISKNET_X86) && defined(__GNUC__)
__attribute__((target_clones("arch=x86-64-v4", "avx2", "default")))
#endif
void keep_flags(uint8_t* mask, uint64_t key, uint64_t threshold, int64_t first, int64_t n) {
  for (int64_t i = 0; i < n; ++i) mask[i] = math::dropout_keeps(key, threshold, first + i);
}
}  // namespace

template <typename T>
void dropout_forward_at(T* y, uint8_t* mask, const T* x, int64_t n, T rate, uint64_t seed, int64_t first) {
  const uint64_t threshold = math::dropout_threshold(double(rate));
  const T scale = rate < T(1) ? T(1) / (T(1) - rate) : T(0);
  const uint64_t key = math::dropout_key(seed);
  constexpr int64_t kBlock = 4096;
  const int nt = detail::threads_for(n, detail::kElementGrain);
#pragma omp parallel for num_threads(nt) schedule(static)
  for (int64_t begin = 0; begin < n; begin += kBlock) {
    const int64_t count = std::min(kBlock, n - begin);
    uint8_t* __restrict keep = mask + begin;  // (restrict: a uint8_t store may alias anything)
    const T* in = x + begin;  // (y may alias x)
    T* out = y + begin;
    keep_flags(keep, key, threshold, first + begin, count);
    // a product, so a dropped NaN stays NaN (as Keras, PyTorch)
    for (int64_t i = 0; i < count; ++i) out[i] = in[i] * (keep[i] ? scale : T(0));
  }
}

template <typename T>
void spatial_dropout_forward(T* y, uint8_t* mask, const T* x, int64_t rows, int64_t positions, int64_t channels,
                             T rate, uint64_t seed, int64_t first_row) {
  const uint64_t threshold = math::dropout_threshold(double(rate));
  const T scale = rate < T(1) ? T(1) / (T(1) - rate) : T(0);
  const uint64_t key = math::dropout_key(seed);
  const int64_t row = positions * channels;
  const int nt = detail::threads_for(rows * row, detail::kElementGrain);
#pragma omp parallel for num_threads(nt) schedule(static)
  for (int64_t r = 0; r < rows; ++r) {
    uint8_t* __restrict keep = mask + r * row;  // the row's flags at position 0, then copied to the others
    keep_flags(keep, key, threshold, (first_row + r) * channels, channels);
    for (int64_t p = 1; p < positions; ++p) std::copy_n(keep, channels, keep + p * channels);
    const T* in = x + r * row;
    T* out = y + r * row;
    for (int64_t i = 0; i < row; ++i) out[i] = in[i] * (keep[i] ? scale : T(0));
  }
}

template <typename T>
void dropout_backward(T* dx, const T* dy, const uint8_t* mask, int64_t n, T rate) {
  const T scale = rate < T(1) ? T(1) / (T(1) - rate) : T(0);
  const int nt = detail::threads_for(n, detail::kElementGrain);
#pragma omp parallel for num_threads(nt) schedule(static)
  for (int64_t i = 0; i < n; ++i) dx[i] = dy[i] * (mask[i] ? scale : T(0));
}

template void dropout_forward<float>(float*, uint8_t*, const float*, int64_t, float, uint64_t);
template void dropout_forward_at<float>(float*, uint8_t*, const float*, int64_t, float, uint64_t, int64_t);
template void dropout_forward<double>(double*, uint8_t*, const double*, int64_t, double, uint64_t);
template void dropout_forward_at<double>(double*, uint8_t*, const double*, int64_t, double, uint64_t, int64_t);
template void spatial_dropout_forward<float>(float*, uint8_t*, const float*, int64_t, int64_t, int64_t, float,
                                             uint64_t, int64_t);
template void spatial_dropout_forward<double>(double*, uint8_t*, const double*, int64_t, int64_t, int64_t, double,
                                              uint64_t, int64_t);
template void dropout_backward<float>(float*, const float*, const uint8_t*, int64_t, float);
template void dropout_backward<double>(double*, const double*, const uint8_t*, int64_t, double);

}  // namespace brisknet
