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
  const int64_t row = g.kh * g.kw * cg;
  const int nt = detail::threads_for(g.n * g.oh * g.ow * row, detail::kElementGrain);
#pragma omp parallel for num_threads(nt) schedule(static)
  for (int64_t p = 0; p < g.n * g.oh; ++p) {
    const int64_t n = p / g.oh, oh = p % g.oh;
    for (int64_t ow = 0; ow < g.ow; ++ow) {
      T* out = col + ((n * g.oh + oh) * g.ow + ow) * row;
      for (int64_t kh = 0; kh < g.kh; ++kh) {
        const int64_t ih = tap(oh, kh, g.sh, g.dh, g.pt, g.h);
        for (int64_t kw = 0; kw < g.kw; ++kw, out += cg) {
          const int64_t iw = tap(ow, kw, g.sw, g.dw, g.pl, g.w);
          if (ih < 0 || iw < 0) {
            std::fill(out, out + cg, T(0));
          } else {
            const T* in = x + ((n * g.h + ih) * g.w + iw) * g.c + c0;
            if (cg <= 4) {  // (a call to memcpy per one or two values cost more than the copy)
              for (int64_t c = 0; c < cg; ++c) out[c] = in[c];
            } else {
              std::memcpy(out, in, sizeof(T) * cg);
            }
          }
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
void max_pool_backward(T* dx, const T* dy, const int32_t* argmax, const Window2D& g) {
  const int64_t image = g.h * g.w * g.c, outs = g.oh * g.ow * g.c;
  const int nt = detail::threads_for(g.n * image, detail::kElementGrain);
#pragma omp parallel for num_threads(nt) schedule(static)
  for (int64_t n = 0; n < g.n; ++n) {  // an image's window positions never reach another image
    T* d = dx + n * image;
    std::fill(d, d + image, T(0));
    for (int64_t o = n * outs; o < (n + 1) * outs; ++o)
      if (argmax[o] >= 0) d[argmax[o]] += dy[o];
  }
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
void avg_pool_backward(T* dx, const T* dy, const Window2D& g) {
  const int64_t image = g.h * g.w * g.c;
  const int nt = detail::threads_for(g.n * image, detail::kElementGrain);
#pragma omp parallel for num_threads(nt) schedule(static)
  for (int64_t n = 0; n < g.n; ++n) {
    std::fill(dx + n * image, dx + (n + 1) * image, T(0));
    for (int64_t oh = 0; oh < g.oh; ++oh)
      for (int64_t ow = 0; ow < g.ow; ++ow) {
        const int64_t count = for_each_tap(g, n, oh, ow, [](int64_t) {});
        if (!count) continue;
        const T k = T(1) / T(count);
        const T* d = dy + ((n * g.oh + oh) * g.ow + ow) * g.c;
        for_each_tap(g, n, oh, ow, [&](int64_t i0) {
          for (int64_t c = 0; c < g.c; ++c) dx[i0 + c] += d[c] * k;
        });
      }
  }
}

#define BRISKNET_CONVOLUTION(T)                                                        \
  template void im2col<T>(T*, const T*, const Window2D&, int64_t, int64_t);           \
  template void col2im<T>(T*, const T*, const Window2D&, int64_t, int64_t);           \
  template void max_pool_forward<T>(T*, int32_t*, const T*, const Window2D&);          \
  template void max_pool_backward<T>(T*, const T*, const int32_t*, const Window2D&);   \
  template void avg_pool_forward<T>(T*, const T*, const Window2D&);                    \
  template void avg_pool_backward<T>(T*, const T*, const Window2D&);
BRISKNET_CONVOLUTION(float)
BRISKNET_CONVOLUTION(double)
#undef BRISKNET_CONVOLUTION

}  // namespace brisknet
