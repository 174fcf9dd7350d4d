// The loss kinds and the per-sample loss kernels.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include "brisknet/kernels.h"
#include "checks.h"

namespace brisknet::bindings {
namespace {

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
                           py::object weights, LossKind kind, bool from_logits, double delta,
                           double grad_scale) {
  if (!is_elementwise(kind)) fail_value("elementwise_loss: the cross-entropies have kernels of their own");
  require_ndim(pred, "y_pred", 2);
  by_dtype(pred, "y_pred", [&](auto tag) {
    using T = decltype(tag);
    auto a = loss_arrays<T>(loss, dpred, pred, &target, weights);
    py::gil_scoped_release nogil;
    elementwise_loss<T>(a.loss, a.dpred, a.pred, a.target, a.weights, a.rows, a.cols, kind,
                        from_logits, T(delta), T(grad_scale));
  });
}

}  // namespace

void init_losses(py::module_& m) {
  using py::arg;
  py::enum_<LossKind>(m, "LossKind")
      .value("sparse_categorical_crossentropy", LossKind::sparse_categorical_crossentropy)
      .value("categorical_crossentropy", LossKind::categorical_crossentropy)
      .value("binary_crossentropy", LossKind::binary_crossentropy)
      .value("mean_squared_error", LossKind::mean_squared_error)
      .value("mean_absolute_error", LossKind::mean_absolute_error)
      .value("huber", LossKind::huber);
  m.def("sparse_categorical_crossentropy", &bind_sparse_cce, arg("loss"), arg("dpred"), arg("y_pred"),
        arg("y_true"), arg("sample_weight"), arg("from_logits"), arg("grad_scale"));
  m.def("categorical_crossentropy", &bind_cce, arg("loss"), arg("dpred"), arg("y_pred"), arg("y_true"),
        arg("sample_weight"), arg("from_logits"), arg("grad_scale"));
  m.def("elementwise_loss", &bind_elementwise_loss, arg("loss"), arg("dpred"), arg("y_pred"),
        arg("y_true"), arg("sample_weight"), arg("kind"), arg("from_logits"), arg("delta"),
        arg("grad_scale"));
}

}  // namespace brisknet::bindings
