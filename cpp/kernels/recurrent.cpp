// LSTM over whole sequences, as cuDNN and oneDNN run it: the input projection of every step is one
// GEMM, each step one recurrent GEMM accumulating into its step's gate rows and the gates applied
// in place; backward through time one GEMM per step for the recurrent gradient, then the weight
// and input gradients as one GEMM each over all steps. Keras' gates: i, f, c (candidate), o; tanh
// and sigmoid. Rows are (sample, step) in input order; `reverse` processes the steps last to first
// (Keras' go_backwards) and the outputs h and c are in processing order, as Keras returns them.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "brisknet/elementwise_math.h"
#include "brisknet/kernels.h"
#include "parallel.h"

namespace brisknet {
namespace {

struct Seq {
  int64_t batch, steps, inputs, units;
  bool reverse;
  int64_t t(int64_t s) const { return reverse ? steps - 1 - s : s; }  // input step of processing step s
};

}  // namespace

template <typename T>
void lstm_forward(T* hs, T* cs, T* gates, T* h_prev_in, const T* x, const T* kernel, const T* recurrent,
                  const T* bias, const T* h0, const T* c0, int64_t batch, int64_t steps, int64_t inputs,
                  int64_t units, bool reverse) {
  const Seq q{batch, steps, inputs, units, reverse};
  const int64_t g4 = 4 * units;
  // every step's input projection (and bias) at once: gates[(b, t), 4U]
  gemm<T>(gates, g4, x, inputs, 1, kernel, g4, 1, batch * steps, g4, inputs, T(0), bias);
  for (int64_t s = 0; s < steps; ++s) {
    const int64_t t = q.t(s);
    T* z = gates + t * g4;  // rows b: z + b * steps * g4
    const T* hp = s == 0 ? h0 : hs + (s - 1) * units;
    const int64_t hp_stride = s == 0 ? units : steps * units;
    const T* cp = s == 0 ? c0 : cs + (s - 1) * units;
    const int64_t cp_stride = s == 0 ? units : steps * units;
    gemm<T>(z, steps * g4, hp, hp_stride, 1, recurrent, g4, 1, batch, g4, units, T(1), nullptr);
    detail::parallel_chunks(
        batch * units,
        [&](int64_t begin, int64_t end) {
          for (int64_t e = begin; e < end; ++e) {
            const int64_t b = e / units, j = e % units;
            T* zb = z + b * steps * g4;
            const T i = math::sigmoid(zb[j]), f = math::sigmoid(zb[units + j]);
            const T g = std::tanh(zb[2 * units + j]), o = math::sigmoid(zb[3 * units + j]);
            const T c = f * cp[b * cp_stride + j] + i * g;
            zb[j] = i;
            zb[units + j] = f;
            zb[2 * units + j] = g;
            zb[3 * units + j] = o;
            cs[(b * steps + s) * units + j] = c;
            hs[(b * steps + s) * units + j] = o * std::tanh(c);
            h_prev_in[(b * steps + t) * units + j] = hp[b * hp_stride + j];
          }
        },
        8);
  }
}

template <typename T>
void lstm_backward(T* dx, T* dkernel, T* drecurrent, T* dbias, T* dh0, T* dc0, T* gates, const T* dhs,
                   const T* cs, const T* h_prev_in, const T* x, const T* kernel, const T* recurrent, const T* c0,
                   int64_t batch, int64_t steps, int64_t inputs, int64_t units, bool reverse) {
  const Seq q{batch, steps, inputs, units, reverse};
  const int64_t g4 = 4 * units;
  // dh0 and dc0 carry the recurrent gradients from step to step (then they are the initial states')
  std::fill(dh0, dh0 + batch * units, T(0));
  std::fill(dc0, dc0 + batch * units, T(0));
  for (int64_t s = steps - 1; s >= 0; --s) {
    const int64_t t = q.t(s);
    T* z = gates + t * g4;  // the gates of this step, overwritten by their pre-activation gradients
    const T* cp = s == 0 ? c0 : cs + (s - 1) * units;
    const int64_t cp_stride = s == 0 ? units : steps * units;
    detail::parallel_chunks(
        batch * units,
        [&](int64_t begin, int64_t end) {
          for (int64_t e = begin; e < end; ++e) {
            const int64_t b = e / units, j = e % units;
            T* zb = z + b * steps * g4;
            const T i = zb[j], f = zb[units + j], g = zb[2 * units + j], o = zb[3 * units + j];
            const T c = cs[(b * steps + s) * units + j], tc = std::tanh(c);
            const T dh = dhs[(b * steps + s) * units + j] + dh0[e];
            const T dc = dc0[e] + dh * o * (T(1) - tc * tc);
            zb[j] = dc * g * i * (T(1) - i);
            zb[units + j] = dc * cp[b * cp_stride + j] * f * (T(1) - f);
            zb[2 * units + j] = dc * i * (T(1) - g * g);
            zb[3 * units + j] = dh * tc * o * (T(1) - o);
            dc0[e] = dc * f;
          }
        },
        8);
    // dh of the step before: dz @ recurrent^T
    gemm<T>(dh0, units, z, steps * g4, 1, recurrent, 1, g4, batch, units, g4, T(0), nullptr);
  }
  // over all steps at once: dkernel = x^T dz, drecurrent = h_prev^T dz, dbias = sums of dz, dx = dz kernel^T
  gemm<T>(dkernel, g4, x, 1, inputs, gates, g4, 1, inputs, g4, batch * steps, T(0), nullptr);
  gemm<T>(drecurrent, g4, h_prev_in, 1, units, gates, g4, 1, units, g4, batch * steps, T(0), nullptr);
  if (dbias) column_sums<T>(dbias, gates, batch * steps, g4, T(0));
  if (dx) gemm<T>(dx, inputs, gates, g4, 1, kernel, 1, g4, batch * steps, inputs, g4, T(0), nullptr);
}

#define BRISKNET_RECURRENT(T)                                                                                      \
  template void lstm_forward<T>(T*, T*, T*, T*, const T*, const T*, const T*, const T*, const T*, const T*,        \
                                int64_t, int64_t, int64_t, int64_t, bool);                                         \
  template void lstm_backward<T>(T*, T*, T*, T*, T*, T*, T*, const T*, const T*, const T*, const T*, const T*,      \
                                 const T*, const T*, int64_t, int64_t, int64_t, int64_t, bool);
BRISKNET_RECURRENT(float)
BRISKNET_RECURRENT(double)
#undef BRISKNET_RECURRENT

}  // namespace brisknet
