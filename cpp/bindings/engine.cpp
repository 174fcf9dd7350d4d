// The training engine: layer and loss descriptions, Network.train (a run of steps with the GIL
// released) and Network.predict. Every array is checked against the network once per call; the
// engine itself trusts them.
#include <pybind11/functional.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <memory>

#include "brisknet/engine.h"
#include "checks.h"
#include "network_checks.h"
#include "optimizer_state.h"

namespace brisknet::bindings {
namespace {

const float* network_input(const Network& net, const py::array& x) {
  require_ndim(x, "x", 2);
  if (x.shape(1) != net.inputs())
    fail_value("x has " + std::to_string(x.shape(1)) + " features, the network takes " + std::to_string(net.inputs()));
  return flat_in<float>(x, "x", x.shape(0) * net.inputs());
}

void check_batch_size(int64_t batch_size) {
  if (batch_size <= 0) fail_value("batch_size must be > 0, got " + std::to_string(batch_size));
}

py::tuple bind_train(Network& net, py::array params, py::array grads, OptimizerSpec& opt, const py::list& state,
                     py::object learning_rate, py::array x, py::object labels, py::object targets,
                     py::object sample_weight, py::array order, int64_t batch_size, py::array dropout_calls,
                     py::object reduce, int64_t shard, int64_t shards, py::object gradient_ready) {
  check_batch_size(batch_size);
  const py::ssize_t n_params = params.size();
  float* pp = flat<float>(params, "params", n_params);
  float* pg = flat<float>(grads, "grads", n_params);
  require_no_partial_alias(grads, "grads", params, "params", false);
  check_params(net.layers(), n_params);
  std::vector<py::array> keep;
  bind_state(opt, state, params, keep);
  TrainRun run{};
  run.x = network_input(net, x);
  const int64_t n = x.shape(0);
  if (!labels.is_none()) {
    py::array a = labels;
    keep.push_back(a);
    run.labels = checked_labels(a, n, net.outputs());
  } else {
    py::array t = targets;
    keep.push_back(t);
    require_ndim(t, "y", 2);
    run.targets = flat_in<float>(t, "y", n * net.outputs());
  }
  if (!sample_weight.is_none()) {
    py::array w = sample_weight;
    keep.push_back(w);
    require_ndim(w, "sample_weight", 1);
    run.sample_weight = flat_in<float>(w, "sample_weight", n);
  }
  require_ndim(order, "order", 1);
  run.count = order.shape(0);
  run.batch_size = batch_size;
  run.order = flat_in<int64_t>(order, "order", run.count);
  for (int64_t i = 0; i < run.count; ++i)
    if (run.order[i] < 0 || run.order[i] >= n) fail_value("order: row " + std::to_string(run.order[i]) + " out of range");
  run.dropout_calls = flat<int64_t>(dropout_calls, "dropout_calls", net.dropout_layers());
  if (!(shards >= 1 && shard >= 0 && shard < shards))
    fail_value("shard " + std::to_string(shard) + " of " + std::to_string(shards) + ": expected 0 <= shard < shards");
  if (shards > 1 && reduce.is_none()) fail_value("a shard of a data-parallel run needs a reduce hook");
  if (!gradient_ready.is_none() && reduce.is_none()) fail_value("gradient_ready needs a reduce hook");
  run.shard = shard;
  run.shards = shards;
  const int64_t batches = (run.count + batch_size - 1) / batch_size;
  // a float, or one learning rate per batch (a schedule evaluated in Python)
  if (py::isinstance<py::array>(learning_rate)) {
    py::array rates = learning_rate;
    keep.push_back(rates);
    require_ndim(rates, "learning_rate", 1);
    run.learning_rates = flat_in<double>(rates, "learning_rate", batches);
    for (int64_t i = 0; i < batches; ++i) check_learning_rate(run.learning_rates[i]);
  } else {
    opt.learning_rate = learning_rate.cast<double>();
    check_learning_rate(opt.learning_rate);
  }
  py::array_t<double> losses(batches);  // returned cut to the batches trained
  py::array_t<float> predictions({run.count, net.outputs()});
  run.batch_loss = losses.mutable_data();
  run.predictions = predictions.mutable_data();
  if (shards > 1)  // other processes' rows stay 0, so that a sum across processes assembles them
    std::fill(run.predictions, run.predictions + run.count * net.outputs(), 0.0f);
  // Between batches, at most every 20 ms: take the GIL and run Python's signal handlers, so
  // Ctrl-C stops a long run between two complete steps (the handler's exception is re-raised).
  std::unique_ptr<py::error_already_set> pending;
  auto last_check = std::chrono::steady_clock::now();
  run.stop = [&]() {
    const auto now = std::chrono::steady_clock::now();
    if (now - last_check < std::chrono::milliseconds(20)) return false;
    last_check = now;
    py::gil_scoped_acquire gil;
    if (PyErr_CheckSignals() == 0) return false;
    pending = std::make_unique<py::error_already_set>();
    return true;
  };
  // The reduce phase in Python (e.g. an allreduce): called with the GIL and the flat gradient
  // buffer as a float32 array, which it changes in place. An exception ends the run before that
  // step's update.
  if (!reduce.is_none()) {
    run.reduce = [&reduce, &grads](float*, int64_t) {
      py::gil_scoped_acquire gil;
      reduce(grads);
    };
  }
  // Told of each variable's complete gradient during backward, as (offset, size) in grads.
  if (!gradient_ready.is_none()) {
    run.gradient_ready = [&gradient_ready](int64_t offset, int64_t size) {
      py::gil_scoped_acquire gil;
      gradient_ready(offset, size);
    };
  }
  // The spec's iterations count the steps done, also when the run ends early (Ctrl-C, an
  // exception from reduce): the caller takes them back from it.
  int64_t trained;
  {
    py::gil_scoped_release nogil;
    trained = net.train(pp, pg, n_params, opt, run);
  }
  if (pending) throw *pending;
  return py::make_tuple(losses[py::slice(0, trained, 1)], predictions[py::slice(0, std::min(run.count, trained * batch_size), 1)]);
}

}  // namespace

void init_engine(py::module_& m) {
  using py::arg;
  py::enum_<LayerKind>(m, "LayerKind")
      .value("dense", LayerKind::dense).value("activation", LayerKind::activation)
      .value("dropout", LayerKind::dropout).value("affine", LayerKind::affine).value("add", LayerKind::add)
      .value("concat", LayerKind::concat).value("batch_norm", LayerKind::batch_norm)
      .value("layer_norm", LayerKind::layer_norm).value("conv", LayerKind::conv)
      .value("max_pool", LayerKind::max_pool).value("avg_pool", LayerKind::avg_pool)
      .value("conv_transpose", LayerKind::conv_transpose).value("shift", LayerKind::shift)
      .value("upsample", LayerKind::upsample);
  py::class_<Penalty>(m, "Penalty")
      .def(py::init([](double l1, double l2) { return Penalty{l1, l2}; }), arg("l1") = 0.0, arg("l2") = 0.0)
      .def_readwrite("l1", &Penalty::l1)
      .def_readwrite("l2", &Penalty::l2);
  py::class_<LayerSpec>(m, "LayerSpec")
      .def(py::init<>())
      .def_readwrite("kind", &LayerSpec::kind)
      .def_readwrite("inputs", &LayerSpec::in)
      .def_readwrite("outputs", &LayerSpec::out)
      .def_readwrite("kernel_offset", &LayerSpec::kernel_offset)
      .def_readwrite("bias_offset", &LayerSpec::bias_offset)
      .def_readwrite("activation", &LayerSpec::activation)
      .def_readwrite("alpha", &LayerSpec::alpha)
      .def_readwrite("trainable", &LayerSpec::trainable)
      .def_readwrite("bf16", &LayerSpec::bf16)
      .def_readwrite("kernel_penalty", &LayerSpec::kernel_penalty)
      .def_readwrite("bias_penalty", &LayerSpec::bias_penalty)
      .def_readwrite("rate", &LayerSpec::rate)
      .def_readwrite("seed", &LayerSpec::seed)
      .def_readwrite("divide", &LayerSpec::divide)
      .def_readwrite("scale", &LayerSpec::scale)
      .def_readwrite("shift", &LayerSpec::shift)
      .def_readwrite("sources", &LayerSpec::sources)
      .def_readwrite("stats_offset", &LayerSpec::stats_offset)
      .def_readwrite("momentum", &LayerSpec::momentum)
      .def_readwrite("epsilon", &LayerSpec::epsilon)
      // (h, w, c, kh, kw, sh, sw, dh, dw, pad top, pad left, oh, ow): one sample's window
      .def_property("window", [](const LayerSpec& l) {
             const Window2D& g = l.window;
             return py::tuple(py::cast(std::array<int64_t, 13>{g.h, g.w, g.c, g.kh, g.kw, g.sh, g.sw, g.dh, g.dw,
                                                               g.pt, g.pl, g.oh, g.ow}));
           }, [](LayerSpec& l, const std::array<int64_t, 13>& v) {
             l.window = Window2D{0, v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9], v[10], v[11], v[12]};
           })
      .def_readwrite("groups", &LayerSpec::groups)
      .def_readwrite("channels", &LayerSpec::channels);
  py::class_<LossSpec>(m, "LossSpec")
      .def(py::init([](LossKind kind, bool from_logits, bool fused_softmax, double delta) {
             return LossSpec{kind, from_logits, fused_softmax, float(delta)};
           }), arg("kind"), arg("from_logits") = false, arg("fused_softmax") = false, arg("delta") = 1.0)
      .def_readonly("kind", &LossSpec::kind)
      .def_readonly("from_logits", &LossSpec::from_logits)
      .def_readonly("fused_softmax", &LossSpec::fused_softmax)
      .def_readonly("delta", &LossSpec::delta);
  py::class_<Network>(m, "Network")
      .def(py::init([](const std::vector<LayerSpec>& layers, const LossSpec& loss) {
             return std::make_unique<Network>(checked_layers(layers), loss);
           }), arg("layers"), arg("loss"))
      .def_property_readonly("trainable", [](const Network& net) {
             std::vector<std::pair<int64_t, int64_t>> out;
             for (const Span& s : net.trainable()) out.push_back({s.offset, s.size});
             return out;
           })
      .def("predict", [](Network& net, py::array params, py::array x, int64_t batch_size) {
             check_batch_size(batch_size);
             const float* pp = flat_in<float>(params, "params", params.size());
             check_params(net.layers(), params.size());
             const float* px = network_input(net, x);
             const int64_t n = x.shape(0);
             py::array_t<float> out({n, net.outputs()});
             float* po = out.mutable_data();
             {
               py::gil_scoped_release nogil;
               net.predict(pp, px, n, batch_size, po);
             }
             return out;
           }, arg("params"), arg("x"), arg("batch_size"))
      .def("train", &bind_train, arg("params"), arg("grads"), arg("optimizer"), arg("state"), arg("learning_rate"),
           arg("x"), arg("labels"), arg("targets"), arg("sample_weight"), arg("order"), arg("batch_size"),
           arg("dropout_calls"), arg("reduce") = py::none(), arg("shard") = 0, arg("shards") = 1,
           arg("gradient_ready") = py::none());
}

}  // namespace brisknet::bindings
