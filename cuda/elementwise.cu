// Element-wise and row-wise kernels of the CUDA engine: batch gathering, activations, dropout,
// the per-feature affine map, bias gradients, losses, and the optimizer update over the flat
// buffers. The math is brisknet/elementwise_math.h's, the CPU kernels' very functions.
#include <algorithm>

#include "kernels.cuh"

namespace brisknet::cuda {
namespace {

__global__ void gather_kernel(const int64_t* order, const int64_t* step, int64_t batch_size, int64_t b,
                              const float* x, int64_t features, float* xb, const int64_t* labels, int64_t* labels_b,
                              const float* targets, int64_t outputs, float* targets_b, const float* weights,
                              float* weights_b) {
  const int64_t first = *step * batch_size;
  BRISKNET_GRID_STRIDE(i, b * features) {
    const int64_t r = i / features, f = i - r * features;
    xb[i] = x[order[first + r] * features + f];
  }
  BRISKNET_GRID_STRIDE(r, b) {
    const int64_t row = order[first + r];
    if (labels) labels_b[r] = labels[row];
    if (weights) weights_b[r] = weights[row];
  }
  if (targets) {
    BRISKNET_GRID_STRIDE(i, b * outputs) {
      const int64_t r = i / outputs, f = i - r * outputs;
      targets_b[i] = targets[order[first + r] * outputs + f];
    }
  }
}

template <Activation A>
__global__ void activation_kernel(float* y, const float* x, int64_t n, float alpha) {
  BRISKNET_GRID_STRIDE(i, n) y[i] = math::activate<A>(x[i], alpha);
}

template <Activation A>
__global__ void activation_grad_kernel(float* dx, const float* dy, const float* x, const float* y, int64_t n,
                                       float alpha) {
  BRISKNET_GRID_STRIDE(i, n) dx[i] = math::activate_grad<A>(dy[i], x[i], y[i], alpha);
}

// one thread per row: the rows are short (classes)
__global__ void softmax_kernel(float* y, const float* x, int64_t rows, int64_t cols, bool log) {
  BRISKNET_GRID_STRIDE(r, rows) math::softmax_row(y + r * cols, x + r * cols, cols, log);
}

__global__ void softmax_grad_kernel(float* dx, const float* dy, const float* y, int64_t rows, int64_t cols, bool log) {
  BRISKNET_GRID_STRIDE(r, rows) math::softmax_row_grad(dx + r * cols, dy + r * cols, y + r * cols, cols, log);
}

__global__ void dropout_kernel(float* y, uint8_t* mask, const float* x, int64_t n, float rate, float scale,
                               uint64_t base_seed, const int64_t* calls, const int64_t* step) {
  const uint64_t key = math::dropout_key(math::dropout_step_seed(base_seed, *calls + *step));
  const uint64_t threshold = math::dropout_threshold(double(rate));
  BRISKNET_GRID_STRIDE(i, n) {
    const uint8_t keep = math::dropout_keeps(key, threshold, i);
    mask[i] = keep;
    y[i] = x[i] * (keep ? scale : 0.0f);  // a product: a dropped NaN stays NaN
  }
}

__global__ void dropout_grad_kernel(float* dx, const float* dy, const uint8_t* mask, int64_t n, float scale) {
  BRISKNET_GRID_STRIDE(i, n) dx[i] = dy[i] * (mask[i] ? scale : 0.0f);
}

__global__ void affine_kernel(float* y, const float* x, int64_t n, const float* scale, const float* shift,
                              int64_t features, bool divide) {
  BRISKNET_GRID_STRIDE(i, n) {
    const int64_t f = i % features;
    y[i] = divide ? (x[i] - shift[f]) / scale[f] : x[i] * scale[f] + shift[f];
  }
}

__global__ void affine_grad_kernel(float* dx, const float* dy, int64_t n, const float* scale, int64_t features,
                                   bool divide) {
  BRISKNET_GRID_STRIDE(i, n) {
    const int64_t f = i % features;
    dx[i] = divide ? dy[i] / scale[f] : dy[i] * scale[f];
  }
}

__global__ void column_sums_kernel(float* out, const float* dz, int64_t rows, int64_t cols) {
  BRISKNET_GRID_STRIDE(j, cols) {  // consecutive threads read consecutive columns: coalesced
    float s = 0;
    for (int64_t r = 0; r < rows; ++r) s += dz[r * cols + j];
    out[j] = s;
  }
}

// Stage one of the column sums of a tall matrix: partial[chunk, j] = the sum of rows
// [chunk * kRowsPerChunk, ...) of column j, in row order.
constexpr int64_t kRowsPerChunk = 256;
__global__ void chunk_column_sums_kernel(float* partial, const float* dz, int64_t rows, int64_t cols) {
  const int64_t chunks = (rows + kRowsPerChunk - 1) / kRowsPerChunk;
  BRISKNET_GRID_STRIDE(i, chunks * cols) {
    const int64_t chunk = i / cols, j = i - chunk * cols;
    const int64_t end = std::min(rows, (chunk + 1) * kRowsPerChunk);
    float s = 0;
    for (int64_t r = chunk * kRowsPerChunk; r < end; ++r) s += dz[r * cols + j];
    partial[i] = s;
  }
}

__global__ void loss_kernel(LossSpec spec, float* per_sample, float* dpred, const float* pred, const int64_t* labels,
                            const float* targets, const float* weights, int64_t rows, int64_t cols, float grad_scale) {
  const bool logits = spec.from_logits || spec.fused_softmax;
  BRISKNET_GRID_STRIDE(r, rows) {
    float* d = dpred ? dpred + r * cols : nullptr;
    const float* p = pred + r * cols;
    const float* t = targets ? targets + r * cols : nullptr;
    const float w = weights ? weights[r] : 1.0f;
    const int64_t label = spec.kind == LossKind::sparse_categorical_crossentropy ? labels[r] : -1;
    float value;
    if (spec.kind == LossKind::sparse_categorical_crossentropy || spec.kind == LossKind::categorical_crossentropy)
      value = logits ? math::softmax_crossentropy_row<float>(d, p, label, t, w, cols, grad_scale)
                     : math::crossentropy_from_probs_row<float>(d, p, label, t, w, cols, grad_scale);
    else
      value = math::elementwise_loss_row<float>(d, p, t, w, cols, spec.kind, logits, spec.delta, grad_scale);
    per_sample[r] = value;
  }
}

// One block: a fixed order (each thread a fixed stride, then a fixed tree), so the same bits
// every run.
template <typename Load>
__device__ double block_sum(int64_t n, Load load) {
  __shared__ double partial[kThreads];
  double s = 0;
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) s += load(i);
  partial[threadIdx.x] = s;
  __syncthreads();
  for (int half = blockDim.x / 2; half > 0; half /= 2) {
    if (threadIdx.x < half) partial[threadIdx.x] += partial[threadIdx.x + half];
    __syncthreads();
  }
  return partial[0];
}

__global__ void record_loss_kernel(double* batch_loss, const int64_t* step, const float* per_sample, int64_t rows,
                                   int64_t whole, const double* penalty) {
  const double sum = block_sum(rows, [&](int64_t i) { return double(per_sample[i]); });
  if (threadIdx.x == 0) batch_loss[*step] = sum / double(whole) + (penalty ? *penalty : 0.0);
}

__global__ void copy_rows_kernel(float* predictions, const int64_t* step, int64_t batch_size, int64_t outputs,
                                 const float* y, int64_t n) {
  float* out = predictions + *step * batch_size * outputs;
  BRISKNET_GRID_STRIDE(i, n) out[i] = y[i];
}

__global__ void advance_kernel(int64_t* counter) { ++*counter; }

// The span holding element i of the spans laid end to end, and i's offset in the flat buffers.
__device__ int locate(const DeviceSpan* spans, int count, int64_t i, int64_t* offset) {
  int s = 0;
  while (s < count - 1 && i >= spans[s].size) i -= spans[s++].size;
  *offset = spans[s].offset + i;
  return s;
}

// scratch[span] = the span's sum of l1 |w| + l2 w^2, one block per span
__global__ void span_penalty_kernel(double* scratch, const float* params, const DeviceSpan* spans) {
  const DeviceSpan sp = spans[blockIdx.x];
  const float* w = params + sp.offset;
  const double sum = block_sum(sp.size, [&](int64_t i) {
    const double v = w[i];
    return sp.l1 * fabs(v) + sp.l2 * v * v;
  });
  if (threadIdx.x == 0) scratch[blockIdx.x] = sum;
}

__global__ void sum_in_order_kernel(double* out, const double* values, int count) {
  double s = 0;
  for (int i = 0; i < count; ++i) s += values[i];
  *out = s;
}

__global__ void penalty_gradient_kernel(float* grads, const float* params, const DeviceSpan* spans, int count,
                                        int64_t total) {
  BRISKNET_GRID_STRIDE(i, total) {
    int64_t o;
    const DeviceSpan& sp = spans[locate(spans, count, i, &o)];
    if (sp.l1 != 0 || sp.l2 != 0) grads[o] = math::penalty_gradient(grads[o], params[o], float(sp.l1), float(2.0 * sp.l2));
  }
}

__global__ void begin_update_kernel(DeviceOptimizer opt, const double* learning_rates, const int64_t* step,
                                    int64_t* iterations, double* u_product, math::StepScalars* scalars) {
  const double t = double(++*iterations);
  *scalars = math::step_scalars(opt.kind, learning_rates[*step], t, opt.beta_1, opt.beta_2, opt.weight_decay, u_product);
}

// scratch[span] = sum of g^2 over the span, one block per span
__global__ void span_squares_kernel(double* scratch, const float* grads, const DeviceSpan* spans) {
  const DeviceSpan sp = spans[blockIdx.x];
  const float* g = grads + sp.offset;
  const double sum = block_sum(sp.size, [&](int64_t i) { return double(g[i]) * double(g[i]); });
  if (threadIdx.x == 0) scratch[blockIdx.x] = sum;
}

// Keras' clipnorm (each variable) and global_clipnorm (all together): g * (c / norm) when norm > c
__global__ void clip_factor_kernel(float* factors, const double* squares, int count, bool global, double limit) {
  double total = 0;
  for (int s = 0; s < count; ++s) total += squares[s];
  for (int s = 0; s < count; ++s) {
    const double norm = sqrt(global ? total : squares[s]);
    factors[s] = norm > limit ? float(limit / norm) : 1.0f;
  }
}

__global__ void update_kernel(DeviceOptimizer opt, const math::StepScalars* scalars, float* params, const float* grads,
                              float* s0, float* s1, float* s2, const DeviceSpan* spans, int count, int64_t total,
                              const float* factors) {
  const math::StepScalars u = *scalars;
  const float b1 = float(opt.beta_1), b2 = float(opt.beta_2), eps = float(opt.epsilon), rho = float(opt.rho),
              momentum = float(opt.momentum);
  BRISKNET_GRID_STRIDE(i, total) {
    int64_t o;
    const int s = locate(spans, count, i, &o);
    float g = grads[o];
    if (opt.clip == ClipKind::value) g = math::clip_value(g, float(opt.clip_threshold));
    if (factors && factors[s] != 1.0f) g *= factors[s];
    float& p = params[o];
    if (u.decay != 0.0f && opt.kind != OptimizerKind::adam) p -= p * u.decay;  // Adam decays inside its rule
    switch (opt.kind) {
      case OptimizerKind::sgd:
        math::sgd_element<float>(p, s0 ? s0 + o : nullptr, g, u.lr, momentum, opt.nesterov);
        break;
      case OptimizerKind::adam:
        if (s2 && u.decay != 0.0f) math::adam_element<float, true, true>(p, s0[o], s1[o], s2 + o, g, u.lr_t, b1, b2, eps, u.decay);
        else if (s2) math::adam_element<float, true, false>(p, s0[o], s1[o], s2 + o, g, u.lr_t, b1, b2, eps, u.decay);
        else if (u.decay != 0.0f) math::adam_element<float, false, true>(p, s0[o], s1[o], nullptr, g, u.lr_t, b1, b2, eps, u.decay);
        else math::adam_element<float, false, false>(p, s0[o], s1[o], nullptr, g, u.lr_t, b1, b2, eps, u.decay);
        break;
      case OptimizerKind::rmsprop:
        math::rmsprop_element<float>(p, s0[o], s1 ? s1 + o : nullptr, s2 ? s2 + o : nullptr, g, u.lr, rho, momentum, eps);
        break;
      case OptimizerKind::adagrad:
        math::adagrad_element<float>(p, s0[o], g, u.lr, eps);
        break;
      case OptimizerKind::adamax:
        math::adamax_element<float>(p, s0[o], s1[o], g, u.lr_t, b1, b2, eps);
        break;
      case OptimizerKind::nadam:
        math::nadam_element<float>(p, s0[o], s1[o], g, u.lr, u.c_m, u.c_g, u.v_scale, b1, b2, eps);
        break;
      case OptimizerKind::adadelta:
        math::adadelta_element<float>(p, s0[o], s1[o], g, u.lr, rho, eps);
        break;
      case OptimizerKind::lion:
        math::lion_element<float>(p, s0[o], g, u.lr, b1, b2);
        break;
    }
  }
}

}  // namespace

void gather_rows(cudaStream_t s, const int64_t* order, const int64_t* step, int64_t batch_size, int64_t b,
                 const float* x, int64_t features, float* xb, const int64_t* labels, int64_t* labels_b,
                 const float* targets, int64_t outputs, float* targets_b, const float* weights, float* weights_b) {
  gather_kernel<<<blocks_for(b * features), kThreads, 0, s>>>(order, step, batch_size, b, x, features, xb, labels,
                                                               labels_b, targets, outputs, targets_b, weights, weights_b);
  BRISKNET_CUDA_LAUNCHED("gather_rows");
}

void activation_forward(cudaStream_t s, float* y, const float* x, int64_t rows, int64_t cols, Activation act,
                        float alpha) {
  const int64_t n = rows * cols;
  if (n == 0) return;
  if (!is_elementwise(act)) {
    softmax_kernel<<<blocks_for(rows), kThreads, 0, s>>>(y, x, rows, cols, act == Activation::log_softmax);
  } else if (act == Activation::linear) {
    if (y != x) BRISKNET_CUDA_CHECK(cudaMemcpyAsync(y, x, sizeof(float) * n, cudaMemcpyDeviceToDevice, s));
    return;
  } else {
    math::with_activation(act, [&](auto a) {
      activation_kernel<decltype(a)::value><<<blocks_for(n), kThreads, 0, s>>>(y, x, n, alpha);
    });
  }
  BRISKNET_CUDA_LAUNCHED("activation_forward");
}

void activation_backward(cudaStream_t s, float* dx, const float* dy, const float* x, const float* y, int64_t rows,
                         int64_t cols, Activation act, float alpha) {
  const int64_t n = rows * cols;
  if (n == 0) return;
  if (!is_elementwise(act)) {
    softmax_grad_kernel<<<blocks_for(rows), kThreads, 0, s>>>(dx, dy, y, rows, cols, act == Activation::log_softmax);
  } else if (act == Activation::linear) {
    if (dx != dy) BRISKNET_CUDA_CHECK(cudaMemcpyAsync(dx, dy, sizeof(float) * n, cudaMemcpyDeviceToDevice, s));
    return;
  } else {
    math::with_activation(act, [&](auto a) {
      activation_grad_kernel<decltype(a)::value><<<blocks_for(n), kThreads, 0, s>>>(dx, dy, x, y, n, alpha);
    });
  }
  BRISKNET_CUDA_LAUNCHED("activation_backward");
}

void dropout_forward(cudaStream_t s, float* y, uint8_t* mask, const float* x, int64_t n, float rate,
                     uint64_t base_seed, const int64_t* calls, const int64_t* step) {
  if (n == 0) return;
  const float scale = rate < 1.0f ? 1.0f / (1.0f - rate) : 0.0f;
  dropout_kernel<<<blocks_for(n), kThreads, 0, s>>>(y, mask, x, n, rate, scale, base_seed, calls, step);
  BRISKNET_CUDA_LAUNCHED("dropout_forward");
}

void dropout_backward(cudaStream_t s, float* dx, const float* dy, const uint8_t* mask, int64_t n, float rate) {
  if (n == 0) return;
  const float scale = rate < 1.0f ? 1.0f / (1.0f - rate) : 0.0f;
  dropout_grad_kernel<<<blocks_for(n), kThreads, 0, s>>>(dx, dy, mask, n, scale);
  BRISKNET_CUDA_LAUNCHED("dropout_backward");
}

void affine_forward(cudaStream_t s, float* y, const float* x, int64_t n, const float* scale, const float* shift,
                    int64_t features, bool divide) {
  if (n == 0) return;
  affine_kernel<<<blocks_for(n), kThreads, 0, s>>>(y, x, n, scale, shift, features, divide);
  BRISKNET_CUDA_LAUNCHED("affine_forward");
}

void affine_backward(cudaStream_t s, float* dx, const float* dy, int64_t n, const float* scale, int64_t features,
                     bool divide) {
  if (n == 0) return;
  affine_grad_kernel<<<blocks_for(n), kThreads, 0, s>>>(dx, dy, n, scale, features, divide);
  BRISKNET_CUDA_LAUNCHED("affine_backward");
}

void column_sums(cudaStream_t s, float* out, const float* dz, int64_t rows, int64_t cols) {
  if (cols == 0) return;
  column_sums_kernel<<<blocks_for(cols), kThreads, 0, s>>>(out, dz, rows, cols);
  BRISKNET_CUDA_LAUNCHED("column_sums");
}

int64_t tall_column_sums_scratch(int64_t rows, int64_t cols) {
  return (rows + kRowsPerChunk - 1) / kRowsPerChunk * cols;
}

void tall_column_sums(cudaStream_t s, float* out, const float* dz, int64_t rows, int64_t cols, float* scratch) {
  if (cols == 0) return;
  const int64_t chunks = (rows + kRowsPerChunk - 1) / kRowsPerChunk;
  if (chunks <= 1) return column_sums(s, out, dz, rows, cols);
  chunk_column_sums_kernel<<<blocks_for(chunks * cols), kThreads, 0, s>>>(scratch, dz, rows, cols);
  BRISKNET_CUDA_LAUNCHED("tall_column_sums");
  column_sums(s, out, scratch, chunks, cols);
}

void loss_rows(cudaStream_t s, const LossSpec& loss, float* per_sample, float* dpred, const float* pred,
               const int64_t* labels, const float* targets, const float* weights, int64_t rows, int64_t cols,
               float grad_scale) {
  if (rows == 0) return;
  loss_kernel<<<blocks_for(rows), kThreads, 0, s>>>(loss, per_sample, dpred, pred, labels, targets, weights, rows, cols,
                                                     grad_scale);
  BRISKNET_CUDA_LAUNCHED("loss_rows");
}

void record_loss(cudaStream_t s, double* batch_loss, const int64_t* step, const float* per_sample, int64_t rows,
                 int64_t whole, const double* penalty) {
  record_loss_kernel<<<1, kThreads, 0, s>>>(batch_loss, step, per_sample, rows, whole, penalty);
  BRISKNET_CUDA_LAUNCHED("record_loss");
}

void record_predictions(cudaStream_t s, float* predictions, const int64_t* step, int64_t batch_size, const float* y,
                        int64_t b, int64_t outputs) {
  if (b * outputs == 0) return;
  copy_rows_kernel<<<blocks_for(b * outputs), kThreads, 0, s>>>(predictions, step, batch_size, outputs, y, b * outputs);
  BRISKNET_CUDA_LAUNCHED("record_predictions");
}

void advance(cudaStream_t s, int64_t* counter) {
  advance_kernel<<<1, 1, 0, s>>>(counter);
  BRISKNET_CUDA_LAUNCHED("advance");
}

int64_t reduction_scratch(int count) { return count + 1; }

void weight_penalties(cudaStream_t s, double* penalty, const float* params, const DeviceSpan* spans, int count,
                      double* scratch) {
  if (count == 0) {
    BRISKNET_CUDA_CHECK(cudaMemsetAsync(penalty, 0, sizeof(double), s));
    return;
  }
  span_penalty_kernel<<<count, kThreads, 0, s>>>(scratch, params, spans);
  sum_in_order_kernel<<<1, 1, 0, s>>>(penalty, scratch, count);
  BRISKNET_CUDA_LAUNCHED("weight_penalties");
}

void add_penalty_gradients(cudaStream_t s, float* grads, const float* params, const DeviceSpan* spans, int count,
                           int64_t total) {
  if (total == 0) return;
  penalty_gradient_kernel<<<blocks_for(total), kThreads, 0, s>>>(grads, params, spans, count, total);
  BRISKNET_CUDA_LAUNCHED("add_penalty_gradients");
}

void begin_update(cudaStream_t s, const DeviceOptimizer& opt, const double* learning_rates, const int64_t* step,
                  int64_t* iterations, double* u_product, math::StepScalars* scalars) {
  begin_update_kernel<<<1, 1, 0, s>>>(opt, learning_rates, step, iterations, u_product, scalars);
  BRISKNET_CUDA_LAUNCHED("begin_update");
}

void clip_factors(cudaStream_t s, const DeviceOptimizer& opt, float* factors, const float* grads,
                  const DeviceSpan* spans, int count, double* scratch) {
  if (count == 0) return;
  span_squares_kernel<<<count, kThreads, 0, s>>>(scratch, grads, spans);
  clip_factor_kernel<<<1, 1, 0, s>>>(factors, scratch, count, opt.clip == ClipKind::global_norm, opt.clip_threshold);
  BRISKNET_CUDA_LAUNCHED("clip_factors");
}

void apply_update(cudaStream_t s, const DeviceOptimizer& opt, const math::StepScalars* scalars, float* params,
                  const float* grads, float* state0, float* state1, float* state2, const DeviceSpan* spans,
                  int count, int64_t total, const float* factors) {
  if (total == 0) return;
  update_kernel<<<blocks_for(total), kThreads, 0, s>>>(opt, scalars, params, grads, state0, state1, state2, spans,
                                                       count, total, factors);
  BRISKNET_CUDA_LAUNCHED("apply_update");
}

}  // namespace brisknet::cuda
