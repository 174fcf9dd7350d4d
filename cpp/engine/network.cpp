// The training engine: one call runs forward, loss, backward and the optimizer update for a run
// of batches, with the same kernels, in the same order and with the same arguments as the Python
// reference path, so the weights are bit-identical to it.
#include "brisknet/engine.h"

#include <cmath>
#include <algorithm>
#include <cstring>
#include <stdexcept>

namespace brisknet {

Network::Network(std::vector<DenseSpec> layers, LossSpec loss, AccuracyKind accuracy)
    : layers_(std::move(layers)), loss_(loss), accuracy_(accuracy) {
  if (layers_.empty()) throw std::invalid_argument("Network: no layers");
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
  ws.loss.resize(b);
  ws.dpred.resize(b * out);
  for (const DenseSpec& l : layers_) {
    ws.z.emplace_back(b * l.out);
    ws.y.emplace_back(l.activation == Activation::linear ? 0 : b * l.out);
    ws.dz.emplace_back(l.activation == Activation::linear ? 0 : b * l.out);
    ws.dx.emplace_back(b * l.in);
  }
  return ws;
}

const float* Network::output(const Workspace& ws, size_t i) const {
  return layers_[i].activation == Activation::linear ? ws.z[i].data() : ws.y[i].data();
}

void Network::gather(Workspace& ws, const float* x, Targets y, const int64_t* rows, int64_t b) const {
  const int64_t in = inputs(), out = outputs();
  for (int64_t r = 0; r < b; ++r) {
    std::memcpy(ws.x.data() + r * in, x + rows[r] * in, sizeof(float) * in);
    if (y.labels) ws.labels[r] = y.labels[rows[r]];
    else std::memcpy(ws.targets.data() + r * out, y.values + rows[r] * out, sizeof(float) * out);
  }
}

// Per layer: z = h W + b (bias in the GEMM epilogue), then y = activation(z).
const float* Network::forward(const float* params, const float* x, Workspace& ws, int64_t b,
                              bool in_place) const {
  const float* h = x;
  for (size_t i = 0; i < layers_.size(); ++i) {
    const DenseSpec& l = layers_[i];
    float* z = ws.z[i].data();
    GemmFusion<float> fused;  // an element-wise activation runs on each tile of z while it is in L1
    const bool separate = !is_elementwise(l.activation);
    if (l.activation != Activation::linear && !separate) {
      fused.activation = l.activation;
      fused.alpha = l.alpha;
      fused.activation_out = in_place ? z : ws.y[i].data();
    }
    gemm<float>(z, l.out, h, l.in, 1, params + l.kernel_offset, l.out, 1, b, l.out, l.in, 0.0f,
                l.bias_offset >= 0 ? params + l.bias_offset : nullptr, fused);
    if (separate) activation_forward<float>(ws.y[i].data(), z, b, l.out, l.activation, l.alpha);
    h = in_place && !separate ? z : output(ws, i);
  }
  return h;
}

double Network::loss_and_gradient(Workspace& ws, int64_t b) const {
  const int64_t out = outputs();
  const float scale = float(1.0 / double(b));
  const size_t last = layers_.size() - 1;
  const float* pred = loss_.fused_softmax ? ws.z[last].data() : output(ws, last);
  const bool logits = loss_.from_logits || loss_.fused_softmax;
  float* loss = ws.loss.data();
  float* d = ws.dpred.data();
  switch (loss_.kind) {
    case LossKind::sparse_crossentropy:
      sparse_categorical_crossentropy<float>(loss, d, pred, ws.labels.data(), nullptr, b, out, logits, scale);
      break;
    case LossKind::crossentropy:
      categorical_crossentropy<float>(loss, d, pred, ws.targets.data(), nullptr, b, out, logits, scale);
      break;
    default: {  // the element-wise losses
      const ElementwiseLoss kind =
          loss_.kind == LossKind::binary_crossentropy ? ElementwiseLoss::binary_crossentropy
          : loss_.kind == LossKind::mean_squared_error ? ElementwiseLoss::mean_squared_error
          : loss_.kind == LossKind::mean_absolute_error ? ElementwiseLoss::mean_absolute_error
                                                        : ElementwiseLoss::huber;
      elementwise_loss<float>(loss, d, pred, ws.targets.data(), nullptr, b, out, kind, logits,
                              loss_.delta, scale);
    }
  }
  double sum = 0;  // in order, in double: as the Python path sums the per-sample losses
  for (int64_t i = 0; i < b; ++i) sum += loss[i];
  return sum / double(b);
}

namespace {
// numpy's argmax: the first maximum, or the first NaN.
int64_t argmax(const float* v, int64_t n) {
  int64_t best = 0;
  for (int64_t j = 0; j < n; ++j) {
    if (std::isnan(v[j])) return j;
    if (v[j] > v[best]) best = j;
  }
  return best;
}
}  // namespace

double Network::correct(const Workspace& ws, int64_t b) const {
  if (accuracy_ == AccuracyKind::none) return 0;
  const int64_t out = outputs();
  const float* pred = output(ws, layers_.size() - 1);
  int64_t hits = 0;
  for (int64_t r = 0; r < b; ++r) {
    const float* p = pred + r * out;
    switch (accuracy_) {
      case AccuracyKind::sparse: hits += argmax(p, out) == ws.labels[r]; break;
      case AccuracyKind::categorical: hits += argmax(p, out) == argmax(ws.targets.data() + r * out, out); break;
      case AccuracyKind::binary: hits += (p[0] > 0.5f) == (ws.targets[r] > 0.5f); break;  // one output
      case AccuracyKind::none: break;
    }
  }
  return double(hits);
}

namespace {

// The optimizer update of one step, applied block by block: the scalars that depend only on the
// step count are computed once, in double, with the same expressions as the Python path.
struct StepUpdate {
  const OptimizerSpec& opt;
  float* params;
  float alpha;  // Adam's bias-corrected learning rate

  StepUpdate(OptimizerSpec& o, float* p) : opt(o), params(p), alpha(0) {
    const int64_t t = ++o.step;
    if (o.kind == OptimizerSpec::adam)
      alpha = float(o.learning_rate * std::sqrt(1.0 - std::pow(o.beta_2, double(t))) /
                    (1.0 - std::pow(o.beta_1, double(t))));
  }
  // Parameters [offset, offset + n) from their gradient g; `serial`: on this thread alone (the
  // caller is a GEMM thread), else split over threads like the Python path's update.
  void apply(int64_t offset, const float* g, int64_t n, bool serial) const {
    float* p = params + offset;
    float* m = opt.m ? opt.m + offset : nullptr;
    if (opt.kind == OptimizerSpec::adam) {
      float* vhat = opt.vhat ? opt.vhat + offset : nullptr;
      const float decay = float(opt.learning_rate * opt.weight_decay);
      (serial ? adam_step_serial<float> : adam_step<float>)(p, m, opt.v + offset, vhat, g, n, alpha,
          float(opt.beta_1), float(opt.beta_2), float(opt.epsilon), decay);
    } else {
      (serial ? sgd_step_serial<float> : sgd_step<float>)(p, m, g, n, float(opt.learning_rate),
                                                          float(opt.momentum), opt.nesterov);
    }
  }
};

// GemmFusion::tile_done for a weight-gradient GEMM: updates the kernel entries of a finished
// block of rows while their gradient is in cache.
struct KernelTiles {
  const StepUpdate* step;
  int64_t kernel_offset;
};

void update_kernel_rows(void* context, float* C, int64_t ldc, int64_t i0, int64_t j0, int64_t rows,
                        int64_t cols) {
  const KernelTiles& k = *static_cast<const KernelTiles*>(context);
  for (int64_t i = i0; i < i0 + rows; ++i)
    k.step->apply(k.kernel_offset + i * ldc + j0, C + i * ldc + j0, cols, true);
}

}  // namespace

// Per layer, last to first: the gradient for the layer below, (dz W^T) * activation'(its z), with
// the activation gradient applied to each tile of the product while it is in L1 (a softmax in a
// hidden layer: a second pass); then dW = h^T dz, db = the column sums of dz (summed while dz is
// packed), and the optimizer update of W applied to each row panel of dW as the GEMM finishes it,
// so the gradient is consumed while in cache. dz W^T goes first: it needs W before its update.
// The last layer's dz comes from the loss gradient through its activation, unless the loss
// already folded a softmax in. Element for element, the same arithmetic as the Python path.
void Network::backward_and_update(float* params, float* grads, Workspace& ws, int64_t b,
                                  OptimizerSpec& opt) const {
  const StepUpdate step(opt, params);
  const size_t last = layers_.size() - 1;
  const DenseSpec& top = layers_[last];
  const float* dz = ws.dpred.data();
  if (top.activation != Activation::linear && !loss_.fused_softmax) {
    activation_backward<float>(ws.dz[last].data(), dz, ws.z[last].data(), ws.y[last].data(), b, top.out,
                               top.activation, top.alpha);
    dz = ws.dz[last].data();
  }
  for (size_t i = last;; --i) {
    const DenseSpec& l = layers_[i];
    const float* dz_below = nullptr;
    if (i > 0) {
      const DenseSpec& below = layers_[i - 1];
      GemmFusion<float> through;
      float* dh = ws.dx[i].data();
      if (below.activation != Activation::linear && is_elementwise(below.activation)) {
        through.activation = below.activation;
        through.alpha = below.alpha;
        through.grad_x = ws.z[i - 1].data();
        through.grad_y = ws.y[i - 1].data();
        dh = ws.dz[i - 1].data();
      }
      gemm<float>(dh, l.in, dz, l.out, 1, params + l.kernel_offset, 1, l.out, b, l.in, l.out, 0.0f,
                  nullptr, through);
      dz_below = dh;
      if (!is_elementwise(below.activation)) {
        activation_backward<float>(ws.dz[i - 1].data(), dh, ws.z[i - 1].data(), ws.y[i - 1].data(), b,
                                   below.out, below.activation, below.alpha);
        dz_below = ws.dz[i - 1].data();
      }
    }

    const float* h = i == 0 ? ws.x.data() : output(ws, i - 1);
    KernelTiles tiles{&step, l.kernel_offset};
    GemmFusion<float> params_grad;
    params_grad.tile_done = &update_kernel_rows;
    params_grad.context = &tiles;
    if (l.bias_offset >= 0) params_grad.b_column_sums = grads + l.bias_offset;
    gemm<float>(grads + l.kernel_offset, l.out, h, 1, l.in, dz, l.out, 1, l.in, l.out, b, 0.0f, nullptr,
                params_grad);
    if (l.bias_offset >= 0) step.apply(l.bias_offset, grads + l.bias_offset, l.out, false);
    if (i == 0) break;
    dz = dz_below;
  }
}

void Network::predict(const float* params, const float* x, int64_t n, int64_t batch_size, float* out) {
  std::lock_guard<std::mutex> lock(busy_);
  const int64_t in = inputs(), outs = outputs();
  for (int64_t start = 0; start < n; start += batch_size) {
    const int64_t b = std::min(batch_size, n - start);
    const float* y = forward(params, x + start * in, workspace(b), b, true);  // reads the rows in place
    std::memcpy(out + start * outs, y, sizeof(float) * b * outs);
  }
}

int64_t Network::train_batches(float* params, float* grads, OptimizerSpec& opt,
                               const float* x, Targets y, const int64_t* order, int64_t count,
                               int64_t batch_size, double* batch_loss, double* batch_correct,
                               const std::function<bool()>& stop) {
  std::lock_guard<std::mutex> lock(busy_);
  int64_t k = 0;
  for (int64_t start = 0; start < count; start += batch_size, ++k) {
    if (k > 0 && stop && stop()) break;
    const int64_t b = std::min(batch_size, count - start);
    if (opt.learning_rates) opt.learning_rate = opt.learning_rates[k];
    Workspace& ws = workspace(b);
    gather(ws, x, y, order + start, b);
    forward(params, ws.x.data(), ws, b, false);
    batch_loss[k] = loss_and_gradient(ws, b);
    batch_correct[k] = correct(ws, b);
    backward_and_update(params, grads, ws, b, opt);
  }
  return k;
}

}  // namespace brisknet
