// Convolutions (forward, backward, transposed) and 2-D pooling over channels_last images x (n, h, w,
// c). The window's geometry comes as (kernel, strides, dilations, padding top/left, output size)
// and is checked here once.
#include <type_traits>

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <array>
#include <string>

#include "brisknet/kernels.h"
#include "checks.h"

namespace brisknet::bindings {
namespace {

using Pair = std::array<int64_t, 2>;

Window2D window(const py::array& x, Pair kernel, Pair strides, Pair dilation, Pair pad, Pair out) {
  require_ndim(x, "x", 4);
  Window2D g{x.shape(0), x.shape(1), x.shape(2), x.shape(3), kernel[0], kernel[1], strides[0], strides[1],
             dilation[0], dilation[1], pad[0], pad[1], out[0], out[1]};
  check_window(g, "the window");
  return g;
}

void bind_pool_forward(py::array y, py::object argmax, py::array x, Pair kernel, Pair strides, Pair pad, Pair out) {
  const Window2D g = window(x, kernel, strides, {1, 1}, pad, out);
  by_dtype(x, "x", [&](auto tag) {
    using T = decltype(tag);
    const T* px = flat_in<T>(x, "x", x.size());
    T* py_ = flat<T>(y, "y", g.n * g.oh * g.ow * g.c);
    require_no_partial_alias(y, "y", x, "x", false);
    if (argmax.is_none()) {
      py::gil_scoped_release nogil;
      avg_pool_forward<T>(py_, px, g);
      return;
    }
    py::array where(argmax);
    int32_t* pa = flat<int32_t>(where, "argmax", g.n * g.oh * g.ow * g.c);
    py::gil_scoped_release nogil;
    max_pool_forward<T>(py_, pa, px, g);
  });
}

void bind_pool_backward(py::array dx, py::array dy, py::object argmax, Pair kernel, Pair strides, Pair pad,
                        Pair out) {
  const Window2D g = window(dx, kernel, strides, {1, 1}, pad, out);
  by_dtype(dx, "dx", [&](auto tag) {
    using T = decltype(tag);
    T* pd = flat<T>(dx, "dx", dx.size());
    const T* pdy = flat_in<T>(dy, "dy", g.n * g.oh * g.ow * g.c);
    require_no_partial_alias(dx, "dx", dy, "dy", false);
    if (argmax.is_none()) {
      py::gil_scoped_release nogil;
      avg_pool_backward<T>(pd, pdy, g);
      return;
    }
    const py::array where(argmax);
    const int32_t* pa = flat_in<int32_t>(where, "argmax", g.n * g.oh * g.ow * g.c);
    const int64_t image = g.h * g.w * g.c;
    for (int64_t e = 0; e < where.size(); ++e)  // (indices from max_pool_forward on an image of dx's shape)
      if (pa[e] < -1 || pa[e] >= image) fail_value("argmax: an index outside dx's image");
    py::gil_scoped_release nogil;
    max_pool_backward<T>(pd, pdy, pa, g);
  });
}

// The filters of a convolution's kernel w (taps x filters) over window g, checked: groups dividing
// the channels and the filters, one row per tap and channel of a group.
int64_t checked_filters(const Window2D& g, const py::array& w, int64_t groups) {
  require_ndim(w, "w", 2);
  const int64_t filters = w.shape(1);
  if (groups < 1 || g.c % groups || filters % groups)
    fail_value("groups must divide the input channels and the filters");
  if (w.shape(0) != g.kh * g.kw * (g.c / groups)) fail_value("w: expected (kh * kw * channels / groups) rows");
  return filters;
}

void bind_conv2d_forward(py::array z, py::array x, py::array w, py::object bias, Pair kernel, Pair strides,
                         Pair dilation, Pair pad, Pair out, int64_t groups, bool bf16) {
  const Window2D g = window(x, kernel, strides, dilation, pad, out);
  const int64_t filters = checked_filters(g, w, groups);
  by_dtype(x, "x", [&](auto tag) {
    using T = decltype(tag);
    if (bf16 && !std::is_same_v<T, float>) fail_value("conv2d: bf16 takes float32 operands");
    const T* px = flat_in<T>(x, "x", x.size());
    const T* pw = flat_in<T>(w, "w", w.size());
    const T* pb = nullptr;
    py::array b;
    if (!bias.is_none()) {
      b = bias;
      pb = flat_in<T>(b, "bias", filters);
    }
    T* pz = flat<T>(z, "z", g.n * g.oh * g.ow * filters);
    require_no_partial_alias(z, "z", x, "x", false);
    require_no_partial_alias(z, "z", w, "w", false);
    py::gil_scoped_release nogil;
    GemmFusion<T> fused;
    fused.bf16 = bf16;
    conv2d_forward<T>(pz, px, pw, pb, g, filters, groups, fused);
  });
}

void bind_conv2d_backward(py::object dw, py::object dx, py::array dz, py::array x, py::array w, Pair kernel,
                          Pair strides, Pair dilation, Pair pad, Pair out, int64_t groups, py::object db, bool bf16) {
  const Window2D g = window(x, kernel, strides, dilation, pad, out);
  const int64_t filters = checked_filters(g, w, groups);
  by_dtype(x, "x", [&](auto tag) {
    using T = decltype(tag);
    if (bf16 && !std::is_same_v<T, float>) fail_value("conv2d: bf16 takes float32 operands");
    const T* px = flat_in<T>(x, "x", x.size());
    const T* pw = flat_in<T>(w, "w", w.size());
    const T* pdz = flat_in<T>(dz, "dz", g.n * g.oh * g.ow * filters);
    T* pdw = nullptr;
    T* pdx = nullptr;
    py::array dw_a, dx_a;
    if (!dw.is_none()) {
      dw_a = dw;
      pdw = flat<T>(dw_a, "dw", w.size());
      for (const auto& [other, name] : {std::pair{&x, "x"}, {&w, "w"}, {&dz, "dz"}})
        require_no_partial_alias(dw_a, "dw", *other, name, false);
    }
    if (!dx.is_none()) {
      dx_a = dx;
      pdx = flat<T>(dx_a, "dx", x.size());
      for (const auto& [other, name] : {std::pair{&x, "x"}, {&w, "w"}, {&dz, "dz"}})
        require_no_partial_alias(dx_a, "dx", *other, name, false);
      if (pdw) require_no_partial_alias(dx_a, "dx", dw_a, "dw", false);
    }
    T* pdb = nullptr;
    py::array db_a;
    if (!db.is_none()) {
      db_a = db;
      pdb = flat<T>(db_a, "db", filters);
      for (const auto& [other, name] : {std::pair{&x, "x"}, {&w, "w"}, {&dz, "dz"}})
        require_no_partial_alias(db_a, "db", *other, name, false);
      if (pdw) require_no_partial_alias(db_a, "db", dw_a, "dw", false);
      if (pdx) require_no_partial_alias(db_a, "db", dx_a, "dx", false);
    }
    py::gil_scoped_release nogil;
    conv2d_backward<T>(pdw, pdb, pdx, pdz, px, pw, g, filters, groups, {}, bf16);
  });
}

// y (n, h, w, c): the transposed convolution of x (n * oh * ow, channels) with w (taps x
// channels), i.e. the input gradient of the convolution the window describes.
void bind_conv2d_transpose(py::array y, py::array x, py::array w, Pair kernel, Pair strides, Pair dilation, Pair pad,
                           Pair out) {
  const Window2D g = window(y, kernel, strides, dilation, pad, out);
  const int64_t channels = checked_filters(g, w, 1);
  by_dtype(y, "y", [&](auto tag) {
    using T = decltype(tag);
    T* py_ = flat<T>(y, "y", y.size());
    const T* px = flat_in<T>(x, "x", g.n * g.oh * g.ow * channels);
    const T* pw = flat_in<T>(w, "w", w.size());
    require_no_partial_alias(y, "y", x, "x", false);
    require_no_partial_alias(y, "y", w, "w", false);
    py::gil_scoped_release nogil;
    conv2d_backward<T>(nullptr, nullptr, py_, px, nullptr, pw, g, channels, 1);
  });
}

}  // namespace

void init_convolution(py::module_& m) {
  using py::arg;
  m.def("conv2d_forward", &bind_conv2d_forward, arg("z"), arg("x"), arg("w"), arg("bias"), arg("kernel"),
        arg("strides"), arg("dilation"), arg("pad"), arg("out"), arg("groups"), arg("bf16") = false,
        "z[positions, filters] = the convolution of x (n, h, w, c) with w (taps, filters) (+ bias)");
  m.def("conv2d_backward", &bind_conv2d_backward, arg("dw"), arg("dx"), arg("dz"), arg("x"), arg("w"), arg("kernel"),
        arg("strides"), arg("dilation"), arg("pad"), arg("out"), arg("groups"), arg("db") = py::none(),
        arg("bf16") = false, "dw = the kernel's gradient, dx = the input's, db = the bias' (the column sums of dz) (each None: not "
        "computed)");
  m.def("conv2d_transpose", &bind_conv2d_transpose, arg("y"), arg("x"), arg("w"), arg("kernel"), arg("strides"),
        arg("dilation"), arg("pad"), arg("out"),
        "y (n, h, w, c) = the transposed convolution of x (n * oh * ow, channels) with w (taps, channels)");
  m.def("pool_forward", &bind_pool_forward, arg("y"), arg("argmax"), arg("x"), arg("kernel"), arg("strides"),
        arg("pad"), arg("out"), "max pooling with argmax (int32 within each image, y's size); average pooling when argmax is None");
  m.def("pool_backward", &bind_pool_backward, arg("dx"), arg("dy"), arg("argmax"), arg("kernel"), arg("strides"),
        arg("pad"), arg("out"));
}

}  // namespace brisknet::bindings
