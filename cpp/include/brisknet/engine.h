// The training engine: a graph of layers in an order where each reads only earlier ones (a chain
// by default: Dense, element-wise Activation, Dropout, a per-feature affine map - Normalization,
// Rescaling - BatchNormalization, LayerNormalization, Conv1D/Conv2D, max and average pooling; Add
// and Concatenate join branches) trained
// for a run of steps per call, with the GIL released. Each step has explicit phases:
//
//   gather -> forward -> loss (+ weight penalties) -> backward -> reduce -> update
//
// `backward` writes the complete gradient into the flat gradient buffer, `reduce` (a hook, e.g.
// an allreduce across processes) may change it, `update` clips it and runs the optimizer
// (optimizer_step: the very code the Python reference path runs). Where nothing needs the whole
// gradient (no reduce hook, no norm clipping), backward and update are fused instead: the update
// of each block of a weight matrix runs inside the weight-gradient GEMM as soon as the block is
// done, while it is in cache. Both give bit-identical weights, and bit-identical to the Python
// reference path (python/brisknet/models/trainers/python_step.py, tests/test_engine.py).
//
// Parameters, gradients and optimizer state live in buffers owned by the caller; the engine owns
// only its workspaces, allocated once per batch size, so a steady-state step allocates nothing.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <vector>

#include "brisknet/kernels.h"

namespace brisknet {

enum class LayerKind : int {
  dense, activation, dropout, affine, add, concat, batch_norm, layer_norm, conv, max_pool, avg_pool, conv_transpose,
  shift, upsample
};

struct Penalty {  // Keras' L1L2 regularizer
  double l1 = 0, l2 = 0;
  bool any() const { return l1 != 0 || l2 != 0; }
};

// One layer of the chain; `in` and `out` count the features of one sample.
struct LayerSpec {
  LayerKind kind = LayerKind::dense;
  int64_t in = 0, out = 0;
  int64_t kernel_offset = -1, bias_offset = -1;  // dense: into the flat buffers (bias < 0: none)
  Activation activation = Activation::linear;    // dense, activation
  float alpha = 0;
  bool trainable = true;                         // dense: false, frozen (never updated)
  bool bf16 = false;                             // dense: its three products in bf16 (GemmFusion::bf16)
  Penalty kernel_penalty, bias_penalty;          // dense
  float rate = 0;                                // dropout
  uint64_t seed = 0;                             // dropout: the layer's base seed
  // affine, per feature f of the sample's last axis (features = scale.size()): divide ?
  // (x - shift[f]) / scale[f] : x * scale[f] + shift[f], each a separate rounding (as numpy)
  bool divide = false;
  std::vector<float> scale, shift;
  // The layers this one reads: earlier layers' indices, -1 for the network's input; empty: the
  // layer before it (the input for the first). add sums several of one size; concat puts several
  // side by side, in order; every other kind reads one.
  std::vector<int64_t> sources;
  // batch_norm, layer_norm: gamma at kernel_offset, beta at bias_offset (< 0: none); batch_norm's
  // moving mean and moving variance at stats_offset (out each, never trained) and its batch
  // statistics used (and the moving ones updated) while training when `trainable` (Keras 3: a
  // frozen BatchNormalization runs in inference mode).
  int64_t stats_offset = -1;
  float momentum = 0.99f, epsilon = 1e-3f;
  // conv, max_pool, avg_pool: the window over one sample, channels_last (window.n is unused: each
  // step sets it to the batch's rows); in = h * w * c, out = oh * ow * (conv: filters, else c).
  // conv: kernel (kh, kw, c / groups, filters) and bias (filters) as Dense's, activation, penalties.
  // conv_transpose: the window of the convolution it is the input gradient of, whose image is its
  // output: in = oh * ow * channels, out = h * w * c; kernel (kh, kw, c, channels), bias (c).
  // shift (ZeroPadding2D, Cropping2D): output (i, j) of oh x ow is input (i - pt, j - pl) of h x w,
  // zeros outside (pt, pl < 0: cropped); upsample (UpSampling2D): oh x ow = h sh x w sw, nearest.
  Window2D window{};
  int64_t groups = 1;
  // dropout: > 0, one keep flag per (sample, channel) over `channels` innermost (SpatialDropout);
  // batch_norm: > 0, statistics per channel over every position of every sample (images).
  int64_t channels = 0;
};

// The features batch_norm keeps statistics of: the channels of images (each position a row of
// (batch * positions, channels), channels_last), else every value of a sample.
inline int64_t norm_features(const LayerSpec& l) {
  return l.kind == LayerKind::batch_norm && l.channels > 0 ? l.channels : l.out;
}

// A dense or conv layer's weights: its kernel's and bias' sizes, and conv's output channels.
inline bool windowed_weights(const LayerSpec& l) {
  return l.kind == LayerKind::conv || l.kind == LayerKind::conv_transpose;
}
inline bool has_weights(const LayerSpec& l) { return l.kind == LayerKind::dense || windowed_weights(l); }
// The filters of the convolution the window describes (conv_transpose: its input's channels).
inline int64_t conv_filters(const LayerSpec& l) {
  return (l.kind == LayerKind::conv ? l.out : l.in) / (l.window.oh * l.window.ow);
}
inline int64_t kernel_values(const LayerSpec& l) {
  return windowed_weights(l) ? l.window.kh * l.window.kw * (l.window.c / l.groups) * conv_filters(l) : l.in * l.out;
}
inline int64_t bias_values(const LayerSpec& l) {
  return l.kind == LayerKind::conv ? conv_filters(l) : l.kind == LayerKind::conv_transpose ? l.window.c : l.out;
}

struct LossSpec {
  LossKind kind = LossKind::mean_squared_error;
  bool from_logits = false;
  bool fused_softmax = false;  // the last layer's softmax is folded into the cross-entropy (its logits)
  float delta = 1;             // Huber
};

// What one run of steps reads and writes, besides the parameters.
struct TrainRun {
  const float* x;           // [n, inputs]
  const int64_t* labels;    // [n] for sparse cross-entropy, else nullptr
  const float* targets;     // [n, outputs] otherwise
  const float* sample_weight;  // [n] or nullptr
  const int64_t* order;     // rows of x to train on, in order
  int64_t count, batch_size;
  const double* learning_rates;  // one per batch (a schedule), or nullptr: opt.learning_rate
  int64_t* dropout_calls;   // one counter per dropout layer: masks drawn so far (advanced)
  double* batch_loss;       // [batches] out: each batch's mean loss plus weight penalties
  float* predictions;       // [count, outputs] out: the outputs each batch's forward pass made
  // Asked before every batch but the first; true ends the run between two complete steps.
  std::function<bool()> stop;
  // The reduce phase: called with the complete gradient of a step; none: backward and update fuse.
  std::function<void(float* grads, int64_t n)> reduce;
  // Optional, with reduce: told during backward that grads[offset, offset + n) (a trainable
  // variable) is complete, last layer first, bias then kernel, the same calls on every process
  // (an empty shard's zeros too), so that their reduction can start while backward goes on.
  std::function<void(int64_t offset, int64_t n)> gradient_ready;
  // Data parallelism: this process is `shard` of `shards`. It trains on rows [b*shard/shards,
  // b*(shard+1)/shards) of each batch of b rows of `order` (a contiguous shard, possibly empty),
  // scales its loss by 1/b, and writes only its rows' predictions; the sum of the processes'
  // gradients (reduce) and of their batch_loss is then the whole batch's. Masks are drawn at the
  // rows' places in the whole batch, so the run gives one process's result.
  int64_t shard = 0, shards = 1;
};

class Network {
 public:
  Network(std::vector<LayerSpec> layers, LossSpec loss);

  // Trains on the rows run.order[0 .. count), batch_size rows per optimizer update (the last
  // batch may be smaller). Returns the number of batches trained.
  int64_t train(float* params, float* grads, int64_t n_params, OptimizerSpec& opt, TrainRun& run);

  // Inference: out[n, outputs] = the network applied to x[n, in], batch_size rows at a time
  // (the same kernels as training's forward pass, dropout off; the loss settings are unused).
  void predict(const float* params, const float* x, int64_t n, int64_t batch_size, float* out);

  const std::vector<LayerSpec>& layers() const { return layers_; }
  int64_t inputs() const { return layers_.front().in; }
  int64_t outputs() const { return layers_.back().out; }
  int dropout_layers() const { return dropouts_; }
  // The trainable variables' places in the flat buffers, in order (kernel, then bias, per layer).
  const std::vector<Span>& trainable() const { return trainable_; }

 private:
  struct Workspace {
    std::vector<float> x, targets, weights, loss, dpred, scratch;
    std::vector<int64_t> labels;
    // per layer: dense pre-activation z; activation output y; the gradient w.r.t. the layer's
    // output (dy) and w.r.t. a dense layer's pre-activation (dz); dropout masks; normalization
    // statistics (mean, then 1 / sqrt(var + eps))
    std::vector<std::vector<float>> z, y, dy, dz, stats;
    std::vector<std::vector<uint8_t>> mask;
    // per max pooling layer: each output's place in its image (the convolutions' patches live
    // in per-thread buffers of conv2d_forward/backward)
    std::vector<std::vector<int32_t>> argmax;
    // per layer, in one step: its output (forward); the gradient w.r.t. its output, and whether
    // that is already w.r.t. a dense layer's pre-activation
    std::vector<const float*> out, grad;
    std::vector<uint8_t> grad_is_dz;
    // a shared dense layer's weight gradient: whether a call has written it this step, and where
    // the other calls' parts go before they are added in
    std::vector<uint8_t> weights_done;
    std::vector<float> shared_grad;
  };
  Workspace& workspace(int64_t batch);
  const float* input_of(const Workspace& ws, const float* x, size_t i, size_t k = 0) const;
  // Layer i's activation output in training (a ReLU Dense or Conv layer keeps it in place of z).
  const float* activated(const Workspace& ws, size_t i) const;
  // Where layer i's consumer writes its gradient w.r.t. source j, then hands it over (give): the
  // sum over j's consumers, in backward order, as the Python path sums them.
  float* gradient_target(Workspace& ws, int64_t j) const;
  void give(Workspace& ws, int64_t j, const float* g, int64_t b, bool is_dz = false) const;
  void gather(Workspace& ws, const TrainRun& run, const int64_t* rows, int64_t b) const;

  // The phases of one step.
  // first_row: the place of the batch's first row in the whole batch (dropout masks).
  const float* forward(const float* params, const float* x, Workspace& ws, int64_t b, bool training,
                       int64_t* dropout_calls, int64_t first_row = 0) const;
  // The per-sample losses' sum over `whole` (the batch across processes: its mean loss), and
  // the gradient of that mean into ws.dpred.
  double loss(Workspace& ws, int64_t b, int64_t whole, bool weighted) const;
  double penalties(const float* params) const;            // the weight penalties' sum
  // The gradient of every trainable variable into grads; with `update`, each variable's update
  // runs as soon as its gradient is complete (inside the weight-gradient GEMM for kernels).
  // `ready` (may be null): told of each variable's gradient once complete (TrainRun::gradient_ready).
  void backward(float* params, float* grads, Workspace& ws, int64_t b, const UpdateStep* update,
                const std::function<void(int64_t, int64_t)>* ready = nullptr) const;
  // The calls backward makes to `ready`, in its order, for a gradient that is all zeros.
  void announce_gradients(const std::function<void(int64_t, int64_t)>& ready) const;
  void add_penalty_gradients(const float* params, float* grads) const;
  // A pooling layer's forward, and its backward into dx (then the activation gradient of the
  // convolution below into its dz when activation_below), for images [first, first + count), on
  // the calling thread.
  struct PoolAbove;  // (a ChunkHook's context)
  void pool_forward_images(Workspace& ws, size_t i, const float* x, int64_t first, int64_t count) const;
  void pool_backward_images(Workspace& ws, size_t i, const float* d, float* dx, bool activation_below, int64_t first,
                            int64_t count) const;

  std::vector<LayerSpec> layers_;
  std::vector<std::vector<int64_t>> sources_;  // each layer's sources, the implicit ones made explicit
  std::vector<int64_t> consumers_;             // how many times each layer's output is read
  // Dense layers calling the same weights (a shared layer): each layer's first call (itself when
  // not shared), and the dense layers owning weights in the buffer's order (penalties are summed
  // in it, once per weight, as the Python layers add them up)
  std::vector<int64_t> owner_;
  std::vector<int64_t> weight_owners_;
  bool shares_weights_ = false;
  // Pooling layers that run inside the convolution below them, a chunk of images at a time (forward
  // after the chunk's GEMMs, backward before its gradient GEMMs): the convolution's only reader,
  // reading only it, right after it, with an element-wise activation (or none)
  std::vector<uint8_t> pools_in_conv_;
  LossSpec loss_;
  int dropouts_ = 0;
  std::vector<Span> trainable_;
  std::map<int64_t, Workspace> workspaces_;
  std::mutex busy_;  // one call at a time: calls share the workspaces
};

}  // namespace brisknet
