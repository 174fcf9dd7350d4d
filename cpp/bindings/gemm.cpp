// GEMM and column sums.
#include <type_traits>

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include "brisknet/kernels.h"
#include "checks.h"

namespace brisknet::bindings {
namespace {

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
               py::object b_column_sums, bool reference, bool bf16) {
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
    if (bf16 && !std::is_same_v<T, float>) fail_value("matmul: bf16 takes float32 operands");
    fused.bf16 = bf16;
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
    if (reference) {
      if (fused.activation_out || fused.grad_x || fused.grad_y || fused.b_column_sums || bf16)
        fail_value("matmul: the reference takes no fused work and no bf16");
      py::gil_scoped_release nogil;
      return gemm_reference<T>(c, rsc, pa, rsa, csa, pb, rsb, csb, m, n, k, T(beta), pbias);
    }
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

}  // namespace

void init_gemm(py::module_& m) {
  using py::arg;
  [[maybe_unused]] const auto none = py::none();
  m.def("gemm", &bind_gemm, arg("out"), arg("a"), arg("b"), arg("transpose_a"), arg("transpose_b"),
        arg("beta"), arg("bias") = none, arg("activation") = Activation::linear, arg("alpha") = 0.0,
        arg("activation_out") = none, arg("grad_x") = none, arg("grad_y") = none,
        arg("b_column_sums") = none, arg("reference") = false, arg("bf16") = false);
  m.def("column_sums", &bind_column_sums, arg("out"), arg("dy"), arg("beta"));
}

}  // namespace brisknet::bindings
