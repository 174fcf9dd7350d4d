// Depthwise convolution by direct loops (depthwise.h). Within one call everything runs in a fixed
// order (images, positions, taps), so the results do not depend on the thread count.
#include "depthwise.h"

#include <algorithm>

#include "isa_clones.h"
#include "window_taps.h"

namespace brisknet::detail {

namespace {
// out[k * m + j] += in[k] * weight[k * m + j] over the c channels
template <typename T>
inline void multiply_add(T* out, const T* in, const T* weight, int64_t c, int64_t m) {
  if (m == 1) {
#pragma omp simd
    for (int64_t k = 0; k < c; ++k) out[k] += in[k] * weight[k];
    return;
  }
  for (int64_t k = 0; k < c; ++k)
    for (int64_t j = 0; j < m; ++j) out[k * m + j] += in[k] * weight[k * m + j];
}
}  // namespace

template <typename T>
void depthwise_forward(T* z, const T* x, const T* w, const T* bias, const Window2D& g, int64_t m) {
  const int64_t f = g.c * m;
  at_isa([&] {
    for (int64_t n = 0; n < g.n; ++n)
      for (int64_t oh = 0; oh < g.oh; ++oh)
        for (int64_t ow = 0; ow < g.ow; ++ow) {
          T* out = z + ((n * g.oh + oh) * g.ow + ow) * f;
          std::fill(out, out + f, T(0));
          for_each_tap(g, n, oh, ow, [&](int64_t at, int64_t t) { multiply_add(out, x + at, w + t * f, g.c, m); });
          if (bias)
            for (int64_t e = 0; e < f; ++e) out[e] += bias[e];
        }
  });
}

template <typename T>
void depthwise_backward(T* dw, T* db, T* dx, const T* dz, const T* x, const T* w, const Window2D& g, int64_t m) {
  const int64_t f = g.c * m;
  if (dw) std::fill(dw, dw + g.kh * g.kw * f, T(0));
  if (db) std::fill(db, db + f, T(0));
  if (dx) std::fill(dx, dx + g.n * g.h * g.w * g.c, T(0));
  at_isa([&] {
    for (int64_t n = 0; n < g.n; ++n)
      for (int64_t oh = 0; oh < g.oh; ++oh)
        for (int64_t ow = 0; ow < g.ow; ++ow) {
          const T* d = dz + ((n * g.oh + oh) * g.ow + ow) * f;
          if (db)
            for (int64_t e = 0; e < f; ++e) db[e] += d[e];
          for_each_tap(g, n, oh, ow, [&](int64_t at, int64_t t) {
            if (dw) multiply_add(dw + t * f, x + at, d, g.c, m);
            if (!dx) return;
            T* target = dx + at;
            const T* weight = w + t * f;
            if (m == 1) {
#pragma omp simd
              for (int64_t k = 0; k < g.c; ++k) target[k] += d[k] * weight[k];
            } else {
              for (int64_t k = 0; k < g.c; ++k)
                for (int64_t j = 0; j < m; ++j) target[k] += d[k * m + j] * weight[k * m + j];
            }
          });
        }
  });
}

#define BRISKNET_DEPTHWISE(T)                                                                                 \
  template void depthwise_forward<T>(T*, const T*, const T*, const T*, const Window2D&, int64_t);            \
  template void depthwise_backward<T>(T*, T*, T*, const T*, const T*, const T*, const Window2D&, int64_t);
BRISKNET_DEPTHWISE(float)
BRISKNET_DEPTHWISE(double)
#undef BRISKNET_DEPTHWISE

}  // namespace brisknet::detail
