// Resizing channels_last images (n, h, w, c) to (n, oh, ow, c) as TensorFlow's resize with
// half-pixel centres (tf.image.resize, keras.ops.image.resize, the Resizing layer, the images of
// image_dataset_from_directory): output pixel (i, j) samples the input at ((i + 0.5) h / oh -
// 0.5, (j + 0.5) w / ow - 0.5), bilinear from its 4 nearest pixels (edges clamped) or the nearest
// one. Inputs of uint8 (decoded files) or floats; every output computed alone, in float, so
// threads split rows freely and the bits never depend on their number.
#include <algorithm>
#include <cmath>

#include "brisknet/kernels.h"
#include "parallel.h"

namespace brisknet {
namespace {

// Where output index i samples the input, as TensorFlow computes it (float arithmetic).
struct Tap {
  int64_t lo, hi;
  float lerp;
};

inline Tap bilinear_tap(int64_t i, float scale, int64_t size) {
  const float at = (float(i) + 0.5f) * scale - 0.5f;
  const float down = std::floor(at);
  return {std::max<int64_t>(int64_t(down), 0), std::min<int64_t>(int64_t(std::ceil(at)), size - 1), at - down};
}

inline int64_t nearest_tap(int64_t i, float scale, int64_t size) {
  return std::clamp<int64_t>(int64_t(std::floor((float(i) + 0.5f) * scale)), 0, size - 1);
}

}  // namespace

template <typename In, typename Out>
void resize_images(Out* y, const In* x, int64_t n, int64_t h, int64_t w, int64_t c, int64_t oh, int64_t ow,
                   bool bilinear) {
  const float sh = float(h) / float(oh), sw = float(w) / float(ow);
  const int nt = detail::threads_for(n * oh * ow * c * (bilinear ? 8 : 1), detail::kElementGrain);
#pragma omp parallel for num_threads(nt) schedule(static)
  for (int64_t p = 0; p < n * oh; ++p) {
    const int64_t img = p / oh, i = p % oh;
    const In* image = x + img * h * w * c;
    Out* out = y + p * ow * c;
    if (!bilinear) {
      const In* row = image + nearest_tap(i, sh, h) * w * c;
      for (int64_t j = 0; j < ow; ++j) {
        const In* px = row + nearest_tap(j, sw, w) * c;
        for (int64_t k = 0; k < c; ++k) out[j * c + k] = Out(px[k]);
      }
      continue;
    }
    const Tap ty = bilinear_tap(i, sh, h);
    const In* top = image + ty.lo * w * c;
    const In* bottom = image + ty.hi * w * c;
    const Out dy = Out(ty.lerp);
    for (int64_t j = 0; j < ow; ++j) {
      const Tap tx = bilinear_tap(j, sw, w);
      const Out dx = Out(tx.lerp);
      for (int64_t k = 0; k < c; ++k) {
        const Out tl = Out(top[tx.lo * c + k]), tr = Out(top[tx.hi * c + k]);
        const Out bl = Out(bottom[tx.lo * c + k]), br = Out(bottom[tx.hi * c + k]);
        const Out upper = tl + (tr - tl) * dx, lower = bl + (br - bl) * dx;
        out[j * c + k] = upper + (lower - upper) * dy;
      }
    }
  }
}

template void resize_images<uint8_t, float>(float*, const uint8_t*, int64_t, int64_t, int64_t, int64_t, int64_t,
                                            int64_t, bool);
template void resize_images<float, float>(float*, const float*, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t,
                                          bool);
template void resize_images<double, double>(double*, const double*, int64_t, int64_t, int64_t, int64_t, int64_t,
                                            int64_t, bool);

}  // namespace brisknet
