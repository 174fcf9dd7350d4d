// Convolution and pooling over channels_last images (kernels.h: Window2D). A convolution is a
// GEMM over the image's patches: im2col lays each output position's receptive field out as one
// row (kh, kw, channel: the order of a Keras kernel's rows), col2im adds such rows back into an
// image (the input gradient). Pooling keeps the max's position for backward. Every scatter runs
// in a fixed order per image and images never share outputs, so threads split images and the
// results do not depend on the thread count.
#include <algorithm>
#include <cstring>
#include <limits>
#include <type_traits>
#include <vector>

#include "brisknet/elementwise_math.h"
#include "brisknet/kernels.h"
#include "activation_elementwise.h"
#include "cache_model.h"
#include "depthwise.h"
#include "gemm_implicit_a.h"
#include "gemm_packing.h"
#include "isa_clones.h"
#include "parallel.h"
#include "window_taps.h"
#include "winograd.h"

namespace brisknet {

using detail::for_each_tap;
using detail::tap;

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

namespace {

// One window of max pooling over float channels, its taps in registers: 8 channels at a time,
// each tap compared as max_pool_forward's loop does (the first maximum wins, a NaN wins over
// numbers), the same values and indices in one pass instead of one per tap. False (nothing done)
// for a window without taps inside the image or of more than 64 taps.
inline bool max_pool_window_f32(float* best, int32_t* at, const float* image, const Window2D& g, int64_t oh,
                                int64_t ow) {
  typedef float V __attribute__((vector_size(32)));
  typedef int32_t VI __attribute__((vector_size(32)));
  constexpr int kMaxTaps = 64, W = 8;
  int64_t taps[kMaxTaps];
  int count = 0;
  for_each_tap(g, 0, oh, ow, [&](int64_t i0, int64_t) {
    if (count < kMaxTaps) taps[count] = i0;
    ++count;
  });
  if (count == 0 || count > kMaxTaps) return false;
  const VI lanes = {0, 1, 2, 3, 4, 5, 6, 7};
  int64_t c = 0;
  for (; c + W <= g.c; c += W) {
    V b;
    __builtin_memcpy(&b, image + taps[0] + c, sizeof(V));
    VI index = lanes + int32_t(taps[0] + c);
    for (int t = 1; t < count; ++t) {
      V v;
      __builtin_memcpy(&v, image + taps[t] + c, sizeof(V));
      const VI take = (v > b) | ((v != v) & (b == b));
      b = take ? v : b;
      index = take ? lanes + int32_t(taps[t] + c) : index;
    }
    __builtin_memcpy(best + c, &b, sizeof(V));
    __builtin_memcpy(at + c, &index, sizeof(VI));
  }
  for (; c < g.c; ++c) {
    float b = image[taps[0] + c];
    int32_t index = int32_t(taps[0] + c);
    for (int t = 1; t < count; ++t) {
      const float v = image[taps[t] + c];
      const bool take = v > b || (v != v && b == b);
      b = take ? v : b;
      index = take ? int32_t(taps[t] + c) : index;
    }
    best[c] = b;
    at[c] = index;
  }
  return true;
}

}  // namespace

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
      if constexpr (std::is_same_v<T, float>)
        if (max_pool_window_f32(best, at, image, g, oh, ow)) continue;
      bool first = true;  // taps in order, channels innermost (contiguous): the first maximum wins
      for_each_tap(g, 0, oh, ow, [&](int64_t i0, int64_t) {
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
      const int64_t count = for_each_tap(g, n, oh, ow, [&](int64_t i0, int64_t) {
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
      const int64_t count = for_each_tap(g, 0, oh, ow, [](int64_t, int64_t) {});
      if (!count) continue;
      const T k = T(1) / T(count);
      const T* d = dy + (oh * g.ow + ow) * g.c;
      for_each_tap(g, 0, oh, ow, [&](int64_t i0, int64_t) {
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

// ---------------------------------------------------------------- patches packed straight from images
namespace {

// The patches (im2col's col) of a chunk of images over channels [c0, c0 + cg), as the implicit A
// of gemm_implicit_a (gemm_implicit_a.h): the forward pass's A (a row per output position) and
// the kernel gradient's A (its transpose: a row per tap and channel). Packing reads the images
// directly: col is never written, and the same bits reach the micro-kernel as from im2col.
template <typename T>
struct Patches {
  const T* x;  // the chunk's first image, at channel c0
  Window2D g;  // the chunk's images
  int64_t cg;
  const int64_t* window;  // per output position: its window's first tap in x; -1: reaches into the padding
  const int64_t* tap_offset;  // per tap: its offset from the window's first tap
  // tap t, channel c of the window at output position `pos`, 0 in the padding
  T at(int64_t pos, int64_t t, int64_t c) const {
    const int64_t n = pos / (g.oh * g.ow), oh = pos % (g.oh * g.ow) / g.ow, ow = pos % g.ow;
    const int64_t ih = tap(oh, t / g.kw, g.sh, g.dh, g.pt, g.h), iw = tap(ow, t % g.kw, g.sw, g.dw, g.pl, g.w);
    return ih < 0 || iw < 0 ? T(0) : x[((n * g.h + ih) * g.w + iw) * g.c + c];
  }
};

// Patches::window and Patches::tap_offset for the images of g
void window_offsets(int64_t* window, int64_t* tap_offset, const Window2D& g) {
  for (int64_t kh = 0; kh < g.kh; ++kh)
    for (int64_t kw = 0; kw < g.kw; ++kw) tap_offset[kh * g.kw + kw] = (kh * g.dh * g.w + kw * g.dw) * g.c;
  for (int64_t n = 0; n < g.n; ++n)
    for (int64_t oh = 0; oh < g.oh; ++oh) {
      const int64_t top = oh * g.sh - g.pt;
      const bool rows_inside = top >= 0 && top + (g.kh - 1) * g.dh < g.h;
      int64_t* row = window + (n * g.oh + oh) * g.ow;
      for (int64_t ow = 0; ow < g.ow; ++ow) {
        const int64_t left = ow * g.sw - g.pl;
        row[ow] = rows_inside && left >= 0 && left + (g.kw - 1) * g.dw < g.w ? ((n * g.h + top) * g.w + left) * g.c : -1;
      }
    }
}

// Ap[q * MR + r] = x[window[r] + o + q] for r < rows, q < cols: each row's values contiguous in x.
template <typename T>
void pack_window_rows(T* Ap, const T* x, const int64_t* window, int64_t o, int rows, int64_t cols, int MR) {
  int r = 0;
  if (cols == 1) {
    for (; r < rows; ++r) Ap[r] = x[window[r] + o];
    return;
  }
  if constexpr (std::is_same_v<T, float>) {
    for (; r + 4 <= rows; r += 4) {
      const float* a[4] = {x + window[r] + o, x + window[r + 1] + o, x + window[r + 2] + o, x + window[r + 3] + o};
      detail::pack_rows4_f32(Ap, a, r, cols, MR);
    }
    for (; r + 2 <= rows; r += 2) detail::pack_rows2_f32(Ap, x + window[r] + o, x + window[r + 1] + o, r, cols, MR);
  }
  for (; r < rows; ++r)
    for (int64_t q = 0; q < cols; ++q) Ap[q * MR + r] = x[window[r] + o + q];
}

// Ap[t * MR + 0..MR) = x[offset[t] + 0..MR) for t < kc
template <int MR, typename T>
void copy_runs(T* Ap, const T* x, const int64_t* offset, int64_t kc) {
  for (int64_t t = 0; t < kc; ++t) __builtin_memcpy(Ap + t * MR, x + offset[t], sizeof(T) * MR);
}

// Forward: rows i0.. of A are output positions, k = (tap, channel): per tap, the strip's rows
// are contiguous runs of x (a 4 x 4 transpose at a time).
template <typename T>
void pack_position_rows(const void* context, T* Ap, int64_t i0, int rows, int64_t p0, int64_t kc, int MR) {
  const Patches<T>& a = *static_cast<const Patches<T>*>(context);
  const int64_t cg = a.cg, *window = a.window + i0;
  bool inside = true, run = rows == MR;  // run: windows one value apart (1 channel, stride 1)
  for (int r = 0; r < rows; ++r) {
    inside = inside && window[r] >= 0;
    run = run && window[r] == window[0] + r;
  }
  // each tap's MR values contiguous in x (1 channel, stride 1): one copy per tap
  if (inside && run && cg == 1 &&
      detail::with_strip_height(MR, [&](auto mr) {
        copy_runs<decltype(mr)::value>(Ap, a.x + window[0], a.tap_offset + p0, kc);
      }))
    return;
  for (int64_t t = p0 / cg; t * cg < p0 + kc; ++t) {  // the taps k columns p0..p0 + kc cover
    const int64_t k0 = std::max(p0, t * cg), k1 = std::min(p0 + kc, (t + 1) * cg);
    T* dst = Ap + (k0 - p0) * MR;
    if (inside) {
      pack_window_rows(dst, a.x, window, a.tap_offset[t] + k0 - t * cg, rows, k1 - k0, MR);
      continue;
    }
    for (int r = 0; r < rows; ++r)  // (a strip with windows reaching into the padding)
      for (int64_t k = k0; k < k1; ++k) dst[(k - k0) * MR + r] = a.at(i0 + r, t, k - t * cg);
  }
  for (int64_t p = 0; p < kc; ++p)
    for (int i = rows; i < MR; ++i) Ap[p * MR + i] = T(0);
}

// Kernel gradient's A (the patches transposed): per position p, MR values of its window at
// offsets off[i] (one copy when they are consecutive: a strip within one tap); MR a constant.
template <int MR, typename T>
void pack_window_columns(T* Ap, const Patches<T>& a, const int64_t* off, bool consecutive, int64_t i0, int rows,
                         int64_t p0, int64_t kc) {
  for (int64_t p = 0; p < kc; ++p) {
    T* dst = Ap + p * MR;
    const int64_t w = a.window[p0 + p];
    if (w < 0) {  // (a window reaching into the padding)
      for (int i = 0; i < rows; ++i) dst[i] = a.at(p0 + p, (i0 + i) / a.cg, (i0 + i) % a.cg);
    } else if (consecutive) {
      __builtin_memcpy(dst, a.x + w + off[0], sizeof(T) * MR);
    } else {
      for (int i = 0; i < MR; ++i) dst[i] = a.x[w + off[i]];
    }
  }
}

// Kernel gradient: rows i0.. of A are (tap, channel), k runs over output positions.
template <typename T>
void pack_tap_rows(const void* context, T* Ap, int64_t i0, int rows, int64_t p0, int64_t kc, int MR) {
  const Patches<T>& a = *static_cast<const Patches<T>*>(context);
  constexpr int kMaxMR = 32;  // (strip heights with_strip_height does not take use the checked path)
  int64_t off[kMaxMR];
  bool consecutive = rows == MR;
  for (int i = 0; i < std::min(MR, kMaxMR); ++i) {  // (rows past `rows`: a value inside the window, zeroed below)
    const int64_t row = i0 + std::min(i, rows - 1);
    off[i] = a.tap_offset[row / a.cg] + row % a.cg;
    consecutive = consecutive && off[i] == off[0] + i;
  }
  if (!detail::with_strip_height(MR, [&](auto mr) {
        pack_window_columns<decltype(mr)::value>(Ap, a, off, consecutive, i0, rows, p0, kc);
      }))
    for (int64_t p = 0; p < kc; ++p)
      for (int i = 0; i < rows; ++i) Ap[p * MR + i] = a.at(p0 + p, (i0 + i) / a.cg, (i0 + i) % a.cg);
  if (rows < MR)
    for (int64_t p = 0; p < kc; ++p)
      for (int i = rows; i < MR; ++i) Ap[p * MR + i] = T(0);
}

}  // namespace

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
  detail::ScopedFlushDenormals ftz;  // (as the activation's gradient)
  math::with_activation(act, [&](auto a) {
    constexpr Activation A = decltype(a)::value;
    for (int64_t iy = 0; iy < g.h; ++iy) {
      const int64_t oy = iy / g.kh;
      detail::at_isa([&] {
        for (int64_t ix = 0; ix < g.w; ++ix) {
          const int64_t i0 = (iy * g.w + ix) * g.c, ox = ix / g.kw;
          T* __restrict out = dz + i0;
          const T* __restrict zi = z + i0;
          const T* __restrict yi = y + i0;
          if (oy >= g.oh || ox >= g.ow) {  // (rows and columns past the last whole window: no gradient)
            for (int64_t c = 0; c < g.c; ++c) out[c] = math::activate_grad<A>(T(0), zi[c], yi[c], alpha);
            continue;
          }
          const int32_t* __restrict at = argmax + (oy * g.ow + ox) * g.c;
          const T* __restrict from = dy + (oy * g.ow + ox) * g.c;
          const int32_t e0 = int32_t(i0), channels = int32_t(g.c);
          // 0 + dy, as max_pool_backward_image's sum into zeros (a -0 becomes +0), then the
          // activation's gradient as activation_backward's
          for (int32_t c = 0; c < channels; ++c) {
            const T d = at[c] == e0 + c ? T(0) + from[c] : T(0);
            out[c] = math::activate_grad<A>(d, zi[c], yi[c], alpha);
          }
        }
      });
    }
  });
  return true;
}

namespace {

// A 3 x 3, stride-1 convolution by Winograd's F(2x2, 3x3) (winograd.h), a chunk of images at a
// time (its transformed tiles and products in half of this core's L2), then the activation.
template <typename T>
void winograd_conv2d_forward(T* z, const T* x, const T* w, const T* bias, const Window2D& g, int64_t filters,
                             const GemmFusion<T>& fused, const ChunkHook& after_chunk) {
  T* u = chunk_buffer<T>(3, size_t(detail::winograd_kernel_size<T>(g.c, filters)));  // the calling thread's
  detail::winograd_kernel(u, w, g.c, filters);
  Window2D one = g;
  one.n = 1;
  const int64_t per_image = detail::winograd_work_size<T>(one, filters) + g.oh * g.ow * filters;
  const int64_t budget = std::max<int64_t>(1, detail::cache_hierarchy().l2.bytes / 2 / int64_t(sizeof(T)));
  const int64_t per_chunk = std::min(g.n, std::max({int64_t(1), budget / per_image, (g.n + 63) / 64}));
  const int64_t positions = g.oh * g.ow;
  for_each_chunk(g, per_chunk, 2 * g.n * positions * 9 * g.c * filters, [&](int64_t, int64_t first, const Window2D& part) {
    T* work = chunk_buffer<T>(0, size_t(detail::winograd_work_size<T>(part, filters)));
    T* out = z + first * positions * filters;
    detail::winograd_forward(out, x + first * g.h * g.w * g.c, u, bias, part, filters, work);
    if (fused.activation_out) {
      detail::ScopedFlushDenormals ftz;  // (as the GEMM's epilogue)
      detail::elementwise_activation_rows(fused.activation_out + first * positions * filters, filters, out, filters,
                                          part.n * positions, filters, fused.activation, fused.alpha);
    }
    after_chunk(first, part.n);
  });
}

}  // namespace

// Whether a mixed_bfloat16 convolution computes in bf16: where its patches are long enough to fill
// the bf16 kernel's k (a first layer's 3 x 3 x 1 = 9 values would be padded 3.5x for AMX's 32, and
// its products are a small part of the work), it stays float32 below that.
inline bool conv_in_bf16(bool bf16, const Window2D& g, int64_t groups) {
  constexpr int64_t kMinPatch = 64;
  return bf16 && g.kh * g.kw * (g.c / groups) >= kMinPatch;
}

template <typename T>
void conv2d_forward(T* z, const T* x, const T* w, const T* bias, const Window2D& g, int64_t filters, int64_t groups,
                    const GemmFusion<T>& fused_in, const ChunkHook& after_chunk) {
  GemmFusion<T> fused = fused_in;
  fused.bf16 = conv_in_bf16(fused_in.bf16, g, groups);
  // (bf16: the GEMM's rounding of the patches and the kernel, as Keras' mixed_bfloat16 convolution;
  // Winograd's transforms would round other values)
  if (detail::winograd_applies(g, groups, filters) && !fused.grad_x && !fused.grad_y && !fused.b_column_sums &&
      !fused.tile_done && !fused.bf16)
    return winograd_conv2d_forward(z, x, w, bias, g, filters, fused, after_chunk);
  const int64_t cg = g.c / groups, fg = filters / groups, taps = g.kh * g.kw * cg, positions = g.oh * g.ow;
  const int64_t per_chunk = images_per_chunk(g, taps, filters, sizeof(T));
  // depthwise (one channel per group): direct loops, the activation after them
  const bool depthwise = groups == g.c && groups > 1 && !fused.grad_x && !fused.grad_y && !fused.b_column_sums &&
                         !fused.tile_done;
  for_each_chunk(g, per_chunk, 2 * g.n * positions * taps * filters, [&](int64_t, int64_t first, const Window2D& part) {
    const T* images = x + first * g.h * g.w * g.c;
    const int64_t row0 = first * positions, rows = part.n * positions;
    if (depthwise) {
      detail::depthwise_forward<T>(z + row0 * filters, images, w, bias, part, fg);
      if (fused.activation_out)
        activation_forward<T>(fused.activation_out + row0 * filters, z + row0 * filters, rows, filters,
                              fused.activation, fused.alpha);
      after_chunk(first, part.n);
      return;
    }
    const bool implicit = detail::gemm_packs_a<T>(rows, fg, taps, 1);
    T* col = implicit ? nullptr : chunk_buffer<T>(0, size_t(part.n * positions * taps));
    int64_t* window = implicit ? chunk_buffer<int64_t>(0, size_t(rows + g.kh * g.kw)) : nullptr;
    if (implicit) window_offsets(window, window + rows, part);
    for (int64_t k = 0; k < groups; ++k) {
      GemmFusion<T> f = fused;
      if (f.activation_out) f.activation_out += row0 * filters + k * fg;
      T* out = z + row0 * filters + k * fg;
      const T* b = bias ? bias + k * fg : nullptr;
      if (implicit) {  // the patches packed straight from the images
        const Patches<T> patches{images + k * cg, part, cg, window, window + rows};
        detail::gemm_implicit_a<T>(out, filters, {&pack_position_rows<T>, &patches}, w + k * fg, filters, 1, rows,
                                   fg, taps, T(0), b, f);
      } else {  // (shapes gemm reads A in place for: the patches laid out)
        im2col<T>(col, images, part, k * cg, cg);
        gemm<T>(out, filters, col, taps, 1, w + k * fg, filters, 1, rows, fg, taps, T(0), b, f);
      }
    }
    after_chunk(first, part.n);
  });
}

template <typename T>
void conv2d_backward(T* dw, T* db, T* dx, const T* dz, const T* x, const T* w, const Window2D& g, int64_t filters,
                     int64_t groups, const ChunkHook& before_chunk, bool bf16_asked) {
  const bool bf16 = conv_in_bf16(bf16_asked, g, groups);
  const int64_t cg = g.c / groups, fg = filters / groups, taps = g.kh * g.kw * cg, positions = g.oh * g.ow;
  const int64_t per_chunk = images_per_chunk(g, taps, filters, sizeof(T));
  const int64_t chunks = (g.n + per_chunk - 1) / per_chunk, kernel = taps * filters;
  // the kernel's and the bias' gradients: one partial per chunk (the calling thread's buffer),
  // summed in chunk order
  const int64_t sums = (dw ? kernel : 0) + (db ? filters : 0);
  T* partials = chunks > 1 && sums ? chunk_buffer<T>(2, size_t(chunks * sums)) : nullptr;
  const int64_t passes = (dw ? 1 : 0) + (dx ? 1 : 0);
  // dw of a 3 x 3 stride-1 window by Winograd's F(2x2, 3x3) where the forward pass takes it
  const bool winograd_dw = dw && detail::winograd_applies(g, groups, filters) && !bf16;
  const bool depthwise = groups == g.c && groups > 1;  // (direct loops: depthwise.h)
  for_each_chunk(g, per_chunk, 2 * passes * g.n * positions * taps * filters,
                 [&](int64_t chunk, int64_t first, const Window2D& part) {
    const T* images = dw ? x + first * g.h * g.w * g.c : nullptr;  // (x is read for dw only)
    const T* d = dz + first * positions * filters;
    const int64_t rows = part.n * positions;
    T* kernel_part = !dw ? nullptr : partials ? partials + chunk * sums : dw;
    T* bias_part = !db ? nullptr : partials ? partials + chunk * sums + (dw ? kernel : 0) : db;
    const bool implicit = !winograd_dw && !depthwise && detail::gemm_packs_a<T>(taps, fg, rows, 1);
    T* col = dw && !implicit && !winograd_dw && !depthwise ? chunk_buffer<T>(0, size_t(part.n * positions * taps))
                                                           : nullptr;
    int64_t* window = dw && implicit ? chunk_buffer<int64_t>(0, size_t(rows + g.kh * g.kw)) : nullptr;
    if (window) window_offsets(window, window + rows, part);
    before_chunk(first, part.n);
    if (depthwise) {
      detail::depthwise_backward<T>(kernel_part, bias_part, dx ? dx + first * g.h * g.w * g.c : nullptr, d, images, w,
                                    part, fg);
      return;
    }
    T* dcol = dx ? chunk_buffer<T>(1, size_t(part.n * positions * taps)) : nullptr;
    if (db && (!dw || winograd_dw)) {  // (otherwise the kernel gradient's GEMM sums the bias' while packing dz)
      detail::ScopedFlushDenormals ftz;  // as that packing
      std::fill(bias_part, bias_part + filters, T(0));
      detail::sum_b_rows(bias_part, d, filters, int(filters), rows);
    }
    if (winograd_dw) {  // (one group)
      T* work = chunk_buffer<T>(0, size_t(detail::winograd_gradient_work_size<T>(part, filters)));
      detail::winograd_kernel_gradient(kernel_part, images, d, part, filters, work);
    }
    for (int64_t k = 0; k < groups; ++k) {
      if (dw && !winograd_dw) {
        T* out = kernel_part + k * fg;
        GemmFusion<T> fused;
        fused.b_column_sums = bias_part ? bias_part + k * fg : nullptr;
        fused.bf16 = bf16;
        if (implicit) {  // the patches, transposed, packed straight from the images
          const Patches<T> patches{images + k * cg, part, cg, window, window + rows};
          detail::gemm_implicit_a<T>(out, filters, {&pack_tap_rows<T>, &patches}, d + k * fg, filters, 1, taps, fg,
                                     rows, T(0), nullptr, fused);
        } else {
          im2col<T>(col, images, part, k * cg, cg);
          gemm<T>(out, filters, col, 1, taps, d + k * fg, filters, 1, taps, fg, rows, T(0), nullptr, fused);
        }
      }
      if (dx) {
        GemmFusion<T> through;
        through.bf16 = bf16;
        gemm<T>(dcol, taps, d + k * fg, filters, 1, w + k * fg, 1, filters, rows, taps, fg, T(0), nullptr, through);
        col2im<T>(dx + first * g.h * g.w * g.c, dcol, part, k * cg, cg);
      }
    }
  });
  if (!partials) return;
  auto sum_partials = [&](T* out, int64_t offset, int64_t count) {
    detail::parallel_chunks(count, [&](int64_t begin, int64_t end) {  // ((p0 + p1) + p2) + ... per element
      std::copy(partials + offset + begin, partials + offset + end, out + begin);
      for (int64_t c = 1; c < chunks; ++c) {
        const T* p = partials + c * sums + offset;
        for (int64_t e = begin; e < end; ++e) out[e] += p[e];
      }
    }, chunks);
  };
  if (dw) sum_partials(dw, 0, kernel);
  if (db) sum_partials(db, dw ? kernel : 0, filters);
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
  template void conv2d_backward<T>(T*, T*, T*, const T*, const T*, const T*, const Window2D&, int64_t, int64_t, \
                                   const ChunkHook&, bool);                                          \
  template void avg_pool_forward<T>(T*, const T*, const Window2D&);                    \
  template void avg_pool_backward<T>(T*, const T*, const Window2D&);
BRISKNET_CONVOLUTION(float)
BRISKNET_CONVOLUTION(double)
#undef BRISKNET_CONVOLUTION

}  // namespace brisknet
