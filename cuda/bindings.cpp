// brisknet._cuda: the CUDA backend's Python module (python/brisknet/cuda.py and
// python/brisknet/models/cuda_engine.py are its callers). The layer, loss and optimizer
// descriptions are brisknet._core's own types (pybind11 shares them between the two modules).
// Every array is checked here, once per call, as brisknet._core does; the GIL is released
// around device work.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <memory>

#include "api.h"
#include "checks.h"
#include "network_checks.h"

namespace brisknet::bindings {
namespace {

using cuda::Network;

Network& checked_rows(Network& net, const py::array& x, const char* name) {
  require_ndim(x, name, 2);
  if (x.shape(1) != net.inputs())
    fail_value(std::string(name) + " has " + std::to_string(x.shape(1)) + " features, the network takes " +
               std::to_string(net.inputs()));
  return net;
}

void set_data(Network& net, const py::array& x, py::object labels, py::object targets, py::object sample_weight) {
  checked_rows(net, x, "x");
  const int64_t n = x.shape(0);
  const float* px = flat_in<float>(x, "x", n * net.inputs());
  const int64_t* pl = nullptr;
  const float *pt = nullptr, *pw = nullptr;
  py::array l, t, w;
  if (!labels.is_none()) {
    l = labels;
    pl = checked_labels(l, n, net.outputs());
  } else if (!targets.is_none()) {
    t = targets;
    require_ndim(t, "y", 2);
    pt = flat_in<float>(t, "y", n * net.outputs());
  } else {
    fail_value("set_data: labels or targets are needed");
  }
  if (!sample_weight.is_none()) {
    w = sample_weight;
    require_ndim(w, "sample_weight", 1);
    pw = flat_in<float>(w, "sample_weight", n);
  }
  py::gil_scoped_release nogil;
  net.set_data(px, n, pl, pt, pw);
}

py::tuple train(Network& net, OptimizerSpec& spec, py::array learning_rates, py::array order, int64_t batch_size,
                py::array dropout_calls, bool tf32) {
  if (batch_size <= 0) fail_value("batch_size must be > 0, got " + std::to_string(batch_size));
  require_ndim(order, "order", 1);
  const int64_t count = order.shape(0), rows = net.data_rows();
  const int64_t* po = flat_in<int64_t>(order, "order", count);
  for (int64_t i = 0; i < count; ++i)
    if (po[i] < 0 || po[i] >= rows) fail_value("order: row " + std::to_string(po[i]) + " out of range");
  const int64_t batches = (count + batch_size - 1) / batch_size;
  require_ndim(learning_rates, "learning_rate", 1);
  const double* lr = flat_in<double>(learning_rates, "learning_rate", batches);
  for (int64_t i = 0; i < batches; ++i) check_learning_rate(lr[i]);
  if (spec.clip != ClipKind::none && !(spec.clip_threshold >= 0 && std::isfinite(spec.clip_threshold)))
    fail_value("clip threshold must be finite and >= 0");
  for (int slot : required_slots(spec))
    if (!net.has_state(slot)) fail_value("optimizer state " + std::to_string(slot) + " is required by this optimizer");
  int64_t* calls = flat<int64_t>(dropout_calls, "dropout_calls", net.dropout_layers());
  py::array_t<double> losses(batches);
  py::array_t<float> predictions({count, net.outputs()});
  double* pl = losses.mutable_data();
  float* pp = predictions.mutable_data();
  {
    py::gil_scoped_release nogil;
    net.train(spec, lr, po, count, batch_size, calls, pl, pp, tf32);
  }
  return py::make_tuple(losses, predictions);
}

}  // namespace
}  // namespace brisknet::bindings

PYBIND11_MODULE(_cuda, m) {
  namespace py = pybind11;
  using namespace brisknet;
  using namespace brisknet::bindings;
  using py::arg;
  m.doc() = "brisknet's CUDA backend (kernels and the device engine)";
  py::module_::import("brisknet._core");  // the layer, loss and optimizer types

  m.def("availability", [] {
    const cuda::Availability a = cuda::availability();
    return py::make_tuple(a.devices, a.error);
  }, "(devices, error): how many CUDA devices the driver reports, and why none can be used ('' when fine)");
  m.def("device_name", &cuda::device_name, arg("device"));
  m.def("runtime_version", &cuda::runtime_version);
  m.def("driver_version", &cuda::driver_version);

  m.def("gemm", [](py::array a, py::array b, bool trans_a, bool trans_b, py::object bias, Activation act, float alpha,
                   bool keep_pre, bool tf32, int splits) {
    require_ndim(a, "a", 2);
    require_ndim(b, "b", 2);
    const int64_t m = trans_a ? a.shape(1) : a.shape(0), k = trans_a ? a.shape(0) : a.shape(1);
    const int64_t kb = trans_b ? b.shape(1) : b.shape(0), n = trans_b ? b.shape(0) : b.shape(1);
    if (k != kb) fail_value("gemm: inner dimensions differ: " + std::to_string(k) + " and " + std::to_string(kb));
    if (splits < 0) fail_value("gemm: splits must be >= 0");
    if (!is_elementwise(act)) fail_value("gemm: the epilogue takes element-wise activations only");
    const float* pa = flat_in<float>(a, "a", m * k);
    const float* pb = flat_in<float>(b, "b", k * n);
    const float* pbias = nullptr;
    py::array bias_array;
    if (!bias.is_none()) {
      bias_array = bias;
      pbias = flat_in<float>(bias_array, "bias", n);
    }
    py::array_t<float> c({m, n}), pre({keep_pre ? m : 0, n});
    float* pc = c.mutable_data();
    float* pp = keep_pre ? pre.mutable_data() : nullptr;
    {
      py::gil_scoped_release nogil;
      cuda::gemm_on_host(trans_a, trans_b, m, n, k, pa, pb, pbias, act, alpha, pc, pp, tf32, splits);
    }
    return py::make_tuple(c, pre);
  }, arg("a"), arg("b"), arg("trans_a") = false, arg("trans_b") = false, arg("bias") = py::none(),
     arg("activation") = Activation::linear, arg("alpha") = 0.0f, arg("keep_pre") = false, arg("tf32") = false,
     arg("splits") = 0,
     "(op(a) op(b) + bias through the activation, the pre-activation or an empty array) on the device");
  m.def("time_gemm", [](int64_t m, int64_t n, int64_t k, bool trans_a, bool trans_b, bool tf32, int calls) {
    if (m < 1 || n < 1 || k < 1 || calls < 1) fail_value("time_gemm: sizes and calls must be >= 1");
    double seconds;
    {
      py::gil_scoped_release nogil;
      seconds = cuda::time_gemm(m, n, k, trans_a, trans_b, tf32, calls);
    }
    return seconds;
  }, arg("m"), arg("n"), arg("k"), arg("trans_a") = false, arg("trans_b") = false, arg("tf32") = false,
     arg("calls") = 20, "seconds per call of our SGEMM, C[m, n] = op(A) op(B), on device-resident zeros");

  py::class_<cuda::Network>(m, "Network")
      .def(py::init([](const std::vector<LayerSpec>& layers, const LossSpec& loss, int64_t n_params, int device) {
             std::vector<LayerSpec> checked = checked_layers(layers);
             for (const LayerSpec& l : checked)  // (graphs and the normalization layers: the CPU engine)
               if (!l.sources.empty() || l.kind == LayerKind::add || l.kind == LayerKind::concat ||
                   l.kind == LayerKind::batch_norm || l.kind == LayerKind::layer_norm)
                 fail_value("the CUDA engine runs chains of layers (Dense, Activation, Dropout, Normalization, "
                            "Rescaling, the convolutions, pooling, padding, cropping and upsampling), not graphs, "
                            "BatchNormalization or LayerNormalization; train this model on the CPU");
             check_params(checked, n_params);
             py::gil_scoped_release nogil;
             return std::make_unique<cuda::Network>(std::move(checked), loss, n_params, device);
           }), arg("layers"), arg("loss"), arg("n_params"), arg("device") = 0)
      .def_property_readonly("inputs", &cuda::Network::inputs)
      .def_property_readonly("outputs", &cuda::Network::outputs)
      .def_property_readonly("graphs_captured", &cuda::Network::graphs_captured)
      .def("set_params", [](cuda::Network& net, py::array params, int64_t n) {
         const float* p = flat_in<float>(params, "params", n);
         py::gil_scoped_release nogil;
         net.set_params(p);
       }, arg("params"), arg("n_params"))
      .def("get_params", [](cuda::Network& net, py::array out, int64_t n) {
         float* p = flat<float>(out, "out", n);
         py::gil_scoped_release nogil;
         net.get_params(p);
       }, arg("out"), arg("n_params"))
      .def("clear_state", &cuda::Network::clear_state)
      .def("set_state", [](cuda::Network& net, int slot, py::array state, int64_t n) {
         const float* p = flat_in<float>(state, "state", n);
         py::gil_scoped_release nogil;
         net.set_state(slot, p);
       }, arg("slot"), arg("state"), arg("n_params"))
      .def("get_state", [](cuda::Network& net, int slot, py::array out, int64_t n) {
         float* p = flat<float>(out, "out", n);
         if (!net.has_state(slot)) fail_value("optimizer state " + std::to_string(slot) + " is not on the device");
         py::gil_scoped_release nogil;
         net.get_state(slot, p);
       }, arg("slot"), arg("out"), arg("n_params"))
      .def("set_data", &set_data, arg("x"), arg("labels"), arg("targets"), arg("sample_weight"))
      .def("train", &train, arg("optimizer"), arg("learning_rates"), arg("order"), arg("batch_size"),
           arg("dropout_calls"), arg("tf32") = false)
      .def("predict", [](cuda::Network& net, py::array x, int64_t batch_size, bool tf32) {
         checked_rows(net, x, "x");
         if (batch_size <= 0) fail_value("batch_size must be > 0, got " + std::to_string(batch_size));
         const int64_t n = x.shape(0);
         const float* px = flat_in<float>(x, "x", n * net.inputs());
         py::array_t<float> out({n, net.outputs()});
         float* po = out.mutable_data();
         {
           py::gil_scoped_release nogil;
           net.predict(px, n, batch_size, po, tf32);
         }
         return out;
       }, arg("x"), arg("batch_size"), arg("tf32") = false);
}
