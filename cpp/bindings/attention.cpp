// Fused attention and the Embedding gather/scatter: shapes and index ranges checked here, once.
#include <type_traits>

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cmath>
#include <string>

#include "brisknet/kernels.h"
#include "checks.h"

namespace brisknet::bindings {
namespace {

void require_shape(const py::array& a, const char* name, std::initializer_list<int64_t> shape) {
  bool ok = a.ndim() == py::ssize_t(shape.size());
  py::ssize_t i = 0;
  for (int64_t s : shape) ok = ok && a.shape(i++) == s;
  if (!ok) {
    std::string want = "(";
    i = 0;
    for (int64_t s : shape) want += (i++ ? ", " : "") + std::to_string(s);
    fail_value(std::string(name) + ": expected shape " + want + (shape.size() == 1 ? ",)" : ")") + ", got " +
               shape_of(a));
  }
}

struct Dims {
  int64_t batch, tq, tk, heads, d, dv;
};

// The sizes of q, k and v (checked against each other), with the scale and causal flag checked too.
Dims attention_dims(const py::array& q, const py::array& k, const py::array& v, double scale, bool causal) {
  require_ndim(q, "q", 4);
  require_ndim(k, "k", 4);
  require_ndim(v, "v", 4);
  Dims s{q.shape(0), q.shape(1), k.shape(1), q.shape(2), q.shape(3), v.shape(3)};
  require_shape(k, "k", {s.batch, s.tk, s.heads, s.d});
  require_shape(v, "v", {s.batch, s.tk, s.heads, s.dv});
  if (s.tk < 1) fail_value("k: no keys to attend to");
  if (!std::isfinite(scale)) fail_value("scale must be a finite number");
  if (causal && s.tq != s.tk) fail_value("a causal mask needs as many queries as keys");
  return s;
}

const uint8_t* mask_of(py::object mask, const Dims& s) {
  if (mask.is_none()) return nullptr;
  py::array m = mask;
  if (!m.dtype().is(py::dtype::of<bool>()) && !m.dtype().is(py::dtype::of<uint8_t>()))
    fail_type("mask: expected dtype bool or uint8, got " + dtype_name(m));
  require_shape(m, "mask", {s.batch, s.tq, s.tk});
  require_contiguous(m, "mask");
  return static_cast<const uint8_t*>(m.data());
}

void bind_attention_forward(py::array o, py::array lse, py::array q, py::array k, py::array v, py::object mask,
                            double scale, bool causal, bool bf16) {
  const Dims s = attention_dims(q, k, v, scale, causal);
  const uint8_t* m = mask_of(mask, s);
  by_dtype(q, "q", [&](auto tag) {
    using T = decltype(tag);
    if (bf16 && !std::is_same_v<T, float>) fail_value("attention: bf16 takes float32 operands");
    const T *pq = flat_in<T>(q, "q", q.size()), *pk = flat_in<T>(k, "k", k.size()), *pv = flat_in<T>(v, "v", v.size());
    require_shape(o, "o", {s.batch, s.tq, s.heads, s.dv});
    require_shape(lse, "lse", {s.batch, s.heads, s.tq});
    T* po = flat<T>(o, "o", o.size());
    T* pl = flat<T>(lse, "lse", lse.size());
    for (auto [in, name] : {std::pair{&q, "q"}, {&k, "k"}, {&v, "v"}}) {
      require_no_partial_alias(o, "o", *in, name, false);
      require_no_partial_alias(lse, "lse", *in, name, false);
    }
    py::gil_scoped_release nogil;
    attention_forward<T>(po, pl, pq, pk, pv, m, s.batch, s.heads, s.tq, s.tk, s.d, s.dv, T(scale), causal, bf16);
  });
}

void bind_attention_backward(py::array dq, py::array dk, py::array dv, py::array dout, py::array q, py::array k,
                             py::array v, py::array o, py::array lse, py::object mask, double scale, bool causal,
                             bool bf16) {
  const Dims s = attention_dims(q, k, v, scale, causal);
  const uint8_t* m = mask_of(mask, s);
  by_dtype(q, "q", [&](auto tag) {
    using T = decltype(tag);
    if (bf16 && !std::is_same_v<T, float>) fail_value("attention: bf16 takes float32 operands");
    const T *pq = flat_in<T>(q, "q", q.size()), *pk = flat_in<T>(k, "k", k.size()), *pv = flat_in<T>(v, "v", v.size());
    require_shape(o, "o", {s.batch, s.tq, s.heads, s.dv});
    require_shape(dout, "dout", {s.batch, s.tq, s.heads, s.dv});
    require_shape(lse, "lse", {s.batch, s.heads, s.tq});
    const T *po = flat_in<T>(o, "o", o.size()), *pdo = flat_in<T>(dout, "dout", dout.size()),
            *pl = flat_in<T>(lse, "lse", lse.size());
    require_shape(dq, "dq", {s.batch, s.tq, s.heads, s.d});
    require_shape(dk, "dk", {s.batch, s.tk, s.heads, s.d});
    require_shape(dv, "dv", {s.batch, s.tk, s.heads, s.dv});
    T *pdq = flat<T>(dq, "dq", dq.size()), *pdk = flat<T>(dk, "dk", dk.size()), *pdv = flat<T>(dv, "dv", dv.size());
    for (auto [out, oname] : {std::pair{&dq, "dq"}, {&dk, "dk"}, {&dv, "dv"}})
      for (auto [in, iname] : {std::pair{&q, "q"}, {&k, "k"}, {&v, "v"}, {&o, "o"}, {&dout, "dout"}, {&lse, "lse"}})
        require_no_partial_alias(*out, oname, *in, iname, false);
    require_no_partial_alias(dq, "dq", dk, "dk", false);
    require_no_partial_alias(dq, "dq", dv, "dv", false);
    require_no_partial_alias(dk, "dk", dv, "dv", false);
    py::gil_scoped_release nogil;
    attention_backward<T>(pdq, pdk, pdv, pdo, pq, pk, pv, po, pl, m, s.batch, s.heads, s.tq, s.tk, s.d, s.dv,
                          T(scale), causal, bf16);
  });
}

const int64_t* checked_indices(const py::array& idx, int64_t rows) {
  const int64_t* p = flat_in<int64_t>(idx, "indices", idx.size());
  for (py::ssize_t i = 0; i < idx.size(); ++i)
    if (p[i] < 0 || p[i] >= rows)
      fail_value("indices: " + std::to_string(p[i]) + " is out of range for a table of " + std::to_string(rows) +
                 " rows");
  return p;
}

void bind_embedding_gather(py::array out, py::array table, py::array idx) {
  require_ndim(table, "table", 2);
  const int64_t rows = table.shape(0), width = table.shape(1), n = idx.size();
  const int64_t* pi = checked_indices(idx, rows);
  by_dtype(table, "table", [&](auto tag) {
    using T = decltype(tag);
    const T* pt = flat_in<T>(table, "table", rows * width);
    T* po = flat<T>(out, "out", n * width);
    require_no_partial_alias(out, "out", table, "table", false);
    py::gil_scoped_release nogil;
    embedding_gather<T>(po, pt, pi, n, width);
  });
}

void bind_embedding_scatter_add(py::array dtable, py::array dout, py::array idx) {
  require_ndim(dtable, "dtable", 2);
  const int64_t rows = dtable.shape(0), width = dtable.shape(1), n = idx.size();
  const int64_t* pi = checked_indices(idx, rows);
  by_dtype(dtable, "dtable", [&](auto tag) {
    using T = decltype(tag);
    T* pt = flat<T>(dtable, "dtable", rows * width);
    const T* pd = flat_in<T>(dout, "dout", n * width);
    require_no_partial_alias(dtable, "dtable", dout, "dout", false);
    py::gil_scoped_release nogil;
    embedding_scatter_add<T>(pt, pd, pi, n, rows, width);
  });
}

}  // namespace

void init_attention(py::module_& m) {
  using py::arg;
  m.def("attention_forward", &bind_attention_forward, arg("o"), arg("lse"), arg("q"), arg("k"), arg("v"),
        arg("mask"), arg("scale"), arg("causal"), arg("bf16") = false);
  m.def("attention_backward", &bind_attention_backward, arg("dq"), arg("dk"), arg("dv"), arg("dout"), arg("q"),
        arg("k"), arg("v"), arg("o"), arg("lse"), arg("mask"), arg("scale"), arg("causal"), arg("bf16") = false);
  m.def("embedding_gather", &bind_embedding_gather, arg("out"), arg("table"), arg("indices"));
  m.def("embedding_scatter_add", &bind_embedding_scatter_add, arg("dtable"), arg("dout"), arg("indices"));
}

}  // namespace brisknet::bindings
