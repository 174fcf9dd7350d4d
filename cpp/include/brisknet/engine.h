// The training engine: a chain of Dense layers trained one step, or one run of steps, per call.
// It calls the same kernels in the same order as the Python reference path
// (python/brisknet/models/trainer.py), so both give bit-identical weights. Parameters, gradients
// and optimizer state live in buffers owned by the caller; the engine owns only its workspaces,
// allocated once per batch size, so a steady-state step allocates nothing.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <vector>

#include "brisknet/kernels.h"

namespace brisknet {

struct DenseSpec {
  int64_t in, out;
  int64_t kernel_offset, bias_offset;  // into the flat parameter/gradient buffers; bias < 0: none
  Activation activation;
  float alpha;
};

enum class LossKind : int { sparse_crossentropy, crossentropy, binary_crossentropy, mean_squared_error,
                            mean_absolute_error, huber };

struct LossSpec {
  LossKind kind;
  bool from_logits;
  bool fused_softmax;  // the last layer's softmax is folded into the cross-entropy (on the logits)
  float delta;         // Huber
};

enum class AccuracyKind : int { none, sparse, categorical, binary };

// Keras Adam/AdamW or SGD over the whole flat buffer; `step` counts updates done so far.
struct OptimizerSpec {
  enum Kind : int { sgd, adam } kind;
  float* m;       // Adam first moment, or SGD velocity (nullptr without momentum)
  float* v;       // Adam second moment
  float* vhat;    // AMSGrad maximum, or nullptr
  double learning_rate, beta_1, beta_2, epsilon, weight_decay, momentum;
  const double* learning_rates;  // one per batch of a run (a schedule), or nullptr: learning_rate
  bool nesterov;
  int64_t step;
};

// Targets of a run of batches: labels[n] for sparse cross-entropy, else targets[n, outputs].
struct Targets {
  const int64_t* labels;
  const float* values;
};

class Network {
 public:
  Network(std::vector<DenseSpec> layers, LossSpec loss, AccuracyKind accuracy);

  // Trains on the rows order[0 .. count) of x[., in] and the targets, batch_size rows per
  // optimizer update (the last batch may be smaller). The update runs layer by layer inside the
  // weight-gradient GEMMs, so the layers' kernel and bias blocks must cover params exactly.
  // `stop` (may be empty) is asked before every batch but the first; when it says true, the run
  // ends there, between two complete steps. Returns the number of batches trained. Writes each batch's mean loss and its
  // number of correct predictions (for `accuracy`) to batch_loss[] / batch_correct[].
  int64_t train_batches(float* params, float* grads, OptimizerSpec& opt,
                        const float* x, Targets y, const int64_t* order, int64_t count,
                        int64_t batch_size, double* batch_loss, double* batch_correct,
                        const std::function<bool()>& stop);

  // Inference: out[n, outputs] = the network applied to x[n, in], batch_size rows at a time
  // (the same kernels as training's forward pass; the loss and accuracy settings are unused).
  void predict(const float* params, const float* x, int64_t n, int64_t batch_size, float* out);

  const std::vector<DenseSpec>& layers() const { return layers_; }
  int64_t inputs() const { return layers_.front().in; }
  int64_t outputs() const { return layers_.back().out; }

 private:
  struct Workspace {
    std::vector<float> x, targets, loss, dpred;
    std::vector<int64_t> labels;
    std::vector<std::vector<float>> z, y, dz, dx;  // per layer
  };
  Workspace& workspace(int64_t batch);
  // Layer i's output in ws: its activation, or its pre-activation when the activation is linear.
  const float* output(const Workspace& ws, size_t i) const;
  void gather(Workspace& ws, const float* x, Targets y, const int64_t* rows, int64_t b) const;
  // Forward pass of b rows starting at x (ws.x for training); returns the last layer's output.
  // in_place (inference): element-wise activations overwrite z, which the backward pass would need.
  const float* forward(const float* params, const float* x, Workspace& ws, int64_t b, bool in_place) const;
  // Backward pass and optimizer step (opt.step += 1) of every parameter.
  void backward_and_update(float* params, float* grads, Workspace& ws, int64_t b, OptimizerSpec& opt) const;
  double loss_and_gradient(Workspace& ws, int64_t b) const;  // mean loss; ws.dpred
  double correct(const Workspace& ws, int64_t b) const;

  std::vector<DenseSpec> layers_;
  LossSpec loss_;
  AccuracyKind accuracy_;
  std::map<int64_t, Workspace> workspaces_;
  std::mutex busy_;  // one call at a time: calls share the workspaces
};

}  // namespace brisknet
