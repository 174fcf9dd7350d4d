// The whole-sequence recurrent kernels (LSTM, GRU, SimpleRNN): every array's shape checked here, once.
#include <type_traits>

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <string>
#include <vector>

#include "brisknet/kernels.h"
#include "checks.h"

namespace brisknet::bindings {
namespace {

RecurrentCell cell_of(const std::string& name) {
  if (name == "lstm") return RecurrentCell::lstm;
  if (name == "gru") return RecurrentCell::gru;
  if (name == "simple_rnn") return RecurrentCell::simple_rnn;
  fail_value("cell: expected 'lstm', 'gru' or 'simple_rnn', got '" + name + "'");
}

// One run's arrays, checked against x (batch, steps, inputs) and recurrent_kernel (units, g).
struct Run {
  py::array states, gates, recurrent_gates, h_prev, x, kernel, recurrent;
  py::object bias, recurrent_bias, h0, c0, mask;
};

template <typename T>
RecurrentArgs<T> checked_args(Run& r, const std::string& cell_name, bool reverse, Activation act, double alpha,
                              std::vector<py::array>& keep, bool bf16) {
  RecurrentArgs<T> a{};
  if (bf16 && !std::is_same_v<T, float>) fail_value("recurrent: bf16 takes float32 operands");
  a.bf16 = bf16;
  a.cell = cell_of(cell_name);
  a.activation = act;
  a.alpha = T(alpha);
  a.reverse = reverse;
  require_ndim(r.x, "x", 3);
  require_ndim(r.recurrent, "recurrent_kernel", 2);
  a.batch = r.x.shape(0), a.steps = r.x.shape(1), a.inputs = r.x.shape(2), a.units = r.recurrent.shape(0);
  const int64_t u = a.units, g = recurrent_gate_width(a.cell, u), rows = a.batch * a.steps;
  const int64_t n_states = a.cell == RecurrentCell::lstm ? 2 : 1;
  if (r.recurrent.shape(1) != g)
    fail_value("recurrent_kernel: expected shape (units, " + std::to_string(g / std::max<int64_t>(u, 1)) +
               " * units), got " + shape_of(r.recurrent));
  if (a.steps < 1) fail_value("x: a sequence needs at least one step");
  if (!is_elementwise(act)) fail_value("activation: expected an element-wise activation");
  auto optional_in = [&](py::object& o, const char* name, py::ssize_t size) -> const T* {
    if (o.is_none()) return nullptr;
    keep.emplace_back(py::array(o));
    return flat_in<T>(keep.back(), name, size);
  };
  a.x = flat_in<T>(r.x, "x", rows * a.inputs);
  a.kernel = flat_in<T>(r.kernel, "kernel", a.inputs * g);
  a.recurrent = flat_in<T>(r.recurrent, "recurrent_kernel", u * g);
  a.bias = optional_in(r.bias, "bias", g);
  a.recurrent_bias = a.cell == RecurrentCell::gru ? optional_in(r.recurrent_bias, "recurrent_bias", g) : nullptr;
  if (r.h0.is_none()) fail_value("h0: the initial state is required");
  a.h0 = optional_in(r.h0, "h0", a.batch * u);
  if (a.cell == RecurrentCell::lstm && r.c0.is_none()) fail_value("c0: an LSTM's initial cell state is required");
  a.c0 = a.cell == RecurrentCell::lstm ? optional_in(r.c0, "c0", a.batch * u) : nullptr;
  if (!r.mask.is_none()) {
    keep.emplace_back(py::array(r.mask));
    const py::array& m = keep.back();
    if (!m.dtype().is(py::dtype::of<bool>()) && !m.dtype().is(py::dtype::of<uint8_t>()))
      fail_type("mask: expected dtype bool or uint8, got " + dtype_name(m));
    require_contiguous(m, "mask");
    if (m.size() != rows) fail_value("mask: expected (batch, steps) = " + std::to_string(rows) + " elements, got shape " +
                                     shape_of(m));
    a.mask = static_cast<const uint8_t*>(m.data());
  }
  a.states = flat<T>(r.states, "states", n_states * rows * u);
  a.gates = flat<T>(r.gates, "gates", rows * g);
  a.recurrent_gates = a.cell == RecurrentCell::gru ? flat<T>(r.recurrent_gates, "recurrent_gates", rows * g) : nullptr;
  a.h_prev = flat<T>(r.h_prev, "h_prev", rows * u);
  for (auto [out, oname] : {std::pair{&r.states, "states"}, {&r.gates, "gates"}, {&r.recurrent_gates,
                            "recurrent_gates"}, {&r.h_prev, "h_prev"}})
    for (auto [in, iname] : {std::pair{&r.x, "x"}, {&r.kernel, "kernel"}, {&r.recurrent, "recurrent_kernel"}})
      require_no_partial_alias(*out, oname, *in, iname, false);
  return a;
}

using Arrays = std::vector<py::object>;

// Run i's arrays out of the per-run lists (each list one entry per run).
Run run_of(const Arrays& states, const Arrays& gates, const Arrays& recurrent_gates, const Arrays& h_prev,
           py::array x, const Arrays& kernel, const Arrays& recurrent, const Arrays& bias,
           const Arrays& recurrent_bias, const Arrays& h0, const Arrays& c0, py::object mask, size_t i) {
  for (const Arrays* list : {&states, &gates, &recurrent_gates, &h_prev, &kernel, &recurrent, &bias,
                             &recurrent_bias, &h0, &c0})
    if (list->size() != states.size()) fail_value("recurrent runs: every list needs one entry per run");
  return Run{py::array(states[i]), py::array(gates[i]), py::array(recurrent_gates[i]), py::array(h_prev[i]), x,
             py::array(kernel[i]), py::array(recurrent[i]), bias[i], recurrent_bias[i], h0[i], c0[i], mask};
}

void bind_recurrent_forward(const std::string& cell, py::array x, py::object mask, Activation activation,
                            double alpha, const std::vector<bool>& reverse, const Arrays& kernel,
                            const Arrays& recurrent, const Arrays& bias, const Arrays& recurrent_bias,
                            const Arrays& h0, const Arrays& c0, const Arrays& states, const Arrays& gates,
                            const Arrays& recurrent_gates, const Arrays& h_prev, bool bf16) {
  const size_t count = states.size();
  if (count < 1 || reverse.size() != count) fail_value("recurrent runs: one reverse flag per run, at least one run");
  std::vector<Run> runs;
  for (size_t i = 0; i < count; ++i)
    runs.push_back(run_of(states, gates, recurrent_gates, h_prev, x, kernel, recurrent, bias, recurrent_bias, h0,
                          c0, mask, i));
  for (size_t i = 0; i < count; ++i)
    for (size_t j = 0; j < count; ++j)
      if (i != j)
        for (auto [out, in] : {std::pair{&runs[i].states, &runs[j].states}, {&runs[i].gates, &runs[j].gates},
                               {&runs[i].h_prev, &runs[j].h_prev}})
          require_no_partial_alias(*out, "a run's output", *in, "another run's", false);
  by_dtype(x, "x", [&](auto tag) {
    using T = decltype(tag);
    std::vector<py::array> keep;
    std::vector<RecurrentArgs<T>> args;
    for (size_t i = 0; i < count; ++i) args.push_back(checked_args<T>(runs[i], cell, reverse[i], activation, alpha, keep, bf16));
    py::gil_scoped_release nogil;
    recurrent_forward<T>(args.data(), int64_t(count));
  });
}

void bind_recurrent_backward(const Arrays& dx, const Arrays& dkernel, const Arrays& drecurrent, const Arrays& dbias,
                             const Arrays& drecurrent_bias, const Arrays& dh0, const Arrays& dc0,
                             const Arrays& dstates, const std::string& cell, py::array x, py::object mask,
                             Activation activation, double alpha, const std::vector<bool>& reverse,
                             const Arrays& kernel, const Arrays& recurrent, const Arrays& h0, const Arrays& c0,
                             const Arrays& states, const Arrays& gates, const Arrays& recurrent_gates,
                             const Arrays& h_prev, bool bf16) {
  const size_t count = states.size();
  if (count < 1 || reverse.size() != count) fail_value("recurrent runs: one reverse flag per run, at least one run");
  for (const Arrays* list : {&dx, &dkernel, &drecurrent, &dbias, &drecurrent_bias, &dh0, &dc0, &dstates})
    if (list->size() != count) fail_value("recurrent runs: every list needs one entry per run");
  const Arrays none(count, py::none());
  std::vector<Run> runs;
  for (size_t i = 0; i < count; ++i)
    runs.push_back(run_of(states, gates, recurrent_gates, h_prev, x, kernel, recurrent, none, none, h0, c0, mask, i));
  by_dtype(x, "x", [&](auto tag) {
    using T = decltype(tag);
    std::vector<py::array> keep;
    std::vector<RecurrentArgs<T>> args;
    std::vector<RecurrentGrads<T>> grads;
    for (size_t i = 0; i < count; ++i) {
      const RecurrentArgs<T> a = checked_args<T>(runs[i], cell, reverse[i], activation, alpha, keep, bf16);
      const int64_t u = a.units, g = recurrent_gate_width(a.cell, u), rows = a.batch * a.steps;
      const int64_t n_states = a.cell == RecurrentCell::lstm ? 2 : 1;
      auto out = [&](const py::object& o, const char* name, py::ssize_t size, bool optional) -> T* {
        if (o.is_none()) {
          if (!optional) fail_value(std::string(name) + " is required");
          return nullptr;
        }
        keep.emplace_back(py::array(o));
        return flat<T>(keep.back(), name, size);
      };
      RecurrentGrads<T> d{};
      d.dx = out(dx[i], "dx", rows * a.inputs, true);
      d.dkernel = out(dkernel[i], "dkernel", a.inputs * g, false);
      d.drecurrent = out(drecurrent[i], "drecurrent_kernel", u * g, false);
      d.dbias = out(dbias[i], "dbias", g, true);
      d.drecurrent_bias = a.cell == RecurrentCell::gru ? out(drecurrent_bias[i], "drecurrent_bias", g, true) : nullptr;
      d.dh0 = out(dh0[i], "dh0", a.batch * u, false);
      d.dc0 = a.cell == RecurrentCell::lstm ? out(dc0[i], "dc0", a.batch * u, false) : nullptr;
      keep.emplace_back(py::array(dstates[i]));
      d.dstates = flat_in<T>(keep.back(), "dstates", n_states * rows * u);
      const py::array& ds = keep.back();
      for (py::object o : {dkernel[i], drecurrent[i], dh0[i]})
        for (const py::array* in : std::initializer_list<const py::array*>{
                 &ds, &runs[i].states, &runs[i].h_prev, &x, &runs[i].kernel, &runs[i].recurrent, &runs[i].gates})
          require_no_partial_alias(py::array(o), "a gradient", *in, "an input of the run", false);
      args.push_back(a);
      grads.push_back(d);
    }
    py::gil_scoped_release nogil;
    recurrent_backward<T>(args.data(), grads.data(), int64_t(count));
  });
}

}  // namespace

void init_recurrent(py::module_& m) {
  using py::arg;
  m.def("recurrent_forward", &bind_recurrent_forward, arg("cell"), arg("x"), arg("mask"), arg("activation"),
        arg("alpha"), arg("reverse"), arg("kernel"), arg("recurrent_kernel"), arg("bias"), arg("recurrent_bias"),
        arg("h0"), arg("c0"), arg("states"), arg("gates"), arg("recurrent_gates"), arg("h_prev"), arg("bf16") = false);
  m.def("recurrent_backward", &bind_recurrent_backward, arg("dx"), arg("dkernel"), arg("drecurrent_kernel"),
        arg("dbias"), arg("drecurrent_bias"), arg("dh0"), arg("dc0"), arg("dstates"), arg("cell"), arg("x"),
        arg("mask"), arg("activation"), arg("alpha"), arg("reverse"), arg("kernel"), arg("recurrent_kernel"),
        arg("h0"), arg("c0"), arg("states"), arg("gates"), arg("recurrent_gates"), arg("h_prev"), arg("bf16") = false);
}

}  // namespace brisknet::bindings
