// Winograd F(2x2, 3x3) convolution (Lavin & Gray, "Fast Algorithms for Convolutional Neural
// Networks", 2016). Each 2 x 2 block of outputs of a 3 x 3, stride-1 convolution comes from a
// 4 x 4 block (tile) of the input: Y = A^T [(G g G^T) .* (B^T d B)] A, summed over channels. The
// 16 element-wise products summed over channels are 16 GEMMs, (tiles x channels) @ (channels x
// filters), on brisknet's micro-kernel; the transforms are additions (and halvings, exact in the
// kernel's). 16 multiplications per tile, channel and filter where patches take 36. Rounding: a
// few times the direct sum's (tested against it in float64). Tiles of one chunk of images at a
// time (the caller's), every sum in a fixed order: results do not depend on the thread count.
#include "winograd.h"

#include <algorithm>
#include <cstring>

#include "gemm_dispatch.h"
#include "gemm_packing.h"
#include "isa_clones.h"
#include "parallel.h"

namespace brisknet::detail {

namespace {

constexpr int kPoints = 16;  // a 4 x 4 tile

// The register tile for these GEMMs: picked for a chunk's few hundred tiles and the filters, so
// that the kernel can be packed once for every chunk.
template <typename T>
const MicroKernel<T>& winograd_tile(int64_t filters) {
  return pick_tile(gemm_kernels<T>(), 256, filters);
}

// 32-byte vectors over channels or filters (AVX2 and AVX-512 copies through at_isa).
template <typename T>
struct Vec {
  typedef T V __attribute__((vector_size(32)));
  static constexpr int64_t kWidth = 32 / int64_t(sizeof(T));
};

// V = B^T d B on 16 values (d row-major 4 x 4) of one channel or a vector of channels, B^T =
// [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1].
template <typename V>
inline void input_transform(const V (&d)[kPoints], V (&v)[kPoints]) {
  V s[kPoints];
  for (int b = 0; b < 4; ++b) {
    s[0 * 4 + b] = d[0 * 4 + b] - d[2 * 4 + b];
    s[1 * 4 + b] = d[1 * 4 + b] + d[2 * 4 + b];
    s[2 * 4 + b] = d[2 * 4 + b] - d[1 * 4 + b];
    s[3 * 4 + b] = d[1 * 4 + b] - d[3 * 4 + b];
  }
  for (int a = 0; a < 4; ++a) {
    v[a * 4 + 0] = s[a * 4 + 0] - s[a * 4 + 2];
    v[a * 4 + 1] = s[a * 4 + 1] + s[a * 4 + 2];
    v[a * 4 + 2] = s[a * 4 + 2] - s[a * 4 + 1];
    v[a * 4 + 3] = s[a * 4 + 1] - s[a * 4 + 3];
  }
}

// Y = A^T m A (2 x 2 from 4 x 4), A^T = [1 1 1 0; 0 1 -1 -1].
template <typename V>
inline void output_transform(const V (&m)[kPoints], V (&y)[4]) {
  V s[8];
  for (int b = 0; b < 4; ++b) {
    s[0 * 4 + b] = (m[0 * 4 + b] + m[1 * 4 + b]) + m[2 * 4 + b];
    s[1 * 4 + b] = (m[1 * 4 + b] - m[2 * 4 + b]) - m[3 * 4 + b];
  }
  for (int a = 0; a < 2; ++a) {
    y[a * 2 + 0] = (s[a * 4 + 0] + s[a * 4 + 1]) + s[a * 4 + 2];
    y[a * 2 + 1] = (s[a * 4 + 1] - s[a * 4 + 2]) - s[a * 4 + 3];
  }
}

// The chunk's tiles: ceil(oh / 2) x ceil(ow / 2) per image.
struct Tiles {
  int64_t rows, cols, count;
  explicit Tiles(const Window2D& g) : rows((g.oh + 1) / 2), cols((g.ow + 1) / 2), count(g.n * rows * cols) {}
};

}  // namespace

bool winograd_applies(const Window2D& g, int64_t groups, int64_t filters) {
  constexpr int64_t kMinChannels = 16, kMinFilters = 16;
  return g.kh == 3 && g.kw == 3 && g.sh == 1 && g.sw == 1 && g.dh == 1 && g.dw == 1 && groups == 1 &&
         g.c >= kMinChannels && filters >= kMinFilters;
}

template <typename T>
int64_t winograd_kernel_size(int64_t c, int64_t filters) {
  const int NR = winograd_tile<T>(filters).nr;
  return kPoints * (filters + NR - 1) / NR * NR * c;
}

// u: for each of the 16 points, the (c x filters) matrix U as the micro-kernel reads a packed B:
// strips of NR filters, each c rows of NR values (zeros past the last filter).
template <typename T>
void winograd_kernel(T* u, const T* w, int64_t c, int64_t filters) {
  const int NR = winograd_tile<T>(filters).nr;
  const int64_t strips = (filters + NR - 1) / NR, point_size = strips * NR * c;
  std::fill(u, u + kPoints * point_size, T(0));
  const T half = T(0.5);
  for (int64_t p = 0; p < c; ++p)
    for (int64_t f = 0; f < filters; ++f) {
      T g[3][3], gg[4][3];
      for (int kh = 0; kh < 3; ++kh)
        for (int kw = 0; kw < 3; ++kw) g[kh][kw] = w[((kh * 3 + kw) * c + p) * filters + f];
      for (int j = 0; j < 3; ++j) {  // G g, G = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1]
        gg[0][j] = g[0][j];
        gg[1][j] = ((g[0][j] + g[1][j]) + g[2][j]) * half;
        gg[2][j] = ((g[0][j] - g[1][j]) + g[2][j]) * half;
        gg[3][j] = g[2][j];
      }
      T* at = u + (f / NR) * NR * c + p * NR + f % NR;
      for (int i = 0; i < 4; ++i) {  // (G g) G^T
        const T row[4] = {gg[i][0], ((gg[i][0] + gg[i][1]) + gg[i][2]) * half,
                          ((gg[i][0] - gg[i][1]) + gg[i][2]) * half, gg[i][2]};
        for (int j = 0; j < 4; ++j) at[(i * 4 + j) * point_size] = row[j];
      }
    }
}

template <typename T>
int64_t winograd_work_size(const Window2D& g, int64_t filters) {
  const MicroKernel<T>& uk = winograd_tile<T>(filters);
  const Tiles tiles(g);
  const int64_t strips = (tiles.count + uk.mr - 1) / uk.mr;
  return kPoints * tiles.count * (g.c + filters) + strips * uk.mr * std::min<int64_t>(g.c, uk.kc) + g.c;
}

template <typename T>
void winograd_forward(T* z, const T* x, const T* u, const T* bias, const Window2D& g, int64_t filters, T* work) {
  using V = typename Vec<T>::V;
  constexpr int64_t W = Vec<T>::kWidth;
  const MicroKernel<T>& uk = winograd_tile<T>(filters);
  const int MR = uk.mr, NR = uk.nr;
  const int64_t KC = uk.kc, c = g.c;
  const Tiles tiles(g);
  const int64_t n_tiles = tiles.count, strips_m = (n_tiles + MR - 1) / MR, strips_n = (filters + NR - 1) / NR;
  T* v = work;                                // per point: tiles x c, the transformed inputs
  T* m = v + kPoints * n_tiles * c;           // per point: tiles x filters, their products with U
  T* ap = m + kPoints * n_tiles * filters;    // one point's tiles packed for the micro-kernel
  T* zeros = ap + strips_m * MR * std::min(c, KC);  // (the padding's values)
  std::fill(zeros, zeros + c, T(0));
  ScopedFlushDenormals ftz;

  at_isa([&] {  // inputs: v[point][tile][channel]
    for (int64_t t = 0; t < n_tiles; ++t) {
      const int64_t n = t / (tiles.rows * tiles.cols);
      const int64_t i0 = t / tiles.cols % tiles.rows * 2 - g.pt, j0 = t % tiles.cols * 2 - g.pl;
      const T* d[kPoints];
      for (int a = 0; a < 4; ++a)
        for (int b = 0; b < 4; ++b) {
          const int64_t i = i0 + a, j = j0 + b;
          d[a * 4 + b] = i >= 0 && i < g.h && j >= 0 && j < g.w ? x + ((n * g.h + i) * g.w + j) * c : zeros;
        }
      T* out = v + t * c;
      const int64_t point_stride = n_tiles * c;
      int64_t k = 0;
      for (; k + W <= c; k += W) {
        V in[kPoints], tv[kPoints];
        for (int q = 0; q < kPoints; ++q) __builtin_memcpy(&in[q], d[q] + k, sizeof(V));
        input_transform(in, tv);
        for (int q = 0; q < kPoints; ++q) __builtin_memcpy(out + q * point_stride + k, &tv[q], sizeof(V));
      }
      for (; k < c; ++k) {
        T in[kPoints], tv[kPoints];
        for (int q = 0; q < kPoints; ++q) in[q] = d[q][k];
        input_transform(in, tv);
        for (int q = 0; q < kPoints; ++q) out[q * point_stride + k] = tv[q];
      }
    }
  });

  for (int q = 0; q < kPoints; ++q) {  // m[q] = v[q] @ U[q]: channels summed in order, kc at a time
    const T* a = v + q * n_tiles * c;
    const T* b = u + q * strips_n * NR * c;
    T* out = m + q * n_tiles * filters;
    for (int64_t pc = 0; pc < c; pc += KC) {
      const int64_t kc = std::min(KC, c - pc);
      for (int64_t s = 0; s < strips_m; ++s)
        pack_a_strip(ap + s * MR * kc, a + s * MR * c + pc, c, 1, int(std::min<int64_t>(MR, n_tiles - s * MR)), kc, MR);
      for (int64_t s = 0; s < strips_m; ++s)
        for (int64_t j = 0; j < strips_n; ++j)
          uk.run(kc, ap + s * MR * kc, b + j * NR * c + pc * NR, NR, out + s * MR * filters + j * NR, filters,
                 int(std::min<int64_t>(MR, n_tiles - s * MR)), int(std::min<int64_t>(NR, filters - j * NR)),
                 pc == 0 ? T(0) : T(1), nullptr, nullptr);
    }
  }

  at_isa([&] {  // outputs: the 2 x 2 block of each tile inside the output, + bias
    for (int64_t t = 0; t < n_tiles; ++t) {
      const int64_t n = t / (tiles.rows * tiles.cols);
      const int64_t oh = t / tiles.cols % tiles.rows * 2, ow = t % tiles.cols * 2;
      T* y[4];
      bool inside[4];
      for (int a = 0; a < 2; ++a)
        for (int b = 0; b < 2; ++b) {
          inside[a * 2 + b] = oh + a < g.oh && ow + b < g.ow;
          y[a * 2 + b] = z + ((n * g.oh + oh + a) * g.ow + ow + b) * filters;
        }
      const T* in = m + t * filters;
      const int64_t point_stride = n_tiles * filters;
      int64_t f = 0;
      for (; f + W <= filters; f += W) {
        V mv[kPoints], yv[4];
        for (int q = 0; q < kPoints; ++q) __builtin_memcpy(&mv[q], in + q * point_stride + f, sizeof(V));
        output_transform(mv, yv);
        V bv{};
        if (bias) __builtin_memcpy(&bv, bias + f, sizeof(V));
        for (int e = 0; e < 4; ++e) {
          const V r = bias ? yv[e] + bv : yv[e];
          if (inside[e]) __builtin_memcpy(y[e] + f, &r, sizeof(V));
        }
      }
      for (; f < filters; ++f) {
        T mv[kPoints], yv[4];
        for (int q = 0; q < kPoints; ++q) mv[q] = in[q * point_stride + f];
        output_transform(mv, yv);
        for (int e = 0; e < 4; ++e)
          if (inside[e]) y[e][f] = bias ? yv[e] + bias[f] : yv[e];
      }
    }
  });
}

#define BRISKNET_WINOGRAD(T)                                                                              \
  template int64_t winograd_kernel_size<T>(int64_t, int64_t);                                             \
  template void winograd_kernel<T>(T*, const T*, int64_t, int64_t);                                       \
  template int64_t winograd_work_size<T>(const Window2D&, int64_t);                                       \
  template void winograd_forward<T>(T*, const T*, const T*, const T*, const Window2D&, int64_t, T*);
BRISKNET_WINOGRAD(float)
BRISKNET_WINOGRAD(double)
#undef BRISKNET_WINOGRAD

}  // namespace brisknet::detail
