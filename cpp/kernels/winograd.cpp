// Winograd F(2x2, 3x3) convolution (Lavin & Gray, "Fast Algorithms for Convolutional Neural
// Networks", 2016). Each 2 x 2 block of outputs of a 3 x 3, stride-1 convolution comes from a
// 4 x 4 block (tile) of the input: Y = A^T [(G g G^T) .* (B^T d B)] A, summed over channels. The
// 16 element-wise products summed over channels are 16 GEMMs, (tiles x channels) @ (channels x
// filters), on brisknet's micro-kernel; the transforms are additions (and halvings, exact, in the
// kernel's). 16 multiplications per tile, channel and filter where patches take 36. The kernel
// gradient is the same in reverse (below). Rounding: a few times the direct sum's (tested against
// it in float64). Tiles of one chunk of images at a time (the caller's), every sum in a fixed
// order: results do not depend on the thread count.
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

// The distance between the 16 points' matrices, at least `values`: an odd number of 64-byte
// lines, so that a tile's 16 values (one per point) fall in 16 different L1 sets (a multiple of
// 4 KiB apart they would share one and evict each other: the kernel gradient's 32 x 64 matrices
// made its last pass 3x slower).
template <typename T>
int64_t point_stride(int64_t values) {
  const int64_t lines = (values * int64_t(sizeof(T)) + 63) / 64;
  return (lines | 1) * 64 / int64_t(sizeof(T));
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
  return kPoints * ((filters + NR - 1) / NR) * NR * c;
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

namespace {

// v[point][tile][channel] (points `stride` apart) = B^T d B of each 4 x 4 tile d of the images x
// (zeros: c zeros, read for the padding and past the images' edges).
template <typename T>
void transform_inputs(T* v, int64_t stride, const T* x, const Window2D& g, const Tiles& tiles, const T* zeros) {
  using V = typename Vec<T>::V;
  constexpr int64_t W = Vec<T>::kWidth;
  const int64_t c = g.c;
  at_isa([&] {
    for (int64_t t = 0; t < tiles.count; ++t) {
      const int64_t n = t / (tiles.rows * tiles.cols);
      const int64_t i0 = t / tiles.cols % tiles.rows * 2 - g.pt, j0 = t % tiles.cols * 2 - g.pl;
      const T* d[kPoints];
      for (int a = 0; a < 4; ++a)
        for (int b = 0; b < 4; ++b) {
          const int64_t i = i0 + a, j = j0 + b;
          d[a * 4 + b] = i >= 0 && i < g.h && j >= 0 && j < g.w ? x + ((n * g.h + i) * g.w + j) * c : zeros;
        }
      T* out = v + t * c;
      int64_t k = 0;
      for (; k + W <= c; k += W) {
        V in[kPoints], tv[kPoints];
        for (int q = 0; q < kPoints; ++q) __builtin_memcpy(&in[q], d[q] + k, sizeof(V));
        input_transform(in, tv);
        for (int q = 0; q < kPoints; ++q) __builtin_memcpy(out + q * stride + k, &tv[q], sizeof(V));
      }
      for (; k < c; ++k) {
        T in[kPoints], tv[kPoints];
        for (int q = 0; q < kPoints; ++q) in[q] = d[q][k];
        input_transform(in, tv);
        for (int q = 0; q < kPoints; ++q) out[q * stride + k] = tv[q];
      }
    }
  });
}

// C (m x n, ldc) = A (m x k) @ B (k x n) on the micro-kernel, k in blocks of kc summed in order:
// pack_a(Ap, i0, rows, p0, kc) packs A's rows i0.. and columns p0..; b(j, p0): B's packed strip j
// (NR columns, rows NR apart) at row p0.
template <typename T, typename PackA, typename StripB>
void small_gemm(const MicroKernel<T>& uk, T* C, int64_t ldc, int64_t m, int64_t n, int64_t k, const PackA& pack_a,
                const StripB& b, T* ap) {
  const int MR = uk.mr, NR = uk.nr;
  const int64_t strips_m = (m + MR - 1) / MR, strips_n = (n + NR - 1) / NR;
  for (int64_t pc = 0; pc < k; pc += uk.kc) {
    const int64_t kc = std::min<int64_t>(uk.kc, k - pc);
    for (int64_t s = 0; s < strips_m; ++s) pack_a(ap + s * MR * kc, s * MR, int(std::min<int64_t>(MR, m - s * MR)), pc, kc);
    for (int64_t s = 0; s < strips_m; ++s)
      for (int64_t j = 0; j < strips_n; ++j)
        uk.run(kc, ap + s * MR * kc, b(j, pc), NR, C + s * MR * ldc + j * NR, ldc,
               int(std::min<int64_t>(MR, m - s * MR)), int(std::min<int64_t>(NR, n - j * NR)), pc == 0 ? T(0) : T(1),
               nullptr, nullptr);
  }
}

}  // namespace

template <typename T>
int64_t winograd_work_size(const Window2D& g, int64_t filters) {
  const MicroKernel<T>& uk = winograd_tile<T>(filters);
  const Tiles tiles(g);
  const int64_t strips = (tiles.count + uk.mr - 1) / uk.mr;
  return kPoints * (point_stride<T>(tiles.count * g.c) + point_stride<T>(tiles.count * filters)) +
         strips * uk.mr * std::min<int64_t>(g.c, uk.kc) + g.c;
}

template <typename T>
void winograd_forward(T* z, const T* x, const T* u, const T* bias, const Window2D& g, int64_t filters, T* work) {
  using V = typename Vec<T>::V;
  constexpr int64_t W = Vec<T>::kWidth;
  const MicroKernel<T>& uk = winograd_tile<T>(filters);
  const int NR = uk.nr;
  const int64_t c = g.c;
  const Tiles tiles(g);
  const int64_t n_tiles = tiles.count, strips_m = (n_tiles + uk.mr - 1) / uk.mr, strips_n = (filters + NR - 1) / NR;
  const int64_t v_stride = point_stride<T>(n_tiles * c), m_stride = point_stride<T>(n_tiles * filters);
  T* v = work;                      // per point: tiles x c, the transformed inputs
  T* m = v + kPoints * v_stride;    // per point: tiles x filters, their products with U
  T* ap = m + kPoints * m_stride;   // one point's tiles packed for the micro-kernel
  T* zeros = ap + strips_m * uk.mr * std::min<int64_t>(c, uk.kc);  // (the padding's values)
  std::fill(zeros, zeros + c, T(0));
  ScopedFlushDenormals ftz;

  transform_inputs(v, v_stride, x, g, tiles, zeros);
  for (int q = 0; q < kPoints; ++q) {  // m[q] = v[q] @ U[q]: channels summed in order, kc at a time
    const T* a = v + q * v_stride;
    const T* b = u + q * strips_n * NR * c;
    small_gemm(uk, m + q * m_stride, filters, n_tiles, filters, c,
               [&](T* ap_s, int64_t i0, int rows, int64_t p0, int64_t kc) {
                 pack_a_strip(ap_s, a + i0 * c + p0, c, 1, rows, kc, uk.mr);
               },
               [&](int64_t j, int64_t p0) { return b + j * NR * c + p0 * NR; }, ap);
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
      int64_t f = 0;
      for (; f + W <= filters; f += W) {
        V mv[kPoints], yv[4];
        for (int q = 0; q < kPoints; ++q) __builtin_memcpy(&mv[q], in + q * m_stride + f, sizeof(V));
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
        for (int q = 0; q < kPoints; ++q) mv[q] = in[q * m_stride + f];
        output_transform(mv, yv);
        for (int e = 0; e < 4; ++e)
          if (inside[e]) y[e][f] = bias ? yv[e] + bias[f] : yv[e];
      }
    }
  });
}

// The kernel gradient. The forward pass is linear in U = G g G^T: dL/dU = (sum over tiles of) (A
// dY A^T) .* (B^T d B), 16 GEMMs (channels x tiles) @ (tiles x filters) summed over the tiles in
// order, then dL/dg = G^T (dL/dU) G.
namespace {

// dy[point] (points `stride` apart) packed as B for the micro-kernel (strips of NR filters, a
// tile's NR values a row) =
// A dY A^T of each tile's 2 x 2 block of dz (zeros past the output's edge), A^T = [1 1 1 0; 0 1
// -1 -1].
template <typename T>
void transform_output_gradients(T* dy, int64_t stride, const T* dz, const Window2D& g, const Tiles& tiles,
                                int64_t filters, int NR, const T* zeros) {
  using V = typename Vec<T>::V;
  constexpr int64_t W = Vec<T>::kWidth;
  const int64_t strips = (filters + NR - 1) / NR;
  auto transform = [](const auto (&d)[4], auto (&out)[kPoints]) {  // d: dY 2 x 2, row-major
    decltype(+d[0]) a[4][2];  // A dY, then (A dY) A^T
    for (int j = 0; j < 2; ++j) {
      a[0][j] = d[j];
      a[1][j] = d[j] + d[2 + j];
      a[2][j] = d[j] - d[2 + j];
      a[3][j] = -d[2 + j];
    }
    for (int i = 0; i < 4; ++i) {
      out[i * 4 + 0] = a[i][0];
      out[i * 4 + 1] = a[i][0] + a[i][1];
      out[i * 4 + 2] = a[i][0] - a[i][1];
      out[i * 4 + 3] = -a[i][1];
    }
  };
  at_isa([&] {
    for (int64_t t = 0; t < tiles.count; ++t) {
      const int64_t n = t / (tiles.rows * tiles.cols);
      const int64_t oh = t / tiles.cols % tiles.rows * 2, ow = t % tiles.cols * 2;
      const T* d[4];
      for (int a = 0; a < 2; ++a)
        for (int b = 0; b < 2; ++b)
          d[a * 2 + b] = oh + a < g.oh && ow + b < g.ow ? dz + ((n * g.oh + oh + a) * g.ow + ow + b) * filters : zeros;
      int64_t f = 0;
      for (; f + W <= filters && f / NR == (f + W - 1) / NR; f += W) {
        V in[4], out[kPoints];
        for (int e = 0; e < 4; ++e) __builtin_memcpy(&in[e], d[e] + f, sizeof(V));
        transform(in, out);
        T* at = dy + (f / NR) * NR * tiles.count + t * NR + f % NR;
        for (int q = 0; q < kPoints; ++q) __builtin_memcpy(at + q * stride, &out[q], sizeof(V));
      }
      for (; f < strips * NR; ++f) {  // (the rest, and zeros past the last filter)
        T in[4], out[kPoints];
        for (int e = 0; e < 4; ++e) in[e] = f < filters ? d[e][f] : T(0);
        transform(in, out);
        T* at = dy + (f / NR) * NR * tiles.count + t * NR + f % NR;
        for (int q = 0; q < kPoints; ++q) at[q * stride] = out[q];
      }
    }
  });
}

}  // namespace

template <typename T>
int64_t winograd_gradient_work_size(const Window2D& g, int64_t filters) {
  const MicroKernel<T>& uk = pick_tile(gemm_kernels<T>(), g.c, filters);
  const Tiles tiles(g);
  const int64_t strips_m = (g.c + uk.mr - 1) / uk.mr, strips_n = (filters + uk.nr - 1) / uk.nr;
  return kPoints * (point_stride<T>(tiles.count * g.c) + point_stride<T>(strips_n * uk.nr * tiles.count) +
                    point_stride<T>(g.c * filters)) +
         strips_m * uk.mr * std::min<int64_t>(tiles.count, uk.kc) + std::max(g.c, filters);
}

template <typename T>
void winograd_kernel_gradient(T* dw, const T* x, const T* dz, const Window2D& g, int64_t filters, T* work) {
  using V = typename Vec<T>::V;
  constexpr int64_t W = Vec<T>::kWidth;
  const int64_t c = g.c;
  const MicroKernel<T>& uk = pick_tile(gemm_kernels<T>(), c, filters);
  const int NR = uk.nr;
  const Tiles tiles(g);
  const int64_t n_tiles = tiles.count, strips_n = (filters + NR - 1) / NR;
  const int64_t v_stride = point_stride<T>(n_tiles * c), dy_stride = point_stride<T>(strips_n * NR * n_tiles),
                m_stride = point_stride<T>(c * filters);
  T* v = work;                      // per point: tiles x c
  T* dy = v + kPoints * v_stride;   // per point: tiles x filters, packed
  T* m = dy + kPoints * dy_stride;  // per point: c x filters
  T* ap = m + kPoints * m_stride;
  T* zeros = ap + (c + uk.mr - 1) / uk.mr * uk.mr * std::min<int64_t>(n_tiles, uk.kc);
  std::fill(zeros, zeros + std::max(c, filters), T(0));
  ScopedFlushDenormals ftz;

  transform_inputs(v, v_stride, x, g, tiles, zeros);
  transform_output_gradients(dy, dy_stride, dz, g, tiles, filters, NR, zeros);
  for (int q = 0; q < kPoints; ++q) {  // m[q] = v[q]^T @ dy[q]: tiles summed in order, kc at a time
    const T* a = v + q * v_stride;
    const T* b = dy + q * dy_stride;
    small_gemm(uk, m + q * m_stride, filters, c, filters, n_tiles,
               [&](T* ap_s, int64_t i0, int rows, int64_t p0, int64_t kc) {
                 pack_a_strip(ap_s, a + p0 * c + i0, 1, c, rows, kc, uk.mr);
               },
               [&](int64_t j, int64_t p0) { return b + j * NR * n_tiles + p0 * NR; }, ap);
  }

  const T half = T(0.5);
  auto untransform = [half](const auto (&mm)[kPoints], auto (&out)[9]) {  // G^T m G, G^T = [1 1/2 1/2 0; 0 1/2 -1/2 0; 0 1/2 1/2 1]
    decltype(+mm[0]) r[3][4];
    for (int j = 0; j < 4; ++j) {
      r[0][j] = mm[0 * 4 + j] + (mm[1 * 4 + j] + mm[2 * 4 + j]) * half;
      r[1][j] = (mm[1 * 4 + j] - mm[2 * 4 + j]) * half;
      r[2][j] = (mm[1 * 4 + j] + mm[2 * 4 + j]) * half + mm[3 * 4 + j];
    }
    for (int i = 0; i < 3; ++i) {
      out[i * 3 + 0] = r[i][0] + (r[i][1] + r[i][2]) * half;
      out[i * 3 + 1] = (r[i][1] - r[i][2]) * half;
      out[i * 3 + 2] = (r[i][1] + r[i][2]) * half + r[i][3];
    }
  };
  at_isa([&] {  // dw[tap][channel][filter]
    for (int64_t p = 0; p < c; ++p) {
      const T* in = m + p * filters;
      int64_t f = 0;
      for (; f + W <= filters; f += W) {
        V mm[kPoints], out[9];
        for (int q = 0; q < kPoints; ++q) __builtin_memcpy(&mm[q], in + q * m_stride + f, sizeof(V));
        untransform(mm, out);
        for (int tap = 0; tap < 9; ++tap) __builtin_memcpy(dw + (tap * c + p) * filters + f, &out[tap], sizeof(V));
      }
      for (; f < filters; ++f) {
        T mm[kPoints], out[9];
        for (int q = 0; q < kPoints; ++q) mm[q] = in[q * m_stride + f];
        untransform(mm, out);
        for (int tap = 0; tap < 9; ++tap) dw[(tap * c + p) * filters + f] = out[tap];
      }
    }
  });
}

#define BRISKNET_WINOGRAD(T)                                                                              \
  template int64_t winograd_kernel_size<T>(int64_t, int64_t);                                             \
  template void winograd_kernel<T>(T*, const T*, int64_t, int64_t);                                       \
  template int64_t winograd_work_size<T>(const Window2D&, int64_t);                                       \
  template void winograd_forward<T>(T*, const T*, const T*, const T*, const Window2D&, int64_t, T*);       \
  template int64_t winograd_gradient_work_size<T>(const Window2D&, int64_t);                              \
  template void winograd_kernel_gradient<T>(T*, const T*, const T*, const Window2D&, int64_t, T*);
BRISKNET_WINOGRAD(float)
BRISKNET_WINOGRAD(double)
#undef BRISKNET_WINOGRAD

}  // namespace brisknet::detail
