// ZeroPadding2D / Cropping2D (shift_image), UpSampling2D, RandomFlip (flip_images) and resizing (resize_images) over
// channels_last images (n, h, w, c).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <string>
#include <type_traits>

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

void bind_flip_images(py::array y, py::array x, py::array flips) {
  require_ndim(flips, "flips", 2);
  if (flips.shape(0) != x.shape(0) || flips.shape(1) != 2)
    fail_value("flips: expected shape (" + std::to_string(x.shape(0)) + ", 2), got " + shape_of(flips));
  if (y.ndim() == 4 && x.ndim() == 4 && (y.shape(1) != x.shape(1) || y.shape(2) != x.shape(2)))
    fail_value("y " + shape_of(y) + " and x " + shape_of(x) + " must be images of one size");
  const uint8_t* pf = flat_in<uint8_t>(flips, "flips", flips.size());
  on_images(y, x, [&](auto* out, const auto* in) {
    flip_images(out, in, pf, x.shape(0), x.shape(1), x.shape(2), x.shape(3));
  });
}

// y (n, oh, ow, c) float32 (float64 for a float64 x) from x (n, h, w, c) uint8, float32 or float64.
void bind_resize_images(py::array y, py::array x, const std::string& interpolation) {
  if (interpolation != "bilinear" && interpolation != "nearest")
    fail_value("interpolation: expected 'bilinear' or 'nearest', got '" + interpolation + "'");
  require_ndim(x, "x", 4);
  require_ndim(y, "y", 4);
  if (y.shape(0) != x.shape(0) || y.shape(3) != x.shape(3))
    fail_value("y " + shape_of(y) + " and x " + shape_of(x) + " must hold as many images of as many channels");
  if ((x.shape(1) == 0 || x.shape(2) == 0) && y.size() > 0)
    fail_value("x " + shape_of(x) + ": an image needs at least one pixel");
  const bool bilinear = interpolation == "bilinear";
  auto run = [&](auto in_tag, auto out_tag) {
    using In = decltype(in_tag);
    using Out = decltype(out_tag);
    const In* px = flat_in<In>(x, "x", x.size());
    Out* py_ = flat<Out>(y, "y", y.size());
    require_no_partial_alias(y, "y", x, "x", false);
    if (y.size() == 0) return;
    py::gil_scoped_release nogil;
    resize_images(py_, px, x.shape(0), x.shape(1), x.shape(2), x.shape(3), y.shape(1), y.shape(2), bilinear);
  };
  if (x.dtype().is(py::dtype::of<uint8_t>())) return run(uint8_t{}, float{});
  if (x.dtype().is(py::dtype::of<float>())) return run(float{}, float{});
  if (x.dtype().is(py::dtype::of<double>())) return run(double{}, double{});
  fail_type("x: expected dtype uint8, float32 or float64, got " + dtype_name(x));
}

// y (n, oh, ow, c) from x (n, h, w, c), both float32 or float64; transforms (n, 8) float32.
void bind_affine_transform_images(py::array y, py::array x, py::array transforms, const std::string& interpolation,
                                  const std::string& fill_mode, double fill_value) {
  if (interpolation != "bilinear" && interpolation != "nearest")
    fail_value("interpolation: expected 'bilinear' or 'nearest', got '" + interpolation + "'");
  const FillMode mode = fill_mode == "reflect"    ? FillMode::reflect
                        : fill_mode == "wrap"     ? FillMode::wrap
                        : fill_mode == "constant" ? FillMode::constant
                        : fill_mode == "nearest"  ? FillMode::nearest
                                                  : (fail_value("fill_mode: expected 'reflect', 'wrap', 'constant' or "
                                                                "'nearest', got '" + fill_mode + "'"),
                                                     FillMode::constant);
  require_ndim(transforms, "transforms", 2);
  if (transforms.shape(0) != x.shape(0) || transforms.shape(1) != 8)
    fail_value("transforms: expected shape (" + std::to_string(x.shape(0)) + ", 8), got " + shape_of(transforms));
  const float* pt = flat_in<float>(transforms, "transforms", transforms.size());
  on_images(y, x, [&](auto* out, const auto* in) {
    using T = std::remove_const_t<std::remove_pointer_t<decltype(in)>>;
    affine_transform_images<T>(out, in, pt, x.shape(0), x.shape(1), x.shape(2), x.shape(3), y.shape(1), y.shape(2),
                               interpolation == "bilinear", mode, T(fill_value));
  });
}

}  // namespace

void init_image_reshaping(py::module_& m) {
  using py::arg;
  m.def("shift_image", &bind_shift_image, arg("y"), arg("x"), arg("top"), arg("left"),
        "y[n, i, j] = x[n, i - top, j - left] (zeros outside x): ZeroPadding2D, Cropping2D, their gradients");
  m.def("upsample", &bind_upsample, arg("y"), arg("x"), arg("sh"), arg("sw"), arg("backward") = false,
        "UpSampling2D (nearest): y = x repeated; backward: y = the sums of x's copies");
  m.def("flip_images", &bind_flip_images, arg("y"), arg("x"), arg("flips"),
        "RandomFlip: y[b] = x[b] mirrored left to right where flips[b, 0] and top to bottom where flips[b, 1] "
        "(flips uint8 (n, 2))");
  m.def("resize_images", &bind_resize_images, arg("y"), arg("x"), arg("interpolation") = "bilinear",
        "y = x resized to y's height and width as TensorFlow's resize (half-pixel centres): 'bilinear' or "
        "'nearest'; x uint8, float32 or float64, y float32 (float64 for a float64 x)");
  m.def("affine_transform_images", &bind_affine_transform_images, arg("y"), arg("x"), arg("transforms"),
        arg("interpolation") = "bilinear", arg("fill_mode") = "constant", arg("fill_value") = 0.0,
        "y[b, i, j] = x[b] at the point transforms[b] (a0 a1 a2 b0 b1 b2 c0 c1) maps (j, i) to, as TensorFlow's "
        "ImageProjectiveTransformV3 (keras.ops.image.affine_transform)");
}

}  // namespace brisknet::bindings
