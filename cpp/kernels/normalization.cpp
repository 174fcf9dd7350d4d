// BatchNormalization and LayerNormalization forward and backward (kernels.h). Every sum runs in
// double over the rows (or features) in order, so the results do not depend on the thread count;
// BatchNormalization streams the rows of a block of features per thread (rows are contiguous).
#include <algorithm>
#include <cmath>

#include "brisknet/kernels.h"
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
}  // namespace

template <typename T>
void batch_norm_forward(T* y, T* mean, T* inv, const T* x, int64_t rows, int64_t features, const T* gamma,
                        const T* beta, T* moving_mean, T* moving_var, T momentum, T eps, bool batch_stats) {
  const int nt = detail::threads_for(rows * features, detail::kElementGrain);
#pragma omp parallel for num_threads(nt) schedule(static)
  for (int64_t blk = 0; blk < blocks_of(features); ++blk) {
    const int64_t f0 = blk * kBlock, w = std::min(kBlock, features - f0);
    T m[kBlock], scale[kBlock], shift[kBlock];
    if (batch_stats) {  // rows in order, in double: the same sums for any thread count
      double sum[kBlock] = {}, sq[kBlock] = {};
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t f = 0; f < w; ++f) sum[f] += x[r * features + f0 + f];
      for (int64_t f = 0; f < w; ++f) m[f] = T(sum[f] / double(rows));
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t f = 0; f < w; ++f) {
          const double c = double(x[r * features + f0 + f]) - double(m[f]);
          sq[f] += c * c;
        }
      for (int64_t f = 0; f < w; ++f) {
        const T var = T(sq[f] / double(rows));
        moving_mean[f0 + f] = moving_mean[f0 + f] * momentum + m[f] * (T(1) - momentum);
        moving_var[f0 + f] = moving_var[f0 + f] * momentum + var * (T(1) - momentum);
        inv[f0 + f] = T(1) / std::sqrt(var + eps);
      }
    } else {
      for (int64_t f = 0; f < w; ++f) {
        m[f] = moving_mean[f0 + f];
        inv[f0 + f] = T(1) / std::sqrt(moving_var[f0 + f] + eps);
      }
    }
    for (int64_t f = 0; f < w; ++f) {
      mean[f0 + f] = m[f];
      scale[f] = gamma ? inv[f0 + f] * gamma[f0 + f] : inv[f0 + f];
      shift[f] = beta ? beta[f0 + f] : T(0);
    }
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t f = 0; f < w; ++f) y[r * features + f0 + f] = (x[r * features + f0 + f] - m[f]) * scale[f] + shift[f];
  }
}

template <typename T>
void batch_norm_backward(T* dx, T* dgamma, T* dbeta, const T* dy, const T* x, const T* mean, const T* inv,
                         const T* gamma, int64_t rows, int64_t features, bool batch_stats) {
  const int nt = detail::threads_for(rows * features, detail::kElementGrain);
#pragma omp parallel for num_threads(nt) schedule(static)
  for (int64_t blk = 0; blk < blocks_of(features); ++blk) {
    const int64_t f0 = blk * kBlock, w = std::min(kBlock, features - f0);
    double sum_dy[kBlock], sum_dy_xhat[kBlock];
    gradient_sums(sum_dy, sum_dy_xhat, dy, x, mean, inv, rows, features, f0, w, false);
    T db[kBlock], dg[kBlock], k[kBlock];
    for (int64_t f = 0; f < w; ++f) {
      db[f] = T(sum_dy[f]);
      dg[f] = T(sum_dy_xhat[f]);
      if (dgamma) dgamma[f0 + f] = dg[f];
      if (dbeta) dbeta[f0 + f] = db[f];
      const T g = gamma ? gamma[f0 + f] : T(1);
      k[f] = batch_stats ? g * inv[f0 + f] / T(rows) : g * inv[f0 + f];
    }
    if (!dx) continue;
    const T n = T(rows);
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t f = 0; f < w; ++f) {
        const int64_t e = r * features + f0 + f;
        if (!batch_stats) {
          dx[e] = dy[e] * k[f];
        } else {
          const T xhat = (x[e] - mean[f0 + f]) * inv[f0 + f];
          dx[e] = k[f] * (n * dy[e] - db[f] - xhat * dg[f]);
        }
      }
  }
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
