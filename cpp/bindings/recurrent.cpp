// The whole-sequence LSTM kernels: every array's shape checked here, once.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <string>

#include "brisknet/kernels.h"
#include "checks.h"

namespace brisknet::bindings {
namespace {

struct Sizes {
  int64_t batch, steps, inputs, units;
};

Sizes sizes_of(const py::array& x, const py::array& recurrent) {
  require_ndim(x, "x", 3);
  require_ndim(recurrent, "recurrent_kernel", 2);
  const Sizes s{x.shape(0), x.shape(1), x.shape(2), recurrent.shape(0)};
  if (recurrent.shape(1) != 4 * s.units)
    fail_value("recurrent_kernel: expected shape (units, 4 * units), got " + shape_of(recurrent));
  if (s.steps < 1) fail_value("x: a sequence needs at least one step");
  return s;
}

template <typename T>
const T* checked_in(const py::array& a, const char* name, py::ssize_t size) {
  return flat_in<T>(a, name, size);
}

void bind_lstm_forward(py::array hs, py::array cs, py::array gates, py::array h_prev, py::array x, py::array kernel,
                       py::array recurrent, py::object bias, py::array h0, py::array c0, bool reverse) {
  const Sizes s = sizes_of(x, recurrent);
  const int64_t g4 = 4 * s.units, rows = s.batch * s.steps;
  by_dtype(x, "x", [&](auto tag) {
    using T = decltype(tag);
    std::vector<py::array> keep;
    const T* px = checked_in<T>(x, "x", rows * s.inputs);
    const T* pk = checked_in<T>(kernel, "kernel", s.inputs * g4);
    const T* pr = checked_in<T>(recurrent, "recurrent_kernel", s.units * g4);
    const T* pb = nullptr;
    if (!bias.is_none()) {
      keep.emplace_back(py::array(bias));
      pb = checked_in<T>(keep.back(), "bias", g4);
    }
    const T* ph0 = checked_in<T>(h0, "h0", s.batch * s.units);
    const T* pc0 = checked_in<T>(c0, "c0", s.batch * s.units);
    T* phs = flat<T>(hs, "hs", rows * s.units);
    T* pcs = flat<T>(cs, "cs", rows * s.units);
    T* pg = flat<T>(gates, "gates", rows * g4);
    T* php = flat<T>(h_prev, "h_prev", rows * s.units);
    for (auto [out, oname] : {std::pair{&hs, "hs"}, {&cs, "cs"}, {&gates, "gates"}, {&h_prev, "h_prev"}})
      for (auto [in, iname] : {std::pair{&x, "x"}, {&kernel, "kernel"}, {&recurrent, "recurrent_kernel"},
                               {&h0, "h0"}, {&c0, "c0"}})
        require_no_partial_alias(*out, oname, *in, iname, false);
    py::gil_scoped_release nogil;
    lstm_forward<T>(phs, pcs, pg, php, px, pk, pr, pb, ph0, pc0, s.batch, s.steps, s.inputs, s.units, reverse);
  });
}

void bind_lstm_backward(py::object dx, py::array dkernel, py::array drecurrent, py::object dbias, py::array dh0,
                        py::array dc0, py::array gates, py::array dhs, py::array cs, py::array h_prev, py::array x,
                        py::array kernel, py::array recurrent, py::array c0, bool reverse) {
  const Sizes s = sizes_of(x, recurrent);
  const int64_t g4 = 4 * s.units, rows = s.batch * s.steps;
  by_dtype(x, "x", [&](auto tag) {
    using T = decltype(tag);
    std::vector<py::array> keep;
    T* pdx = nullptr;
    if (!dx.is_none()) {
      keep.emplace_back(py::array(dx));
      pdx = flat<T>(keep.back(), "dx", rows * s.inputs);
    }
    T* pdb = nullptr;
    if (!dbias.is_none()) {
      keep.emplace_back(py::array(dbias));
      pdb = flat<T>(keep.back(), "dbias", g4);
    }
    T* pdk = flat<T>(dkernel, "dkernel", s.inputs * g4);
    T* pdr = flat<T>(drecurrent, "drecurrent_kernel", s.units * g4);
    T* pdh0 = flat<T>(dh0, "dh0", s.batch * s.units);
    T* pdc0 = flat<T>(dc0, "dc0", s.batch * s.units);
    T* pg = flat<T>(gates, "gates", rows * g4);
    const T* pdhs = checked_in<T>(dhs, "dhs", rows * s.units);
    const T* pcs = checked_in<T>(cs, "cs", rows * s.units);
    const T* php = checked_in<T>(h_prev, "h_prev", rows * s.units);
    const T* px = checked_in<T>(x, "x", rows * s.inputs);
    const T* pk = checked_in<T>(kernel, "kernel", s.inputs * g4);
    const T* pr = checked_in<T>(recurrent, "recurrent_kernel", s.units * g4);
    const T* pc0 = checked_in<T>(c0, "c0", s.batch * s.units);
    for (auto [out, oname] : {std::pair{&dkernel, "dkernel"}, {&drecurrent, "drecurrent_kernel"}, {&dh0, "dh0"},
                              {&dc0, "dc0"}})
      for (auto [in, iname] : {std::pair{&dhs, "dhs"}, {&cs, "cs"}, {&h_prev, "h_prev"}, {&x, "x"},
                               {&kernel, "kernel"}, {&recurrent, "recurrent_kernel"}, {&c0, "c0"}, {&gates, "gates"}})
        require_no_partial_alias(*out, oname, *in, iname, false);
    py::gil_scoped_release nogil;
    lstm_backward<T>(pdx, pdk, pdr, pdb, pdh0, pdc0, pg, pdhs, pcs, php, px, pk, pr, pc0, s.batch, s.steps, s.inputs,
                     s.units, reverse);
  });
}

}  // namespace

void init_recurrent(py::module_& m) {
  using py::arg;
  m.def("lstm_forward", &bind_lstm_forward, arg("hs"), arg("cs"), arg("gates"), arg("h_prev"), arg("x"),
        arg("kernel"), arg("recurrent_kernel"), arg("bias"), arg("h0"), arg("c0"), arg("reverse"));
  m.def("lstm_backward", &bind_lstm_backward, arg("dx"), arg("dkernel"), arg("drecurrent_kernel"), arg("dbias"),
        arg("dh0"), arg("dc0"), arg("gates"), arg("dhs"), arg("cs"), arg("h_prev"), arg("x"), arg("kernel"),
        arg("recurrent_kernel"), arg("c0"), arg("reverse"));
}

}  // namespace brisknet::bindings
