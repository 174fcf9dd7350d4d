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
#include <algorithm>
#include <cstring>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "api.h"
#include "kernels.cuh"

namespace brisknet::cuda {
namespace {

bool has_activation(const LayerSpec& l) { return l.activation != Activation::linear; }
// Dense and the convolutions keep their pre-activation z (their output when they have no activation).
bool has_pre_activation(const LayerSpec& l) { return l.kind == LayerKind::dense || windowed_weights(l); }
// A layer whose activation gradient the GEMM above it applies in its epilogue (z, y: [rows, in]).
bool fusable_below(const LayerSpec& l) {
  return has_pre_activation(l) && has_activation(l) && is_elementwise(l.activation);
}

Window2D batch_window(const LayerSpec& l, int64_t b) {
  Window2D g = l.window;
  g.n = b;
  return g;
}

// A convolution as GEMMs, one per group: its patches [positions, k] (im2col over the group's cg
// channels) times the kernel's fg columns of the group (the kernel: [k, filters], row-major). A
// transposed convolution is the input gradient of the convolution its window describes (one group).
struct ConvGemms {
  Window2D g;
  int64_t filters, groups, cg, fg, k, positions;
};
ConvGemms conv_gemms(const LayerSpec& l, int64_t b) {
  ConvGemms c;
  c.g = batch_window(l, b);
  c.filters = conv_filters(l);
  c.groups = l.kind == LayerKind::conv ? l.groups : 1;
  c.cg = c.g.c / c.groups;
  c.fg = c.filters / c.groups;
  c.k = c.g.kh * c.g.kw * c.cg;
  c.positions = b * c.g.oh * c.g.ow;
  return c;
}

// The shapes of the GEMMs one step runs for layer l on b rows (forward, input and weight
// gradients), for the split-k workspace they need.
std::vector<GemmArgs> gemm_shapes(const LayerSpec& l, int64_t b) {
  auto shape = [](int64_t m, int64_t n, int64_t k) {
    GemmArgs g;
    g.m = m, g.n = n, g.k = k;
    return g;
  };
  if (l.kind == LayerKind::dense) return {shape(b, l.out, l.in), shape(b, l.in, l.out), shape(l.in, l.out, b)};
  if (!windowed_weights(l)) return {};
  const ConvGemms c = conv_gemms(l, b);
  return {shape(c.positions, c.fg, c.k), shape(c.positions, c.k, c.fg), shape(c.k, c.fg, c.positions)};
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
    // one convolution's patches (or their gradient) at a time; the bias gradients' partial sums
    DeviceBuffer<float> cols, sums;
    DeviceBuffer<int64_t> labels;
    std::vector<DeviceBuffer<float>> z, y, dy, dz;
    std::vector<DeviceBuffer<uint8_t>> mask;
    std::vector<DeviceBuffer<int32_t>> argmax;  // max pooling: each output's place in its image
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
      int64_t cols = 0, sums = 0;
      for (const LayerSpec& l : layers) {
        const int64_t size = b * l.out;
        ws.z.emplace_back(size);
        ws.y.emplace_back(size);
        ws.dy.emplace_back(size);
        ws.dz.emplace_back(size);
        ws.mask.emplace_back(l.kind == LayerKind::dropout ? size : 0);
        ws.argmax.emplace_back(l.kind == LayerKind::max_pool ? size : 0);
        if (!windowed_weights(l)) continue;
        const ConvGemms c = conv_gemms(l, b);
        cols = std::max(cols, c.positions * c.k);
        const int64_t channels = bias_values(l);  // the bias gradient: column sums over the output's pixels
        sums = std::max(sums, tall_column_sums_scratch(size / channels, channels));
      }
      ws.cols.resize(cols);
      ws.sums.resize(sums);
      it = workspaces.emplace(b, std::move(ws)).first;
    }
    // the split-k parts of every GEMM of a step: reserved before a capture (no allocation inside)
    int64_t need = 0;
    for (const LayerSpec& l : layers)
      for (const GemmArgs& g : gemm_shapes(l, b)) need = std::max(need, gemm_workspace(g, tf32));
    moved(it->second.gemm.reserve(need));
    return it->second;
  }

  // The output of layer i in training (dense or a convolution without activation: its z).
  static const float* output(const Workspace& ws, const std::vector<LayerSpec>& layers, size_t i) {
    const LayerSpec& l = layers[i];
    return has_pre_activation(l) && !has_activation(l) ? ws.z[i].get() : ws.y[i].get();
  }

  // A convolution's forward: per group, its patches then their GEMM with the kernel (bias and an
  // element-wise activation in the epilogue where the GEMM writes whole rows: one group).
  void conv_forward(const LayerSpec& l, size_t i, const float* h, Workspace& ws, int64_t b, bool tf32) {
    const ConvGemms c = conv_gemms(l, b);
    const float* kernel = params.get() + l.kernel_offset;
    const float* bias = l.bias_offset >= 0 ? params.get() + l.bias_offset : nullptr;
    const bool fused = has_activation(l) && is_elementwise(l.activation) && c.groups == 1;
    float* z = ws.z[i].get();
    for (int64_t group = 0; group < c.groups; ++group) {
      im2col(stream, ws.cols.get(), h, c.g, group * c.cg, c.cg);
      GemmArgs g;
      g.m = c.positions, g.n = c.fg, g.k = c.k;
      g.a = ws.cols.get(), g.lda = c.k;
      g.b = kernel + group * c.fg, g.ldb = c.filters;
      g.c = (fused ? ws.y[i].get() : z) + group * c.fg, g.ldc = c.filters;
      Epilogue e;
      e.bias = bias ? bias + group * c.fg : nullptr;
      if (fused) e.act = l.activation, e.alpha = l.alpha, e.pre = z;
      gemm(stream, g, e, tf32, ws.gemm);
    }
    if (has_activation(l) && !fused)
      activation_forward(stream, ws.y[i].get(), z, c.positions, c.filters, l.activation, l.alpha);
  }

  // A transposed convolution's forward: its input times the kernel's transpose (the patches'
  // gradient of the convolution it reverses), added back into the image with the bias.
  void conv_transpose_forward(const LayerSpec& l, size_t i, const float* h, Workspace& ws, int64_t b, bool tf32) {
    const ConvGemms c = conv_gemms(l, b);
    GemmArgs g;
    g.m = c.positions, g.n = c.k, g.k = c.filters;
    g.a = h, g.lda = c.filters;
    g.b = params.get() + l.kernel_offset, g.ldb = c.filters, g.trans_b = true;
    g.c = ws.cols.get(), g.ldc = c.k;
    gemm(stream, g, Epilogue(), tf32, ws.gemm);
    col2im(stream, ws.z[i].get(), ws.cols.get(), c.g, 0, c.g.c, l.bias_offset >= 0 ? params.get() + l.bias_offset : nullptr);
    if (has_activation(l))
      activation_forward(stream, ws.y[i].get(), ws.z[i].get(), b * c.g.h * c.g.w, c.g.c, l.activation, l.alpha);
  }

  // A convolution's backward from dz (w.r.t. its pre-activation): per group, the patches' gradient
  // dz W^T added back into dx (unless null), and the kernel's gradient patches^T dz; the bias'.
  void conv_backward(const LayerSpec& l, const float* input, const float* dz, float* dx, Workspace& ws, int64_t b,
                     bool tf32) {
    const ConvGemms c = conv_gemms(l, b);
    const float* kernel = params.get() + l.kernel_offset;
    float* cols = ws.cols.get();
    for (int64_t group = 0; group < c.groups; ++group) {
      if (dx) {
        GemmArgs g;
        g.m = c.positions, g.n = c.k, g.k = c.fg;
        g.a = dz + group * c.fg, g.lda = c.filters;
        g.b = kernel + group * c.fg, g.ldb = c.filters, g.trans_b = true;
        g.c = cols, g.ldc = c.k;
        gemm(stream, g, Epilogue(), tf32, ws.gemm);
        col2im(stream, dx, cols, c.g, group * c.cg, c.cg);
      }
      if (!l.trainable) continue;
      im2col(stream, cols, input, c.g, group * c.cg, c.cg);
      GemmArgs w;
      w.m = c.k, w.n = c.fg, w.k = c.positions;
      w.a = cols, w.lda = c.k, w.trans_a = true;
      w.b = dz + group * c.fg, w.ldb = c.filters;
      w.c = grads.get() + l.kernel_offset + group * c.fg, w.ldc = c.filters;
      gemm(stream, w, Epilogue(), tf32, ws.gemm);
    }
    if (l.trainable && l.bias_offset >= 0)
      tall_column_sums(stream, grads.get() + l.bias_offset, dz, c.positions, c.filters, ws.sums.get());
  }

  // A transposed convolution's backward from dz (w.r.t. its pre-activation, an image): the
  // patches of dz give the kernel's gradient with its input, and its input's gradient with the kernel.
  void conv_transpose_backward(const LayerSpec& l, const float* input, const float* dz, float* dx, Workspace& ws,
                               int64_t b, bool tf32) {
    const ConvGemms c = conv_gemms(l, b);
    if (!l.trainable && !dx) return;
    float* cols = ws.cols.get();
    im2col(stream, cols, dz, c.g, 0, c.g.c);
    if (l.trainable) {
      GemmArgs w;
      w.m = c.k, w.n = c.filters, w.k = c.positions;
      w.a = cols, w.lda = c.k, w.trans_a = true;
      w.b = input, w.ldb = c.filters;
      w.c = grads.get() + l.kernel_offset, w.ldc = c.filters;
      gemm(stream, w, Epilogue(), tf32, ws.gemm);
      if (l.bias_offset >= 0)
        tall_column_sums(stream, grads.get() + l.bias_offset, dz, b * c.g.h * c.g.w, c.g.c, ws.sums.get());
    }
    if (!dx) return;
    GemmArgs g;
    g.m = c.positions, g.n = c.filters, g.k = c.k;
    g.a = cols, g.lda = c.k;
    g.b = params.get() + l.kernel_offset, g.ldb = c.filters;
    g.c = dx, g.ldc = c.filters;
    gemm(stream, g, Epilogue(), tf32, ws.gemm);
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
        case LayerKind::conv:
          conv_forward(l, i, h, ws, b, tf32);
          h = output(ws, layers, i);
          break;
        case LayerKind::conv_transpose:
          conv_transpose_forward(l, i, h, ws, b, tf32);
          h = output(ws, layers, i);
          break;
        case LayerKind::max_pool:
          max_pool_forward(stream, ws.y[i].get(), ws.argmax[i].get(), h, batch_window(l, b));
          h = ws.y[i].get();
          break;
        case LayerKind::avg_pool:
          avg_pool_forward(stream, ws.y[i].get(), h, batch_window(l, b));
          h = ws.y[i].get();
          break;
        case LayerKind::shift: {
          const Window2D& g = l.window;
          shift_image(stream, ws.y[i].get(), h, b, g.h, g.w, g.c, g.oh, g.ow, g.pt, g.pl);
          h = ws.y[i].get();
          break;
        }
        case LayerKind::upsample: {
          const Window2D& g = l.window;
          upsample_forward(stream, ws.y[i].get(), h, b, g.h, g.w, g.c, g.sh, g.sw);
          h = ws.y[i].get();
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
            if (l.channels > 0)
              spatial_dropout_forward(stream, ws.y[i].get(), ws.mask[i].get(), h, b, l.out / l.channels, l.channels,
                                      l.rate, l.seed, calls.get() + dropout, step.get());
            else
              dropout_forward(stream, ws.y[i].get(), ws.mask[i].get(), h, b * l.out, l.rate, l.seed,
                              calls.get() + dropout, step.get());
            h = ws.y[i].get();
          }
          ++dropout;
          break;
        default:  // (the bindings refuse the others)
          throw std::invalid_argument("the CUDA engine cannot run this layer kind");
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
        case LayerKind::conv:
        case LayerKind::conv_transpose: {
          const float* dz = d;
          if (has_activation(l) && !folded && !d_is_dz) {  // (rows: the output's pixels, as forward's)
            const int64_t channels = bias_values(l);
            activation_backward(stream, ws.dz[i].get(), d, ws.z[i].get(), ws.y[i].get(), b * l.out / channels, channels,
                                l.activation, l.alpha);
            dz = ws.dz[i].get();
          }
          float* dx = i > 0 ? ws.dy[i - 1].get() : nullptr;
          if (l.kind == LayerKind::conv) conv_backward(l, input, dz, dx, ws, b, tf32);
          else conv_transpose_backward(l, input, dz, dx, ws, b, tf32);
          below = dx;
          break;
        }
        case LayerKind::max_pool:
        case LayerKind::avg_pool:
          if (i > 0) {
            if (l.kind == LayerKind::max_pool)
              max_pool_backward(stream, ws.dy[i - 1].get(), d, ws.argmax[i].get(), batch_window(l, b));
            else
              avg_pool_backward(stream, ws.dy[i - 1].get(), d, batch_window(l, b));
            below = ws.dy[i - 1].get();
          }
          break;
        case LayerKind::shift:
        case LayerKind::upsample:
          if (i > 0) {
            const Window2D& g = l.window;
            if (l.kind == LayerKind::shift)
              shift_image(stream, ws.dy[i - 1].get(), d, b, g.oh, g.ow, g.c, g.h, g.w, -g.pt, -g.pl);
            else
              upsample_backward(stream, ws.dy[i - 1].get(), d, b, g.h, g.w, g.c, g.sh, g.sw);
            below = ws.dy[i - 1].get();
          }
          break;
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
        default:
          throw std::invalid_argument("the CUDA engine cannot run this layer kind");
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
      logits = has_pre_activation(layers[last]) ? ws.z[last].get() : (last == 0 ? ws.xb.get() : outs[last - 1]);
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
    if (!has_weights(l)) continue;
    const DeviceSpan kernel{l.kernel_offset, kernel_values(l), l.kernel_penalty.l1, l.kernel_penalty.l2};
    const DeviceSpan bias{l.bias_offset, bias_values(l), l.bias_penalty.l1, l.bias_penalty.l2};
    // the penalties of every layer with weights count in the loss (frozen ones too), as on the CPU
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
