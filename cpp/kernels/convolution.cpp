// Convolution and pooling over channels_last images (kernels.h: Window2D). A convolution is a
// GEMM over the image's patches: im2col lays each output position's receptive field out as one
// row (kh, kw, channel: the order of a Keras kernel's rows), col2im adds such rows back into an
// image (the input gradient). Pooling keeps the max's position for backward. Every scatter runs
// in a fixed order per image and images never share outputs, so threads split images and the
// results do not depend on the thread count.
#include <algorithm>
#include <cstring>
#include <limits>
#include <vector>

#include "brisknet/kernels.h"
#include "activation_elementwise.h"
#include "cache_model.h"
#include "isa_clones.h"
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
    detail::at_isa([&] {
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
    });
  }
}

template <typename T>
void max_pool_forward(T* y, int32_t* argmax, const T* x, const Window2D& g) {
  const int nt = detail::threads_for(g.n * g.oh * g.ow * g.c * g.kh * g.kw, detail::kElementGrain);
#pragma omp parallel for num_threads(nt) schedule(static)
  for (int64_t p = 0; p < g.n * g.oh; ++p) detail::at_isa([&] {
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
  });
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

// ---------------------------------------------------------------- convolution by chunks of images
namespace {

// Images per chunk: a chunk's patches and outputs (positions x (taps + 2 filters): one group's
// patches and their gradient, the output and its activation or gradient) in half of this core's
// L2, so that its GEMMs, and the caller's hooks, find them there right after they are written; at
// most 64 chunks (the kernel gradient keeps one partial per chunk). Depends on the shape and this
// CPU only, the same in forward and backward.
int64_t images_per_chunk(const Window2D& g, int64_t taps, int64_t filters, size_t elem) {
  const int64_t per_image = std::max<int64_t>(1, g.oh * g.ow * (taps + 2 * filters) * int64_t(elem));
  const int64_t budget = std::max<int64_t>(1, detail::cache_hierarchy().l2.bytes / 2);
  return std::min(g.n, std::max({int64_t(1), budget / per_image, (g.n + 63) / 64}));
}

// Per-thread buffers that only grow (no allocation in steady state).
template <typename T>
T* chunk_buffer(int which, size_t count) {
  thread_local std::vector<T> buffers[4];
  std::vector<T>& b = buffers[which];
  if (b.size() < count) {
    b.resize(count);
    count_workspace_allocation();
  }
  return b.data();
}

// The chunks [0, chunks) of g.n images on the threads the work is worth, each with the window
// over its images; f(chunk, first image, window) runs on one thread (the kernels it calls run
// on that thread: usable_threads() is 1 inside a parallel region).
template <typename F>
void for_each_chunk(const Window2D& g, int64_t per_chunk, int64_t flops, F&& f) {
  const int64_t chunks = (g.n + per_chunk - 1) / per_chunk;
  const int nt = int(std::min<int64_t>(chunks, detail::threads_for(flops, detail::kGemmFlopGrain)));
#pragma omp parallel for num_threads(nt) schedule(static)
  for (int64_t k = 0; k < chunks; ++k) {
    Window2D part = g;
    part.n = std::min(per_chunk, g.n - k * per_chunk);
    f(k, k * per_chunk, part);
  }
}

}  // namespace

template <typename T>
bool max_pool_backward_activation_image(T* dz, const T* dy, const int32_t* argmax, const Window2D& g, const T* z,
                                        const T* y, Activation act, T alpha) {
  if (g.sh != g.kh || g.sw != g.kw || g.pt != 0 || g.pl != 0 || g.dh != 1 || g.dw != 1 || !is_elementwise(act))
    return false;
  const int64_t row = g.w * g.c;
  T* dx = chunk_buffer<T>(3, size_t(row));  // one input row's gradient
  for (int64_t iy = 0; iy < g.h; ++iy) {
    const int64_t oy = iy / g.kh;
    detail::at_isa([&] {
      for (int64_t ix = 0; ix < g.w; ++ix) {
        T* __restrict d = dx + ix * g.c;
        const int64_t ox = ix / g.kw;
        if (oy >= g.oh || ox >= g.ow) {  // (rows and columns past the last whole window)
          std::fill(d, d + g.c, T(0));
          continue;
        }
        const int32_t* __restrict at = argmax + (oy * g.ow + ox) * g.c;
        const T* __restrict from = dy + (oy * g.ow + ox) * g.c;
        const int32_t e0 = int32_t((iy * g.w + ix) * g.c), channels = int32_t(g.c);
        // 0 + dy, as max_pool_backward_image's sum into zeros (a -0 becomes +0)
        for (int32_t c = 0; c < channels; ++c) d[c] = at[c] == e0 + c ? T(0) + from[c] : T(0);
      }
    });
    detail::ScopedFlushDenormals ftz;
    detail::elementwise_activation_grad(dz + iy * row, dx, z + iy * row, y + iy * row, row, act, alpha);
  }
  return true;
}

template <typename T>
void conv2d_forward(T* z, const T* x, const T* w, const T* bias, const Window2D& g, int64_t filters, int64_t groups,
                    const GemmFusion<T>& fused, const ChunkHook& after_chunk) {
  const int64_t cg = g.c / groups, fg = filters / groups, taps = g.kh * g.kw * cg, positions = g.oh * g.ow;
  const int64_t per_chunk = images_per_chunk(g, taps, filters, sizeof(T));
  for_each_chunk(g, per_chunk, 2 * g.n * positions * taps * filters, [&](int64_t, int64_t first, const Window2D& part) {
    T* col = chunk_buffer<T>(0, size_t(part.n * positions * taps));
    const T* images = x + first * g.h * g.w * g.c;
    const int64_t row0 = first * positions, rows = part.n * positions;
    for (int64_t k = 0; k < groups; ++k) {
      im2col<T>(col, images, part, k * cg, cg);
      GemmFusion<T> f = fused;
      if (f.activation_out) f.activation_out += row0 * filters + k * fg;
      gemm<T>(z + row0 * filters + k * fg, filters, col, taps, 1, w + k * fg, filters, 1, rows, fg, taps, T(0),
              bias ? bias + k * fg : nullptr, f);
    }
    after_chunk(first, part.n);
  });
}

template <typename T>
void conv2d_backward(T* dw, T* dx, const T* dz, const T* x, const T* w, const Window2D& g, int64_t filters,
                     int64_t groups, const ChunkHook& before_chunk) {
  const int64_t cg = g.c / groups, fg = filters / groups, taps = g.kh * g.kw * cg, positions = g.oh * g.ow;
  const int64_t per_chunk = images_per_chunk(g, taps, filters, sizeof(T));
  const int64_t chunks = (g.n + per_chunk - 1) / per_chunk, kernel = taps * filters;
  // the kernel gradient: one partial per chunk (the calling thread's buffer), summed in order
  T* partials = dw && chunks > 1 ? chunk_buffer<T>(2, size_t(chunks * kernel)) : dw;
  const int64_t passes = (dw ? 1 : 0) + (dx ? 1 : 0);
  for_each_chunk(g, per_chunk, 2 * passes * g.n * positions * taps * filters,
                 [&](int64_t chunk, int64_t first, const Window2D& part) {
    T* col = chunk_buffer<T>(0, size_t(part.n * positions * taps));
    T* dcol = chunk_buffer<T>(1, size_t(part.n * positions * taps));
    const T* images = dw ? x + first * g.h * g.w * g.c : nullptr;  // (x is read for dw only)
    const T* d = dz + first * positions * filters;
    const int64_t rows = part.n * positions;
    before_chunk(first, part.n);
    for (int64_t k = 0; k < groups; ++k) {
      if (dw) {
        im2col<T>(col, images, part, k * cg, cg);
        gemm<T>(partials + chunk * kernel + k * fg, filters, col, 1, taps, d + k * fg, filters, 1, taps, fg, rows,
                T(0), nullptr);
      }
      if (dx) {
        gemm<T>(dcol, taps, d + k * fg, filters, 1, w + k * fg, 1, filters, rows, taps, fg, T(0), nullptr);
        col2im<T>(dx + first * g.h * g.w * g.c, dcol, part, k * cg, cg);
      }
    }
  });
  if (partials == dw) return;
  detail::parallel_chunks(kernel, [&](int64_t begin, int64_t end) {  // ((p0 + p1) + p2) + ... per element
    std::copy(partials + begin, partials + end, dw + begin);
    for (int64_t c = 1; c < chunks; ++c) {
      const T* p = partials + c * kernel;
      for (int64_t e = begin; e < end; ++e) dw[e] += p[e];
    }
  });
}

#define BRISKNET_CONVOLUTION(T)                                                        \
  template void im2col<T>(T*, const T*, const Window2D&, int64_t, int64_t);           \
  template void col2im<T>(T*, const T*, const Window2D&, int64_t, int64_t);           \
  template void max_pool_forward<T>(T*, int32_t*, const T*, const Window2D&);          \
  template void max_pool_backward<T>(T*, const T*, const int32_t*, const Window2D&);   \
  template void max_pool_backward_image<T>(T*, const T*, const int32_t*, const Window2D&); \
  template void avg_pool_backward_image<T>(T*, const T*, const Window2D&);             \
  template bool max_pool_backward_activation_image<T>(T*, const T*, const int32_t*, const Window2D&, const T*,  \
                                                      const T*, Activation, T);         \
  template void conv2d_forward<T>(T*, const T*, const T*, const T*, const Window2D&, int64_t, int64_t, \
                                  const GemmFusion<T>&, const ChunkHook&);                           \
  template void conv2d_backward<T>(T*, T*, const T*, const T*, const T*, const Window2D&, int64_t, int64_t, \
                                   const ChunkHook&);                                                \
  template void avg_pool_forward<T>(T*, const T*, const Window2D&);                    \
  template void avg_pool_backward<T>(T*, const T*, const Window2D&);
BRISKNET_CONVOLUTION(float)
BRISKNET_CONVOLUTION(double)
#undef BRISKNET_CONVOLUTION

}  // namespace brisknet
