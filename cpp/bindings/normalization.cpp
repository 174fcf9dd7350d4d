// BatchNormalization and LayerNormalization kernels: x is (rows, features), the statistics are
// per feature (batch) or per row (layer); optional gamma/beta/outputs are None.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cmath>
#include <vector>

#include "brisknet/kernels.h"
#include "checks.h"

namespace brisknet::bindings {
namespace {

std::pair<int64_t, int64_t> rows_features(const py::array& x) {
  require_ndim(x, "x", 2);
  return {x.shape(0), x.shape(1)};
}

template <typename T>
const T* optional_in(py::object o, const char* name, int64_t size, std::vector<py::array>& keep) {
  if (o.is_none()) return nullptr;
  keep.emplace_back(py::array(o));
  return flat_in<T>(keep.back(), name, size);
}

template <typename T>
T* optional_out(py::object o, const char* name, int64_t size, std::vector<py::array>& keep) {
  if (o.is_none()) return nullptr;
  keep.emplace_back(py::array(o));
  return flat<T>(keep.back(), name, size);
}

void check_eps(double eps) {
  if (!(eps > 0 && std::isfinite(eps))) fail_value("epsilon must be a positive number");
}

void bind_batch_norm_forward(py::array y, py::array mean, py::array inv, py::array x, py::object gamma,
                             py::object beta, py::array moving_mean, py::array moving_var, double momentum,
                             double eps, bool batch_stats) {
  auto [rows, features] = rows_features(x);
  check_eps(eps);
  if (!(momentum >= 0 && momentum <= 1)) fail_value("momentum must be in [0, 1]");
  if (batch_stats && rows == 0) fail_value("x: batch statistics need at least one row");
  by_dtype(x, "x", [&](auto tag) {
    using T = decltype(tag);
    std::vector<py::array> keep;
    keep.reserve(4);
    const T* px = flat_in<T>(x, "x", rows * features);
    T* py_ = flat<T>(y, "y", rows * features);
    require_no_partial_alias(y, "y", x, "x", true);
    T* pm = flat<T>(mean, "mean", features);
    T* pi = flat<T>(inv, "inv", features);
    T* pmm = flat<T>(moving_mean, "moving_mean", features);
    T* pmv = flat<T>(moving_var, "moving_var", features);
    const T* pg = optional_in<T>(gamma, "gamma", features, keep);
    const T* pb = optional_in<T>(beta, "beta", features, keep);
    py::gil_scoped_release nogil;
    batch_norm_forward<T>(py_, pm, pi, px, rows, features, pg, pb, pmm, pmv, T(momentum), T(eps), batch_stats);
  });
}

// The arrays of a normalization's backward pass, checked: statistics of `stats` entries each.
template <typename T>
struct Backward {
  T *dx, *dgamma, *dbeta;
  const T *dy, *x, *mean, *inv, *gamma;
  std::vector<py::array> keep;
};

template <typename T>
void checked_backward(Backward<T>& b, py::object dx, py::object dgamma, py::object dbeta, const py::array& dy,
                      const py::array& x, const py::array& mean, const py::array& inv, py::object gamma,
                      int64_t rows, int64_t features, int64_t stats) {
  b.keep.reserve(4);
  b.x = flat_in<T>(x, "x", rows * features);
  b.dy = flat_in<T>(dy, "dy", rows * features);
  b.mean = flat_in<T>(mean, "mean", stats);
  b.inv = flat_in<T>(inv, "inv", stats);
  b.gamma = optional_in<T>(gamma, "gamma", features, b.keep);
  b.dx = optional_out<T>(dx, "dx", rows * features, b.keep);
  b.dgamma = optional_out<T>(dgamma, "dgamma", features, b.keep);
  b.dbeta = optional_out<T>(dbeta, "dbeta", features, b.keep);
  if (!dx.is_none()) {  // dx may be dy's or x's very buffer (each element is read before it is written)
    const py::array out(dx);
    require_no_partial_alias(out, "dx", dy, "dy", true);
    require_no_partial_alias(out, "dx", x, "x", true);
    require_no_partial_alias(out, "dx", mean, "mean", false);
    require_no_partial_alias(out, "dx", inv, "inv", false);
  }
}

void bind_batch_norm_backward(py::object dx, py::object dgamma, py::object dbeta, py::array dy, py::array x,
                              py::array mean, py::array inv, py::object gamma, bool batch_stats) {
  auto [rows, features] = rows_features(x);
  by_dtype(x, "x", [&](auto tag) {
    using T = decltype(tag);
    Backward<T> b;
    checked_backward(b, dx, dgamma, dbeta, dy, x, mean, inv, gamma, rows, features, features);
    py::gil_scoped_release nogil;
    batch_norm_backward<T>(b.dx, b.dgamma, b.dbeta, b.dy, b.x, b.mean, b.inv, b.gamma, rows, features, batch_stats);
  });
}

void bind_layer_norm_forward(py::array y, py::array mean, py::array inv, py::array x, py::object gamma,
                             py::object beta, double eps) {
  auto [rows, features] = rows_features(x);
  check_eps(eps);
  by_dtype(x, "x", [&](auto tag) {
    using T = decltype(tag);
    std::vector<py::array> keep;
    keep.reserve(2);
    const T* px = flat_in<T>(x, "x", rows * features);
    T* py_ = flat<T>(y, "y", rows * features);
    require_no_partial_alias(y, "y", x, "x", true);
    T* pm = flat<T>(mean, "mean", rows);
    T* pi = flat<T>(inv, "inv", rows);
    const T* pg = optional_in<T>(gamma, "gamma", features, keep);
    const T* pb = optional_in<T>(beta, "beta", features, keep);
    py::gil_scoped_release nogil;
    layer_norm_forward<T>(py_, pm, pi, px, rows, features, pg, pb, T(eps));
  });
}

void bind_layer_norm_backward(py::object dx, py::object dgamma, py::object dbeta, py::array dy, py::array x,
                              py::array mean, py::array inv, py::object gamma) {
  auto [rows, features] = rows_features(x);
  by_dtype(x, "x", [&](auto tag) {
    using T = decltype(tag);
    Backward<T> b;
    checked_backward(b, dx, dgamma, dbeta, dy, x, mean, inv, gamma, rows, features, rows);
    py::gil_scoped_release nogil;
    layer_norm_backward<T>(b.dx, b.dgamma, b.dbeta, b.dy, b.x, b.mean, b.inv, b.gamma, rows, features);
  });
}

}  // namespace

void init_normalization(py::module_& m) {
  using py::arg;
  m.def("batch_norm_forward", &bind_batch_norm_forward, arg("y"), arg("mean"), arg("inv"), arg("x"), arg("gamma"),
        arg("beta"), arg("moving_mean"), arg("moving_var"), arg("momentum"), arg("epsilon"), arg("batch_stats"));
  m.def("batch_norm_backward", &bind_batch_norm_backward, arg("dx"), arg("dgamma"), arg("dbeta"), arg("dy"), arg("x"),
        arg("mean"), arg("inv"), arg("gamma"), arg("batch_stats"));
  m.def("layer_norm_forward", &bind_layer_norm_forward, arg("y"), arg("mean"), arg("inv"), arg("x"), arg("gamma"),
        arg("beta"), arg("epsilon"));
  m.def("layer_norm_backward", &bind_layer_norm_backward, arg("dx"), arg("dgamma"), arg("dbeta"), arg("dy"), arg("x"),
        arg("mean"), arg("inv"), arg("gamma"));
}

}  // namespace brisknet::bindings
