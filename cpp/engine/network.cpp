// The training engine (see engine.h): the phases of a step, with the same kernels, in the same
// order and with the same arguments as the Python reference path, so the weights are
// bit-identical to it.
#include "brisknet/elementwise_math.h"
#include "brisknet/engine.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>

#include "../kernels/activation_elementwise.h"
#include "../kernels/optimizer_rules.h"
#include "../kernels/parallel.h"

namespace brisknet {

namespace {
bool has_activation(const LayerSpec& l) { return l.activation != Activation::linear; }
// A Dense or Conv layer whose ReLU output overwrites its pre-activation z (the GEMM's micro-kernel
// stores both to one place): ReLU's gradient from relu(z) is its gradient from z, bit for bit
// (v > 0 either way, a NaN stays a NaN), and one stream of the layer's size is never written.
bool relu_in_place(const LayerSpec& l) {
  return (l.kind == LayerKind::dense || l.kind == LayerKind::conv) && l.activation == Activation::relu;
}
// A dense layer whose activation gradient can be fused into the GEMM that produces its output's gradient.
bool fusable_below(const LayerSpec& l) {
  return l.kind == LayerKind::dense && has_activation(l) && is_elementwise(l.activation);
}
// The window over a batch of b samples.
Window2D batch_window(const LayerSpec& l, int64_t b) {
  Window2D g = l.window;
  g.n = b;
  return g;
}

}  // namespace

// The context of a ChunkHook running pooling layer i inside the convolution below it: forward
// reads x; backward reads the gradient d and writes dx (then dz, with the activation gradient).
struct Network::PoolAbove {
  const Network* net;
  Workspace* ws;
  size_t i;
  const float* x_or_d;
  float* dx;
  bool activation_below;
  static void forward(const void* c, int64_t first, int64_t count) {
    const PoolAbove& p = *static_cast<const PoolAbove*>(c);
    p.net->pool_forward_images(*p.ws, p.i, p.x_or_d, first, count);
  }
  static void backward(const void* c, int64_t first, int64_t count) {
    const PoolAbove& p = *static_cast<const PoolAbove*>(c);
    p.net->pool_backward_images(*p.ws, p.i, p.x_or_d, p.dx, p.activation_below, first, count);
  }
};

Network::Network(std::vector<LayerSpec> layers, LossSpec loss) : layers_(std::move(layers)), loss_(loss) {
  if (layers_.empty()) throw std::invalid_argument("Network: no layers");
  consumers_.assign(layers_.size(), 0);
  owner_.assign(layers_.size(), -1);
  std::map<int64_t, int64_t> first_call;  // kernel offset -> the first dense layer using it
  for (size_t i = 0; i < layers_.size(); ++i) {
    const LayerSpec& l = layers_[i];
    if (has_weights(l)) {
      auto [it, fresh] = first_call.emplace(l.kernel_offset, int64_t(i));
      owner_[i] = it->second;
      if (fresh) weight_owners_.push_back(int64_t(i));
      else if (windowed_weights(l) || windowed_weights(layers_[it->second]))
        throw std::invalid_argument("Network: a shared convolution (only dense layers may share weights)");
      else shares_weights_ = true;
    }
    sources_.push_back(l.sources.empty() ? std::vector<int64_t>{int64_t(i) - 1} : l.sources);
    for (int64_t j : sources_.back()) {
      if (j >= int64_t(i)) throw std::invalid_argument("Network: a layer reads a later one");
      if (j >= 0) ++consumers_[j];
    }
    if (l.kind == LayerKind::dropout) ++dropouts_;
    if (!l.trainable || (has_weights(l) && owner_[i] != int64_t(i))) continue;  // weights listed once
    if (has_weights(l)) {
      trainable_.push_back({l.kernel_offset, kernel_values(l)});
      if (l.bias_offset >= 0) trainable_.push_back({l.bias_offset, bias_values(l)});
    } else if (l.kind == LayerKind::batch_norm || l.kind == LayerKind::layer_norm) {  // gamma, then beta
      if (l.kernel_offset >= 0) trainable_.push_back({l.kernel_offset, norm_features(l)});
      if (l.bias_offset >= 0) trainable_.push_back({l.bias_offset, norm_features(l)});
    }
  }
  pools_in_conv_.assign(layers_.size(), 0);
  for (size_t j = 1; j < layers_.size(); ++j) {
    const LayerSpec& conv = layers_[j - 1];
    const bool pool = layers_[j].kind == LayerKind::max_pool || layers_[j].kind == LayerKind::avg_pool;
    pools_in_conv_[j] = pool && conv.kind == LayerKind::conv && consumers_[j - 1] == 1 &&
                        sources_[j] == std::vector<int64_t>{int64_t(j) - 1} && is_elementwise(conv.activation);
  }
  // in the buffer's order, as the Python path lists them (a graph's layers may run in another)
  std::sort(trainable_.begin(), trainable_.end(), [](const Span& a, const Span& b) { return a.offset < b.offset; });
  std::sort(weight_owners_.begin(), weight_owners_.end(),
            [this](int64_t a, int64_t b) { return layers_[a].kernel_offset < layers_[b].kernel_offset; });
}

Network::Workspace& Network::workspace(int64_t b) {
  auto it = workspaces_.find(b);
  if (it != workspaces_.end()) return it->second;
  Workspace& ws = workspaces_[b];  // allocated once per batch size
  count_workspace_allocation();
  const int64_t out = outputs();
  ws.x.resize(b * inputs());
  ws.labels.resize(b);
  ws.targets.resize(b * out);
  ws.weights.resize(b);
  ws.loss.resize(b);
  ws.dpred.resize(b * out);
  int64_t widest = 0;
  for (const LayerSpec& l : layers_) {
    const bool dense = has_weights(l);  // (a conv's z, y and dz as a dense layer's)
    const int64_t size = b * l.out;
    ws.argmax.emplace_back(l.kind == LayerKind::max_pool ? size : 0);
    widest = std::max(widest, size);
    ws.z.emplace_back(dense ? size : 0);
    ws.y.emplace_back((dense && !has_activation(l)) || relu_in_place(l) ? 0 : size);
    ws.dy.emplace_back(size);
    ws.dz.emplace_back(dense && has_activation(l) ? size : 0);
    ws.mask.emplace_back(l.kind == LayerKind::dropout ? size : 0);
    ws.stats.emplace_back(l.kind == LayerKind::batch_norm ? 2 * norm_features(l) : l.kind == LayerKind::layer_norm ? 2 * b : 0);
  }
  ws.scratch.resize(widest);
  ws.out.assign(layers_.size(), nullptr);
  ws.grad.assign(layers_.size(), nullptr);
  ws.grad_is_dz.assign(layers_.size(), 0);
  ws.weights_done.assign(layers_.size(), 0);
  int64_t shared = 0;
  for (size_t i = 0; i < layers_.size(); ++i)
    if (owner_[i] >= 0 && owner_[i] != int64_t(i)) shared = std::max(shared, layers_[i].in * layers_[i].out + layers_[i].out);
  ws.shared_grad.resize(shared);
  return ws;
}

// Source k of layer i in this step: the network's input x or an earlier layer's output.
const float* Network::input_of(const Workspace& ws, const float* x, size_t i, size_t k) const {
  const int64_t j = sources_[i][k];
  return j < 0 ? x : ws.out[j];
}

float* Network::gradient_target(Workspace& ws, int64_t j) const {
  // the first of several consumers (or the only one) writes j's own buffer; later ones a scratch
  // buffer that give() adds in
  return consumers_[j] > 1 && ws.grad[j] ? ws.scratch.data() : ws.dy[j].data();
}

void Network::give(Workspace& ws, int64_t j, const float* g, int64_t b, bool is_dz) const {
  if (j < 0) return;  // the network's input needs no gradient
  float* own = ws.dy[j].data();
  if (consumers_[j] == 1) {
    ws.grad[j] = g;
    ws.grad_is_dz[j] = is_dz;
  } else if (!ws.grad[j]) {
    if (g != own) std::memcpy(own, g, sizeof(float) * b * layers_[j].out);
    ws.grad[j] = own;
  } else {
    const int64_t n = b * layers_[j].out;
    for (int64_t e = 0; e < n; ++e) own[e] += g[e];
  }
}

void Network::gather(Workspace& ws, const TrainRun& run, const int64_t* rows, int64_t b) const {
  const int64_t in = inputs(), out = outputs();
  for (int64_t r = 0; r < b; ++r) {
    std::memcpy(ws.x.data() + r * in, run.x + rows[r] * in, sizeof(float) * in);
    if (run.labels) ws.labels[r] = run.labels[rows[r]];
    else std::memcpy(ws.targets.data() + r * out, run.targets + rows[r] * out, sizeof(float) * out);
    if (run.sample_weight) ws.weights[r] = run.sample_weight[rows[r]];
  }
}

// Forward phase. Dense: z = h W + b with an element-wise activation run on each tile of z in the
// GEMM epilogue (at inference straight into z, which training keeps for the backward pass).
const float* Network::forward(const float* params, const float* x, Workspace& ws, int64_t b, bool training,
                              int64_t* dropout_calls, int64_t first_row) const {
  int dropout = 0;
  for (size_t i = 0; i < layers_.size(); ++i) {
    const LayerSpec& l = layers_[i];
    const float* h = input_of(ws, x, i);
    const float* out = ws.y[i].data();
    switch (l.kind) {
      case LayerKind::dense: {
        float* z = ws.z[i].data();
        GemmFusion<float> fused;
        fused.bf16 = l.bf16;
        const bool separate = !is_elementwise(l.activation);
        float* y = training && !relu_in_place(l) ? ws.y[i].data() : z;
        if (has_activation(l) && !separate) {
          fused.activation = l.activation;
          fused.alpha = l.alpha;
          fused.activation_out = y;
        }
        gemm<float>(row_major(z, b, l.out), row_major(h, b, l.in), row_major(params + l.kernel_offset, l.in, l.out),
                    0.0f, l.bias_offset >= 0 ? params + l.bias_offset : nullptr, fused);
        if (separate) activation_forward<float>(ws.y[i].data(), z, b, l.out, l.activation, l.alpha);
        out = !has_activation(l) ? z : separate ? ws.y[i].data() : y;
        break;
      }
      case LayerKind::conv: {  // the activation in the GEMM's epilogue, as Dense's
        const int64_t filters = conv_filters(l), positions = b * l.window.oh * l.window.ow;
        float* z = ws.z[i].data();
        float* y = training && !relu_in_place(l) ? ws.y[i].data() : z;
        GemmFusion<float> fused;
        fused.bf16 = l.bf16;
        if (has_activation(l) && is_elementwise(l.activation)) {
          fused.activation = l.activation;
          fused.alpha = l.alpha;
          fused.activation_out = y;
        }
        out = !has_activation(l) ? z : is_elementwise(l.activation) ? y : ws.y[i].data();
        // the pooling layer above, on each chunk's rows while they are in cache
        const PoolAbove above{this, &ws, i + 1, out, nullptr, false};
        ChunkHook pool_above;
        if (i + 1 < layers_.size() && pools_in_conv_[i + 1]) pool_above = {&PoolAbove::forward, &above};
        conv2d_forward<float>(z, h, params + l.kernel_offset, l.bias_offset >= 0 ? params + l.bias_offset : nullptr,
                              batch_window(l, b), filters, l.groups, fused, pool_above);
        if (has_activation(l) && !is_elementwise(l.activation))
          activation_forward<float>(ws.y[i].data(), z, positions, filters, l.activation, l.alpha);
        break;
      }
      case LayerKind::conv_transpose: {  // the input gradient of a convolution, + bias, then the activation
        const int64_t channels = l.window.c, positions = b * l.window.h * l.window.w;
        float* z = ws.z[i].data();
        conv2d_backward<float>(nullptr, nullptr, z, h, nullptr, params + l.kernel_offset, batch_window(l, b),
                               conv_filters(l), 1);
        if (l.bias_offset >= 0) {  // (as numpy's z += bias)
          const float* bias = params + l.bias_offset;
          for (int64_t p = 0; p < positions; ++p)
            for (int64_t c = 0; c < channels; ++c) z[p * channels + c] += bias[c];
        }
        if (has_activation(l)) activation_forward<float>(ws.y[i].data(), z, positions, channels, l.activation, l.alpha);
        else out = z;
        break;
      }
      case LayerKind::max_pool:
      case LayerKind::avg_pool:
        if (!pools_in_conv_[i]) pool_forward_images(ws, i, h, 0, b);  // (else: done in the convolution's chunks)
        break;
      case LayerKind::shift: {
        const Window2D& g = l.window;
        shift_image<float>(ws.y[i].data(), h, b, g.h, g.w, g.c, g.oh, g.ow, g.pt, g.pl);
        break;
      }
      case LayerKind::upsample: {
        const Window2D& g = l.window;
        upsample_forward<float>(ws.y[i].data(), h, b, g.h, g.w, g.c, g.sh, g.sw);
        break;
      }
      case LayerKind::activation:
        activation_forward<float>(ws.y[i].data(), h, b, l.out, l.activation, l.alpha);
        break;
      case LayerKind::affine: {
        float* y = ws.y[i].data();
        const int64_t features = int64_t(l.scale.size()), n = b * l.out;
        for (int64_t j = 0; j < n; ++j) {
          const int64_t f = j % features;
          y[j] = l.divide ? (h[j] - l.shift[f]) / l.scale[f] : h[j] * l.scale[f] + l.shift[f];
        }
        break;
      }
      case LayerKind::dropout:
        if (training) {  // the Python layer's seed sequence: base * 1000003 + masks drawn so far
          const uint64_t seed = math::dropout_step_seed(l.seed, dropout_calls[dropout]++);
          if (l.channels > 0)
            spatial_dropout_forward<float>(ws.y[i].data(), ws.mask[i].data(), h, b, l.out / l.channels, l.channels,
                                           l.rate, seed, first_row);
          else
            dropout_forward_at<float>(ws.y[i].data(), ws.mask[i].data(), h, b * l.out, l.rate, seed, first_row * l.out);
        } else {
          out = h;
        }
        ++dropout;
        break;
      case LayerKind::add: {  // ((x0 + x1) + x2) ...: the Python layer's order
        float* y = ws.y[i].data();
        const int64_t n = b * l.out;
        const float* x1 = sources_[i].size() > 1 ? input_of(ws, x, i, 1) : nullptr;
        for (int64_t e = 0; e < n; ++e) y[e] = x1 ? h[e] + x1[e] : h[e];
        for (size_t k = 2; k < sources_[i].size(); ++k) {
          const float* xk = input_of(ws, x, i, k);
          for (int64_t e = 0; e < n; ++e) y[e] += xk[e];
        }
        break;
      }
      case LayerKind::concat: {
        float* y = ws.y[i].data();
        int64_t offset = 0;
        for (size_t k = 0; k < sources_[i].size(); ++k) {
          const int64_t j = sources_[i][k], w = j < 0 ? inputs() : layers_[j].out;
          const float* xk = input_of(ws, x, i, k);
          for (int64_t r = 0; r < b; ++r) std::memcpy(y + r * l.out + offset, xk + r * w, sizeof(float) * w);
          offset += w;
        }
        break;
      }
      case LayerKind::batch_norm: {
        const bool batch_stats = training && l.trainable;
        // the moving statistics change only while training, when the caller's buffer is writable
        float* moving = const_cast<float*>(params) + l.stats_offset;
        const int64_t f = norm_features(l);
        batch_norm_forward<float>(ws.y[i].data(), ws.stats[i].data(), ws.stats[i].data() + f, h, b * (l.out / f), f,
                                  l.kernel_offset >= 0 ? params + l.kernel_offset : nullptr,
                                  l.bias_offset >= 0 ? params + l.bias_offset : nullptr, moving, moving + f,
                                  l.momentum, l.epsilon, batch_stats);
        break;
      }
      case LayerKind::layer_norm:
        layer_norm_forward<float>(ws.y[i].data(), ws.stats[i].data(), ws.stats[i].data() + b, h, b, l.out,
                                  l.kernel_offset >= 0 ? params + l.kernel_offset : nullptr,
                                  l.bias_offset >= 0 ? params + l.bias_offset : nullptr, l.epsilon);
        break;
    }
    ws.out[i] = out;
  }
  return ws.out.back();
}

// Loss phase: per-sample losses (times the sample weights) and d(mean loss)/d(prediction); the
// prediction is the last layer's logits when a softmax is folded into the cross-entropy.
double Network::loss(Workspace& ws, int64_t b, int64_t whole, bool weighted) const {
  const int64_t out = outputs();
  const float scale = float(1.0 / double(whole));
  const size_t last = layers_.size() - 1;
  const LayerSpec& top = layers_[last];
  const float* pred;
  if (!loss_.fused_softmax) pred = ws.out[last];
  else if (has_weights(top)) pred = ws.z[last].data();
  else pred = input_of(ws, ws.x.data(), last);  // an Activation('softmax') layer's input
  const bool logits = loss_.from_logits || loss_.fused_softmax;
  const float* w = weighted ? ws.weights.data() : nullptr;
  float* loss = ws.loss.data();
  float* d = ws.dpred.data();
  switch (loss_.kind) {
    case LossKind::sparse_categorical_crossentropy:
      sparse_categorical_crossentropy<float>(loss, d, pred, ws.labels.data(), w, b, out, logits, scale);
      break;
    case LossKind::categorical_crossentropy:
      categorical_crossentropy<float>(loss, d, pred, ws.targets.data(), w, b, out, logits, scale);
      break;
    default:
      elementwise_loss<float>(loss, d, pred, ws.targets.data(), w, b, out, loss_.kind, logits, loss_.delta, scale);
  }
  double sum = 0;  // in order, in double: as the Python path sums the per-sample losses
  for (int64_t i = 0; i < b; ++i) sum += loss[i];
  return sum / double(whole);
}

double Network::penalties(const float* params) const {
  double total = 0;  // per layer in the buffer's order, kernel then bias, as the Python layers add them up
  for (int64_t i : weight_owners_) {
    const LayerSpec& l = layers_[i];
    double layer = 0.0;
    if (l.kernel_penalty.any())
      layer += weight_penalty(params + l.kernel_offset, kernel_values(l), l.kernel_penalty.l1, l.kernel_penalty.l2);
    if (l.bias_offset >= 0 && l.bias_penalty.any())
      layer += weight_penalty(params + l.bias_offset, bias_values(l), l.bias_penalty.l1, l.bias_penalty.l2);
    total += layer;
  }
  return total;
}

void Network::add_penalty_gradients(const float* params, float* grads) const {
  for (int64_t i : weight_owners_) {
    const LayerSpec& l = layers_[i];
    if (!l.trainable) continue;
    if (l.kernel_penalty.any())
      add_penalty_gradient(grads + l.kernel_offset, params + l.kernel_offset, kernel_values(l), l.kernel_penalty.l1,
                           l.kernel_penalty.l2);
    if (l.bias_offset >= 0 && l.bias_penalty.any())
      add_penalty_gradient(grads + l.bias_offset, params + l.bias_offset, bias_values(l), l.bias_penalty.l1,
                           l.bias_penalty.l2);
  }
}

namespace {

// The fused update of one variable's block [offset, offset + n): the penalty's gradient, clipping
// by value, then the rule; per element exactly what add_penalty_gradients + optimizer_step do.
void update_block(const UpdateStep& u, const Penalty& penalty, float* params, float* g, int64_t offset, int64_t n) {
  if (penalty.any())
    detail::add_penalty_gradient_range(g, params + offset, n, float(penalty.l1), float(2.0 * penalty.l2));
  if (u.spec->clip == ClipKind::value) detail::clip_by_value_range(g, n, float(u.spec->clip_threshold));
  apply_update_serial(u, params, g, offset, n);
}

// A convolution's (or transposed one's) complete kernel and bias gradients: updated when fused,
// then reported to `ready`, bias first (TrainRun::gradient_ready).
void finish_windowed_weights(const LayerSpec& l, float* params, float* grads, const UpdateStep* update,
                             const std::function<void(int64_t, int64_t)>* ready) {
  if (update) {
    update_block(*update, l.kernel_penalty, params, grads + l.kernel_offset, l.kernel_offset, kernel_values(l));
    if (l.bias_offset >= 0)
      update_block(*update, l.bias_penalty, params, grads + l.bias_offset, l.bias_offset, bias_values(l));
  }
  if (ready) {
    if (l.bias_offset >= 0) (*ready)(l.bias_offset, bias_values(l));
    (*ready)(l.kernel_offset, kernel_values(l));
  }
}

// GemmFusion::tile_done of a weight-gradient GEMM: updates the kernel entries of a finished block
// of rows while their gradient is in cache.
struct KernelTiles {
  const UpdateStep* update;
  const Penalty* penalty;
  float* params;
  int64_t kernel_offset;
};

void update_kernel_rows(void* context, float* C, int64_t ldc, int64_t i0, int64_t j0, int64_t rows,
                        int64_t cols) {
  const KernelTiles& k = *static_cast<const KernelTiles*>(context);
  for (int64_t i = i0; i < i0 + rows; ++i)
    update_block(*k.update, *k.penalty, k.params, C + i * ldc + j0, k.kernel_offset + i * ldc + j0, cols);
}

}  // namespace

const float* Network::activated(const Workspace& ws, size_t i) const {
  return relu_in_place(layers_[i]) ? ws.z[i].data() : ws.y[i].data();
}

void Network::pool_forward_images(Workspace& ws, size_t i, const float* x, int64_t first, int64_t count) const {
  const LayerSpec& l = layers_[i];
  Window2D g = l.window;
  g.n = count;
  float* y = ws.y[i].data() + first * l.out;
  if (l.kind == LayerKind::max_pool) max_pool_forward<float>(y, ws.argmax[i].data() + first * l.out, x + first * l.in, g);
  else avg_pool_forward<float>(y, x + first * l.in, g);
}

void Network::pool_backward_images(Workspace& ws, size_t i, const float* d, float* dx_all, bool activation_below,
                                   int64_t first, int64_t count) const {
  const LayerSpec& l = layers_[i];
  const size_t j = size_t(sources_[i][0]);  // the layer below
  const LayerSpec& down = layers_[j];
  for (int64_t n = first; n < first + count; ++n) {
    float* dx = dx_all + n * l.in;
    if (activation_below && l.kind == LayerKind::max_pool &&  // (tiling windows: one pass, no dx)
        max_pool_backward_activation_image<float>(ws.dz[j].data() + n * l.in, d + n * l.out,
                                                  ws.argmax[i].data() + n * l.out, l.window, ws.z[j].data() + n * l.in,
                                                  activated(ws, j) + n * l.in, down.activation, down.alpha))
      continue;
    if (l.kind == LayerKind::max_pool)
      max_pool_backward_image<float>(dx, d + n * l.out, ws.argmax[i].data() + n * l.out, l.window);
    else
      avg_pool_backward_image<float>(dx, d + n * l.out, l.window);
    if (activation_below) {  // (as activation_backward: denormals flushed)
      detail::ScopedFlushDenormals ftz;
      detail::elementwise_activation_grad<float>(ws.dz[j].data() + n * l.in, dx, ws.z[j].data() + n * l.in,
                                                 activated(ws, j) + n * l.in, l.in, down.activation, down.alpha);
    }
  }
}

// Backward phase, last layer to first; each layer's gradient w.r.t. its output is complete once
// every layer that reads it has given its part (a sum when several do: fan-out).
// Dense: dz = d * activation'(z) (already done when the layer above fused it into its GEMM);
// the gradient for the layer below, dz W^T, first (it needs W before the update), with the
// activation gradient of a dense layer below applied to each tile while it is in L1 (when that
// layer's output has no other reader); then dW = h^T dz and db = the column sums of dz (summed
// while dz is packed), with `update` applied to each row panel of dW as the GEMM finishes it.
// A frozen layer gets no weight gradient.
void Network::backward(float* params, float* grads, Workspace& ws, int64_t b, const UpdateStep* update,
                       const std::function<void(int64_t, int64_t)>* ready) const {
  const size_t last = layers_.size() - 1;
  const float* x = ws.x.data();
  std::fill(ws.grad.begin(), ws.grad.end(), nullptr);
  std::fill(ws.grad_is_dz.begin(), ws.grad_is_dz.end(), 0);
  std::fill(ws.weights_done.begin(), ws.weights_done.end(), 0);
  ws.grad[last] = ws.dpred.data();
  for (size_t i = last + 1; i-- > 0;) {
    const LayerSpec& l = layers_[i];
    const float* d = ws.grad[i];
    if (!d) continue;  // (an output nothing reads)
    const bool d_is_dz = ws.grad_is_dz[i];
    const bool folded = i == last && loss_.fused_softmax;  // the loss gave the logits' gradient
    const float* input = input_of(ws, x, i);
    const int64_t src = sources_[i][0];
    switch (l.kind) {
      case LayerKind::dense: {
        const float* dz = d;
        if (has_activation(l) && !folded && !d_is_dz) {
          activation_backward<float>(ws.dz[i].data(), d, ws.z[i].data(), activated(ws, i), b, l.out, l.activation,
                                     l.alpha);
          dz = ws.dz[i].data();
        }
        if (src >= 0) {
          const LayerSpec& down = layers_[src];
          GemmFusion<float> through;
          through.bf16 = l.bf16;
          float* dh = gradient_target(ws, src);
          const bool fuse_below = consumers_[src] == 1 && fusable_below(down);
          if (fuse_below) {
            through.activation = down.activation;
            through.alpha = down.alpha;
            through.grad_x = ws.z[src].data();
            through.grad_y = activated(ws, size_t(src));
            dh = ws.dz[src].data();
          }
          gemm<float>(row_major(dh, b, l.in), row_major(dz, b, l.out),
                      row_major(static_cast<const float*>(params + l.kernel_offset), l.in, l.out).transposed(), 0.0f,
                      nullptr, through);
          give(ws, src, dh, b, fuse_below);
        }
        if (!l.trainable) break;
        KernelTiles tiles{update, &l.kernel_penalty, params, l.kernel_offset};
        GemmFusion<float> params_grad;
        params_grad.bf16 = l.bf16;
        if (update) {
          params_grad.tile_done = &update_kernel_rows;
          params_grad.context = &tiles;
        }
        // a shared layer: the first call in backward writes the gradient, each other call's part is
        // added in once complete (as the Python path sums its calls' gradients); never fused
        const bool part = ws.weights_done[owner_[i]];
        ws.weights_done[owner_[i]] = 1;
        float* dw = part ? ws.shared_grad.data() : grads + l.kernel_offset;
        float* db = part ? dw + l.in * l.out : grads + l.bias_offset;
        if (l.bias_offset >= 0) params_grad.b_column_sums = db;
        gemm<float>(row_major(dw, l.in, l.out), row_major(input, b, l.in).transposed(),
                    row_major(dz, b, l.out), 0.0f, nullptr, params_grad);
        if (part) {
          const int64_t n = l.in * l.out + (l.bias_offset >= 0 ? l.out : 0);
          float* kernel = grads + l.kernel_offset;
          for (int64_t e = 0; e < l.in * l.out; ++e) kernel[e] += dw[e];
          for (int64_t e = l.in * l.out; e < n; ++e) grads[l.bias_offset + e - l.in * l.out] += dw[e];
        }
        if (update && l.bias_offset >= 0)
          update_block(*update, l.bias_penalty, params, grads + l.bias_offset, l.bias_offset, l.out);
        if (ready) {  // bias first: variables are reported from the buffer's end down
          if (l.bias_offset >= 0) (*ready)(l.bias_offset, l.out);
          (*ready)(l.kernel_offset, l.in * l.out);
        }
        break;
      }
      case LayerKind::conv: {
        const float* dz = d;
        if (has_activation(l) && !folded && !d_is_dz) {
          activation_backward<float>(ws.dz[i].data(), d, ws.z[i].data(), activated(ws, i), b * l.out / conv_filters(l),
                                     conv_filters(l), l.activation, l.alpha);
          dz = ws.dz[i].data();
        }
        const int64_t filters = conv_filters(l);
        // the pooling layer above writes each chunk's rows of dz right before they are read
        PoolAbove above{};
        ChunkHook pool_above;
        if (i + 1 < layers_.size() && pools_in_conv_[i + 1]) {
          above = {this, &ws, i + 1, ws.grad[i + 1], ws.dy[i].data(), has_activation(l)};
          dz = has_activation(l) ? ws.dz[i].data() : ws.dy[i].data();
          pool_above = {&PoolAbove::backward, &above};
        }
        float* dx = src >= 0 ? gradient_target(ws, src) : nullptr;
        conv2d_backward<float>(l.trainable ? grads + l.kernel_offset : nullptr,
                               l.trainable && l.bias_offset >= 0 ? grads + l.bias_offset : nullptr, dx, dz, input,
                               params + l.kernel_offset, batch_window(l, b), filters, l.groups, pool_above, l.bf16);
        if (dx) give(ws, src, dx, b);
        if (!l.trainable) break;
        finish_windowed_weights(l, params, grads, update, ready);  // (after dx, which reads the kernel)
        break;
      }
      case LayerKind::conv_transpose: {
        const int64_t channels = l.window.c, positions = b * l.window.h * l.window.w;
        const float* dz = d;
        if (has_activation(l) && !folded && !d_is_dz) {
          activation_backward<float>(ws.dz[i].data(), d, ws.z[i].data(), ws.y[i].data(), positions, channels,
                                     l.activation, l.alpha);
          dz = ws.dz[i].data();
        }
        // the Python layer's order: the kernel's gradient, the bias', then the input's
        const Window2D g = batch_window(l, b);
        const float* kernel = params + l.kernel_offset;
        if (l.trainable) {
          conv2d_backward<float>(grads + l.kernel_offset, nullptr, nullptr, input, dz, kernel, g, conv_filters(l), 1);
          if (l.bias_offset >= 0) column_sums<float>(grads + l.bias_offset, dz, positions, channels, 0.0f);
        }
        if (src >= 0) {
          float* dx = gradient_target(ws, src);
          conv2d_forward<float>(dx, dz, kernel, nullptr, g, conv_filters(l), 1);
          give(ws, src, dx, b);
        }
        if (!l.trainable) break;
        finish_windowed_weights(l, params, grads, update, ready);  // (after dx, which reads the kernel)
        break;
      }
      case LayerKind::shift:
      case LayerKind::upsample:
        if (src >= 0) {
          const Window2D& g = l.window;
          float* dx = gradient_target(ws, src);
          if (l.kind == LayerKind::shift) shift_image<float>(dx, d, b, g.oh, g.ow, g.c, g.h, g.w, -g.pt, -g.pl);
          else upsample_backward<float>(dx, d, b, g.h, g.w, g.c, g.sh, g.sw);
          give(ws, src, dx, b);
        }
        break;
      case LayerKind::max_pool:
      case LayerKind::avg_pool:
        if (pools_in_conv_[i]) {  // the convolution below runs it, chunk by chunk: hand it d
          ws.grad[src] = d;
          ws.grad_is_dz[src] = 1;
        } else if (src >= 0) {
          // Image by image; the element-wise activation gradient of a convolution below (when this
          // layer is its only reader) follows each image while its gradient is in cache.
          const LayerSpec& down = layers_[src];
          const bool fuse_below = consumers_[src] == 1 && down.kind == LayerKind::conv && has_activation(down) &&
                                  is_elementwise(down.activation);
          float* dx = gradient_target(ws, src);
          const int nt = detail::threads_for(b * l.in, detail::kElementGrain);
#pragma omp parallel for num_threads(nt) schedule(static)
          for (int64_t n = 0; n < b; ++n) pool_backward_images(ws, i, d, dx, fuse_below, n, 1);
          give(ws, src, fuse_below ? ws.dz[src].data() : dx, b, fuse_below);
        }
        break;
      case LayerKind::activation:
        if (folded || !has_activation(l)) {
          give(ws, src, d, b);  // the loss already took the softmax's gradient; linear passes d through
        } else if (src >= 0) {
          float* dx = gradient_target(ws, src);
          activation_backward<float>(dx, d, input, ws.y[i].data(), b, l.out, l.activation, l.alpha);
          give(ws, src, dx, b);
        }
        break;
      case LayerKind::affine:
        if (src >= 0) {
          float* dx = gradient_target(ws, src);
          const int64_t features = int64_t(l.scale.size()), n = b * l.out;
          for (int64_t j = 0; j < n; ++j) dx[j] = l.divide ? d[j] / l.scale[j % features] : d[j] * l.scale[j % features];
          give(ws, src, dx, b);
        }
        break;
      case LayerKind::dropout:
        if (src >= 0) {
          float* dx = gradient_target(ws, src);
          dropout_backward<float>(dx, d, ws.mask[i].data(), b * l.out, l.rate);
          give(ws, src, dx, b);
        }
        break;
      case LayerKind::add:
        for (int64_t j : sources_[i]) give(ws, j, d, b);
        break;
      case LayerKind::concat: {
        int64_t offset = 0;
        for (int64_t j : sources_[i]) {
          const int64_t w = j < 0 ? inputs() : layers_[j].out;
          if (j >= 0) {
            float* dx = gradient_target(ws, j);
            for (int64_t r = 0; r < b; ++r) std::memcpy(dx + r * w, d + r * l.out + offset, sizeof(float) * w);
            give(ws, j, dx, b);
          }
          offset += w;
        }
        break;
      }
      case LayerKind::batch_norm:
      case LayerKind::layer_norm: {
        const bool batch = l.kind == LayerKind::batch_norm;
        float* dx = src >= 0 ? gradient_target(ws, src) : nullptr;
        float* dgamma = l.trainable && l.kernel_offset >= 0 ? grads + l.kernel_offset : nullptr;
        float* dbeta = l.trainable && l.bias_offset >= 0 ? grads + l.bias_offset : nullptr;
        const float* gamma = l.kernel_offset >= 0 ? params + l.kernel_offset : nullptr;
        const float* stats = ws.stats[i].data();
        const int64_t f = norm_features(l);
        if (batch)
          batch_norm_backward<float>(dx, dgamma, dbeta, d, input, stats, stats + f, gamma, b * (l.out / f), f,
                                     l.trainable);
        else
          layer_norm_backward<float>(dx, dgamma, dbeta, d, input, stats, stats + b, gamma, b, l.out);
        if (dx) give(ws, src, dx, b);  // (before the update: dx reads gamma)
        if (update) {
          if (dgamma) update_block(*update, Penalty{}, params, dgamma, l.kernel_offset, f);
          if (dbeta) update_block(*update, Penalty{}, params, dbeta, l.bias_offset, f);
        }
        if (ready) {
          if (dbeta) (*ready)(l.bias_offset, f);
          if (dgamma) (*ready)(l.kernel_offset, f);
        }
        break;
      }
    }
  }
}

void Network::announce_gradients(const std::function<void(int64_t, int64_t)>& ready) const {
  for (size_t i = layers_.size(); i-- > 0;) {
    const LayerSpec& l = layers_[i];
    if (!l.trainable) continue;
    if (has_weights(l)) {
      if (l.bias_offset >= 0) ready(l.bias_offset, bias_values(l));
      ready(l.kernel_offset, kernel_values(l));
    } else if (l.kind == LayerKind::batch_norm || l.kind == LayerKind::layer_norm) {
      if (l.bias_offset >= 0) ready(l.bias_offset, norm_features(l));
      if (l.kernel_offset >= 0) ready(l.kernel_offset, norm_features(l));
    }
  }
}

void Network::predict(const float* params, const float* x, int64_t n, int64_t batch_size, float* out) {
  std::lock_guard<std::mutex> lock(busy_);
  const int64_t in = inputs(), outs = outputs();
  for (int64_t start = 0; start < n; start += batch_size) {
    const int64_t b = std::min(batch_size, n - start);
    const float* y = forward(params, x + start * in, workspace(b), b, false, nullptr);  // reads the rows in place
    std::memcpy(out + start * outs, y, sizeof(float) * b * outs);
  }
}

int64_t Network::train(float* params, float* grads, int64_t n_params, OptimizerSpec& opt, TrainRun& run) {
  std::lock_guard<std::mutex> lock(busy_);
  // Backward and update fuse unless something needs the whole gradient first.
  const bool fuse = !run.reduce && run.shards == 1 && opt.clip != ClipKind::norm && opt.clip != ClipKind::global_norm &&
                    !shares_weights_;  // a shared layer's gradient is complete after its last call
  int64_t k = 0;
  for (int64_t start = 0; start < run.count; start += run.batch_size, ++k) {
    if (k > 0 && run.stop && run.stop()) break;
    const int64_t whole = std::min(run.batch_size, run.count - start);
    const int64_t first = whole * run.shard / run.shards, b = whole * (run.shard + 1) / run.shards - first;
    const double lr = run.learning_rates ? run.learning_rates[k] : opt.learning_rate;
    // the penalties of the weights this step saw, counted once across processes
    const double penalty = run.shard == 0 ? penalties(params) : 0.0;
    if (b == 0) {  // an empty shard: no gradient of its own, but the step's masks are drawn
      for (int d = 0; d < dropouts_; ++d) ++run.dropout_calls[d];
      std::fill(grads, grads + n_params, 0.0f);
      if (run.gradient_ready) announce_gradients(run.gradient_ready);
      run.batch_loss[k] = penalty;
    } else {
      Workspace& ws = workspace(b);
      gather(ws, run, run.order + start + first, b);
      const float* pred = forward(params, ws.x.data(), ws, b, true, run.dropout_calls, first);
      run.batch_loss[k] = loss(ws, b, whole, run.sample_weight != nullptr) + penalty;
      if (run.predictions)
        std::memcpy(run.predictions + (start + first) * outputs(), pred, sizeof(float) * b * outputs());
      if (!fuse) backward(params, grads, ws, b, nullptr, run.gradient_ready ? &run.gradient_ready : nullptr);
    }
    if (fuse) {  // one process: b == whole
      const UpdateStep u = begin_update(opt, lr);
      backward(params, grads, workspace(b), b, &u);
    } else {
      if (run.reduce) run.reduce(grads, n_params);
      add_penalty_gradients(params, grads);
      optimizer_step(opt, lr, params, grads, trainable_);
    }
  }
  return k;
}

}  // namespace brisknet
