// What the CUDA backend offers the host side (cuda/bindings.cpp, compiled by the host compiler):
// no CUDA header here. Every function throws std::runtime_error with the CUDA error's name and
// text when a CUDA call fails.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "brisknet/engine.h"

namespace brisknet::cuda {

// ---------------------------------------------------------------- the machine
struct Availability {
  int devices = 0;    // CUDA devices the driver reports
  std::string error;  // empty, or why none can be used (no driver, a driver too old, no device)
};
Availability availability();
std::string device_name(int device);
int runtime_version();  // the CUDA runtime linked in (e.g. 13000)
int driver_version();   // the driver's CUDA version, 0 without a driver

// ---------------------------------------------------------------- kernels on host arrays (tests)
// C[m, n] = op(A) op(B) (+ bias[n]) through `act` (its pre-activation into pre when given), on
// row-major host arrays copied to the device and back; op(A) is A^T when trans_a (A then [k, m]).
void gemm_on_host(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, const float* a, const float* b,
                  const float* bias, Activation act, float alpha, float* c, float* pre, bool tf32, int splits);
// Seconds per call of C[m, n] = op(A) op(B) on device-resident data (zeros), the mean over `calls`
// after a warm-up: our kernel (its TF32 variant when tf32).
double time_gemm(int64_t m, int64_t n, int64_t k, bool trans_a, bool trans_b, bool tf32, int calls);

// ---------------------------------------------------------------- the engine
// The chain of layers of brisknet/engine.h trained on one GPU: parameters, gradients, optimizer
// state and the training data stay on the device; a run of steps is one launch of a CUDA graph
// (captured once per batch size and run length, then replayed), whose steps read the step
// number, learning rate and dropout counters from device memory; no synchronisation until the
// run ends.
class Network {
 public:
  Network(std::vector<LayerSpec> layers, LossSpec loss, int64_t n_params, int device);
  ~Network();
  Network(const Network&) = delete;
  Network& operator=(const Network&) = delete;

  int64_t inputs() const;
  int64_t outputs() const;
  int dropout_layers() const;

  void set_params(const float* host);  // n_params floats, each way
  void get_params(float* host) const;
  // Optimizer state slot i (n_params floats, brisknet/kernels.h's OptimizerSpec slots); the
  // slots set since clear_state() are the ones train() updates.
  void clear_state();
  void set_state(int slot, const float* host);
  void get_state(int slot, float* host) const;
  bool has_state(int slot) const;

  // The training data, uploaded once and kept until replaced: x[n, inputs]; labels[n] (sparse
  // cross-entropy) or targets[n, outputs]; sample_weight[n] or null.
  void set_data(const float* x, int64_t n, const int64_t* labels, const float* targets, const float* sample_weight);
  int64_t data_rows() const;

  // Trains on rows order[0, count) of the data, batch_size rows per update, as brisknet::Network
  // does on the CPU: learning_rates[batch], dropout_calls advanced, each batch's mean loss
  // (+ penalties) into batch_loss, the outputs of every row trained into predictions[count,
  // outputs]; opt.iterations (and Nadam's u_product) advanced. Returns the batches trained.
  int64_t train(OptimizerSpec& opt, const double* learning_rates, const int64_t* order,
                int64_t count, int64_t batch_size, int64_t* dropout_calls, double* batch_loss, float* predictions,
                bool tf32);

  // out[n, outputs] = the network on x[n, inputs] (inference), batch_size rows at a time.
  void predict(const float* x, int64_t n, int64_t batch_size, float* out, bool tf32);

  // How many CUDA graphs have been captured (tests: one per run shape, then replays).
  int64_t graphs_captured() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace brisknet::cuda
