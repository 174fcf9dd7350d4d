// The only file that includes pybind11. Each binding checks dtypes, shapes, strides, aliasing and
// label ranges once, raises TypeError/ValueError naming the argument, then releases the GIL and
// calls the kernel. Inputs are never copied: non-matching arrays are rejected, not converted
// (python/brisknet/ops.py does the friendly conversions).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <chrono>
#include <cmath>
#include <memory>
#include <cstdint>
#include <sstream>
#include <string>

#include "brisknet/engine.h"
#include "brisknet/kernels.h"

namespace py = pybind11;
using namespace brisknet;

namespace {

std::string shape_of(const py::array& a) {
  std::ostringstream s;
  s << "(";
  for (py::ssize_t i = 0; i < a.ndim(); ++i) s << (i ? ", " : "") << a.shape(i);
  s << (a.ndim() == 1 ? ",)" : ")");
  return s.str();
}

std::string dtype_name(const py::array& a) { return py::str(a.dtype()).cast<std::string>(); }

[[noreturn]] void fail_value(const std::string& msg) { throw py::value_error(msg); }
[[noreturn]] void fail_type(const std::string& msg) { throw py::type_error(msg); }

template <typename T>
void require_dtype(const py::array& a, const char* name) {
  if (!a.dtype().is(py::dtype::of<T>()))
    fail_type(std::string(name) + ": expected dtype " + py::str(py::dtype::of<T>()).cast<std::string>() +
              ", got " + dtype_name(a));
}

void require_ndim(const py::array& a, const char* name, int ndim) {
  if (a.ndim() != ndim)
    fail_value(std::string(name) + ": expected a " + std::to_string(ndim) + "-D array, got shape " +
               shape_of(a));
}

void require_contiguous(const py::array& a, const char* name) {
  if (!(a.flags() & py::array::c_style))
    fail_value(std::string(name) + ": expected a C-contiguous array");
}

void require_writable(const py::array& a, const char* name) {
  if (!a.writeable()) fail_value(std::string(name) + ": array is read-only");
}

// Byte range [lo, hi) an array may touch (handles negative strides).
std::pair<const char*, const char*> extent(const py::array& a) {
  const char* lo = static_cast<const char*>(a.data());
  const char* hi = lo;
  if (a.size() == 0) return {lo, lo};
  for (py::ssize_t i = 0; i < a.ndim(); ++i) {
    const py::ssize_t span = (a.shape(i) - 1) * a.strides(i);
    (span < 0 ? lo : hi) += span;
  }
  return {lo, hi + a.itemsize()};
}

bool overlaps(const py::array& a, const py::array& b) {
  const auto x = extent(a), y = extent(b);
  return x.first < y.second && y.first < x.second;
}

// An output may be the very same buffer as an input (in-place kernels), never a partial overlap.
void require_no_partial_alias(const py::array& out, const char* oname, const py::array& in,
                              const char* iname, bool same_ok) {
  if (!overlaps(out, in)) return;
  if (same_ok && out.data() == in.data() && out.nbytes() == in.nbytes()) return;
  fail_value(std::string(oname) + " overlaps " + iname + (same_ok ? " without being the same buffer" : ""));
}

template <typename T>
T* flat(py::array& a, const char* name, py::ssize_t size) {
  require_dtype<T>(a, name);
  require_contiguous(a, name);
  require_writable(a, name);
  if (a.size() != size)
    fail_value(std::string(name) + ": expected " + std::to_string(size) + " elements, got shape " + shape_of(a));
  return static_cast<T*>(a.mutable_data());
}

template <typename T>
const T* flat_in(const py::array& a, const char* name, py::ssize_t size) {
  require_dtype<T>(a, name);
  require_contiguous(a, name);
  if (a.size() != size)
    fail_value(std::string(name) + ": expected " + std::to_string(size) + " elements, got shape " + shape_of(a));
  return static_cast<const T*>(a.data());
}

// Runs f(T{}) for the dtype of `a`: float32 or float64, else TypeError.
template <typename F>
void by_dtype(const py::array& a, const char* name, F f) {
  if (a.dtype().is(py::dtype::of<float>())) return f(float{});
  if (a.dtype().is(py::dtype::of<double>())) return f(double{});
  fail_type(std::string(name) + ": expected dtype float32 or float64, got " + dtype_name(a));
}

std::pair<int64_t, int64_t> element_strides(const py::array& a, const char* name) {
  const auto isz = a.itemsize();
  if (a.strides(0) % isz || a.strides(1) % isz)
    fail_value(std::string(name) + ": strides are not a multiple of the item size");
  return {a.strides(0) / isz, a.strides(1) / isz};
}

// ---------------------------------------------------------------- GEMM
// An optional array fused into gemm: dtype T, C-contiguous, shape `shape`, not overlapping `out`.
template <typename T>
T* fused_array(const py::object& obj, const char* name, const py::array& out, int64_t rows,
               int64_t cols, bool writable, py::array& keep) {
  if (obj.is_none()) return nullptr;
  keep = py::array(obj);
  require_ndim(keep, name, cols < 0 ? 1 : 2);
  const int64_t size = cols < 0 ? rows : rows * cols;
  if (cols >= 0 && (keep.shape(0) != rows || keep.shape(1) != cols))
    fail_value(std::string(name) + ": expected shape (" + std::to_string(rows) + ", " + std::to_string(cols) +
               "), got " + shape_of(keep));
  require_no_partial_alias(out, "out", keep, name, false);
  if (writable) return flat<T>(keep, name, size);
  return const_cast<T*>(flat_in<T>(keep, name, size));
}

void bind_gemm(py::array out, py::array a, py::array b, bool transpose_a, bool transpose_b,
               double beta, py::object bias, Activation activation, double alpha,
               py::object activation_out, py::object grad_x, py::object grad_y,
               py::object b_column_sums) {
  require_ndim(a, "a", 2);
  require_ndim(b, "b", 2);
  require_ndim(out, "out", 2);
  const int64_t m = transpose_a ? a.shape(1) : a.shape(0);
  const int64_t k = transpose_a ? a.shape(0) : a.shape(1);
  const int64_t kb = transpose_b ? b.shape(1) : b.shape(0);
  const int64_t n = transpose_b ? b.shape(0) : b.shape(1);
  if (k != kb)
    fail_value("matmul: inner dimensions differ: a" + std::string(transpose_a ? ".T" : "") + " has shape (" +
               std::to_string(m) + ", " + std::to_string(k) + "), b" + (transpose_b ? ".T" : "") +
               " has shape (" + std::to_string(kb) + ", " + std::to_string(n) + ")");
  if (out.shape(0) != m || out.shape(1) != n)
    fail_value("matmul: out has shape " + shape_of(out) + ", expected (" + std::to_string(m) + ", " +
               std::to_string(n) + ")");
  require_writable(out, "out");
  require_no_partial_alias(out, "out", a, "a", false);
  require_no_partial_alias(out, "out", b, "b", false);
  by_dtype(a, "a", [&](auto tag) {
    using T = decltype(tag);
    require_dtype<T>(b, "b");
    require_dtype<T>(out, "out");
    if (n == 0 || (m == 0 && b_column_sums.is_none())) return;  // nothing to write
    auto [rsa, csa] = element_strides(a, "a");
    auto [rsb, csb] = element_strides(b, "b");
    auto [rsc, csc] = m == 0 ? std::pair<int64_t, int64_t>(n, 1) : element_strides(out, "out");
    if (n > 1 && csc != 1) fail_value("out: rows must be contiguous (column stride 1)");
    if (m > 1 && rsc < n) fail_value("out: row stride smaller than its width");
    if (transpose_a) std::swap(rsa, csa);
    if (transpose_b) std::swap(rsb, csb);
    const T* pbias = nullptr;
    py::array bias_arr;
    if (!bias.is_none()) {
      bias_arr = py::array(bias);
      require_ndim(bias_arr, "bias", 1);
      pbias = flat_in<T>(bias_arr, "bias", n);
      require_no_partial_alias(out, "out", bias_arr, "bias", false);
    }
    GemmFusion<T> fused;
    fused.activation = activation;
    fused.alpha = T(alpha);
    py::array keep[4];  // the fused arrays given (default-constructed: empty)
    fused.activation_out = fused_array<T>(activation_out, "activation_out", out, m, n, true, keep[0]);
    fused.grad_x = fused_array<T>(grad_x, "grad_x", out, m, n, false, keep[1]);
    fused.grad_y = fused_array<T>(grad_y, "grad_y", out, m, n, false, keep[2]);
    fused.b_column_sums = fused_array<T>(b_column_sums, "b_column_sums", out, n, -1, true, keep[3]);
    if (fused.activation_out || fused.grad_x || fused.grad_y) {
      if (fused.activation_out && (fused.grad_x || fused.grad_y))
        fail_value("matmul: activation_out (forward) and grad_x/grad_y (backward) exclude each other");
      if (activation == Activation::softmax || activation == Activation::log_softmax)
        fail_value("matmul: softmax and log_softmax work on whole rows and cannot be fused");
      require_contiguous(out, "out");
    }
    // outputs must not overlap the inputs (empty arrays overlap nothing, so unused slots pass)
    for (int i : {0, 3}) {
      const char* name = i ? "b_column_sums" : "activation_out";
      require_no_partial_alias(keep[i], name, a, "a", false);
      require_no_partial_alias(keep[i], name, b, "b", false);
      if (pbias) require_no_partial_alias(keep[i], name, bias_arr, "bias", false);
    }
    require_no_partial_alias(keep[0], "activation_out", keep[3], "b_column_sums", false);
    T* c = static_cast<T*>(out.mutable_data());
    const T* pa = static_cast<const T*>(a.data());
    const T* pb = static_cast<const T*>(b.data());
    py::gil_scoped_release nogil;
    gemm<T>(c, rsc, pa, rsa, csa, pb, rsb, csb, m, n, k, T(beta), pbias, fused);
  });
}

void bind_column_sums(py::array out, py::array dy, double beta) {
  require_ndim(dy, "dy", 2);
  by_dtype(dy, "dy", [&](auto tag) {
    using T = decltype(tag);
    const int64_t m = dy.shape(0), n = dy.shape(1);
    const T* pdy = flat_in<T>(dy, "dy", m * n);
    T* pout = flat<T>(out, "out", n);
    require_no_partial_alias(out, "out", dy, "dy", false);
    py::gil_scoped_release nogil;
    column_sums<T>(pout, pdy, m, n, T(beta));
  });
}

// ---------------------------------------------------------------- activations
// Softmax-like activations work on rows: a 1-D array is one row; N-D arrays use the last axis.
std::pair<int64_t, int64_t> rows_cols(const py::array& x) {
  if (x.ndim() == 0) return {1, 1};
  const int64_t cols = x.shape(x.ndim() - 1);
  return {cols ? x.size() / cols : 0, cols};
}

void bind_activation_forward(py::array out, py::array x, Activation act, double alpha) {
  by_dtype(x, "x", [&](auto tag) {
    using T = decltype(tag);
    const T* px = flat_in<T>(x, "x", x.size());
    T* py_ = flat<T>(out, "out", x.size());
    require_no_partial_alias(out, "out", x, "x", true);
    auto [rows, cols] = rows_cols(x);
    py::gil_scoped_release nogil;
    activation_forward<T>(py_, px, rows, cols, act, T(alpha));
  });
}

void bind_activation_backward(py::array dx, py::array dy, py::array x, py::array y, Activation act,
                              double alpha) {
  by_dtype(dy, "dy", [&](auto tag) {
    using T = decltype(tag);
    const auto n = dy.size();
    const T* pdy = flat_in<T>(dy, "dy", n);
    const T* px = flat_in<T>(x, "x", n);
    const T* pyv = flat_in<T>(y, "y", n);
    T* pdx = flat<T>(dx, "dx", n);
    require_no_partial_alias(dx, "dx", dy, "dy", true);
    require_no_partial_alias(dx, "dx", x, "x", false);
    require_no_partial_alias(dx, "dx", y, "y", false);
    auto [rows, cols] = rows_cols(dy);
    py::gil_scoped_release nogil;
    activation_backward<T>(pdx, pdy, px, pyv, rows, cols, act, T(alpha));
  });
}

// ---------------------------------------------------------------- losses
template <typename T>
T* optional_out(py::object o, const char* name, py::ssize_t size, const py::array& pred) {
  if (o.is_none()) return nullptr;
  py::array a = o;
  T* p = flat<T>(a, name, size);
  require_no_partial_alias(a, name, pred, "y_pred", false);
  return p;
}

template <typename T>
const T* optional_weights(py::object o, int64_t rows) {
  if (o.is_none()) return nullptr;
  py::array a = o;
  require_ndim(a, "sample_weight", 1);
  return flat_in<T>(a, "sample_weight", rows);
}

const int64_t* checked_labels(const py::array& labels, int64_t rows, int64_t cols) {
  require_ndim(labels, "y_true", 1);
  const int64_t* p = flat_in<int64_t>(labels, "y_true", rows);
  for (int64_t i = 0; i < rows; ++i)
    if (p[i] < 0 || p[i] >= cols)
      fail_value("y_true: label " + std::to_string(p[i]) + " at index " + std::to_string(i) +
                 " is out of range for " + std::to_string(cols) + " classes");
  return p;
}

// The arrays every loss binding checks: y_pred (rows, cols); y_true of the same shape (or labels,
// checked by the caller); optional sample_weight (rows,); optional dpred shaped like y_pred; loss.
template <typename T>
struct LossArrays {
  int64_t rows, cols;
  const T* pred;
  const T* target;  // nullptr for sparse labels
  const T* weights;
  T* dpred;
  T* loss;
};

template <typename T>
LossArrays<T> loss_arrays(py::array& loss, py::object dpred, const py::array& pred,
                          const py::array* target, py::object weights) {
  const int64_t rows = pred.shape(0), cols = pred.shape(1);
  LossArrays<T> a{rows, cols, flat_in<T>(pred, "y_pred", rows * cols), nullptr, nullptr, nullptr, nullptr};
  if (target) {
    require_ndim(*target, "y_true", 2);
    if (target->shape(0) != rows || target->shape(1) != cols)
      fail_value("y_true has shape " + shape_of(*target) + " but y_pred has shape " + shape_of(pred));
    a.target = flat_in<T>(*target, "y_true", rows * cols);
  }
  a.weights = optional_weights<T>(weights, rows);
  a.dpred = optional_out<T>(dpred, "dpred", rows * cols, pred);
  a.loss = flat<T>(loss, "loss", rows);
  return a;
}

void bind_sparse_cce(py::array loss, py::object dpred, py::array pred, py::array labels,
                     py::object weights, bool from_logits, double grad_scale) {
  require_ndim(pred, "y_pred", 2);
  if (pred.shape(1) == 0) fail_value("y_pred: needs at least one class");
  by_dtype(pred, "y_pred", [&](auto tag) {
    using T = decltype(tag);
    auto a = loss_arrays<T>(loss, dpred, pred, nullptr, weights);
    const int64_t* pl = checked_labels(labels, a.rows, a.cols);
    py::gil_scoped_release nogil;
    sparse_categorical_crossentropy<T>(a.loss, a.dpred, a.pred, pl, a.weights, a.rows, a.cols,
                                       from_logits, T(grad_scale));
  });
}

void bind_cce(py::array loss, py::object dpred, py::array pred, py::array target, py::object weights,
              bool from_logits, double grad_scale) {
  require_ndim(pred, "y_pred", 2);
  if (pred.shape(1) == 0) fail_value("y_pred: needs at least one class");
  by_dtype(pred, "y_pred", [&](auto tag) {
    using T = decltype(tag);
    auto a = loss_arrays<T>(loss, dpred, pred, &target, weights);
    py::gil_scoped_release nogil;
    categorical_crossentropy<T>(a.loss, a.dpred, a.pred, a.target, a.weights, a.rows, a.cols,
                                from_logits, T(grad_scale));
  });
}

void bind_elementwise_loss(py::array loss, py::object dpred, py::array pred, py::array target,
                           py::object weights, ElementwiseLoss kind, bool from_logits, double delta,
                           double grad_scale) {
  require_ndim(pred, "y_pred", 2);
  by_dtype(pred, "y_pred", [&](auto tag) {
    using T = decltype(tag);
    auto a = loss_arrays<T>(loss, dpred, pred, &target, weights);
    py::gil_scoped_release nogil;
    elementwise_loss<T>(a.loss, a.dpred, a.pred, a.target, a.weights, a.rows, a.cols, kind,
                        from_logits, T(delta), T(grad_scale));
  });
}

// ---------------------------------------------------------------- optimizers
// The parameter array fixes dtype and size; every state array must match it exactly.
template <typename T>
T* state(py::object o, const char* name, const py::array& p) {
  if (o.is_none()) return nullptr;
  py::array a = o;
  T* ptr = flat<T>(a, name, p.size());
  require_no_partial_alias(a, name, p, "param", false);
  return ptr;
}

template <typename T>
const T* grad_of(const py::array& g, const py::array& p) {
  const T* ptr = flat_in<T>(g, "grad", p.size());
  require_no_partial_alias(p, "param", g, "grad", false);
  return ptr;
}

void bind_sgd(py::array p, py::object velocity, py::array g, double lr, double momentum, bool nesterov) {
  by_dtype(p, "param", [&](auto tag) {
    using T = decltype(tag);
    T* pp = flat<T>(p, "param", p.size());
    T* pv = state<T>(velocity, "velocity", p);
    const T* pg = grad_of<T>(g, p);
    py::gil_scoped_release nogil;
    sgd_step<T>(pp, pv, pg, p.size(), T(lr), T(momentum), nesterov);
  });
}

void bind_adam(py::array p, py::array m, py::array v, py::object vhat, py::array g, double alpha,
               double beta_1, double beta_2, double epsilon, double decay) {
  by_dtype(p, "param", [&](auto tag) {
    using T = decltype(tag);
    T* pp = flat<T>(p, "param", p.size());
    T* pm = state<T>(m, "m", p);
    T* pv = state<T>(v, "v", p);
    T* pvh = state<T>(vhat, "vhat", p);
    const T* pg = grad_of<T>(g, p);
    py::gil_scoped_release nogil;
    adam_step<T>(pp, pm, pv, pvh, pg, p.size(), T(alpha), T(beta_1), T(beta_2), T(epsilon), T(decay));
  });
}

void bind_rmsprop(py::array p, py::array v, py::object mg, py::object mom, py::array g, double lr,
                  double rho, double momentum, double epsilon) {
  by_dtype(p, "param", [&](auto tag) {
    using T = decltype(tag);
    T* pp = flat<T>(p, "param", p.size());
    T* pv = state<T>(v, "velocity", p);
    T* pmg = state<T>(mg, "average_gradient", p);
    T* pmom = state<T>(mom, "momentum", p);
    const T* pg = grad_of<T>(g, p);
    py::gil_scoped_release nogil;
    rmsprop_step<T>(pp, pv, pmg, pmom, pg, p.size(), T(lr), T(rho), T(momentum), T(epsilon));
  });
}

void bind_adagrad(py::array p, py::array acc, py::array g, double lr, double epsilon) {
  by_dtype(p, "param", [&](auto tag) {
    using T = decltype(tag);
    T* pp = flat<T>(p, "param", p.size());
    T* pa = state<T>(acc, "accumulator", p);
    const T* pg = grad_of<T>(g, p);
    py::gil_scoped_release nogil;
    adagrad_step<T>(pp, pa, pg, p.size(), T(lr), T(epsilon));
  });
}

// ---------------------------------------------------------------- dropout
void check_rate(double rate) {
  if (!(rate >= 0.0 && rate < 1.0)) fail_value("rate must be in [0, 1), got " + std::to_string(rate));
}

void bind_dropout_forward(py::array out, py::array mask, py::array x, double rate, uint64_t seed) {
  check_rate(rate);
  by_dtype(x, "x", [&](auto tag) {
    using T = decltype(tag);
    const T* px = flat_in<T>(x, "x", x.size());
    T* po = flat<T>(out, "out", x.size());
    uint8_t* pm = flat<uint8_t>(mask, "mask", x.size());
    require_no_partial_alias(out, "out", x, "x", true);
    py::gil_scoped_release nogil;
    dropout_forward<T>(po, pm, px, x.size(), T(rate), seed);
  });
}

void bind_dropout_backward(py::array dx, py::array dy, py::array mask, double rate) {
  check_rate(rate);
  by_dtype(dy, "dy", [&](auto tag) {
    using T = decltype(tag);
    const T* pdy = flat_in<T>(dy, "dy", dy.size());
    const uint8_t* pm = flat_in<uint8_t>(mask, "mask", dy.size());
    T* pdx = flat<T>(dx, "dx", dy.size());
    require_no_partial_alias(dx, "dx", dy, "dy", true);
    py::gil_scoped_release nogil;
    dropout_backward<T>(pdx, pdy, pm, dy.size(), T(rate));
  });
}


// ---------------------------------------------------------------- training engine
// Checks every array against the network once per call; the engine itself trusts them.
// Training updates the layers' blocks only, so there they must cover the buffer exactly.
void check_params_cover(const Network& net, py::ssize_t n_params, bool exactly) {
  int64_t total = 0;
  for (const DenseSpec& l : net.layers()) {
    if (l.kernel_offset < 0 || l.kernel_offset + l.in * l.out > n_params || l.bias_offset + l.out > n_params)
      fail_value("params: " + std::to_string(n_params) + " values are fewer than the layers need");
    total += l.in * l.out + (l.bias_offset >= 0 ? l.out : 0);
  }
  if (exactly && total != n_params)
    fail_value("params: " + std::to_string(n_params) + " values, the layers hold " + std::to_string(total));
}

const float* network_input(const Network& net, const py::array& x) {
  require_ndim(x, "x", 2);
  if (x.shape(1) != net.inputs())
    fail_value("x has " + std::to_string(x.shape(1)) + " features, the network takes " + std::to_string(net.inputs()));
  return flat_in<float>(x, "x", x.shape(0) * net.inputs());
}

void check_batch_size(int64_t batch_size) {
  if (batch_size <= 0) fail_value("batch_size must be > 0, got " + std::to_string(batch_size));
}
py::tuple bind_train_batches(Network& net, py::array params, py::array grads, const std::string& kind,
                             py::object m, py::object v, py::object vhat, py::object learning_rate,
                             double beta_1, double beta_2, double epsilon, double weight_decay,
                             double momentum, bool nesterov, int64_t step, py::array x,
                             py::object labels, py::object targets, py::array order,
                             int64_t batch_size, py::object progress) {
  check_batch_size(batch_size);
  const py::ssize_t n_params = params.size();
  float* pp = flat<float>(params, "params", n_params);
  float* pg = flat<float>(grads, "grads", n_params);
  require_no_partial_alias(grads, "grads", params, "params", false);
  check_params_cover(net, n_params, true);
  OptimizerSpec opt{};
  if (kind == "adam") opt.kind = OptimizerSpec::adam;
  else if (kind == "sgd") opt.kind = OptimizerSpec::sgd;
  else fail_value("unknown optimizer kind " + kind);
  opt.m = state<float>(m, "m", params);
  opt.v = state<float>(v, "v", params);
  opt.vhat = state<float>(vhat, "vhat", params);
  if (opt.kind == OptimizerSpec::adam && (!opt.m || !opt.v)) fail_value("adam needs m and v");
  // a float, or one learning rate per batch (a schedule evaluated in Python)
  const bool per_batch = py::isinstance<py::array>(learning_rate);
  if (!per_batch) opt.learning_rate = learning_rate.cast<double>();
  opt.beta_1 = beta_1;
  opt.beta_2 = beta_2;
  opt.epsilon = epsilon;
  opt.weight_decay = weight_decay;
  opt.momentum = momentum;
  opt.nesterov = nesterov;
  opt.step = step;
  const float* px = network_input(net, x);
  const int64_t n = x.shape(0);
  Targets y{nullptr, nullptr};
  if (!labels.is_none()) {
    py::array a = labels;
    y.labels = checked_labels(a, n, net.outputs());
  } else {
    py::array t = targets;
    require_ndim(t, "y", 2);
    y.values = flat_in<float>(t, "y", n * net.outputs());
  }
  require_ndim(order, "order", 1);
  const int64_t count = order.shape(0);
  const int64_t* po = flat_in<int64_t>(order, "order", count);
  for (int64_t i = 0; i < count; ++i)
    if (po[i] < 0 || po[i] >= n) fail_value("order: row " + std::to_string(po[i]) + " out of range");
  const int64_t batches = (count + batch_size - 1) / batch_size;
  py::array rates;
  if (per_batch) {
    rates = learning_rate;
    require_ndim(rates, "learning_rate", 1);
    opt.learning_rates = flat_in<double>(rates, "learning_rate", batches);
    for (int64_t i = 0; i < batches; ++i)
      if (!(opt.learning_rates[i] >= 0 && std::isfinite(opt.learning_rates[i])))
        fail_value("learning_rate: the schedule gave " + std::to_string(opt.learning_rates[i]) + " at batch " +
                   std::to_string(i) + " (must be finite and >= 0)");
  }
  py::array_t<double> losses(batches), corrects(batches);
  double* pl = losses.mutable_data();
  double* pc = corrects.mutable_data();
  int64_t* done = nullptr;  // progress[0]: batches trained, written even when interrupted
  py::array progress_arr;
  if (!progress.is_none()) {
    progress_arr = progress;
    done = flat<int64_t>(progress_arr, "progress", 1);
  }
  // Between batches, at most every 20 ms: take the GIL and run Python's signal handlers, so
  // Ctrl-C stops a long run between two complete steps (the handler's exception is re-raised).
  std::unique_ptr<py::error_already_set> pending;
  auto last_check = std::chrono::steady_clock::now();
  auto stop = [&]() {
    const auto now = std::chrono::steady_clock::now();
    if (now - last_check < std::chrono::milliseconds(20)) return false;
    last_check = now;
    py::gil_scoped_acquire gil;
    if (PyErr_CheckSignals() == 0) return false;
    pending = std::make_unique<py::error_already_set>();
    return true;
  };
  int64_t trained;
  {
    py::gil_scoped_release nogil;
    trained = net.train_batches(pp, pg, opt, px, y, po, count, batch_size, pl, pc, stop);
  }
  if (done) *done = trained;
  if (pending) throw *pending;
  return py::make_tuple(losses, corrects);
}

}  // namespace

PYBIND11_MODULE(_core, m) {
  m.doc() = "brisknet C++ kernels (see python/brisknet/ops.py for the documented API)";
  using py::arg;
  const auto none = py::none();

  m.def("set_num_threads", [](int n) {
    if (n < 1) fail_value("set_num_threads: n must be >= 1, got " + std::to_string(n));
    set_num_threads(n);
  }, arg("n"));
  m.def("get_num_threads", &get_num_threads);
  m.def("gemm_isa", &gemm_isa);
  m.def("gemm_config", [] {
    const GemmConfig c = gemm_config();
    py::dict d;
    d["isa"] = c.isa;
    py::list tiles;
    for (const GemmTile& t : c.tiles) tiles.append(py::make_tuple(t.mr, t.nr, std::round(t.rate * 100) / 100));
    d["tiles"] = tiles;
    d["kc"] = c.kc;
    d["mc"] = c.mc;
    d["nc"] = c.nc;
    d["why"] = c.why;
    d["caches"] = py::dict(py::arg("source") = c.cache_source,
                           py::arg("l1d") = py::make_tuple(c.l1d_bytes, c.l1d_ways),
                           py::arg("l2") = py::make_tuple(c.l2_bytes, c.l2_ways, c.l2_shared_by),
                           py::arg("l3") = py::make_tuple(c.l3_bytes, c.l3_ways, c.l3_shared_by));
    return d;
  });
  m.def("workspace_allocations", &workspace_allocations);
  m.def("gemm_peak_gflops", [](double seconds) {
    if (!(seconds > 0 && seconds <= 60)) fail_value("seconds must be in (0, 60]");
    py::gil_scoped_release nogil;
    return gemm_peak_gflops(seconds);
  }, arg("seconds") = 0.3);

  py::enum_<Activation>(m, "Activation")
      .value("linear", Activation::linear).value("relu", Activation::relu)
      .value("leaky_relu", Activation::leaky_relu).value("elu", Activation::elu)
      .value("selu", Activation::selu).value("gelu", Activation::gelu)
      .value("gelu_tanh", Activation::gelu_tanh).value("sigmoid", Activation::sigmoid)
      .value("hard_sigmoid", Activation::hard_sigmoid).value("tanh", Activation::tanh)
      .value("softplus", Activation::softplus).value("softsign", Activation::softsign)
      .value("swish", Activation::swish).value("softmax", Activation::softmax)
      .value("log_softmax", Activation::log_softmax)
      .value("relu6", Activation::relu6).value("exponential", Activation::exponential)
      .value("mish", Activation::mish).value("hard_silu", Activation::hard_silu)
      .value("log_sigmoid", Activation::log_sigmoid).value("hard_tanh", Activation::hard_tanh);
  py::enum_<ElementwiseLoss>(m, "ElementwiseLoss")
      .value("binary_crossentropy", ElementwiseLoss::binary_crossentropy)
      .value("mean_squared_error", ElementwiseLoss::mean_squared_error)
      .value("mean_absolute_error", ElementwiseLoss::mean_absolute_error)
      .value("huber", ElementwiseLoss::huber);

  m.def("gemm", &bind_gemm, arg("out"), arg("a"), arg("b"), arg("transpose_a"), arg("transpose_b"),
        arg("beta"), arg("bias") = none, arg("activation") = Activation::linear, arg("alpha") = 0.0,
        arg("activation_out") = none, arg("grad_x") = none, arg("grad_y") = none,
        arg("b_column_sums") = none);
  m.def("column_sums", &bind_column_sums, arg("out"), arg("dy"), arg("beta"));
  m.def("activation_forward", &bind_activation_forward, arg("out"), arg("x"), arg("activation"), arg("alpha"));
  m.def("activation_backward", &bind_activation_backward, arg("dx"), arg("dy"), arg("x"), arg("y"),
        arg("activation"), arg("alpha"));
  m.def("sparse_categorical_crossentropy", &bind_sparse_cce, arg("loss"), arg("dpred"), arg("y_pred"),
        arg("y_true"), arg("sample_weight"), arg("from_logits"), arg("grad_scale"));
  m.def("categorical_crossentropy", &bind_cce, arg("loss"), arg("dpred"), arg("y_pred"), arg("y_true"),
        arg("sample_weight"), arg("from_logits"), arg("grad_scale"));
  m.def("elementwise_loss", &bind_elementwise_loss, arg("loss"), arg("dpred"), arg("y_pred"),
        arg("y_true"), arg("sample_weight"), arg("kind"), arg("from_logits"), arg("delta"),
        arg("grad_scale"));
  m.def("sgd_step", &bind_sgd, arg("param"), arg("velocity"), arg("grad"), arg("learning_rate"),
        arg("momentum"), arg("nesterov"));
  m.def("adam_step", &bind_adam, arg("param"), arg("m"), arg("v"), arg("vhat"), arg("grad"),
        arg("alpha"), arg("beta_1"), arg("beta_2"), arg("epsilon"), arg("decay"));
  m.def("rmsprop_step", &bind_rmsprop, arg("param"), arg("velocity"), arg("average_gradient"),
        arg("momentum_buffer"), arg("grad"), arg("learning_rate"), arg("rho"), arg("momentum"),
        arg("epsilon"));
  m.def("adagrad_step", &bind_adagrad, arg("param"), arg("accumulator"), arg("grad"),
        arg("learning_rate"), arg("epsilon"));
  m.def("dropout_forward", &bind_dropout_forward, arg("out"), arg("mask"), arg("x"), arg("rate"), arg("seed"));
  m.def("dropout_backward", &bind_dropout_backward, arg("dx"), arg("dy"), arg("mask"), arg("rate"));

  py::enum_<LossKind>(m, "LossKind")
      .value("sparse_crossentropy", LossKind::sparse_crossentropy)
      .value("crossentropy", LossKind::crossentropy)
      .value("binary_crossentropy", LossKind::binary_crossentropy)
      .value("mean_squared_error", LossKind::mean_squared_error)
      .value("mean_absolute_error", LossKind::mean_absolute_error)
      .value("huber", LossKind::huber);
  py::enum_<AccuracyKind>(m, "AccuracyKind")
      .value("none", AccuracyKind::none).value("sparse", AccuracyKind::sparse)
      .value("categorical", AccuracyKind::categorical).value("binary", AccuracyKind::binary);
  // A Dense chain as (in, out, kernel_offset, bias_offset or -1, activation, alpha) tuples.
  py::class_<Network>(m, "Network")
      .def(py::init([](const std::vector<std::tuple<int64_t, int64_t, int64_t, int64_t, Activation, double>>& layers,
                       LossKind loss, bool from_logits, bool fused_softmax, double delta, AccuracyKind accuracy) {
             std::vector<DenseSpec> specs;
             for (const auto& [in, out, k, b, act, alpha] : layers) {
               if (in < 1 || out < 1 || k < 0) fail_value("Network: bad layer sizes or offsets");
               specs.push_back({in, out, k, b, act, float(alpha)});
             }
             for (size_t i = 1; i < specs.size(); ++i)
               if (specs[i].in != specs[i - 1].out) fail_value("Network: layer sizes do not chain");
             return std::make_unique<Network>(std::move(specs), LossSpec{loss, from_logits, fused_softmax, float(delta)},
                                              accuracy);
           }),
           arg("layers"), arg("loss"), arg("from_logits"), arg("fused_softmax"), arg("delta"), arg("accuracy"))
      .def("predict", [](Network& net, py::array params, py::array x, int64_t batch_size) {
             check_batch_size(batch_size);
             const float* pp = flat_in<float>(params, "params", params.size());
             check_params_cover(net, params.size(), false);
             const float* px = network_input(net, x);
             const int64_t n = x.shape(0);
             py::array_t<float> out({n, net.outputs()});
             float* po = out.mutable_data();
             {
               py::gil_scoped_release nogil;
               net.predict(pp, px, n, batch_size, po);
             }
             return out;
           }, arg("params"), arg("x"), arg("batch_size"))
      .def("train_batches", &bind_train_batches, arg("params"), arg("grads"), arg("kind"), arg("m"),
           arg("v"), arg("vhat"), arg("learning_rate"), arg("beta_1"), arg("beta_2"), arg("epsilon"),
           arg("weight_decay"), arg("momentum"), arg("nesterov"), arg("step"), arg("x"), arg("labels"),
           arg("targets"), arg("order"), arg("batch_size"), arg("progress") = py::none());
}
