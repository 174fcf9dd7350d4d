// Activation kinds, forward and backward.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include "brisknet/kernels.h"
#include "checks.h"

namespace brisknet::bindings {
namespace {

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

}  // namespace

void init_activations(py::module_& m) {
  using py::arg;
  [[maybe_unused]] const auto none = py::none();
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
  m.def("activation_forward", &bind_activation_forward, arg("out"), arg("x"), arg("activation"), arg("alpha"));
  m.def("activation_backward", &bind_activation_backward, arg("dx"), arg("dy"), arg("x"), arg("y"),
        arg("activation"), arg("alpha"));
}

}  // namespace brisknet::bindings
