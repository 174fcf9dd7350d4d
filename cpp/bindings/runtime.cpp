// Threads, the GEMM configuration of this CPU and its measured peak, workspace counters.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>
#include <cmath>

#include "brisknet/kernels.h"
#include "checks.h"

namespace brisknet::bindings {

void init_runtime(py::module_& m) {
  using py::arg;
  m.def("set_num_threads", [](int n) {
    if (n < 1) fail_value("set_num_threads: n must be >= 1, got " + std::to_string(n));
    set_num_threads(n);
  }, arg("n"));
  m.def("get_num_threads", &get_num_threads);
  m.def("gemm_isa", &gemm_isa);
  m.def("bf16_paths", &bf16_paths);
  m.def("bf16_path", &bf16_path);
  m.def("set_bf16_path", [](const std::string& name) {
    try {
      set_bf16_path(name);
    } catch (const std::invalid_argument& e) {
      fail_value(e.what());
    }
  }, arg("name"));
  m.def("gemm_config", [] {
    const GemmConfig c = gemm_config();
    py::dict d;
    d["isa"] = c.isa;
    py::list tiles;
    for (const GemmTile& t : c.tiles) tiles.append(py::make_tuple(t.mr, t.nr, std::round(t.rate * 100) / 100));
    d["tiles"] = tiles;
    d["kc"] = c.kc;
    d["mc"] = c.mc;
    d["nc"] = c.nc;
    d["why"] = c.why;
    d["caches"] = py::dict(py::arg("source") = c.cache_source,
                           py::arg("l1d") = py::make_tuple(c.l1d_bytes, c.l1d_ways),
                           py::arg("l2") = py::make_tuple(c.l2_bytes, c.l2_ways, c.l2_shared_by),
                           py::arg("l3") = py::make_tuple(c.l3_bytes, c.l3_ways, c.l3_shared_by));
    return d;
  });
  m.def("workspace_allocations", &workspace_allocations);
  m.def("gemm_peak_gflops", [](double seconds) {
    if (!(seconds > 0 && seconds <= 60)) fail_value("seconds must be in (0, 60]");
    py::gil_scoped_release nogil;
    return gemm_peak_gflops(seconds);
  }, arg("seconds") = 0.3);
}

}  // namespace brisknet::bindings
