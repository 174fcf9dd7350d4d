// The checks of a chain of layers (brisknet/engine.h's LayerSpec) against itself and its flat
// parameter buffer, shared by the CPU engine's binding and the CUDA module's.
#pragma once
#include <algorithm>
#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "brisknet/engine.h"
#include "checks.h"
#include "optimizer_state.h"

namespace brisknet::bindings {

// A conv or pooling layer's window against its sizes (in = h * w * c, out = oh * ow * channels).
inline void check_window_layer(const LayerSpec& l, const std::string& at) {
  const Window2D& g = l.window;
  check_window(g, at);
  const bool transposed = l.kind == LayerKind::conv_transpose;  // (the window's image is its output)
  if ((transposed ? l.out : l.in) != g.h * g.w * g.c) fail_value(at + ": its window's image does not hold its inputs");
  const int64_t positions = g.oh * g.ow;
  if ((transposed ? l.in : l.out) % positions != 0)
    fail_value(at + ": its outputs are not a whole number of channels per position");
  if (transposed) {
    if (l.groups != 1) fail_value(at + ": a transposed convolution has one group");
    return;
  }
  if (l.kind != LayerKind::conv) {
    if (l.out != positions * g.c) fail_value(at + ": pooling keeps the channels");
    if (g.dh != 1 || g.dw != 1) fail_value(at + ": pooling has no dilation");
    return;
  }
  if (l.groups < 1 || g.c % l.groups != 0 || (l.out / positions) % l.groups != 0)
    fail_value(at + ": groups must divide the input channels and the filters");
}

// shift and upsample: an image of h x w x c in, oh x ow x c out (upsample: h sh x w sw)
inline void check_moved_image(const LayerSpec& l, const std::string& at) {
  const Window2D& g = l.window;
  if (g.h < 1 || g.w < 1 || g.c < 1 || g.oh < 1 || g.ow < 1) fail_value(at + ": images must be at least 1 x 1 x 1");
  if (l.in != g.h * g.w * g.c || l.out != g.oh * g.ow * g.c) fail_value(at + ": its sizes do not match its images");
  if (l.kind == LayerKind::upsample && (g.sh < 1 || g.sw < 1 || g.oh != g.h * g.sh || g.ow != g.w * g.sw))
    fail_value(at + ": upsampling by sh x sw >= 1 gives h sh x w sw");
}

inline std::vector<LayerSpec> checked_layers(const std::vector<LayerSpec>& layers) {
  if (layers.empty()) fail_value("Network: no layers");
  const int64_t inputs = layers.front().in;
  for (size_t i = 0; i < layers.size(); ++i) {
    const LayerSpec& l = layers[i];
    const std::string at = "Network: layer " + std::to_string(i);
    if (l.in < 1 || l.out < 1) fail_value(at + ": sizes must be >= 1");
    const std::vector<int64_t> sources = l.sources.empty() ? std::vector<int64_t>{int64_t(i) - 1} : l.sources;
    int64_t total = 0;
    for (int64_t j : sources) {
      if (j < -1 || j >= int64_t(i)) fail_value(at + ": reads layer " + std::to_string(j) + ", not an earlier one");
      const int64_t width = j < 0 ? inputs : layers[j].out;
      total += width;
      if (l.kind != LayerKind::concat && width != l.in)
        fail_value(at + ": takes " + std::to_string(l.in) + " features, its source gives " + std::to_string(width));
    }
    const bool merge = l.kind == LayerKind::add || l.kind == LayerKind::concat;
    if (!merge && sources.size() != 1) fail_value(at + ": only add and concat read several layers");
    if (l.kind == LayerKind::concat && total != l.out)
      fail_value(at + ": concat gives " + std::to_string(l.out) + " features, its sources " + std::to_string(total));
    if (has_weights(l) && l.kernel_offset < 0) fail_value(at + ": a dense or conv layer needs a kernel offset");
    const bool windowed = windowed_weights(l) || l.kind == LayerKind::max_pool || l.kind == LayerKind::avg_pool;
    const bool moved = l.kind == LayerKind::shift || l.kind == LayerKind::upsample;
    if (windowed) check_window_layer(l, at);
    else if (moved) check_moved_image(l, at);
    else if (l.kind != LayerKind::dense && l.kind != LayerKind::concat && l.in != l.out)
      fail_value(at + ": only dense, concat, conv and pooling layers change the size");
    if (l.kind == LayerKind::dropout && !(l.rate > 0 && l.rate < 1)) fail_value(at + ": dropout rate must be in (0, 1)");
    if (l.channels < 0 || (l.channels > 0 && ((l.kind != LayerKind::dropout && l.kind != LayerKind::batch_norm) ||
                                              l.out % l.channels != 0)))
      fail_value(at + ": channels (of dropout of whole channels, of batch_norm on images) must divide the layer's size");
    if (l.kind == LayerKind::affine &&
        (l.scale.empty() || l.shift.size() != l.scale.size() || l.out % int64_t(l.scale.size()) != 0))
      fail_value(at + ": an affine layer needs scale and shift of one length dividing its size");
    if (l.kind == LayerKind::batch_norm && l.stats_offset < 0)
      fail_value(at + ": batch_norm needs the moving statistics' offset");
    if ((l.kind == LayerKind::batch_norm || l.kind == LayerKind::layer_norm) &&
        !(l.epsilon > 0 && std::isfinite(l.epsilon) && l.momentum >= 0 && l.momentum <= 1))
      fail_value(at + ": epsilon must be > 0 and momentum in [0, 1]");
    for (const Penalty* p : {&l.kernel_penalty, &l.bias_penalty})
      if (!(p->l1 >= 0 && p->l2 >= 0 && std::isfinite(p->l1) && std::isfinite(p->l2)))
        fail_value(at + ": penalties must be finite and >= 0");
  }
  return layers;
}

// Every variable inside the buffer, none overlapping another.
inline void check_params(const std::vector<LayerSpec>& layers, py::ssize_t n_params) {
  std::vector<std::pair<int64_t, int64_t>> spans;
  for (const LayerSpec& l : layers) {
    if (has_weights(l)) {
      spans.push_back({l.kernel_offset, kernel_values(l)});
      if (l.bias_offset >= 0) spans.push_back({l.bias_offset, bias_values(l)});
    } else if (l.kind == LayerKind::batch_norm || l.kind == LayerKind::layer_norm) {
      const int64_t f = norm_features(l);
      if (l.kernel_offset >= 0) spans.push_back({l.kernel_offset, f});
      if (l.bias_offset >= 0) spans.push_back({l.bias_offset, f});
      if (l.kind == LayerKind::batch_norm) spans.push_back({l.stats_offset, 2 * f});
    }
  }
  std::sort(spans.begin(), spans.end());  // (a graph's layers need not run in the buffer's order)
  spans.erase(std::unique(spans.begin(), spans.end()), spans.end());  // a shared layer's, once
  checked_spans(spans, n_params);
}

}  // namespace brisknet::bindings
