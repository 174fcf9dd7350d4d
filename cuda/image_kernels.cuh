// The image kernels of the CUDA engine (launched by convolution.cu), over channels_last images as
// brisknet/kernels.h's Window2D describes them: im2col (a convolution is then a GEMM, gemm.cu),
// col2im, max and average pooling, ZeroPadding2D/Cropping2D (a shift), UpSampling2D and
// SpatialDropout. Every gradient is a gather: one thread per input element sums what the outputs
// that read it send back, in the CPU kernels' order (output positions ascending), so no sum is
// atomic and the results do not depend on scheduling.
//
// Only device-side names here (no CUDA runtime call), and each kernel a grid-stride loop over its
// elements (BRISKNET_GRID_STRIDE, from device.cuh): tests/test_cuda_image_kernels.py compiles this
// file with the host compiler, as one thread covering the whole grid, against the CPU kernels.
#pragma once
#include <cmath>
#include <cstdint>

#include "brisknet/elementwise_math.h"
#include "brisknet/kernels.h"

namespace brisknet::cuda::image_kernels {

__device__ __forceinline__ int64_t floor_div(int64_t a, int64_t b) {  // b > 0
  return a >= 0 ? a / b : -((-a + b - 1) / b);
}

// The output positions [first, last] along one axis whose window (k taps, stride s, dilation d,
// padding p before) reads input position i, clipped to [0, outputs).
struct Span1D {
  int64_t first, last;
};
__device__ __forceinline__ Span1D readers(int64_t i, int64_t k, int64_t s, int64_t d, int64_t p, int64_t outputs) {
  const int64_t lo = -floor_div(-(i + p - (k - 1) * d), s), hi = floor_div(i + p, s);
  return {lo > 0 ? lo : 0, hi < outputs - 1 ? hi : outputs - 1};
}

// An element (n, row, col, channel) of an n x rows x cols x channels array, from its flat index.
struct Pixel {
  int64_t n, row, col, channel;
};
__device__ __forceinline__ Pixel pixel(int64_t e, int64_t rows, int64_t cols, int64_t channels) {
  Pixel p;
  p.channel = e % channels;
  e /= channels;
  p.col = e % cols;
  e /= cols;
  p.row = e % rows;
  p.n = e / rows;
  return p;
}

__global__ void im2col_kernel(float* cols, const float* x, Window2D g, int64_t c0, int64_t cg) {
  const int64_t taps = g.kh * g.kw;
  BRISKNET_GRID_STRIDE(e, g.n * g.oh * g.ow * taps * cg) {
    const int64_t ci = e % cg, t = (e / cg) % taps, p = e / (cg * taps);
    const int64_t ox = p % g.ow, oy = (p / g.ow) % g.oh, n = p / (g.ow * g.oh);
    const int64_t iy = oy * g.sh - g.pt + (t / g.kw) * g.dh, ix = ox * g.sw - g.pl + (t % g.kw) * g.dw;
    const bool inside = iy >= 0 && iy < g.h && ix >= 0 && ix < g.w;
    cols[e] = inside ? x[((n * g.h + iy) * g.w + ix) * g.c + c0 + ci] : 0.0f;
  }
}

__global__ void col2im_kernel(float* dx, const float* cols, Window2D g, int64_t c0, int64_t cg, const float* bias) {
  const int64_t taps = g.kh * g.kw;
  BRISKNET_GRID_STRIDE(e, g.n * g.h * g.w * cg) {
    const Pixel q = pixel(e, g.h, g.w, cg);
    const Span1D ys = readers(q.row, g.kh, g.sh, g.dh, g.pt, g.oh), xs = readers(q.col, g.kw, g.sw, g.dw, g.pl, g.ow);
    float s = 0;
    for (int64_t oy = ys.first; oy <= ys.last; ++oy) {
      const int64_t ty = q.row + g.pt - oy * g.sh;
      if (ty % g.dh) continue;
      for (int64_t ox = xs.first; ox <= xs.last; ++ox) {
        const int64_t tx = q.col + g.pl - ox * g.sw;
        if (tx % g.dw) continue;
        const int64_t t = (ty / g.dh) * g.kw + tx / g.dw;
        s += cols[(((q.n * g.oh + oy) * g.ow + ox) * taps + t) * cg + q.channel];
      }
    }
    const int64_t c = c0 + q.channel;
    dx[((q.n * g.h + q.row) * g.w + q.col) * g.c + c] = bias ? s + bias[c] : s;
  }
}

// The window's taps inside the image at output (oy, ox), in (kh, kw) order: visit(offset in the image).
template <typename F>
__device__ __forceinline__ int64_t for_each_tap(const Window2D& g, int64_t oy, int64_t ox, F&& visit) {
  int64_t count = 0;
  for (int64_t ky = 0; ky < g.kh; ++ky) {
    const int64_t iy = oy * g.sh - g.pt + ky * g.dh;
    if (iy < 0 || iy >= g.h) continue;
    for (int64_t kx = 0; kx < g.kw; ++kx) {
      const int64_t ix = ox * g.sw - g.pl + kx * g.dw;
      if (ix < 0 || ix >= g.w) continue;
      visit((iy * g.w + ix) * g.c);
      ++count;
    }
  }
  return count;
}

__global__ void max_pool_kernel(float* y, int32_t* argmax, const float* x, Window2D g) {
  BRISKNET_GRID_STRIDE(e, g.n * g.oh * g.ow * g.c) {
    const Pixel o = pixel(e, g.oh, g.ow, g.c);
    const float* image = x + o.n * g.h * g.w * g.c;
    float best = -INFINITY;
    int32_t at = -1;
    for_each_tap(g, o.row, o.col, [&](int64_t i0) {
      const float v = image[i0 + o.channel];
      // the first maximum wins; a NaN wins over numbers (it propagates), as on the CPU
      if (at < 0 || v > best || (v != v && best == best)) best = v, at = int32_t(i0 + o.channel);
    });
    y[e] = best;
    argmax[e] = at;
  }
}

__global__ void max_pool_grad_kernel(float* dx, const float* dy, const int32_t* argmax, Window2D g) {
  BRISKNET_GRID_STRIDE(e, g.n * g.h * g.w * g.c) {
    const Pixel q = pixel(e, g.h, g.w, g.c);
    const int32_t self = int32_t((q.row * g.w + q.col) * g.c + q.channel);
    const Span1D ys = readers(q.row, g.kh, g.sh, g.dh, g.pt, g.oh), xs = readers(q.col, g.kw, g.sw, g.dw, g.pl, g.ow);
    float s = 0;
    for (int64_t oy = ys.first; oy <= ys.last; ++oy)
      for (int64_t ox = xs.first; ox <= xs.last; ++ox) {
        const int64_t o = ((q.n * g.oh + oy) * g.ow + ox) * g.c + q.channel;
        if (argmax[o] == self) s += dy[o];
      }
    dx[e] = s;
  }
}

__global__ void avg_pool_kernel(float* y, const float* x, Window2D g) {
  BRISKNET_GRID_STRIDE(e, g.n * g.oh * g.ow * g.c) {
    const Pixel o = pixel(e, g.oh, g.ow, g.c);
    const float* image = x + o.n * g.h * g.w * g.c + o.channel;
    float s = 0;  // the mean over the window's positions inside the image (padding is not averaged)
    const int64_t count = for_each_tap(g, o.row, o.col, [&](int64_t i0) { s += image[i0]; });
    y[e] = s * (count ? 1.0f / float(count) : 0.0f);
  }
}

__global__ void avg_pool_grad_kernel(float* dx, const float* dy, Window2D g) {
  BRISKNET_GRID_STRIDE(e, g.n * g.h * g.w * g.c) {
    const Pixel q = pixel(e, g.h, g.w, g.c);
    const Span1D ys = readers(q.row, g.kh, g.sh, g.dh, g.pt, g.oh), xs = readers(q.col, g.kw, g.sw, g.dw, g.pl, g.ow);
    float s = 0;
    for (int64_t oy = ys.first; oy <= ys.last; ++oy)
      for (int64_t ox = xs.first; ox <= xs.last; ++ox) {
        const int64_t count = for_each_tap(g, oy, ox, [](int64_t) {});
        s += dy[((q.n * g.oh + oy) * g.ow + ox) * g.c + q.channel] * (1.0f / float(count));
      }
    dx[e] = s;
  }
}

__global__ void shift_kernel(float* y, const float* x, int64_t n, int64_t h, int64_t w, int64_t c, int64_t oh,
                             int64_t ow, int64_t top, int64_t left) {
  BRISKNET_GRID_STRIDE(e, n * oh * ow * c) {
    const Pixel o = pixel(e, oh, ow, c);
    const int64_t r = o.row - top, col = o.col - left;
    y[e] = r >= 0 && r < h && col >= 0 && col < w ? x[((o.n * h + r) * w + col) * c + o.channel] : 0.0f;
  }
}

__global__ void upsample_kernel(float* y, const float* x, int64_t n, int64_t h, int64_t w, int64_t c, int64_t sh,
                                int64_t sw) {
  BRISKNET_GRID_STRIDE(e, n * h * sh * w * sw * c) {
    const Pixel o = pixel(e, h * sh, w * sw, c);
    y[e] = x[((o.n * h + o.row / sh) * w + o.col / sw) * c + o.channel];
  }
}

__global__ void upsample_grad_kernel(float* dx, const float* dy, int64_t n, int64_t h, int64_t w, int64_t c,
                                     int64_t sh, int64_t sw) {
  const int64_t ow = w * sw;
  BRISKNET_GRID_STRIDE(e, n * h * w * c) {
    const Pixel q = pixel(e, h, w, c);
    float s = 0;  // the sh x sw copies, in row then column order
    for (int64_t a = 0; a < sh; ++a)
      for (int64_t b = 0; b < sw; ++b) s += dy[(((q.n * h + q.row) * sh + a) * ow + q.col * sw + b) * c + q.channel];
    dx[e] = s;
  }
}

// SpatialDropout: one keep flag per (sample, channel), keyed as the CPU's (row * channels + channel)
__global__ void spatial_dropout_kernel(float* y, uint8_t* mask, const float* x, int64_t rows, int64_t row,
                                       int64_t channels, float rate, float scale, uint64_t base_seed,
                                       const int64_t* calls, const int64_t* step) {
  const uint64_t key = math::dropout_key(math::dropout_step_seed(base_seed, *calls + *step));
  const uint64_t threshold = math::dropout_threshold(double(rate));
  BRISKNET_GRID_STRIDE(i, rows * row) {
    const uint8_t keep = math::dropout_keeps(key, threshold, (i / row) * channels + i % channels);
    mask[i] = keep;
    y[i] = x[i] * (keep ? scale : 0.0f);
  }
}

}  // namespace brisknet::cuda::image_kernels
