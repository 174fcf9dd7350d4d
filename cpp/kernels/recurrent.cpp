// Recurrent layers over whole sequences, as cuDNN and oneDNN run them: the input projection of every
// step is one GEMM, each step one recurrent GEMM and the cell's gates applied in place; backward
// through time one GEMM per step for the recurrent gradient, then the weight and input gradients
// as one GEMM each over all steps. Cells as Keras 3 defines them:
//   LSTM: gates i, f, c, o; c = f c' + i g, h = o tanh(c) (tanh and sigmoid).
//   GRU (reset_after): gates z, r, h; the recurrent projection (with its own bias) is kept apart,
//        hh = tanh(x_h + r (h' U_h + b_h)), h = z h' + (1 - z) hh.
//   SimpleRNN: h = act(x W + b + h' U).
// Rows are (sample, step) in input order; `reverse` processes the steps last to first (Keras'
// go_backwards) and the states written are in processing order, as Keras returns them. A masked
// step (mask 0) keeps the states it got: h and c carry over, and in the backward pass their
// gradients pass straight through. Every element's arithmetic is the same on any thread count.
#include <algorithm>
#include <cmath>

#include <type_traits>

#include "brisknet/elementwise_math.h"
#include "brisknet/kernels.h"
#include "brisknet/fast_math.h"
#include "isa_clones.h"
#include "parallel.h"

namespace brisknet {
namespace {

// The gates' functions: float32 vectorisable (fast_math.h), float64 glibc's (gradient checks).
template <typename T>
inline T sigmoid(T x) {
  if constexpr (std::is_same_v<T, float>) return fast::sigmoid(x);
  else return math::sigmoid(x);
}
template <typename T>
inline T tanh_of(T x) {
  if constexpr (std::is_same_v<T, float>) return fast::tanh(x);
  else return std::tanh(x);
}
template <Activation A, typename T>
inline T activate(T x, T alpha) {
  if constexpr (A == Activation::tanh) return tanh_of(x);
  else return math::activate<A>(x, alpha);
}

template <typename T>
struct Layout {
  const RecurrentArgs<T>& a;
  int64_t u, g;  // units, gate width
  explicit Layout(const RecurrentArgs<T>& args) : a(args), u(args.units), g(recurrent_gate_width(args.cell, args.units)) {}
  int64_t t(int64_t s) const { return a.reverse ? a.steps - 1 - s : s; }  // input step of processing step s
  int64_t seq() const { return a.batch * a.steps * u; }                  // one state sequence's size
  bool kept(int64_t b, int64_t t) const { return a.mask == nullptr || a.mask[b * a.steps + t] != 0; }
  // the state (h: k = 0, c: k = 1) before processing step s, and its row stride
  const T* before(int k, int64_t s, int64_t* stride) const {
    *stride = s == 0 ? u : a.steps * u;
    return s == 0 ? (k == 0 ? a.h0 : a.c0) : a.states + k * seq() + (s - 1) * u;
  }
};

// One row's gate arithmetic, its arrays as restrict parameters (what GCC needs to vectorise a
// loop over several arrays cut from one buffer).
template <typename T>
void lstm_forward_row(T* __restrict zi, T* __restrict zf, T* __restrict zg, T* __restrict zo, T* __restrict h,
                      T* __restrict c, const T* __restrict c_prev, int64_t u) {
  for (int64_t j = 0; j < u; ++j) {
    const T i = sigmoid(zi[j]), f = sigmoid(zf[j]), g = tanh_of(zg[j]), o = sigmoid(zo[j]);
    zi[j] = i, zf[j] = f, zg[j] = g, zo[j] = o;
    const T cn = f * c_prev[j] + i * g;
    c[j] = cn;
    h[j] = o * tanh_of(cn);
  }
}

template <typename T>
void gru_forward_row(T* __restrict xz, T* __restrict xr, T* __restrict xh, const T* __restrict rz,
                     const T* __restrict rr, const T* __restrict rh, T* __restrict h, const T* __restrict h_prev,
                     int64_t u) {
  for (int64_t j = 0; j < u; ++j) {
    const T z = sigmoid(xz[j] + rz[j]), r = sigmoid(xr[j] + rr[j]);
    const T hh = tanh_of(xh[j] + r * rh[j]);
    xz[j] = z, xr[j] = r, xh[j] = hh;
    h[j] = z * h_prev[j] + (T(1) - z) * hh;
  }
}

template <typename T>
void lstm_backward_row(T* __restrict zi, T* __restrict zf, T* __restrict zg, T* __restrict zo,
                       const T* __restrict c, const T* __restrict c_prev, const T* __restrict ds_h,
                       const T* __restrict ds_c, T* __restrict dh, T* __restrict dc, int64_t u) {
  for (int64_t j = 0; j < u; ++j) {
    const T dht = dh[j] + ds_h[j], dct = dc[j] + ds_c[j];
    const T i = zi[j], f = zf[j], g = zg[j], o = zo[j];
    const T tc = tanh_of(c[j]);
    const T dcell = dct + dht * o * (T(1) - tc * tc);
    zi[j] = dcell * g * i * (T(1) - i);
    zf[j] = dcell * c_prev[j] * f * (T(1) - f);
    zg[j] = dcell * i * (T(1) - g * g);
    zo[j] = dht * tc * o * (T(1) - o);
    dc[j] = dcell * f;
    dh[j] = T(0);  // h' reaches h only through the recurrent product
  }
}

template <typename T>
void gru_backward_row(T* __restrict xz, T* __restrict xr, T* __restrict xh, T* __restrict rz, T* __restrict rr,
                      T* __restrict rh, const T* __restrict hp, const T* __restrict ds_h, T* __restrict dh,
                      int64_t u) {
  for (int64_t j = 0; j < u; ++j) {
    const T dht = dh[j] + ds_h[j];
    const T z = xz[j], r = xr[j], hh = xh[j];
    const T dpre_h = dht * (T(1) - z) * (T(1) - hh * hh);
    const T dpre_z = dht * (hp[j] - hh) * z * (T(1) - z);
    const T dpre_r = dpre_h * rh[j] * r * (T(1) - r);
    xz[j] = rz[j] = dpre_z;
    xr[j] = rr[j] = dpre_r;
    xh[j] = dpre_h;
    rh[j] = dpre_h * r;
    dh[j] = dht * z;
  }
}

// The step functions below work on one sample's row. A masked row only carries its states over;
// the others' loops see restrict pointers and no branch, so that they vectorise.
template <typename T>
void forward_lstm_step(const Layout<T>& L, int64_t s, int64_t b, const T* hp, const T* cp) {
  const auto& a = L.a;
  const int64_t u = L.u, t = L.t(s);
  T* z = a.gates + (b * a.steps + t) * L.g;
  T* __restrict h = a.states + (b * a.steps + s) * u;
  T* __restrict c = h + L.seq();
  if (!L.kept(b, t)) {
    std::copy(hp, hp + u, h);
    std::copy(cp, cp + u, c);
    return;
  }
  lstm_forward_row(z, z + u, z + 2 * u, z + 3 * u, h, c, cp, u);
}

template <typename T>
void forward_gru_step(const Layout<T>& L, int64_t s, int64_t b, const T* hp) {
  const auto& a = L.a;
  const int64_t u = L.u, t = L.t(s);
  T* xg = a.gates + (b * a.steps + t) * L.g;
  const T* rg = a.recurrent_gates + (b * a.steps + t) * L.g;
  T* __restrict h = a.states + (b * a.steps + s) * u;
  if (!L.kept(b, t)) {
    std::copy(hp, hp + u, h);
    return;
  }
  gru_forward_row(xg, xg + u, xg + 2 * u, rg, rg + u, rg + 2 * u, h, hp, u);
}

template <Activation A, typename T>
void forward_simple_step(const Layout<T>& L, int64_t s, int64_t b, const T* hp) {
  const auto& a = L.a;
  const int64_t u = L.u, t = L.t(s);
  const T* __restrict z = a.gates + (b * a.steps + t) * L.g;  // the pre-activation, kept for backward
  T* __restrict h = a.states + (b * a.steps + s) * u;
  if (!L.kept(b, t)) {
    std::copy(hp, hp + u, h);
    return;
  }
  for (int64_t j = 0; j < u; ++j) h[j] = activate<A>(z[j], a.alpha);
}

}  // namespace

int64_t recurrent_gate_width(RecurrentCell cell, int64_t units) {
  return cell == RecurrentCell::lstm ? 4 * units : cell == RecurrentCell::gru ? 3 * units : units;
}

namespace {

// Several runs (Bidirectional's two directions) at once, one per thread: each step of a run is
// too small to share between threads without a barrier per step. A run's GEMMs and loops see
// one thread and give the same bits as on any other count.
template <typename F>
void each_run(int64_t count, F run) {
  const int nt = int(std::min<int64_t>(count, detail::usable_threads()));
  if (nt <= 1) {
    for (int64_t i = 0; i < count; ++i) run(i);
    return;
  }
#pragma omp parallel for num_threads(nt) schedule(static, 1)
  for (int64_t i = 0; i < count; ++i) run(i);
}

template <typename T>
void forward_one(const RecurrentArgs<T>& a) {
  const Layout<T> L(a);
  const int64_t u = L.u, g = L.g, rows = a.batch * a.steps;
  GemmFusion<T> f;
  f.bf16 = a.bf16;
  // every step's input projection (and bias) at once: gates[(b, t), g]
  gemm<T>(a.gates, g, a.x, a.inputs, 1, a.kernel, g, 1, rows, g, a.inputs, T(0), a.bias, f);
  for (int64_t s = 0; s < a.steps; ++s) {
    const int64_t t = L.t(s);
    int64_t hs_, cs_ = 0;
    const T* hp = L.before(0, s, &hs_);
    const T* cp = a.cell == RecurrentCell::lstm ? L.before(1, s, &cs_) : nullptr;
    // the recurrent projection: into the step's gate rows (LSTM, SimpleRNN), or apart (GRU)
    if (a.cell == RecurrentCell::gru)
      gemm<T>(a.recurrent_gates + t * g, a.steps * g, hp, hs_, 1, a.recurrent, g, 1, a.batch, g, u, T(0),
              a.recurrent_bias, f);
    else
      gemm<T>(a.gates + t * g, a.steps * g, hp, hs_, 1, a.recurrent, g, 1, a.batch, g, u, T(1), nullptr, f);
    auto rows_of = [&](auto step) {
      detail::parallel_chunks(
          a.batch,
          [&](int64_t begin, int64_t end) {
            detail::at_isa([&] {
              for (int64_t b = begin; b < end; ++b) {
                std::copy(hp + b * hs_, hp + b * hs_ + u, a.h_prev + (b * a.steps + t) * u);
                step(b, hp + b * hs_, cp ? cp + b * cs_ : nullptr);
              }
            });
          },
          g);
    };
    if (a.cell == RecurrentCell::lstm)
      rows_of([&](int64_t b, const T* h, const T* c) { forward_lstm_step(L, s, b, h, c); });
    else if (a.cell == RecurrentCell::gru)
      rows_of([&](int64_t b, const T* h, const T*) { forward_gru_step(L, s, b, h); });
    else
      math::with_activation(a.activation, [&](auto act) {
        rows_of([&](int64_t b, const T* h, const T*) { forward_simple_step<decltype(act)::value>(L, s, b, h); });
      });
  }
}


// One step's gradients for sample b: dh/dc (the carries, in: from the step after; out: the direct
// part of the state before's), gates overwritten by the pre-activation gradients (GRU: the
// recurrent ones in recurrent_gates). A masked row passes its carries straight through.
template <typename T>
void backward_lstm_step(const Layout<T>& L, const RecurrentGrads<T>& d, int64_t s, int64_t b, T* dh, T* dc,
                        const T* cp) {
  const auto& a = L.a;
  const int64_t u = L.u, t = L.t(s), at = (b * a.steps + s) * u;
  T* z = a.gates + (b * a.steps + t) * L.g;
  const T* __restrict ds_h = d.dstates + at;
  const T* __restrict ds_c = d.dstates + L.seq() + at;
  T* __restrict dh_ = dh;
  T* __restrict dc_ = dc;
  if (!L.kept(b, t)) {
    for (int64_t j = 0; j < u; ++j) dh_[j] += ds_h[j], dc_[j] += ds_c[j];
    std::fill(z, z + L.g, T(0));
    return;
  }
  lstm_backward_row(z, z + u, z + 2 * u, z + 3 * u, a.states + L.seq() + at, cp, ds_h, ds_c, dh_, dc_, u);
}

template <typename T>
void backward_gru_step(const Layout<T>& L, const RecurrentGrads<T>& d, int64_t s, int64_t b, T* dh) {
  const auto& a = L.a;
  const int64_t u = L.u, t = L.t(s), at = (b * a.steps + s) * u;
  T* xg = a.gates + (b * a.steps + t) * L.g;
  T* rg = a.recurrent_gates + (b * a.steps + t) * L.g;
  const T* __restrict ds_h = d.dstates + at;
  T* __restrict dh_ = dh;
  if (!L.kept(b, t)) {
    for (int64_t j = 0; j < u; ++j) dh_[j] += ds_h[j];
    std::fill(xg, xg + L.g, T(0));
    std::fill(rg, rg + L.g, T(0));
    return;
  }
  gru_backward_row(xg, xg + u, xg + 2 * u, rg, rg + u, rg + 2 * u, a.h_prev + (b * a.steps + t) * u, ds_h, dh_, u);
}

template <Activation A, typename T>
void backward_simple_step(const Layout<T>& L, const RecurrentGrads<T>& d, int64_t s, int64_t b, T* dh) {
  const auto& a = L.a;
  const int64_t u = L.u, t = L.t(s), at = (b * a.steps + s) * u;
  T* __restrict z = a.gates + (b * a.steps + t) * L.g;
  const T* __restrict ds_h = d.dstates + at;
  const T* __restrict h = a.states + at;
  T* __restrict dh_ = dh;
  if (!L.kept(b, t)) {
    for (int64_t j = 0; j < u; ++j) dh_[j] += ds_h[j];
    std::fill(z, z + u, T(0));
    return;
  }
  for (int64_t j = 0; j < u; ++j) {
    z[j] = math::activate_grad<A>(dh_[j] + ds_h[j], z[j], h[j], a.alpha);
    dh_[j] = T(0);
  }
}

template <typename T>
void backward_one(const RecurrentArgs<T>& a, const RecurrentGrads<T>& d) {
  const Layout<T> L(a);
  const int64_t u = L.u, g = L.g, rows = a.batch * a.steps;
  const bool gru = a.cell == RecurrentCell::gru, lstm = a.cell == RecurrentCell::lstm;
  GemmFusion<T> f;
  f.bf16 = a.bf16;
  // dh0 and dc0 carry the gradients from step to step (at the end: the initial states')
  std::fill(d.dh0, d.dh0 + a.batch * u, T(0));
  if (lstm) std::fill(d.dc0, d.dc0 + a.batch * u, T(0));
  T* recurrent_grads = gru ? a.recurrent_gates : a.gates;  // what multiplies recurrent^T
  for (int64_t s = a.steps - 1; s >= 0; --s) {
    const int64_t t = L.t(s);
    int64_t cs_ = 0;
    const T* cp = lstm ? L.before(1, s, &cs_) : nullptr;
    auto rows_of = [&](auto step) {
      detail::parallel_chunks(
          a.batch,
          [&](int64_t begin, int64_t end) {
            detail::at_isa([&] {
              for (int64_t b = begin; b < end; ++b) step(b);
            });
          },
          g);
    };
    if (lstm)
      rows_of([&](int64_t b) { backward_lstm_step(L, d, s, b, d.dh0 + b * u, d.dc0 + b * u, cp + b * cs_); });
    else if (gru)
      rows_of([&](int64_t b) { backward_gru_step(L, d, s, b, d.dh0 + b * u); });
    else
      math::with_activation(a.activation, [&](auto act) {
        rows_of([&](int64_t b) { backward_simple_step<decltype(act)::value>(L, d, s, b, d.dh0 + b * u); });
      });
    // the state before's gradient: its direct part (above) + the recurrent pre-activations' @ recurrent^T
    gemm<T>(d.dh0, u, recurrent_grads + t * g, a.steps * g, 1, a.recurrent, 1, g, a.batch, u, g, T(1), nullptr, f);
  }
  // over all steps at once: dkernel = x^T dz, drecurrent = h_prev^T dz_rec, the biases' sums, dx = dz kernel^T
  gemm<T>(d.dkernel, g, a.x, 1, a.inputs, a.gates, g, 1, a.inputs, g, rows, T(0), nullptr, f);
  gemm<T>(d.drecurrent, g, a.h_prev, 1, u, recurrent_grads, g, 1, u, g, rows, T(0), nullptr, f);
  if (d.dbias) column_sums<T>(d.dbias, a.gates, rows, g, T(0));
  if (d.drecurrent_bias) column_sums<T>(d.drecurrent_bias, a.recurrent_gates, rows, g, T(0));
  if (d.dx) gemm<T>(d.dx, a.inputs, a.gates, g, 1, a.kernel, 1, g, rows, a.inputs, g, T(0), nullptr, f);
}

}  // namespace

template <typename T>
void recurrent_forward(const RecurrentArgs<T>* runs, int64_t count) {
  each_run(count, [&](int64_t i) { forward_one(runs[i]); });
}

template <typename T>
void recurrent_backward(const RecurrentArgs<T>* runs, const RecurrentGrads<T>* grads, int64_t count) {
  each_run(count, [&](int64_t i) { backward_one(runs[i], grads[i]); });
}

template void recurrent_forward<float>(const RecurrentArgs<float>*, int64_t);
template void recurrent_forward<double>(const RecurrentArgs<double>*, int64_t);
template void recurrent_backward<float>(const RecurrentArgs<float>*, const RecurrentGrads<float>*, int64_t);
template void recurrent_backward<double>(const RecurrentArgs<double>*, const RecurrentGrads<double>*, int64_t);

}  // namespace brisknet
