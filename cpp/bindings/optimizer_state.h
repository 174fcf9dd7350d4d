// Checks of an OptimizerSpec's state arrays and of the trainable spans, shared by the optimizer
// step binding and the engine binding.
#pragma once
#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "brisknet/kernels.h"
#include "checks.h"

namespace brisknet::bindings {

// The slots each rule needs (the others may be None), by kernels.h's OptimizerSpec comment.
inline std::vector<int> required_slots(const OptimizerSpec& s) {
  switch (s.kind) {
    case OptimizerKind::sgd: return s.momentum > 0 ? std::vector<int>{0} : std::vector<int>{};
    case OptimizerKind::adam: return {0, 1};
    case OptimizerKind::rmsprop: return s.momentum > 0 ? std::vector<int>{0, 2} : std::vector<int>{0};
    case OptimizerKind::adagrad: return {0};
    case OptimizerKind::adamax: case OptimizerKind::nadam: case OptimizerKind::adadelta: return {0, 1};
    case OptimizerKind::lion: return {0};
  }
  return {};
}

// Points spec.state at the arrays in `state` (float32, one value per parameter, never aliasing
// the parameters); `keep` holds them for the call.
inline void bind_state(OptimizerSpec& spec, const py::list& state, const py::array& params,
                       std::vector<py::array>& keep) {
  if (py::len(state) > size_t(kOptimizerSlots))
    fail_value("optimizer state: at most " + std::to_string(kOptimizerSlots) + " arrays");
  for (int i = 0; i < kOptimizerSlots; ++i) {
    spec.state[i] = nullptr;
    if (size_t(i) >= py::len(state) || state[size_t(i)].is_none()) continue;
    keep.push_back(py::array(state[size_t(i)]));
    py::array& a = keep.back();
    const std::string name = "optimizer state " + std::to_string(i);
    spec.state[i] = flat<float>(a, name.c_str(), params.size());
    require_no_partial_alias(a, name.c_str(), params, "params", false);
  }
  for (int i : required_slots(spec))
    if (!spec.state[i]) fail_value("optimizer state " + std::to_string(i) + " is required by this optimizer");
  if (spec.clip != ClipKind::none && !(spec.clip_threshold >= 0 && std::isfinite(spec.clip_threshold)))
    fail_value("clip threshold must be finite and >= 0");
}

inline void check_learning_rate(double lr) {
  if (!(lr >= 0 && std::isfinite(lr))) fail_value("learning_rate must be finite and >= 0, got " + std::to_string(lr));
}

// (offset, size) pairs inside a buffer of n values, in increasing order, not overlapping.
inline std::vector<Span> checked_spans(const std::vector<std::pair<int64_t, int64_t>>& spans, int64_t n) {
  std::vector<Span> out;
  int64_t end = 0;
  for (const auto& [offset, size] : spans) {
    if (offset < end || size < 0 || offset + size > n)
      fail_value("trainable: span (" + std::to_string(offset) + ", " + std::to_string(size) +
                 ") is out of order or outside the " + std::to_string(n) + " parameters");
    out.push_back({offset, size});
    end = offset + size;
  }
  return out;
}

}  // namespace brisknet::bindings
