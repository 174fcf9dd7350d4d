// ZeroPadding2D / Cropping2D (shift_image) and UpSampling2D over channels_last images (n, h, w, c).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <string>

#include "brisknet/kernels.h"
#include "checks.h"

namespace brisknet::bindings {
namespace {

// x and y: images of the same count and channels, and the dtype of x
template <typename F>
void on_images(py::array& y, const py::array& x, F kernel) {
  require_ndim(x, "x", 4);
  require_ndim(y, "y", 4);
  if (y.shape(0) != x.shape(0) || y.shape(3) != x.shape(3))
    fail_value("y " + shape_of(y) + " and x " + shape_of(x) + " must hold as many images of as many channels");
  by_dtype(x, "x", [&](auto tag) {
    using T = decltype(tag);
    const T* px = flat_in<T>(x, "x", x.size());
    T* py_ = flat<T>(y, "y", y.size());
    require_no_partial_alias(y, "y", x, "x", false);
    py::gil_scoped_release nogil;
    kernel(py_, px);
  });
}

void bind_shift_image(py::array y, py::array x, int64_t top, int64_t left) {
  on_images(y, x, [&](auto* out, const auto* in) {
    shift_image(out, in, x.shape(0), x.shape(1), x.shape(2), x.shape(3), y.shape(1), y.shape(2), top, left);
  });
}

void bind_upsample(py::array y, py::array x, int64_t sh, int64_t sw, bool backward) {
  if (sh < 1 || sw < 1) fail_value("size must be >= 1");
  const py::array& small = backward ? y : x;  // (the input image; the other is it repeated)
  const py::array& large = backward ? x : y;
  if (small.ndim() == 4 && large.ndim() == 4 &&
      (large.shape(1) != small.shape(1) * sh || large.shape(2) != small.shape(2) * sw))
    fail_value("the upsampled image must be size times the input");
  on_images(y, x, [&](auto* out, const auto* in) {
    if (backward) upsample_backward(out, in, y.shape(0), y.shape(1), y.shape(2), y.shape(3), sh, sw);
    else upsample_forward(out, in, x.shape(0), x.shape(1), x.shape(2), x.shape(3), sh, sw);
  });
}

}  // namespace

void init_image_reshaping(py::module_& m) {
  using py::arg;
  m.def("shift_image", &bind_shift_image, arg("y"), arg("x"), arg("top"), arg("left"),
        "y[n, i, j] = x[n, i - top, j - left] (zeros outside x): ZeroPadding2D, Cropping2D, their gradients");
  m.def("upsample", &bind_upsample, arg("y"), arg("x"), arg("sh"), arg("sw"), arg("backward") = false,
        "UpSampling2D (nearest): y = x repeated; backward: y = the sums of x's copies");
}

}  // namespace brisknet::bindings
