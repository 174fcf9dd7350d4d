// The optimizer update kernels, the typed optimizer description (OptimizerSpec) and one step
// from it (what the Python reference path runs), clipping and weight penalties.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "brisknet/kernels.h"
#include "checks.h"
#include "optimizer_state.h"

namespace brisknet::bindings {
namespace {

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

void bind_optimizer_step(OptimizerSpec& spec, const py::list& state, double learning_rate, py::array params,
                         py::array grads, const std::vector<std::pair<int64_t, int64_t>>& trainable) {
  float* pp = flat<float>(params, "params", params.size());
  float* pg = flat<float>(grads, "grads", params.size());
  require_no_partial_alias(grads, "grads", params, "params", false);
  check_learning_rate(learning_rate);
  std::vector<py::array> keep;
  bind_state(spec, state, params, keep);
  const std::vector<Span> spans = checked_spans(trainable, params.size());
  py::gil_scoped_release nogil;
  optimizer_step(spec, learning_rate, pp, pg, spans);
}

}  // namespace

void init_optimizers(py::module_& m) {
  using py::arg;
  [[maybe_unused]] const auto none = py::none();
  m.def("sgd_step", &bind_sgd, arg("param"), arg("velocity"), arg("grad"), arg("learning_rate"),
        arg("momentum"), arg("nesterov"));
  m.def("adam_step", &bind_adam, arg("param"), arg("m"), arg("v"), arg("vhat"), arg("grad"),
        arg("alpha"), arg("beta_1"), arg("beta_2"), arg("epsilon"), arg("decay"));
  m.def("rmsprop_step", &bind_rmsprop, arg("param"), arg("velocity"), arg("average_gradient"),
        arg("momentum_buffer"), arg("grad"), arg("learning_rate"), arg("rho"), arg("momentum"),
        arg("epsilon"));
  m.def("adagrad_step", &bind_adagrad, arg("param"), arg("accumulator"), arg("grad"),
        arg("learning_rate"), arg("epsilon"));

  py::enum_<OptimizerKind>(m, "OptimizerKind")
      .value("sgd", OptimizerKind::sgd).value("adam", OptimizerKind::adam)
      .value("rmsprop", OptimizerKind::rmsprop).value("adagrad", OptimizerKind::adagrad)
      .value("adamax", OptimizerKind::adamax).value("nadam", OptimizerKind::nadam)
      .value("adadelta", OptimizerKind::adadelta).value("lion", OptimizerKind::lion);
  py::enum_<ClipKind>(m, "ClipKind")
      .value("none", ClipKind::none).value("value", ClipKind::value)
      .value("norm", ClipKind::norm).value("global_norm", ClipKind::global_norm);
  // What an optimizer is to the engine; its state arrays travel beside it (bind_state checks them).
  py::class_<OptimizerSpec>(m, "OptimizerSpec")
      .def(py::init<>())
      .def_readwrite("kind", &OptimizerSpec::kind)
      .def_readwrite("learning_rate", &OptimizerSpec::learning_rate)
      .def_readwrite("beta_1", &OptimizerSpec::beta_1)
      .def_readwrite("beta_2", &OptimizerSpec::beta_2)
      .def_readwrite("epsilon", &OptimizerSpec::epsilon)
      .def_readwrite("rho", &OptimizerSpec::rho)
      .def_readwrite("momentum", &OptimizerSpec::momentum)
      .def_readwrite("weight_decay", &OptimizerSpec::weight_decay)
      .def_readwrite("nesterov", &OptimizerSpec::nesterov)
      .def_readwrite("clip", &OptimizerSpec::clip)
      .def_readwrite("clip_threshold", &OptimizerSpec::clip_threshold)
      .def_readwrite("u_product", &OptimizerSpec::u_product)
      .def_readwrite("iterations", &OptimizerSpec::iterations);
  m.def("optimizer_step", &bind_optimizer_step, arg("spec"), arg("state"), arg("learning_rate"), arg("params"),
        arg("grads"), arg("trainable"));
  m.def("weight_penalty", [](py::array w, double l1, double l2) {
    const float* pw = flat_in<float>(w, "w", w.size());
    py::gil_scoped_release nogil;
    return weight_penalty(pw, w.size(), l1, l2);
  }, arg("w"), arg("l1"), arg("l2"));
  m.def("add_penalty_gradient", [](py::array g, py::array w, double l1, double l2) {
    float* pg = flat<float>(g, "grad", g.size());
    const float* pw = flat_in<float>(w, "w", g.size());
    require_no_partial_alias(g, "grad", w, "w", false);
    py::gil_scoped_release nogil;
    add_penalty_gradient(pg, pw, g.size(), l1, l2);
  }, arg("grad"), arg("w"), arg("l1"), arg("l2"));
}

}  // namespace brisknet::bindings
