// Resampling channels_last images (n, h, w, c). resize_images: to (n, oh, ow, c) as TensorFlow's
// resize with
// half-pixel centres (tf.image.resize, keras.ops.image.resize, the Resizing layer, the images of
// image_dataset_from_directory): output pixel (i, j) samples the input at ((i + 0.5) h / oh -
// 0.5, (j + 0.5) w / ow - 0.5), bilinear from its 4 nearest pixels (edges clamped) or the nearest
// one. affine_transform_images: each output pixel read from where a projective transform of its
// coordinates points, as TensorFlow's ImageProjectiveTransformV3 (keras.ops.image.affine_transform,
// the random rotation, zoom and translation layers), points outside the image filled as fill_mode
// says. Every output computed alone, in float, so threads split rows freely and the bits never
// depend on their number.
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

namespace {

// An input coordinate outside [0, size) brought inside as fill_mode says (TensorFlow's
// MapCoordinate): reflect (d c b a | a b c d | d c b a), wrap, nearest (clamped); constant leaves it,
// and the reads outside give the fill value.
inline float map_coordinate(float at, int64_t size, FillMode mode) {
  const float len = float(size);
  switch (mode) {
    case FillMode::reflect:
      if (at < 0) {
        if (size <= 1) return 0;
        const float twice = 2 * len;
        if (at < twice) at = twice * float(int64_t(-at / twice)) + at;
        at = at < -len ? at + twice : -at - 1;
      } else if (at > len - 1) {
        if (size <= 1) return 0;
        const float twice = 2 * len;
        at -= twice * float(int64_t(at / twice));
        if (at >= len) at = twice - at - 1;
      }
      return std::clamp(at, 0.0f, len - 1);
    case FillMode::wrap:
      if (at < 0) {
        if (size <= 1) return 0;
        const float span = len - 1;
        at += len * (float(int64_t(-at / span)) + 1);
      } else if (at > len - 1) {
        if (size <= 1) return 0;
        const float span = len - 1;
        at -= len * float(int64_t(at / span));
      }
      return std::clamp(at, 0.0f, len - 1);
    case FillMode::nearest:
      return std::clamp(at, 0.0f, len - 1);
    default:
      return at;
  }
}

// std::floor, without the library call the baseline ISA (no SSE4.1 round) makes of it: exact
// wherever a float has a fraction (|v| < 2^23), and std::floor elsewhere.
inline float floor_of(float v) {
  if (!(std::fabs(v) < 8388608.0f)) return std::floor(v);
  const float t = float(int32_t(v));
  return t > v ? t - 1.0f : t;
}

// A bilinear read with all four pixels inside the image: a (and b, the row below) the top left
// pixel's channels, C the channel count when known at compile time (0: c); the same arithmetic as
// the general path's, so the same bits.
template <int C, typename T>
inline void blend_inside(T* o, const T* a, const T* b, int64_t c, const float wx[2], const float wy[2]) {
  const int64_t channels = C ? C : c;
  for (int64_t k = 0; k < channels; ++k) {
    const float upper = wx[0] * float(a[k]) + wx[1] * float(a[channels + k]);
    const float lower = wx[0] * float(b[k]) + wx[1] * float(b[channels + k]);
    o[k] = T(wy[0] * upper + wy[1] * lower);
  }
}

}  // namespace

template <typename T>
void affine_transform_images(T* y, const T* x, const float* transforms, int64_t n, int64_t h, int64_t w, int64_t c,
                             int64_t oh, int64_t ow, bool bilinear, FillMode fill_mode, T fill_value) {
  const int nt = detail::threads_for(n * oh * ow * c * 12, detail::kElementGrain);
#pragma omp parallel for num_threads(nt) schedule(static)
  for (int64_t p = 0; p < n * oh; ++p) {
    const int64_t img = p / oh, i = p % oh;
    const float* t = transforms + img * 8;
    const T* image = x + img * h * w * c;
    T* out = y + p * ow * c;
    auto read = [&](int64_t r, int64_t q, int64_t k) {  // a pixel, or the fill value outside the image
      return r >= 0 && r < h && q >= 0 && q < w ? float(image[(r * w + q) * c + k]) : float(fill_value);
    };
    for (int64_t j = 0; j < ow; ++j) {
      T* o = out + j * c;
      const float projection = t[6] * float(j) + t[7] * float(i) + 1.0f;
      if (projection == 0) {
        std::fill(o, o + c, fill_value);
        continue;
      }
      // (rotation, zoom and translation divide by 1: skipped, the same values)
      float xs = t[0] * float(j) + t[1] * float(i) + t[2], ys = t[3] * float(j) + t[4] * float(i) + t[5];
      if (projection != 1.0f) xs /= projection, ys /= projection;
      const float xi = map_coordinate(xs, w, fill_mode), yi = map_coordinate(ys, h, fill_mode);
      if (!bilinear) {
        const int64_t r = int64_t(std::round(yi)), q = int64_t(std::round(xi));
        for (int64_t k = 0; k < c; ++k) o[k] = T(read(r, q, k));
        continue;
      }
      const float y0 = floor_of(yi), x0 = floor_of(xi), y1 = y0 + 1, x1 = x0 + 1;
      const int64_t r0 = int64_t(y0), q0 = int64_t(x0);
      if (r0 >= 0 && r0 + 1 < h && q0 >= 0 && q0 + 1 < w) {  // all four inside (most pixels): no checks per read
        const T* a = image + (r0 * w + q0) * c;
        const float wx[2] = {x1 - xi, xi - x0}, wy[2] = {y1 - yi, yi - y0};
        if (c == 3) blend_inside<3>(o, a, a + w * c, 3, wx, wy);  // (RGB unrolled)
        else if (c == 1) blend_inside<1>(o, a, a + w * c, 1, wx, wy);
        else blend_inside<0>(o, a, a + w * c, c, wx, wy);
        continue;
      }
      for (int64_t k = 0; k < c; ++k) {
        const float upper = (x1 - xi) * read(r0, q0, k) + (xi - x0) * read(r0, q0 + 1, k);
        const float lower = (x1 - xi) * read(r0 + 1, q0, k) + (xi - x0) * read(r0 + 1, q0 + 1, k);
        o[k] = T((y1 - yi) * upper + (yi - y0) * lower);
      }
    }
  }
}

template void affine_transform_images<float>(float*, const float*, const float*, int64_t, int64_t, int64_t, int64_t,
                                             int64_t, int64_t, bool, FillMode, float);
template void affine_transform_images<double>(double*, const double*, const float*, int64_t, int64_t, int64_t,
                                              int64_t, int64_t, int64_t, bool, FillMode, double);

template void resize_images<uint8_t, float>(float*, const uint8_t*, int64_t, int64_t, int64_t, int64_t, int64_t,
                                            int64_t, bool);
template void resize_images<float, float>(float*, const float*, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t,
                                          bool);
template void resize_images<double, double>(double*, const double*, int64_t, int64_t, int64_t, int64_t, int64_t,
                                            int64_t, bool);

}  // namespace brisknet
