// Dropout forward and backward.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <type_traits>

#include "brisknet/kernels.h"
#include "checks.h"

namespace brisknet::bindings {
namespace {

void check_rate(double rate) {
  if (!(rate >= 0.0 && rate < 1.0)) fail_value("rate must be in [0, 1), got " + std::to_string(rate));
}

// out, mask and x checked against x (its dtype and size), then kernel(y, mask, x) without the GIL.
template <typename F>
void on_dropout_arrays(py::array& out, py::array& mask, const py::array& x, F kernel) {
  by_dtype(x, "x", [&](auto tag) {
    using T = decltype(tag);
    const T* px = flat_in<T>(x, "x", x.size());
    T* po = flat<T>(out, "out", x.size());
    uint8_t* pm = flat<uint8_t>(mask, "mask", x.size());
    require_no_partial_alias(out, "out", x, "x", true);
    py::gil_scoped_release nogil;
    kernel(po, pm, px);
  });
}

void bind_dropout_forward(py::array out, py::array mask, py::array x, double rate, uint64_t seed, int64_t first) {
  check_rate(rate);
  if (first < 0) fail_value("first must be >= 0, got " + std::to_string(first));
  on_dropout_arrays(out, mask, x, [&](auto* y, uint8_t* m, const auto* in) {
    using T = std::remove_pointer_t<decltype(y)>;
    dropout_forward_at<T>(y, m, in, x.size(), T(rate), seed, first);
  });
}

void bind_spatial_dropout_forward(py::array out, py::array mask, py::array x, double rate, uint64_t seed,
                                  int64_t first_row) {
  check_rate(rate);
  if (first_row < 0) fail_value("first_row must be >= 0, got " + std::to_string(first_row));
  if (x.ndim() < 2 || x.shape(0) < 1) fail_value("x: expected (rows, ..., channels), got shape " + shape_of(x));
  const int64_t rows = x.shape(0), channels = x.shape(x.ndim() - 1);
  if (channels < 1) fail_value("x: no channels");
  on_dropout_arrays(out, mask, x, [&](auto* y, uint8_t* m, const auto* in) {
    using T = std::remove_pointer_t<decltype(y)>;
    spatial_dropout_forward<T>(y, m, in, rows, x.size() / rows / channels, channels, T(rate), seed, first_row);
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

}  // namespace

void init_dropout(py::module_& m) {
  using py::arg;
  [[maybe_unused]] const auto none = py::none();
  m.def("dropout_forward", &bind_dropout_forward, arg("out"), arg("mask"), arg("x"), arg("rate"), arg("seed"),
        arg("first") = 0);
  m.def("spatial_dropout_forward", &bind_spatial_dropout_forward, arg("out"), arg("mask"), arg("x"), arg("rate"),
        arg("seed"), arg("first_row") = 0, "dropout of whole channels (the last axis) per row");
  m.def("dropout_backward", &bind_dropout_backward, arg("dx"), arg("dy"), arg("mask"), arg("rate"));
}

}  // namespace brisknet::bindings
