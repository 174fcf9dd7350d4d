// The CUDA kernels' launchers (gemm.cu, elementwise.cu, convolution.cu), each on a stream and never
// synchronising, so that a training step can be captured into a CUDA graph. Quantities that
// change from step to step (the step number, learning rate, dropout counters) are read from
// device memory, never passed by value.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

#include "brisknet/engine.h"
#include "brisknet/elementwise_math.h"
#include "device.cuh"

namespace brisknet::cuda {

// ---------------------------------------------------------------- GEMM (gemm.cu)
// C[m, n] = op(A) op(B), row-major; op(A) = A [m, k] (lda) or, with trans_a, A^T of A [k, m].
struct GemmArgs {
  bool trans_a = false, trans_b = false;
  int64_t m = 0, n = 0, k = 0;
  const float* a = nullptr;
  int64_t lda = 0;
  const float* b = nullptr;
  int64_t ldb = 0;
  float* c = nullptr;
  int64_t ldc = 0;
};
// What happens to each element v of the product before it is stored (the CPU GEMM's epilogues):
// forward: z = v + bias[j], stored to `pre` when given, and C = act(z); backward through the
// layer below (`through`): C = act'(v) at that layer's (grad_z, grad_y); and B's column sums.
struct Epilogue {
  const float* bias = nullptr;
  float* pre = nullptr;
  Activation act = Activation::linear;
  float alpha = 0;
  bool through = false;
  const float* grad_z = nullptr;  // [m, ldc]
  const float* grad_y = nullptr;
  // [n]: the column sums of op(B) over k, in k order (the bias gradient of a weight-gradient
  // GEMM, summed while B's tiles are in shared memory)
  float* b_column_sums = nullptr;
};
// Piecewise-linear activations run inside the GEMM's epilogue; the others (exp, erf, tanh, ...)
// as an element-wise pass right after it (in the tile kernels they would spill registers).
bool fused_in_gemm(Activation act);
// splits: the k range cut into that many parts summed in a fixed order (0: chosen from the
// shape, so that few-row products still fill the multiprocessors); their partial products go
// to `workspace`, grown as needed (outside a graph capture: the caller reserves it first).
void gemm(cudaStream_t stream, const GemmArgs& g, const Epilogue& e, bool tf32, DeviceBuffer<float>& workspace,
          int splits = 0);
// The workspace floats gemm(splits = 0) needs for its split-k parts (0: one part).
int64_t gemm_workspace(const GemmArgs& g, bool tf32);
int multiprocessors();

// ---------------------------------------------------------------- element-wise (elementwise.cu)
// xb[i] = x[order[step * batch_size + i]] for i < b (and the labels, targets, sample weights).
void gather_rows(cudaStream_t s, const int64_t* order, const int64_t* step, int64_t batch_size, int64_t b,
                 const float* x, int64_t features, float* xb, const int64_t* labels, int64_t* labels_b,
                 const float* targets, int64_t outputs, float* targets_b, const float* weights, float* weights_b);
void activation_forward(cudaStream_t s, float* y, const float* x, int64_t rows, int64_t cols, Activation act,
                        float alpha);
void activation_backward(cudaStream_t s, float* dx, const float* dy, const float* x, const float* y, int64_t rows,
                         int64_t cols, Activation act, float alpha);
// masks of the step: seed = dropout_step_seed(base_seed, calls[0] + *step), element i keyed by i
void dropout_forward(cudaStream_t s, float* y, uint8_t* mask, const float* x, int64_t n, float rate,
                     uint64_t base_seed, const int64_t* calls, const int64_t* step);
void dropout_backward(cudaStream_t s, float* dx, const float* dy, const uint8_t* mask, int64_t n, float rate);
// per feature f = i % features: divide ? (x - shift) / scale : x * scale + shift; and its gradient
void affine_forward(cudaStream_t s, float* y, const float* x, int64_t n, const float* scale, const float* shift,
                    int64_t features, bool divide);
void affine_backward(cudaStream_t s, float* dx, const float* dy, int64_t n, const float* scale, int64_t features,
                     bool divide);
// out[j] = sum over rows of dz[r, j], in row order
void column_sums(cudaStream_t s, float* out, const float* dz, int64_t rows, int64_t cols);
// The same for many rows (a convolution's positions), in two fixed-order stages: sums of chunks of
// rows into scratch (tall_column_sums_scratch floats), then their sum in chunk order.
void tall_column_sums(cudaStream_t s, float* out, const float* dz, int64_t rows, int64_t cols, float* scratch);
int64_t tall_column_sums_scratch(int64_t rows, int64_t cols);
// per-sample losses (times the weights) and d(sum of them) * grad_scale / d(pred)
void loss_rows(cudaStream_t s, const LossSpec& loss, float* per_sample, float* dpred, const float* pred,
               const int64_t* labels, const float* targets, const float* weights, int64_t rows, int64_t cols,
               float grad_scale);
// batch_loss[*step] = sum(per_sample[0, rows)) / whole + *penalty (in double, a fixed order)
void record_loss(cudaStream_t s, double* batch_loss, const int64_t* step, const float* per_sample, int64_t rows,
                 int64_t whole, const double* penalty);
// predictions[(*step * batch_size) ...] = y[b, outputs]
void record_predictions(cudaStream_t s, float* predictions, const int64_t* step, int64_t batch_size, const float* y,
                        int64_t b, int64_t outputs);
void advance(cudaStream_t s, int64_t* counter);

// ---------------------------------------------------------------- images (convolution.cu)
// channels_last images as brisknet/kernels.h's Window2D describes them (g.n: the batch's rows), in
// the CPU kernels' layouts; gradients summed in the CPU kernels' order.
// cols[n * oh * ow, kh * kw * cg] = each output position's window over channels [c0, c0 + cg),
// taps in (kh, kw, channel) order, zeros in the padding (a convolution is then a GEMM with its kernel)
void im2col(cudaStream_t s, float* cols, const float* x, const Window2D& g, int64_t c0, int64_t cg);
// dx[..., c0:c0 + cg] = the rows of cols added back at their taps (+ bias[channel] when given)
void col2im(cudaStream_t s, float* dx, const float* cols, const Window2D& g, int64_t c0, int64_t cg,
            const float* bias = nullptr);
// y = the window's maximum, argmax its flat index in the image (-1: a window wholly in the padding)
void max_pool_forward(cudaStream_t s, float* y, int32_t* argmax, const float* x, const Window2D& g);
void max_pool_backward(cudaStream_t s, float* dx, const float* dy, const int32_t* argmax, const Window2D& g);
// y = the mean over the window's positions inside the image
void avg_pool_forward(cudaStream_t s, float* y, const float* x, const Window2D& g);
void avg_pool_backward(cudaStream_t s, float* dx, const float* dy, const Window2D& g);
// ZeroPadding2D / Cropping2D: y[n, i, j] = x[n, i - top, j - left] (zeros outside x), y oh x ow
void shift_image(cudaStream_t s, float* y, const float* x, int64_t n, int64_t h, int64_t w, int64_t c, int64_t oh,
                 int64_t ow, int64_t top, int64_t left);
// UpSampling2D (nearest): y[n, i, j] = x[n, i / sh, j / sw]; backward sums the copies
void upsample_forward(cudaStream_t s, float* y, const float* x, int64_t n, int64_t h, int64_t w, int64_t c, int64_t sh,
                      int64_t sw);
void upsample_backward(cudaStream_t s, float* dx, const float* dy, int64_t n, int64_t h, int64_t w, int64_t c,
                       int64_t sh, int64_t sw);
// SpatialDropout: one flag per (row, channel) of x[rows, positions, channels], repeated over the
// positions (mask: per element, for dropout_backward); keyed as on the CPU, row * channels + channel
void spatial_dropout_forward(cudaStream_t s, float* y, uint8_t* mask, const float* x, int64_t rows,
                             int64_t positions, int64_t channels, float rate, uint64_t base_seed, const int64_t* calls,
                             const int64_t* step);

// ---------------------------------------------------------------- optimizer (elementwise.cu)
// A trainable variable in the flat buffers, with its L1/L2 penalty.
struct DeviceSpan {
  int64_t offset, size;
  double l1, l2;
};
// *penalty = sum over spans of l1 sum|w| + l2 sum w^2 (in double, a fixed order)
void weight_penalties(cudaStream_t s, double* penalty, const float* params, const DeviceSpan* spans, int count,
                      double* scratch);
// grads += the penalties' gradients over the spans
void add_penalty_gradients(cudaStream_t s, float* grads, const float* params, const DeviceSpan* spans, int count,
                           int64_t total);
// The optimizer's hyper-parameters, as the device reads them.
struct DeviceOptimizer {
  OptimizerKind kind;
  double beta_1, beta_2, epsilon, rho, momentum, weight_decay;
  bool nesterov;
  ClipKind clip;
  double clip_threshold;
};
// The step's scalars from learning_rates[*step] and ++*iterations (Nadam: *u_product advanced)
void begin_update(cudaStream_t s, const DeviceOptimizer& opt, const double* learning_rates, const int64_t* step,
                  int64_t* iterations, double* u_product, math::StepScalars* scalars);
// factors[span] for clipnorm / global_clipnorm (1 where the norm is within the threshold)
void clip_factors(cudaStream_t s, const DeviceOptimizer& opt, float* factors, const float* grads,
                  const DeviceSpan* spans, int count, double* scratch);
// clipping and the rule over every span; state: the optimizer's slots (null where unused)
void apply_update(cudaStream_t s, const DeviceOptimizer& opt, const math::StepScalars* scalars, float* params,
                  const float* grads, float* state0, float* state1, float* state2, const DeviceSpan* spans,
                  int count, int64_t total, const float* factors);
// scratch doubles the reductions above need for `count` spans
int64_t reduction_scratch(int count);

}  // namespace brisknet::cuda
