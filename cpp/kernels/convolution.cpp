// Convolution and pooling over channels_last images (kernels.h: Window2D). A convolution is a
// GEMM over the image's patches: im2col lays each output position's receptive field out as one
// row (kh, kw, channel: the order of a Keras kernel's rows), col2im adds such rows back into an
// image (the input gradient). Pooling keeps the max's position for backward. Every scatter runs
// in a fixed order per image and images never share outputs, so threads split images and the
// results do not depend on the thread count.
#include <algorithm>
#include <cstring>
#include <limits>

#include "brisknet/kernels.h"
#include "parallel.h"

namespace brisknet {

namespace {
// Input row/col of window tap k at output position o, or -1 outside the image (padding).
inline int64_t tap(int64_t o, int64_t k, int64_t stride, int64_t dilation, int64_t pad, int64_t size) {
  const int64_t i = o * stride + k * dilation - pad;
  return i >= 0 && i < size ? i : -1;
}

// visit(offset in x of the tap's channel 0) for each tap of the window at output (n, oh, ow) that
// lies inside the image, in (kh, kw) order; returns how many there were.
template <typename F>
inline int64_t for_each_tap(const Window2D& g, int64_t n, int64_t oh, int64_t ow, F&& visit) {
  int64_t count = 0;
  for (int64_t kh = 0; kh < g.kh; ++kh) {
    const int64_t ih = tap(oh, kh, g.sh, g.dh, g.pt, g.h);
    if (ih < 0) continue;
    for (int64_t kw = 0; kw < g.kw; ++kw) {
      const int64_t iw = tap(ow, kw, g.sw, g.dw, g.pl, g.w);
      if (iw < 0) continue;
      visit(((n * g.h + ih) * g.w + iw) * g.c);
      ++count;
    }
  }
  return count;
}
}  // namespace

template <typename T>
void im2col(T* col, const T* x, const Window2D& g, int64_t c0, int64_t cg) {
  const int64_t taps = g.kh * g.kw, row = taps * cg;
  // A window wholly inside the image reads its taps at fixed offsets from its first one: no
  // bounds per tap (kernels up to 8 x 8; larger ones take the checked path below throughout).
  constexpr int64_t kMaxTaps = 64;
  int64_t offset[kMaxTaps];
  const bool table = taps <= kMaxTaps;
  if (table)
    for (int64_t kh = 0; kh < g.kh; ++kh)
      for (int64_t kw = 0; kw < g.kw; ++kw) offset[kh * g.kw + kw] = (kh * g.dh * g.w + kw * g.dw) * g.c;
  const int nt = detail::threads_for(g.n * g.oh * g.ow * row, detail::kElementGrain);
#pragma omp parallel for num_threads(nt) schedule(static)
  for (int64_t p = 0; p < g.n * g.oh; ++p) {
    const int64_t n = p / g.oh, oh = p % g.oh;
    const int64_t top = oh * g.sh - g.pt;
    const bool rows_inside = table && top >= 0 && top + (g.kh - 1) * g.dh < g.h;
    for (int64_t ow = 0; ow < g.ow; ++ow) {
      T* out = col + ((n * g.oh + oh) * g.ow + ow) * row;
      const int64_t left = ow * g.sw - g.pl;
      if (rows_inside && left >= 0 && left + (g.kw - 1) * g.dw < g.w) {
        const T* in = x + ((n * g.h + top) * g.w + left) * g.c + c0;
        if (cg == 1) {
          for (int64_t t = 0; t < taps; ++t) out[t] = in[offset[t]];
        } else {
          for (int64_t t = 0; t < taps; ++t) std::memcpy(out + t * cg, in + offset[t], sizeof(T) * cg);
        }
        continue;
      }
      for (int64_t kh = 0; kh < g.kh; ++kh) {
        const int64_t ih = tap(oh, kh, g.sh, g.dh, g.pt, g.h);
        for (int64_t kw = 0; kw < g.kw; ++kw, out += cg) {
          const int64_t iw = tap(ow, kw, g.sw, g.dw, g.pl, g.w);
          if (ih < 0 || iw < 0) std::fill(out, out + cg, T(0));
          else std::copy_n(x + ((n * g.h + ih) * g.w + iw) * g.c + c0, cg, out);
        }
      }
    }
  }
}

template <typename T>
void col2im(T* dx, const T* col, const Window2D& g, int64_t c0, int64_t cg) {
  const int64_t row = g.kh * g.kw * cg;
  const int nt = detail::threads_for(g.n * g.oh * g.ow * row, detail::kElementGrain);
#pragma omp parallel for num_threads(nt) schedule(static)
  for (int64_t n = 0; n < g.n; ++n) {  // an image at a time: its positions in order
    T* image = dx + n * g.h * g.w * g.c;
    for (int64_t e = 0; e < g.h * g.w; ++e) std::fill(image + e * g.c + c0, image + e * g.c + c0 + cg, T(0));
    for (int64_t oh = 0; oh < g.oh; ++oh)
      for (int64_t ow = 0; ow < g.ow; ++ow) {
        const T* in = col + ((n * g.oh + oh) * g.ow + ow) * row;
        for (int64_t kh = 0; kh < g.kh; ++kh) {
          const int64_t ih = tap(oh, kh, g.sh, g.dh, g.pt, g.h);
          for (int64_t kw = 0; kw < g.kw; ++kw, in += cg) {
            const int64_t iw = tap(ow, kw, g.sw, g.dw, g.pl, g.w);
            if (ih < 0 || iw < 0) continue;
            T* target = image + (ih * g.w + iw) * g.c + c0;
            for (int64_t c = 0; c < cg; ++c) target[c] += in[c];
          }
        }
      }
  }
}

template <typename T>
void max_pool_forward(T* y, int32_t* argmax, const T* x, const Window2D& g) {
  const int nt = detail::threads_for(g.n * g.oh * g.ow * g.c * g.kh * g.kw, detail::kElementGrain);
#pragma omp parallel for num_threads(nt) schedule(static)
  for (int64_t p = 0; p < g.n * g.oh; ++p) {
    const int64_t n = p / g.oh, oh = p % g.oh;
    const T* image = x + n * g.h * g.w * g.c;
    for (int64_t ow = 0; ow < g.ow; ++ow) {
      const int64_t o = ((n * g.oh + oh) * g.ow + ow) * g.c;
      T* best = y + o;
      int32_t* at = argmax + o;
      bool first = true;  // taps in order, channels innermost (contiguous): the first maximum wins
      for_each_tap(g, 0, oh, ow, [&](int64_t i0) {
        const T* in = image + i0;
        const int32_t e0 = int32_t(i0);
        if (first) {
          for (int64_t c = 0; c < g.c; ++c) {
            best[c] = in[c];
            at[c] = e0 + int32_t(c);
          }
          first = false;
          return;
        }
        // branch-free selects (vectorised): a NaN wins over numbers (it propagates, as in Keras and numpy)
        for (int64_t c = 0; c < g.c; ++c) {
          const T v = in[c], b = best[c];
          const bool take = v > b || (v != v && b == b);
          best[c] = take ? v : b;
          at[c] = take ? e0 + int32_t(c) : at[c];
        }
      });
      if (first)  // (a window wholly in the padding)
        for (int64_t c = 0; c < g.c; ++c) {
          best[c] = -std::numeric_limits<T>::infinity();
          at[c] = -1;
        }
    }
  }
}

template <typename T>
void max_pool_backward_image(T* dx, const T* dy, const int32_t* argmax, const Window2D& g) {
  const int64_t image = g.h * g.w * g.c, outs = g.oh * g.ow * g.c;
  std::fill(dx, dx + image, T(0));
  for (int64_t o = 0; o < outs; ++o)
    if (argmax[o] >= 0) dx[argmax[o]] += dy[o];
}

template <typename T>
void max_pool_backward(T* dx, const T* dy, const int32_t* argmax, const Window2D& g) {
  const int64_t image = g.h * g.w * g.c, outs = g.oh * g.ow * g.c;
  const int nt = detail::threads_for(g.n * image, detail::kElementGrain);
#pragma omp parallel for num_threads(nt) schedule(static)
  for (int64_t n = 0; n < g.n; ++n)  // an image's window positions never reach another image
    max_pool_backward_image(dx + n * image, dy + n * outs, argmax + n * outs, g);
}

template <typename T>
void avg_pool_forward(T* y, const T* x, const Window2D& g) {
  const int nt = detail::threads_for(g.n * g.oh * g.ow * g.c * g.kh * g.kw, detail::kElementGrain);
#pragma omp parallel for num_threads(nt) schedule(static)
  for (int64_t p = 0; p < g.n * g.oh; ++p) {
    const int64_t n = p / g.oh, oh = p % g.oh;
    for (int64_t ow = 0; ow < g.ow; ++ow) {
      T* out = y + ((n * g.oh + oh) * g.ow + ow) * g.c;
      std::fill(out, out + g.c, T(0));
      // the mean over the window's positions inside the image (padding is not averaged)
      const int64_t count = for_each_tap(g, n, oh, ow, [&](int64_t i0) {
        for (int64_t c = 0; c < g.c; ++c) out[c] += x[i0 + c];
      });
      const T k = count ? T(1) / T(count) : T(0);
      for (int64_t c = 0; c < g.c; ++c) out[c] *= k;
    }
  }
}

template <typename T>
void avg_pool_backward_image(T* dx, const T* dy, const Window2D& g) {
  std::fill(dx, dx + g.h * g.w * g.c, T(0));
  for (int64_t oh = 0; oh < g.oh; ++oh)
    for (int64_t ow = 0; ow < g.ow; ++ow) {
      const int64_t count = for_each_tap(g, 0, oh, ow, [](int64_t) {});
      if (!count) continue;
      const T k = T(1) / T(count);
      const T* d = dy + (oh * g.ow + ow) * g.c;
      for_each_tap(g, 0, oh, ow, [&](int64_t i0) {
        for (int64_t c = 0; c < g.c; ++c) dx[i0 + c] += d[c] * k;
      });
    }
}

template <typename T>
void avg_pool_backward(T* dx, const T* dy, const Window2D& g) {
  const int64_t image = g.h * g.w * g.c, outs = g.oh * g.ow * g.c;
  const int nt = detail::threads_for(g.n * image, detail::kElementGrain);
#pragma omp parallel for num_threads(nt) schedule(static)
  for (int64_t n = 0; n < g.n; ++n) avg_pool_backward_image(dx + n * image, dy + n * outs, g);
}

#define BRISKNET_CONVOLUTION(T)                                                        \
  template void im2col<T>(T*, const T*, const Window2D&, int64_t, int64_t);           \
  template void col2im<T>(T*, const T*, const Window2D&, int64_t, int64_t);           \
  template void max_pool_forward<T>(T*, int32_t*, const T*, const Window2D&);          \
  template void max_pool_backward<T>(T*, const T*, const int32_t*, const Window2D&);   \
  template void max_pool_backward_image<T>(T*, const T*, const int32_t*, const Window2D&); \
  template void avg_pool_backward_image<T>(T*, const T*, const Window2D&);             \
  template void avg_pool_forward<T>(T*, const T*, const Window2D&);                    \
  template void avg_pool_backward<T>(T*, const T*, const Window2D&);
BRISKNET_CONVOLUTION(float)
BRISKNET_CONVOLUTION(double)
#undef BRISKNET_CONVOLUTION

}  // namespace brisknet
