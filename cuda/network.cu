// The CUDA engine: brisknet/engine.h's chain of layers trained on one GPU, step for step what
// cpp/engine/network.cpp does on the CPU (gather -> forward -> loss + penalties -> backward ->
// update), each phase a few kernels on one stream.
//
// A run's whole batches are one CUDA graph (its steps captured back to back), launched once; a
// partial last batch is a second. What changes between steps and runs (the step number, hence the
// rows gathered, the learning rate, the dropout masks' counters, the optimizer's step count) is
// read from device memory, so a graph is captured once per (batch size, steps per run) and
// replayed by every later run of that shape (fit's runs are alike but for an epoch's last), and
// nothing waits for the GPU until the run's losses and predictions are copied back at its end.
// A graph is captured again only when a buffer it reads has moved (a longer run, new data) or the
// optimizer's settings changed.
#include <cstring>
#include <map>
#include <string>

#include "api.h"
#include "kernels.cuh"

namespace brisknet::cuda {
namespace {

bool has_activation(const LayerSpec& l) { return l.activation != Activation::linear; }
// A dense layer whose activation gradient the GEMM above it applies in its epilogue.
bool fusable_below(const LayerSpec& l) {
  return l.kind == LayerKind::dense && has_activation(l) && is_elementwise(l.activation);
}

class DeviceGuard {  // the network's device current for the call, the caller's restored after
 public:
  explicit DeviceGuard(int device) {
    BRISKNET_CUDA_CHECK(cudaGetDevice(&previous_));
    if (previous_ != device) BRISKNET_CUDA_CHECK(cudaSetDevice(device));
  }
  ~DeviceGuard() { cudaSetDevice(previous_); }

 private:
  int previous_ = 0;
};

}  // namespace

struct Network::Impl {
  std::vector<LayerSpec> layers;
  LossSpec loss;
  int64_t n_params = 0;
  int device = 0;
  cudaStream_t stream = nullptr;

  DeviceBuffer<float> params, grads, state[kOptimizerSlots];
  bool state_set[kOptimizerSlots] = {false, false, false};
  std::vector<DeviceBuffer<float>> scale, shift;  // affine layers' constants
  std::vector<DeviceSpan> trainable_host, penalized_host;
  DeviceBuffer<DeviceSpan> trainable, penalized;
  int64_t trainable_total = 0;
  int dropouts = 0;

  // the training data
  DeviceBuffer<float> x, targets, weights;
  DeviceBuffer<int64_t> labels;
  int64_t rows = 0;
  bool data_labels = false, data_targets = false, data_weights = false;

  // a run's inputs and outputs, and the step's scalars
  DeviceBuffer<int64_t> order, calls, step, iterations;
  DeviceBuffer<double> learning_rates, u_product, penalty, scratch, batch_loss;
  DeviceBuffer<math::StepScalars> scalars;
  DeviceBuffer<float> factors, predictions;

  struct Workspace {
    DeviceBuffer<float> xb, targets, weights, loss, dpred, gemm;
    DeviceBuffer<int64_t> labels;
    std::vector<DeviceBuffer<float>> z, y, dy, dz;
    std::vector<DeviceBuffer<uint8_t>> mask;
  };
  std::map<int64_t, Workspace> workspaces;

  struct Graph {
    cudaGraphExec_t exec = nullptr;
    uint64_t generation = 0;
  };
  std::map<std::string, Graph> graphs;
  uint64_t generation = 1;  // advanced whenever a buffer a graph reads moves
  int64_t captured = 0;

  int64_t inputs() const { return layers.front().in; }
  int64_t outputs() const { return layers.back().out; }

  void moved(bool did) {
    if (did) ++generation;
  }

  Workspace& workspace(int64_t b, bool tf32) {
    auto it = workspaces.find(b);
    if (it == workspaces.end()) {
      Workspace ws;
      ws.xb.resize(b * inputs());
      ws.targets.resize(b * outputs());
      ws.weights.resize(b);
      ws.labels.resize(b);
      ws.loss.resize(b);
      ws.dpred.resize(b * outputs());
      for (const LayerSpec& l : layers) {
        const int64_t size = b * l.out;
        ws.z.emplace_back(size);
        ws.y.emplace_back(size);
        ws.dy.emplace_back(size);
        ws.dz.emplace_back(size);
        ws.mask.emplace_back(l.kind == LayerKind::dropout ? size : 0);
      }
      it = workspaces.emplace(b, std::move(ws)).first;
    }
    // the split-k parts of every GEMM of a step: reserved before a capture (no allocation inside)
    int64_t need = 0;
    for (const LayerSpec& l : layers) {
      if (l.kind != LayerKind::dense) continue;
      GemmArgs f, dx, dw;
      f.m = b, f.n = l.out, f.k = l.in;
      dx.m = b, dx.n = l.in, dx.k = l.out, dx.trans_b = true;
      dw.m = l.in, dw.n = l.out, dw.k = b, dw.trans_a = true;
      for (const GemmArgs& g : {f, dx, dw}) need = std::max(need, gemm_workspace(g, tf32));
    }
    moved(it->second.gemm.reserve(need));
    return it->second;
  }

  // The output of layer i in training (dense without activation: its z).
  static const float* output(const Workspace& ws, const std::vector<LayerSpec>& layers, size_t i) {
    const LayerSpec& l = layers[i];
    return l.kind == LayerKind::dense && !has_activation(l) ? ws.z[i].get() : ws.y[i].get();
  }

  // Forward phase; returns the last layer's output. outs[i]: each layer's output (backward's inputs).
  const float* forward(const float* h, Workspace& ws, int64_t b, bool training, bool tf32,
                       std::vector<const float*>& outs) {
    outs.assign(layers.size(), nullptr);
    int dropout = 0;
    for (size_t i = 0; i < layers.size(); ++i) {
      const LayerSpec& l = layers[i];
      switch (l.kind) {
        case LayerKind::dense: {
          GemmArgs g;
          g.m = b, g.n = l.out, g.k = l.in;
          g.a = h, g.lda = l.in;
          g.b = params.get() + l.kernel_offset, g.ldb = l.out;
          Epilogue e;
          e.bias = l.bias_offset >= 0 ? params.get() + l.bias_offset : nullptr;
          const bool separate = !is_elementwise(l.activation);  // softmax: a row-wise pass after
          if (has_activation(l) && !separate) {
            e.act = l.activation, e.alpha = l.alpha;
            e.pre = ws.z[i].get();
            g.c = ws.y[i].get();
          } else {
            g.c = ws.z[i].get();
          }
          g.ldc = l.out;
          gemm(stream, g, e, tf32, ws.gemm);
          if (separate) activation_forward(stream, ws.y[i].get(), ws.z[i].get(), b, l.out, l.activation, l.alpha);
          h = output(ws, layers, i);
          break;
        }
        case LayerKind::activation:
          activation_forward(stream, ws.y[i].get(), h, b, l.out, l.activation, l.alpha);
          h = ws.y[i].get();
          break;
        case LayerKind::affine:
          affine_forward(stream, ws.y[i].get(), h, b * l.out, scale[i].get(), shift[i].get(), int64_t(l.scale.size()),
                         l.divide);
          h = ws.y[i].get();
          break;
        case LayerKind::dropout:
          if (training) {
            dropout_forward(stream, ws.y[i].get(), ws.mask[i].get(), h, b * l.out, l.rate, l.seed, calls.get() + dropout,
                            step.get());
            h = ws.y[i].get();
          }
          ++dropout;
          break;
      }
      outs[i] = h;
    }
    return h;
  }

  // Backward phase, last layer to first, as cpp/engine/network.cpp (there with the update fused
  // into the weight-gradient GEMM where possible; here always the whole gradient first).
  void backward(Workspace& ws, int64_t b, bool tf32, const std::vector<const float*>& outs) {
    const size_t last = layers.size() - 1;
    const float* d = ws.dpred.get();
    bool d_is_dz = false;
    for (size_t i = last;; --i) {
      const LayerSpec& l = layers[i];
      const bool folded = i == last && loss.fused_softmax;
      const float* input = i == 0 ? ws.xb.get() : outs[i - 1];
      const float* below = nullptr;
      bool below_is_dz = false;
      switch (l.kind) {
        case LayerKind::dense: {
          const float* dz = d;
          if (has_activation(l) && !folded && !d_is_dz) {
            activation_backward(stream, ws.dz[i].get(), d, ws.z[i].get(), ws.y[i].get(), b, l.out, l.activation, l.alpha);
            dz = ws.dz[i].get();
          }
          if (i > 0) {
            const LayerSpec& down = layers[i - 1];
            GemmArgs g;
            g.m = b, g.n = l.in, g.k = l.out;
            g.a = dz, g.lda = l.out;
            g.b = params.get() + l.kernel_offset, g.ldb = l.out, g.trans_b = true;
            g.c = ws.dy[i - 1].get(), g.ldc = l.in;
            Epilogue through;
            if (fusable_below(down)) {
              through.through = true;
              through.act = down.activation, through.alpha = down.alpha;
              through.grad_z = ws.z[i - 1].get(), through.grad_y = ws.y[i - 1].get();
              g.c = ws.dz[i - 1].get();
              below_is_dz = true;
            }
            gemm(stream, g, through, tf32, ws.gemm);
            below = g.c;
          }
          if (!l.trainable) break;
          GemmArgs w;
          w.m = l.in, w.n = l.out, w.k = b;
          w.a = input, w.lda = l.in, w.trans_a = true;
          w.b = dz, w.ldb = l.out;
          w.c = grads.get() + l.kernel_offset, w.ldc = l.out;
          Epilogue bias_gradient;  // db = dZ's column sums, while the GEMM stages dZ
          bias_gradient.b_column_sums = l.bias_offset >= 0 ? grads.get() + l.bias_offset : nullptr;
          gemm(stream, w, bias_gradient, tf32, ws.gemm);
          break;
        }
        case LayerKind::activation:
          if (folded || !has_activation(l)) {
            below = d;
          } else if (i > 0) {
            activation_backward(stream, ws.dy[i - 1].get(), d, input, ws.y[i].get(), b, l.out, l.activation, l.alpha);
            below = ws.dy[i - 1].get();
          }
          break;
        case LayerKind::affine:
          if (i > 0) {
            affine_backward(stream, ws.dy[i - 1].get(), d, b * l.out, scale[i].get(), int64_t(l.scale.size()), l.divide);
            below = ws.dy[i - 1].get();
          }
          break;
        case LayerKind::dropout:
          if (i > 0) {
            dropout_backward(stream, ws.dy[i - 1].get(), d, ws.mask[i].get(), b * l.out, l.rate);
            below = ws.dy[i - 1].get();
          }
          break;
      }
      if (i == 0) break;
      d = below;
      d_is_dz = below_is_dz;
    }
  }

  // One training step on b rows (gathered from order at step * batch_size): every kernel on the
  // stream, nothing read back.
  void step_kernels(int64_t b, int64_t batch_size, const DeviceOptimizer& opt, bool tf32) {
    Workspace& ws = workspaces.at(b);
    const int64_t out = outputs();
    gather_rows(stream, order.get(), step.get(), batch_size, b, x.get(), inputs(), ws.xb.get(),
                data_labels ? labels.get() : nullptr, ws.labels.get(), data_targets ? targets.get() : nullptr, out,
                ws.targets.get(), data_weights ? weights.get() : nullptr, ws.weights.get());
    std::vector<const float*> outs;
    const float* pred = forward(ws.xb.get(), ws, b, true, tf32, outs);
    // the penalties of the weights this step sees, before its update
    weight_penalties(stream, penalty.get(), params.get(), penalized.get(), int(penalized_host.size()), scratch.get());
    const size_t last = layers.size() - 1;
    const float* logits = pred;
    if (loss.fused_softmax)
      logits = layers[last].kind == LayerKind::dense ? ws.z[last].get() : (last == 0 ? ws.xb.get() : outs[last - 1]);
    loss_rows(stream, loss, ws.loss.get(), ws.dpred.get(), logits, data_labels ? ws.labels.get() : nullptr,
              data_targets ? ws.targets.get() : nullptr, data_weights ? ws.weights.get() : nullptr, b, out,
              float(1.0 / double(b)));
    record_loss(stream, batch_loss.get(), step.get(), ws.loss.get(), b, b, penalty.get());
    record_predictions(stream, predictions.get(), step.get(), batch_size, pred, b, out);
    backward(ws, b, tf32, outs);
    const int n_trainable = int(trainable_host.size());
    add_penalty_gradients(stream, grads.get(), params.get(), trainable.get(), n_trainable, trainable_total);
    begin_update(stream, opt, learning_rates.get(), step.get(), iterations.get(), u_product.get(), scalars.get());
    const bool norm = opt.clip == ClipKind::norm || opt.clip == ClipKind::global_norm;
    if (norm) clip_factors(stream, opt, factors.get(), grads.get(), trainable.get(), n_trainable, scratch.get());
    apply_update(stream, opt, scalars.get(), params.get(), grads.get(), state_set[0] ? state[0].get() : nullptr,
                 state_set[1] ? state[1].get() : nullptr, state_set[2] ? state[2].get() : nullptr, trainable.get(),
                 n_trainable, trainable_total, norm ? factors.get() : nullptr);
    advance(stream, step.get());
  }

  // The graph of `steps` consecutive steps of b rows each (captured when missing or stale: the
  // step counter advances on the device between them), launched once.
  void launch_steps(int64_t steps, int64_t b, int64_t batch_size, const DeviceOptimizer& opt, bool tf32) {
    // what a graph bakes in by value: the optimizer's settings, the shapes, the GEMM variant
    std::string key;
    for (double v : {opt.beta_1, opt.beta_2, opt.epsilon, opt.rho, opt.momentum, opt.weight_decay, opt.clip_threshold})
      key.append(reinterpret_cast<const char*>(&v), sizeof(v));
    key += "|" + std::to_string(int(opt.kind)) + "|" + std::to_string(int(opt.clip)) + "|" +
           std::to_string(opt.nesterov) + "|" + std::to_string(b) + "|" + std::to_string(batch_size) + "|" +
           std::to_string(tf32) + "|" + std::to_string(state_set[0]) + std::to_string(state_set[1]) +
           std::to_string(state_set[2]) + "|" + std::to_string(steps);
    Graph& graph = graphs[key];
    if (!graph.exec || graph.generation != generation) {
      if (graph.exec) BRISKNET_CUDA_CHECK(cudaGraphExecDestroy(graph.exec));
      graph.exec = nullptr;
      cudaGraph_t captured_graph = nullptr;
      BRISKNET_CUDA_CHECK(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal));
      try {
        for (int64_t k = 0; k < steps; ++k) step_kernels(b, batch_size, opt, tf32);
      } catch (...) {
        cudaStreamEndCapture(stream, &captured_graph);
        if (captured_graph) cudaGraphDestroy(captured_graph);
        throw;
      }
      BRISKNET_CUDA_CHECK(cudaStreamEndCapture(stream, &captured_graph));
      const cudaError_t made = cudaGraphInstantiate(&graph.exec, captured_graph, 0);
      cudaGraphDestroy(captured_graph);
      BRISKNET_CUDA_CHECK(made);
      graph.generation = generation;
      ++captured;
    }
    BRISKNET_CUDA_CHECK(cudaGraphLaunch(graph.exec, stream));
  }
};

Network::Network(std::vector<LayerSpec> layers, LossSpec loss, int64_t n_params, int device)
    : impl_(std::make_unique<Impl>()) {
  if (layers.empty()) throw std::invalid_argument("a network needs at least one layer");
  Impl& n = *impl_;
  n.layers = std::move(layers);
  n.loss = loss;
  n.n_params = n_params;
  n.device = device;
  DeviceGuard guard(device);
  BRISKNET_CUDA_CHECK(cudaStreamCreateWithFlags(&n.stream, cudaStreamNonBlocking));
  n.params.resize(n_params);
  n.grads.resize(n_params);
  BRISKNET_CUDA_CHECK(cudaMemsetAsync(n.grads.get(), 0, sizeof(float) * size_t(n_params), n.stream));
  for (const LayerSpec& l : n.layers) {
    n.scale.emplace_back();
    n.shift.emplace_back();
    if (l.kind == LayerKind::affine) {
      n.scale.back().upload(l.scale.data(), int64_t(l.scale.size()), n.stream);
      n.shift.back().upload(l.shift.data(), int64_t(l.shift.size()), n.stream);
    }
    if (l.kind == LayerKind::dropout) ++n.dropouts;
    if (l.kind != LayerKind::dense) continue;
    const DeviceSpan kernel{l.kernel_offset, l.in * l.out, l.kernel_penalty.l1, l.kernel_penalty.l2};
    const DeviceSpan bias{l.bias_offset, l.out, l.bias_penalty.l1, l.bias_penalty.l2};
    // the penalties of every dense layer count in the loss (frozen ones too), as on the CPU
    if (l.kernel_penalty.any()) n.penalized_host.push_back(kernel);
    if (l.bias_offset >= 0 && l.bias_penalty.any()) n.penalized_host.push_back(bias);
    if (!l.trainable) continue;
    n.trainable_host.push_back(kernel);
    if (l.bias_offset >= 0) n.trainable_host.push_back(bias);
  }
  for (const DeviceSpan& s : n.trainable_host) n.trainable_total += s.size;
  n.trainable.upload(n.trainable_host.data(), int64_t(n.trainable_host.size()), n.stream);
  n.penalized.upload(n.penalized_host.data(), int64_t(n.penalized_host.size()), n.stream);
  n.calls.resize(std::max(1, n.dropouts));
  n.step.resize(1);
  n.iterations.resize(1);
  n.u_product.resize(1);
  n.penalty.resize(1);
  n.scalars.resize(1);
  n.scratch.resize(reduction_scratch(int(std::max(n.trainable_host.size(), n.penalized_host.size()))));
  n.factors.resize(std::max<int64_t>(1, int64_t(n.trainable_host.size())));
  BRISKNET_CUDA_CHECK(cudaStreamSynchronize(n.stream));
}

Network::~Network() {
  if (!impl_) return;
  cudaSetDevice(impl_->device);
  for (auto& [key, graph] : impl_->graphs)
    if (graph.exec) cudaGraphExecDestroy(graph.exec);
  if (impl_->stream) {
    cudaStreamSynchronize(impl_->stream);
    cudaStreamDestroy(impl_->stream);
  }
}

int64_t Network::inputs() const { return impl_->inputs(); }
int64_t Network::outputs() const { return impl_->outputs(); }
int Network::dropout_layers() const { return impl_->dropouts; }
int64_t Network::graphs_captured() const { return impl_->captured; }
int64_t Network::data_rows() const { return impl_->rows; }

void Network::set_params(const float* host) {
  DeviceGuard guard(impl_->device);
  impl_->params.upload(host, impl_->n_params, impl_->stream);
  BRISKNET_CUDA_CHECK(cudaStreamSynchronize(impl_->stream));
}

void Network::get_params(float* host) const {
  DeviceGuard guard(impl_->device);
  impl_->params.download(host, impl_->n_params, impl_->stream);
  BRISKNET_CUDA_CHECK(cudaStreamSynchronize(impl_->stream));
}

void Network::clear_state() {
  for (bool& s : impl_->state_set) s = false;
}

void Network::set_state(int slot, const float* host) {
  if (slot < 0 || slot >= kOptimizerSlots) throw std::out_of_range("optimizer state slot out of range");
  DeviceGuard guard(impl_->device);
  Impl& n = *impl_;
  n.moved(n.state[slot].resize(n.n_params));
  n.state[slot].upload(host, n.n_params, n.stream);
  n.state_set[slot] = true;
  BRISKNET_CUDA_CHECK(cudaStreamSynchronize(n.stream));
}

void Network::get_state(int slot, float* host) const {
  if (!has_state(slot)) throw std::out_of_range("optimizer state slot not set");
  DeviceGuard guard(impl_->device);
  impl_->state[slot].download(host, impl_->n_params, impl_->stream);
  BRISKNET_CUDA_CHECK(cudaStreamSynchronize(impl_->stream));
}

bool Network::has_state(int slot) const { return slot >= 0 && slot < kOptimizerSlots && impl_->state_set[slot]; }

void Network::set_data(const float* x, int64_t n, const int64_t* labels, const float* targets,
                       const float* sample_weight) {
  DeviceGuard guard(impl_->device);
  Impl& d = *impl_;
  d.moved(d.x.resize(n * d.inputs()));
  d.x.upload(x, n * d.inputs(), d.stream);
  d.data_labels = labels != nullptr, d.data_targets = targets != nullptr, d.data_weights = sample_weight != nullptr;
  if (labels) {
    d.moved(d.labels.resize(n));
    d.labels.upload(labels, n, d.stream);
  }
  if (targets) {
    d.moved(d.targets.resize(n * d.outputs()));
    d.targets.upload(targets, n * d.outputs(), d.stream);
  }
  if (sample_weight) {
    d.moved(d.weights.resize(n));
    d.weights.upload(sample_weight, n, d.stream);
  }
  d.rows = n;
  ++d.generation;  // which inputs the gather reads may have changed
  BRISKNET_CUDA_CHECK(cudaStreamSynchronize(d.stream));
}

int64_t Network::train(OptimizerSpec& opt, const double* learning_rates, const int64_t* order, int64_t count,
                       int64_t batch_size, int64_t* dropout_calls, double* batch_loss, float* predictions, bool tf32) {
  if (batch_size <= 0) throw std::invalid_argument("batch_size must be > 0");
  Impl& n = *impl_;
  if (count == 0) return 0;
  DeviceGuard guard(n.device);
  const int64_t batches = (count + batch_size - 1) / batch_size, full = count / batch_size, rest = count % batch_size;
  n.moved(n.order.reserve(count));
  n.moved(n.learning_rates.reserve(batches));
  n.moved(n.batch_loss.reserve(batches));
  n.moved(n.predictions.reserve(count * n.outputs()));
  BRISKNET_CUDA_CHECK(cudaMemcpyAsync(n.order.get(), order, sizeof(int64_t) * count, cudaMemcpyHostToDevice, n.stream));
  BRISKNET_CUDA_CHECK(
      cudaMemcpyAsync(n.learning_rates.get(), learning_rates, sizeof(double) * batches, cudaMemcpyHostToDevice, n.stream));
  if (n.dropouts)
    BRISKNET_CUDA_CHECK(
        cudaMemcpyAsync(n.calls.get(), dropout_calls, sizeof(int64_t) * n.dropouts, cudaMemcpyHostToDevice, n.stream));
  BRISKNET_CUDA_CHECK(cudaMemsetAsync(n.step.get(), 0, sizeof(int64_t), n.stream));
  BRISKNET_CUDA_CHECK(cudaMemcpyAsync(n.iterations.get(), &opt.iterations, sizeof(int64_t), cudaMemcpyHostToDevice, n.stream));
  BRISKNET_CUDA_CHECK(cudaMemcpyAsync(n.u_product.get(), &opt.u_product, sizeof(double), cudaMemcpyHostToDevice, n.stream));
  const DeviceOptimizer d{opt.kind, opt.beta_1, opt.beta_2, opt.epsilon, opt.rho, opt.momentum, opt.weight_decay,
                          opt.nesterov, opt.clip, opt.clip_threshold};
  if (full > 0) n.workspace(batch_size, tf32);
  if (rest > 0) n.workspace(rest, tf32);
  if (full > 0) n.launch_steps(full, batch_size, batch_size, d, tf32);  // the run's whole batches: one launch
  if (rest > 0) n.launch_steps(1, rest, batch_size, d, tf32);
  n.batch_loss.download(batch_loss, batches, n.stream);
  n.predictions.download(predictions, count * n.outputs(), n.stream);
  BRISKNET_CUDA_CHECK(cudaMemcpyAsync(&opt.iterations, n.iterations.get(), sizeof(int64_t), cudaMemcpyDeviceToHost, n.stream));
  BRISKNET_CUDA_CHECK(cudaMemcpyAsync(&opt.u_product, n.u_product.get(), sizeof(double), cudaMemcpyDeviceToHost, n.stream));
  BRISKNET_CUDA_CHECK(cudaStreamSynchronize(n.stream));
  for (int i = 0; i < n.dropouts; ++i) dropout_calls[i] += batches;
  return batches;
}

void Network::predict(const float* x, int64_t count, int64_t batch_size, float* out, bool tf32) {
  if (batch_size <= 0) throw std::invalid_argument("batch_size must be > 0");
  Impl& n = *impl_;
  if (count == 0) return;
  DeviceGuard guard(n.device);
  DeviceBuffer<float> input, output;
  input.upload(x, count * n.inputs(), n.stream);
  output.resize(count * n.outputs());
  std::vector<const float*> outs;
  for (int64_t start = 0; start < count; start += batch_size) {
    const int64_t b = std::min(batch_size, count - start);
    Impl::Workspace& ws = n.workspace(b, tf32);
    const float* y = n.forward(input.get() + start * n.inputs(), ws, b, false, tf32, outs);
    BRISKNET_CUDA_CHECK(cudaMemcpyAsync(output.get() + start * n.outputs(), y, sizeof(float) * b * n.outputs(),
                                        cudaMemcpyDeviceToDevice, n.stream));
  }
  output.download(out, count * n.outputs(), n.stream);
  BRISKNET_CUDA_CHECK(cudaStreamSynchronize(n.stream));
}

}  // namespace brisknet::cuda
