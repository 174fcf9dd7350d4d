// The taps of a convolution or pooling window over channels_last images (kernels.h: Window2D),
// shared by the convolution, pooling and depthwise kernels.
#pragma once
#include <cstdint>

#include "brisknet/kernels.h"

namespace brisknet::detail {

// Input row/col of window tap k at output position o, or -1 outside the image (padding).
inline int64_t tap(int64_t o, int64_t k, int64_t stride, int64_t dilation, int64_t pad, int64_t size) {
  const int64_t i = o * stride + k * dilation - pad;
  return i >= 0 && i < size ? i : -1;
}

// visit(offset in x of the tap's channel 0, the tap's index kh * kw + kw) for each tap of the
// window at output (n, oh, ow) that lies inside the image, in (kh, kw) order; returns how many
// there were.
template <typename F>
inline int64_t for_each_tap(const Window2D& g, int64_t n, int64_t oh, int64_t ow, F&& visit) {
  int64_t count = 0;
  for (int64_t kh = 0; kh < g.kh; ++kh) {
    const int64_t ih = tap(oh, kh, g.sh, g.dh, g.pt, g.h);
    if (ih < 0) continue;
    for (int64_t kw = 0; kw < g.kw; ++kw) {
      const int64_t iw = tap(ow, kw, g.sw, g.dw, g.pl, g.w);
      if (iw < 0) continue;
      visit(((n * g.h + ih) * g.w + iw) * g.c, kh * g.kw + kw);
      ++count;
    }
  }
  return count;
}

}  // namespace brisknet::detail
