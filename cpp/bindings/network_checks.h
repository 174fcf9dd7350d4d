// The checks of a chain of layers (brisknet/engine.h's LayerSpec) against itself and its flat
// parameter buffer, shared by the CPU engine's binding and the CUDA module's.
#pragma once
#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "brisknet/engine.h"
#include "checks.h"
#include "optimizer_state.h"

namespace brisknet::bindings {

inline std::vector<LayerSpec> checked_layers(const std::vector<LayerSpec>& layers) {
  if (layers.empty()) fail_value("Network: no layers");
  for (size_t i = 0; i < layers.size(); ++i) {
    const LayerSpec& l = layers[i];
    const std::string at = "Network: layer " + std::to_string(i);
    if (l.in < 1 || l.out < 1) fail_value(at + ": sizes must be >= 1");
    if (i > 0 && l.in != layers[i - 1].out) fail_value(at + ": takes " + std::to_string(l.in) +
                                                       " features, the layer below gives " + std::to_string(layers[i - 1].out));
    if (l.kind == LayerKind::dense && l.kernel_offset < 0) fail_value(at + ": a dense layer needs a kernel offset");
    if (l.kind != LayerKind::dense && l.in != l.out) fail_value(at + ": only a dense layer changes the size");
    if (l.kind == LayerKind::dropout && !(l.rate > 0 && l.rate < 1)) fail_value(at + ": dropout rate must be in (0, 1)");
    if (l.kind == LayerKind::affine &&
        (l.scale.empty() || l.shift.size() != l.scale.size() || l.out % int64_t(l.scale.size()) != 0))
      fail_value(at + ": an affine layer needs scale and shift of one length dividing its size");
    for (const Penalty* p : {&l.kernel_penalty, &l.bias_penalty})
      if (!(p->l1 >= 0 && p->l2 >= 0 && std::isfinite(p->l1) && std::isfinite(p->l2)))
        fail_value(at + ": penalties must be finite and >= 0");
  }
  return layers;
}

// Every dense variable inside the buffer, in order, none overlapping another.
inline void check_params(const std::vector<LayerSpec>& layers, py::ssize_t n_params) {
  std::vector<std::pair<int64_t, int64_t>> spans;
  for (const LayerSpec& l : layers) {
    if (l.kind != LayerKind::dense) continue;
    spans.push_back({l.kernel_offset, l.in * l.out});
    if (l.bias_offset >= 0) spans.push_back({l.bias_offset, l.out});
  }
  checked_spans(spans, n_params);
}

}  // namespace brisknet::bindings
