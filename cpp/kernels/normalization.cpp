// BatchNormalization and LayerNormalization forward and backward (kernels.h). Every sum runs in
// double in a fixed order (LayerNormalization: over a row's features; BatchNormalization: over
// fixed parts of the rows, then the parts in order), so the results do not depend on the thread
// count.
#include <algorithm>
#include <cmath>
#include <vector>

#include "brisknet/kernels.h"
#include "isa_clones.h"
#include "parallel.h"

namespace brisknet {

namespace {
constexpr int64_t kBlock = 128;  // features per block: each thread streams all rows of its blocks

int64_t blocks_of(int64_t features) { return (features + kBlock - 1) / kBlock; }

// Over the rows in order, for features [f0, f0 + w): sums of dy and of dy * xhat, xhat =
// (x - mean) * inv with per-feature (by_row false) or per-row (true) statistics; in double.
template <typename T>
void gradient_sums(double* sum_dy, double* sum_dy_xhat, const T* dy, const T* x, const T* mean, const T* inv,
                   int64_t rows, int64_t features, int64_t f0, int64_t w, bool by_row) {
  for (int64_t f = 0; f < w; ++f) sum_dy[f] = sum_dy_xhat[f] = 0;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t f = 0; f < w; ++f) {
      const int64_t e = r * features + f0 + f, s = by_row ? r : f0 + f;
      const T d = dy[e];
      sum_dy[f] += d;
      sum_dy_xhat[f] += double(d) * double((x[e] - mean[s]) * inv[s]);
    }
}

// BatchNormalization's sums run over parts of kRowsPerPart rows, each part's in double in row
// order, the parts then added in order: the same sums for any thread count, and threads that
// split the rows of images (many positions, few channels) as well as the features of a dense
// layer's batch. Each (part, block of features) is one task.
constexpr int64_t kRowsPerPart = 512;

template <typename F>
void for_each_part(int64_t rows, int64_t features, F&& task) {
  const int64_t parts = (rows + kRowsPerPart - 1) / kRowsPerPart, blocks = blocks_of(features);
  const int nt = int(std::min<int64_t>(parts * blocks, detail::threads_for(rows * features, detail::kElementGrain)));
#pragma omp parallel for num_threads(nt) schedule(static)
  for (int64_t t = 0; t < parts * blocks; ++t) {
    const int64_t p = t / blocks, f0 = (t % blocks) * kBlock;
    const int64_t r0 = p * kRowsPerPart;
    detail::at_isa([&] { task(p, r0, std::min(rows, r0 + kRowsPerPart), f0, std::min(kBlock, features - f0)); });
  }
}

// sums[f] = the parts' sums (partial[p * stride + f]) added in part order
inline void add_parts(double* sums, const double* partial, int64_t parts, int64_t stride, int64_t features) {
  std::copy(partial, partial + features, sums);
  for (int64_t p = 1; p < parts; ++p)
    for (int64_t f = 0; f < features; ++f) sums[f] += partial[p * stride + f];
}

// Scratch `which` of this thread: grows, never shrinks (no allocation in a steady training step).
template <typename U>
U* scratch(int which, size_t count) {
  thread_local std::vector<U> buffers[3];
  std::vector<U>& b = buffers[which];
  if (b.size() < count) b.resize(count);
  return b.data();
}

// y = (x - mean) * scale + shift, rows split between threads
template <typename T>
void normalize_rows(T* y, const T* x, const T* mean, const T* scale, const T* shift, int64_t rows, int64_t features) {
  const int nt = detail::threads_for(rows * features, detail::kElementGrain);
#pragma omp parallel for num_threads(nt) schedule(static)
  for (int64_t p = 0; p < (rows + kRowsPerPart - 1) / kRowsPerPart; ++p)
    detail::at_isa([&] {
      for (int64_t r = p * kRowsPerPart; r < std::min(rows, (p + 1) * kRowsPerPart); ++r)
        for (int64_t f = 0; f < features; ++f) y[r * features + f] = (x[r * features + f] - mean[f]) * scale[f] + shift[f];
    });
}
}  // namespace

template <typename T>
void batch_norm_forward(T* y, T* mean, T* inv, const T* x, int64_t rows, int64_t features, const T* gamma,
                        const T* beta, T* moving_mean, T* moving_var, T momentum, T eps, bool batch_stats) {
  const int64_t parts = (rows + kRowsPerPart - 1) / kRowsPerPart;
  double* partial = scratch<double>(0, size_t(parts * features));
  double* sums = scratch<double>(1, size_t(features));
  T* scale = scratch<T>(2, size_t(2 * features));  // (2: apart from the doubles when T is double)
  T* shift = scale + features;
  if (batch_stats) {  // the mean, then the squares about it (two passes: no cancellation)
    for_each_part(rows, features, [&](int64_t p, int64_t r0, int64_t r1, int64_t f0, int64_t w) {
      double* s = partial + p * features + f0;
      std::fill(s, s + w, 0.0);
      for (int64_t r = r0; r < r1; ++r)
        for (int64_t f = 0; f < w; ++f) s[f] += double(x[r * features + f0 + f]);
    });
    add_parts(sums, partial, parts, features, features);
    for (int64_t f = 0; f < features; ++f) mean[f] = T(sums[f] / double(rows));
    for_each_part(rows, features, [&](int64_t p, int64_t r0, int64_t r1, int64_t f0, int64_t w) {
      double* s = partial + p * features + f0;
      std::fill(s, s + w, 0.0);
      for (int64_t r = r0; r < r1; ++r)
        for (int64_t f = 0; f < w; ++f) {
          const double c = double(x[r * features + f0 + f]) - double(mean[f0 + f]);
          s[f] += c * c;
        }
    });
    add_parts(sums, partial, parts, features, features);
    for (int64_t f = 0; f < features; ++f) {
      const T var = T(sums[f] / double(rows));
      moving_mean[f] = moving_mean[f] * momentum + mean[f] * (T(1) - momentum);
      moving_var[f] = moving_var[f] * momentum + var * (T(1) - momentum);
      inv[f] = T(1) / std::sqrt(var + eps);
    }
  } else {
    for (int64_t f = 0; f < features; ++f) {
      mean[f] = moving_mean[f];
      inv[f] = T(1) / std::sqrt(moving_var[f] + eps);
    }
  }
  for (int64_t f = 0; f < features; ++f) {
    scale[f] = gamma ? inv[f] * gamma[f] : inv[f];
    shift[f] = beta ? beta[f] : T(0);
  }
  normalize_rows(y, x, mean, scale, shift, rows, features);
}

template <typename T>
void batch_norm_backward(T* dx, T* dgamma, T* dbeta, const T* dy, const T* x, const T* mean, const T* inv,
                         const T* gamma, int64_t rows, int64_t features, bool batch_stats) {
  const int64_t parts = (rows + kRowsPerPart - 1) / kRowsPerPart;
  double* partial = scratch<double>(0, size_t(2 * parts * features));
  double* sum_dy = scratch<double>(1, size_t(2 * features));
  double* sum_dy_xhat = sum_dy + features;
  T* k = scratch<T>(2, size_t(3 * features));  // (2: apart from the doubles when T is double)
  T* db = k + features;
  T* dg = db + features;
  for_each_part(rows, features, [&](int64_t p, int64_t r0, int64_t r1, int64_t f0, int64_t w) {
    double* s = partial + 2 * p * features + f0;  // sums of dy, then of dy * xhat
    double* sx = s + features;
    std::fill(s, s + w, 0.0);
    std::fill(sx, sx + w, 0.0);
    for (int64_t r = r0; r < r1; ++r)
      for (int64_t f = 0; f < w; ++f) {
        const int64_t e = r * features + f0 + f;
        const T d = dy[e];
        s[f] += double(d);
        sx[f] += double(d) * double((x[e] - mean[f0 + f]) * inv[f0 + f]);
      }
  });
  add_parts(sum_dy, partial, parts, 2 * features, features);
  add_parts(sum_dy_xhat, partial + features, parts, 2 * features, features);
  if (dgamma)
    for (int64_t f = 0; f < features; ++f) dgamma[f] = T(sum_dy_xhat[f]);
  if (dbeta)
    for (int64_t f = 0; f < features; ++f) dbeta[f] = T(sum_dy[f]);
  if (!dx) return;
  // dx = k * (n * dy - db - xhat * dg), or dy * k with the moving statistics
  for (int64_t f = 0; f < features; ++f) {
    db[f] = T(sum_dy[f]);
    dg[f] = T(sum_dy_xhat[f]);
    const T g = gamma ? gamma[f] : T(1);
    k[f] = batch_stats ? g * inv[f] / T(rows) : g * inv[f];
  }
  const T n = T(rows);
  const int nt = detail::threads_for(rows * features, detail::kElementGrain);
#pragma omp parallel for num_threads(nt) schedule(static)
  for (int64_t p = 0; p < parts; ++p)
    detail::at_isa([&] {
      for (int64_t r = p * kRowsPerPart; r < std::min(rows, (p + 1) * kRowsPerPart); ++r)
        for (int64_t f = 0; f < features; ++f) {
          const int64_t e = r * features + f;
          if (!batch_stats) {
            dx[e] = dy[e] * k[f];
          } else {
            const T xhat = (x[e] - mean[f]) * inv[f];
            dx[e] = k[f] * (n * dy[e] - db[f] - xhat * dg[f]);
          }
        }
    });
}

template <typename T>
void layer_norm_forward(T* y, T* mean, T* inv, const T* x, int64_t rows, int64_t features, const T* gamma,
                        const T* beta, T eps) {
  const int nt = detail::threads_for(rows * features, detail::kElementGrain);
#pragma omp parallel for num_threads(nt) schedule(static)
  for (int64_t r = 0; r < rows; ++r) {
    const T* xr = x + r * features;
    double sum = 0;
    for (int64_t f = 0; f < features; ++f) sum += xr[f];
    const T m = T(sum / double(features));
    double sq = 0;
    for (int64_t f = 0; f < features; ++f) {
      const double c = double(xr[f]) - double(m);
      sq += c * c;
    }
    const T i = T(1) / std::sqrt(T(sq / double(features)) + eps);
    mean[r] = m;
    inv[r] = i;
    T* yr = y + r * features;
    for (int64_t f = 0; f < features; ++f)
      yr[f] = (xr[f] - m) * i * (gamma ? gamma[f] : T(1)) + (beta ? beta[f] : T(0));
  }
}

template <typename T>
void layer_norm_backward(T* dx, T* dgamma, T* dbeta, const T* dy, const T* x, const T* mean, const T* inv,
                         const T* gamma, int64_t rows, int64_t features) {
  const int nt = detail::threads_for(rows * features, detail::kElementGrain);
  if (dx) {
#pragma omp parallel for num_threads(nt) schedule(static)
    for (int64_t r = 0; r < rows; ++r) {
      const T* xr = x + r * features;
      const T* dyr = dy + r * features;
      double sum_g = 0, sum_g_xhat = 0;
      for (int64_t f = 0; f < features; ++f) {
        const T g = dyr[f] * (gamma ? gamma[f] : T(1));
        sum_g += g;
        sum_g_xhat += double(g) * double((xr[f] - mean[r]) * inv[r]);
      }
      const T sg = T(sum_g), sgx = T(sum_g_xhat), n = T(features), k = inv[r] / n;
      T* dxr = dx + r * features;
      for (int64_t f = 0; f < features; ++f) {
        const T xhat = (xr[f] - mean[r]) * inv[r];
        dxr[f] = k * (n * dyr[f] * (gamma ? gamma[f] : T(1)) - sg - xhat * sgx);
      }
    }
  }
  if (!dgamma && !dbeta) return;
#pragma omp parallel for num_threads(nt) schedule(static)
  for (int64_t blk = 0; blk < blocks_of(features); ++blk) {  // rows in order: the same sums for any thread count
    const int64_t f0 = blk * kBlock, w = std::min(kBlock, features - f0);
    double sum_dy[kBlock], sum_dy_xhat[kBlock];
    gradient_sums(sum_dy, sum_dy_xhat, dy, x, mean, inv, rows, features, f0, w, true);
    for (int64_t f = 0; f < w; ++f) {
      if (dgamma) dgamma[f0 + f] = T(sum_dy_xhat[f]);
      if (dbeta) dbeta[f0 + f] = T(sum_dy[f]);
    }
  }
}

#define BRISKNET_NORMALIZATION(T)                                                                                  \
  template void batch_norm_forward<T>(T*, T*, T*, const T*, int64_t, int64_t, const T*, const T*, T*, T*, T, T,    \
                                      bool);                                                                       \
  template void batch_norm_backward<T>(T*, T*, T*, const T*, const T*, const T*, const T*, const T*, int64_t,      \
                                       int64_t, bool);                                                             \
  template void layer_norm_forward<T>(T*, T*, T*, const T*, int64_t, int64_t, const T*, const T*, T);              \
  template void layer_norm_backward<T>(T*, T*, T*, const T*, const T*, const T*, const T*, const T*, int64_t,      \
                                       int64_t);
BRISKNET_NORMALIZATION(float)
BRISKNET_NORMALIZATION(double)
#undef BRISKNET_NORMALIZATION

}  // namespace brisknet
