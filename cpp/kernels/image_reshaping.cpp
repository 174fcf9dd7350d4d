// ZeroPadding2D, Cropping2D, UpSampling2D (nearest) and RandomFlip over channels_last images:
// values moved or repeated, the gradients moved back or summed. Images never share outputs, so threads split
// them and every sum runs in a fixed order.
#include <algorithm>
#include <cstring>

#include "brisknet/kernels.h"
#include "parallel.h"

namespace brisknet {

template <typename T>
void shift_image(T* y, const T* x, int64_t n, int64_t h, int64_t w, int64_t c, int64_t oh, int64_t ow, int64_t top,
                 int64_t left) {
  const int nt = detail::threads_for(n * oh * ow * c, detail::kElementGrain);
#pragma omp parallel for num_threads(nt) schedule(static)
  for (int64_t p = 0; p < n * oh; ++p) {
    const int64_t img = p / oh, i = p % oh, r = i - top;
    T* out = y + p * ow * c;
    if (r < 0 || r >= h) {
      std::fill(out, out + ow * c, T(0));
      continue;
    }
    // columns j with 0 <= j - left < w come from the input row; the others are zeros
    const int64_t j0 = std::clamp<int64_t>(left, 0, ow), j1 = std::clamp<int64_t>(left + w, 0, ow);
    std::fill(out, out + j0 * c, T(0));
    if (j1 > j0) std::memcpy(out + j0 * c, x + ((img * h + r) * w + (j0 - left)) * c, sizeof(T) * (j1 - j0) * c);
    std::fill(out + std::max(j0, j1) * c, out + ow * c, T(0));
  }
}

template <typename T>
void upsample_forward(T* y, const T* x, int64_t n, int64_t h, int64_t w, int64_t c, int64_t sh, int64_t sw) {
  const int64_t ow = w * sw;
  const int nt = detail::threads_for(n * h * sh * ow * c, detail::kElementGrain);
#pragma omp parallel for num_threads(nt) schedule(static)
  for (int64_t p = 0; p < n * h * sh; ++p) {  // output rows
    const int64_t img = p / (h * sh), r = (p % (h * sh)) / sh;
    T* out = y + p * ow * c;
    for (int64_t j = 0; j < ow; ++j) std::memcpy(out + j * c, x + ((img * h + r) * w + j / sw) * c, sizeof(T) * c);
  }
}

template <typename T>
void upsample_backward(T* dx, const T* dy, int64_t n, int64_t h, int64_t w, int64_t c, int64_t sh, int64_t sw) {
  const int64_t ow = w * sw;
  const int nt = detail::threads_for(n * h * sh * ow * c, detail::kElementGrain);
#pragma omp parallel for num_threads(nt) schedule(static)
  for (int64_t p = 0; p < n * h; ++p) {  // input rows: the sum over the (a, b) copies, in that order
    const int64_t img = p / h, r = p % h;
    T* out = dx + p * w * c;
    std::fill(out, out + w * c, T(0));
    for (int64_t a = 0; a < sh; ++a) {
      const T* row = dy + ((img * h + r) * sh + a) * ow * c;
      for (int64_t j = 0; j < w; ++j)
        for (int64_t b = 0; b < sw; ++b)
          for (int64_t k = 0; k < c; ++k) out[j * c + k] += row[(j * sw + b) * c + k];
    }
  }
}

template <typename T>
void flip_images(T* y, const T* x, const uint8_t* flips, int64_t n, int64_t h, int64_t w, int64_t c) {
  const int nt = detail::threads_for(n * h * w * c, detail::kElementGrain);
#pragma omp parallel for num_threads(nt) schedule(static)
  for (int64_t p = 0; p < n * h; ++p) {  // output rows
    const int64_t img = p / h, i = p % h;
    const bool across = flips[2 * img], down = flips[2 * img + 1];
    const T* row = x + (img * h + (down ? h - 1 - i : i)) * w * c;
    T* out = y + p * w * c;
    if (!across) {
      std::memcpy(out, row, sizeof(T) * w * c);
      continue;
    }
    for (int64_t j = 0; j < w; ++j) std::memcpy(out + j * c, row + (w - 1 - j) * c, sizeof(T) * c);
  }
}

#define BRISKNET_IMAGE_RESHAPING(T)                                                                          \
  template void shift_image<T>(T*, const T*, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t); \
  template void upsample_forward<T>(T*, const T*, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t);          \
  template void upsample_backward<T>(T*, const T*, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t);          \
  template void flip_images<T>(T*, const T*, const uint8_t*, int64_t, int64_t, int64_t, int64_t);
BRISKNET_IMAGE_RESHAPING(float)
BRISKNET_IMAGE_RESHAPING(double)
#undef BRISKNET_IMAGE_RESHAPING

}  // namespace brisknet
