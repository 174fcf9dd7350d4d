// The _core extension module: one init_* per concept, each in its own file (pybind11's pattern
// for large modules). Enums come before the functions whose defaults use them.
#include <pybind11/pybind11.h>

namespace brisknet::bindings {
namespace py = pybind11;
void init_runtime(py::module_& m);
void init_activations(py::module_& m);
void init_gemm(py::module_& m);
void init_losses(py::module_& m);
void init_optimizers(py::module_& m);
void init_dropout(py::module_& m);
void init_normalization(py::module_& m);
void init_convolution(py::module_& m);
void init_image_reshaping(py::module_& m);
void init_attention(py::module_& m);
void init_recurrent(py::module_& m);
void init_engine(py::module_& m);
}  // namespace brisknet::bindings

PYBIND11_MODULE(_core, m) {
  using namespace brisknet::bindings;
  m.doc() = "brisknet C++ kernels and training engine (see python/brisknet/kernels.py for the documented API)";
  init_runtime(m);
  init_activations(m);
  init_gemm(m);
  init_losses(m);
  init_optimizers(m);
  init_dropout(m);
  init_normalization(m);
  init_convolution(m);
  init_image_reshaping(m);
  init_attention(m);
  init_recurrent(m);
  init_engine(m);
}
