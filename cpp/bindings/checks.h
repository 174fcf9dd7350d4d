// The checks every binding makes once at the Python/C++ boundary: dtypes, shapes, contiguity,
// writability, aliasing and label ranges, each failure a TypeError/ValueError naming the argument.
// Inputs are never copied: non-matching arrays are rejected, not converted (python/brisknet/ops.py
// does the friendly conversions).
#pragma once
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include "brisknet/kernels.h"

#include <climits>
#include <cstdint>
#include <sstream>
#include <string>
#include <utility>

namespace brisknet::bindings {
namespace py = pybind11;

inline std::string shape_of(const py::array& a) {
  std::ostringstream s;
  s << "(";
  for (py::ssize_t i = 0; i < a.ndim(); ++i) s << (i ? ", " : "") << a.shape(i);
  s << (a.ndim() == 1 ? ",)" : ")");
  return s.str();
}

inline std::string dtype_name(const py::array& a) { return py::str(a.dtype()).cast<std::string>(); }

[[noreturn]] inline void fail_value(const std::string& msg) { throw py::value_error(msg); }
[[noreturn]] inline void fail_type(const std::string& msg) { throw py::type_error(msg); }

template <typename T>
inline void require_dtype(const py::array& a, const char* name) {
  if (!a.dtype().is(py::dtype::of<T>()))
    fail_type(std::string(name) + ": expected dtype " + py::str(py::dtype::of<T>()).cast<std::string>() +
              ", got " + dtype_name(a));
}

inline void require_ndim(const py::array& a, const char* name, int ndim) {
  if (a.ndim() != ndim)
    fail_value(std::string(name) + ": expected a " + std::to_string(ndim) + "-D array, got shape " +
               shape_of(a));
}

inline void require_contiguous(const py::array& a, const char* name) {
  if (!(a.flags() & py::array::c_style))
    fail_value(std::string(name) + ": expected a C-contiguous array");
}

inline void require_writable(const py::array& a, const char* name) {
  if (!a.writeable()) fail_value(std::string(name) + ": array is read-only");
}

// Byte range [lo, hi) an array may touch (handles negative strides).
inline std::pair<const char*, const char*> extent(const py::array& a) {
  const char* lo = static_cast<const char*>(a.data());
  const char* hi = lo;
  if (a.size() == 0) return {lo, lo};
  for (py::ssize_t i = 0; i < a.ndim(); ++i) {
    const py::ssize_t span = (a.shape(i) - 1) * a.strides(i);
    (span < 0 ? lo : hi) += span;
  }
  return {lo, hi + a.itemsize()};
}

inline bool overlaps(const py::array& a, const py::array& b) {
  const auto x = extent(a), y = extent(b);
  return x.first < y.second && y.first < x.second;
}

// An output may be the very same buffer as an input (in-place kernels), never a partial overlap.
inline void require_no_partial_alias(const py::array& out, const char* oname, const py::array& in,
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
inline void by_dtype(const py::array& a, const char* name, F f) {
  if (a.dtype().is(py::dtype::of<float>())) return f(float{});
  if (a.dtype().is(py::dtype::of<double>())) return f(double{});
  fail_type(std::string(name) + ": expected dtype float32 or float64, got " + dtype_name(a));
}

inline std::pair<int64_t, int64_t> element_strides(const py::array& a, const char* name) {
  const auto isz = a.itemsize();
  if (a.strides(0) % isz || a.strides(1) % isz)
    fail_value(std::string(name) + ": strides are not a multiple of the item size");
  return {a.strides(0) / isz, a.strides(1) / isz};
}

inline const int64_t* checked_labels(const py::array& labels, int64_t rows, int64_t cols) {
  require_ndim(labels, "y_true", 1);
  const int64_t* p = flat_in<int64_t>(labels, "y_true", rows);
  for (int64_t i = 0; i < rows; ++i)
    if (p[i] < 0 || p[i] >= cols)
      fail_value("y_true: label " + std::to_string(p[i]) + " at index " + std::to_string(i) +
                 " is out of range for " + std::to_string(cols) + " classes");
  return p;
}

// A convolution's or pooling's window (kernels.h: Window2D), once at the boundary: the kernels
// then trust it (taps outside the image are padding, so any geometry that passes reads in bounds).
inline void check_window(const Window2D& g, const std::string& what) {
  if (g.h < 1 || g.w < 1 || g.c < 1) fail_value(what + ": the image must be at least 1 x 1 x 1");
  if (g.kh < 1 || g.kw < 1 || g.sh < 1 || g.sw < 1 || g.dh < 1 || g.dw < 1)
    fail_value(what + ": kernel, strides and dilation must be >= 1");
  if (g.pt < 0 || g.pl < 0 || g.oh < 1 || g.ow < 1) fail_value(what + ": padding must be >= 0 and the output >= 1 x 1");
  // every output position's window must start inside the padded image
  if ((g.oh - 1) * g.sh > g.h + 2 * g.pt || (g.ow - 1) * g.sw > g.w + 2 * g.pl)
    fail_value(what + ": the output size does not fit the image, strides and padding");
  if (g.h * g.w * g.c > int64_t(INT32_MAX)) fail_value(what + ": an image of 2^31 values or more");
}

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

}  // namespace brisknet::bindings
