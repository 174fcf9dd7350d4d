// The whole C++ kernel API of brisknet: plain functions on raw pointers and sizes.
// Conventions: outputs first, `d` prefix for gradients, a shape comment on each declaration.
// Every function is instantiated for float (the working dtype) and double (gradient checks).
// Arguments are trusted: shapes, strides and label ranges are checked once, in cpp/bindings/ (checks.h).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace brisknet {

// ---------------------------------------------------------------- threads
void set_num_threads(int n);  // n >= 1; every parallel kernel uses at most n threads
int get_num_threads();
bool in_forked_child();  // true after fork(): kernels then run on the calling thread only
std::string gemm_isa();  // micro-kernel chosen at first use: "avx512", "avx2" or "generic"
// The float32 GEMM's register tile and cache blocks on this CPU, the caches they come from, and why.
struct GemmTile {
  int mr, nr;
  float rate;  // relative speed, by which gemm picks a tile per shape
};
struct GemmConfig {
  std::string isa, cache_source, why;
  std::vector<GemmTile> tiles;  // the first sizes the blocks
  int kc, mc, nc;
  int64_t l1d_bytes, l2_bytes, l3_bytes;
  int l1d_ways, l2_ways, l3_ways, l2_shared_by, l3_shared_by;
};
GemmConfig gemm_config();
// How many times a kernel or engine workspace has been (re)allocated since import. Steady-state
// training must not move it (tests/test_engine.py checks).
int64_t workspace_allocations();
void count_workspace_allocation();

// The float32 GEMM micro-kernel's own speed on L1-resident panels, on every thread for about
// `seconds`: the practical FMA peak that "% of peak" figures refer to.
double gemm_peak_gflops(double seconds);

// ---------------------------------------------------------------- activation kinds
enum class Activation : int {
  linear, relu, leaky_relu, elu, selu, gelu, gelu_tanh, sigmoid, hard_sigmoid,
  tanh, softplus, softsign, swish, softmax, log_softmax, relu6, exponential, mish, hard_silu, log_sigmoid,
  hard_tanh
};
// Every activation but softmax / log_softmax acts on each element alone (and can be fused into GEMM).
inline bool is_elementwise(Activation act) {
  return act != Activation::softmax && act != Activation::log_softmax;
}

// ---------------------------------------------------------------- GEMM
// Work fused into one gemm call, so the data it touches is read while it is still in cache:
// - activation_out[m,n] = activation(C) for each finished tile of C (the forward pass of a layer);
// - or, when grad_x / grad_y are given, C := C * activation'(x) for each finished tile, with x and
//   y = activation(x) the activation's input and output (the backward pass through an activation);
// - b_column_sums[n] = the sums over k of op(B), accumulated while B is packed (a bias gradient).
// activation_out, grad_x and grad_y have C's shape and leading dimension. Element-wise
// activations only (not softmax / log_softmax). Each gives results bit-identical to the separate
// activation_forward / activation_backward / column_sums calls.
template <typename T>
struct GemmFusion {
  Activation activation = Activation::linear;
  T alpha = T(0);
  T* activation_out = nullptr;
  const T* grad_x = nullptr;
  const T* grad_y = nullptr;
  T* b_column_sums = nullptr;
  // Called once per finished block of C (rows x cols at row i0, column j0: a panel of a few
  // rows), on the thread that computed it, after the activation work, while the block is still in
  // cache. The training engine applies the optimizer update there, so a weight gradient is
  // consumed while it is hot. Every element of C is in exactly one block.
  void (*tile_done)(void* context, T* C, int64_t ldc, int64_t i0, int64_t j0, int64_t rows,
                    int64_t cols) = nullptr;
  void* context = nullptr;
  // float32 only: round A and B to bfloat16 and sum their products in float32 (Keras'
  // mixed_bfloat16 policy); the fused work above runs in float32 as without it.
  bool bf16 = false;
};

// C[m,n] := beta * C + op(A)[m,k] @ op(B)[k,n] (+ bias[n] when bias != nullptr), then `fused`.
// op(A)[i,p] = A[i*rsa + p*csa] and op(B)[p,j] = B[p*rsb + j*csb]: any transpose, no copy.
// C is row-major with leading dimension ldc. C is never read when beta == 0.
// Results do not depend on the thread count (the k reduction is never split between threads).
template <typename T>
void gemm(T* C, int64_t ldc, const T* A, int64_t rsa, int64_t csa, const T* B, int64_t rsb,
          int64_t csb, int64_t m, int64_t n, int64_t k, T beta, const T* bias,
          const GemmFusion<T>& fused = GemmFusion<T>());

// The bf16 GEMM's paths (GemmFusion::bf16): "amx", "avx512_bf16" (instructions) and "emulated"
// (float32 arithmetic giving VDPBF16PS's bits); those this CPU runs, fastest first; the one in
// use (the fastest, or BRISKNET_BF16's); and a switch between them (std::invalid_argument for one
// this CPU lacks).
std::vector<std::string> bf16_paths();
std::string bf16_path();
void set_bf16_path(const std::string& name);

// The same product by a plain triple loop doing each element's operations in gemm's order (this
// CPU's kc blocks, FMA where the chosen ISA uses it), for exact-equality tests. Slow: tests only.
template <typename T>
void gemm_reference(T* C, int64_t ldc, const T* A, int64_t rsa, int64_t csa, const T* B, int64_t rsb,
                    int64_t csb, int64_t m, int64_t n, int64_t k, T beta, const T* bias);

// A matrix operand by name instead of by five positional numbers: element (i, j) at
// data[i * row_stride + j * col_stride], so a transpose is a view (transposed()), never a copy.
template <typename T>
struct MatrixView {
  T* data;
  int64_t rows, cols, row_stride, col_stride;
  MatrixView transposed() const { return {data, cols, rows, col_stride, row_stride}; }
};
template <typename T>
MatrixView<T> row_major(T* data, int64_t rows, int64_t cols) { return {data, rows, cols, cols, 1}; }

// C := beta * C + A @ B (+ bias[n]), then `fused`; C row-major (col_stride 1).
template <typename T>
inline void gemm(MatrixView<T> C, MatrixView<const T> A, MatrixView<const T> B, T beta,
                 const T* bias = nullptr, const GemmFusion<T>& fused = GemmFusion<T>()) {
  gemm<T>(C.data, C.row_stride, A.data, A.row_stride, A.col_stride, B.data, B.row_stride, B.col_stride,
          C.rows, C.cols, A.cols, beta, bias, fused);
}

// db[n] := beta * db + sum over rows of dy[m,n]  (the bias gradient)
template <typename T>
void column_sums(T* db, const T* dy, int64_t m, int64_t n, T beta);

// ---------------------------------------------------------------- normalization
// BatchNormalization over x[rows, features] (per feature, over the rows). batch_stats: the
// batch's mean and biased variance (sums in double, rows in order), and the moving statistics
// updated in place: moving = moving * momentum + batch * (1 - momentum); otherwise the moving
// statistics normalise. Writes mean[features] and inv[features] = 1 / sqrt(var + eps) for the
// backward pass. y = (x - mean) * (inv * gamma) + beta; gamma, beta null: 1 and 0.
template <typename T>
void batch_norm_forward(T* y, T* mean, T* inv, const T* x, int64_t rows, int64_t features, const T* gamma,
                        const T* beta, T* moving_mean, T* moving_var, T momentum, T eps, bool batch_stats);

// dx (may be null), dgamma and dbeta (each may be null) from dy, x and the forward pass's mean and
// inv. With batch statistics: dx = gamma * inv / rows * (rows * dy - dbeta - xhat * dgamma),
// xhat = (x - mean) * inv; otherwise dx = dy * gamma * inv.
template <typename T>
void batch_norm_backward(T* dx, T* dgamma, T* dbeta, const T* dy, const T* x, const T* mean, const T* inv,
                         const T* gamma, int64_t rows, int64_t features, bool batch_stats);

// LayerNormalization of each row of x[rows, features] by its own mean and biased variance (sums in
// double); mean[rows], inv[rows] written for backward. y = (x - mean) * inv * gamma + beta.
template <typename T>
void layer_norm_forward(T* y, T* mean, T* inv, const T* x, int64_t rows, int64_t features, const T* gamma,
                        const T* beta, T eps);

// dx[rows, features] = inv / n * (n * g - sum(g) - xhat * sum(g * xhat)) per row, g = dy * gamma;
// dgamma, dbeta (may be null): column sums of dy * xhat and dy, rows in order.
template <typename T>
void layer_norm_backward(T* dx, T* dgamma, T* dbeta, const T* dy, const T* x, const T* mean, const T* inv,
                         const T* gamma, int64_t rows, int64_t features);

// ---------------------------------------------------------------- attention and embeddings
// Scaled dot-product attention, fused (kernels/attention.cpp): q (batch, tq, heads, d), k (batch,
// tk, heads, d), v (batch, tk, heads, dv) -> o (batch, tq, heads, dv) and each row's log-sum-exp
// lse (batch, heads, tq); mask (batch, tq, tk), optional: nonzero where a query may attend to a key;
// causal: key j only for queries i >= j. bf16 (float only): the products QK^T and PV (and the
// backward pass's) with their operands rounded to bfloat16 (GemmFusion::bf16), the softmax in float32.
template <typename T>
void attention_forward(T* o, T* lse, const T* q, const T* k, const T* v, const uint8_t* mask, int64_t batch,
                       int64_t heads, int64_t tq, int64_t tk, int64_t d, int64_t dv, T scale, bool causal,
                       bool bf16 = false);
// dq, dk, dv (shapes of q, k, v, overwritten) from dout (the shape of o), recomputing the scores.
template <typename T>
void attention_backward(T* dq, T* dk, T* dv, const T* dout, const T* q, const T* k, const T* v, const T* o,
                        const T* lse, const uint8_t* mask, int64_t batch, int64_t heads, int64_t tq, int64_t tk,
                        int64_t d, int64_t dv_width, T scale, bool causal, bool bf16 = false);
// out (n, width) = table rows idx (n,); idx in [0, rows) (checked by the binding).
template <typename T>
void embedding_gather(T* out, const T* table, const int64_t* idx, int64_t n, int64_t width);
// dtable (rows, width) = the sum of dout's rows into the rows they were gathered from, in order
// within each table row (deterministic on any number of threads); rows never gathered get 0.
template <typename T>
void embedding_scatter_add(T* dtable, const T* dout, const int64_t* idx, int64_t n, int64_t rows, int64_t width);

// ---------------------------------------------------------------- recurrent layers
// Recurrent layers over whole sequences (kernels/recurrent.cpp). x (batch, steps, inputs), kernel
// (inputs, g), recurrent (u, g), bias (g) or null, with the gate width g = 4u (LSTM: gates i, f,
// c, o), 3u (GRU, reset_after: z, r, h; recurrent_bias (3u) or null) or u (SimpleRNN, `activation`).
// h0 (and c0, LSTM) (batch, u); mask (batch, steps) of 0/1 or null. The forward pass writes
// states (h, then c for LSTM: (S, batch, steps, u)) in processing order (reverse: the last step
// first), and, for the backward pass, the gates and each step's previous h in input order.
enum class RecurrentCell : int { lstm = 0, gru = 1, simple_rnn = 2 };
int64_t recurrent_gate_width(RecurrentCell cell, int64_t units);

template <typename T>
struct RecurrentArgs {
  RecurrentCell cell;
  Activation activation;  // SimpleRNN's, and its alpha (leaky_relu, elu)
  T alpha;
  int64_t batch, steps, inputs, units;
  bool reverse;
  const T *x, *kernel, *recurrent, *bias, *recurrent_bias, *h0, *c0;
  const uint8_t* mask;
  T* states;           // (S, batch, steps, u)
  T* gates;            // (batch, steps, g): LSTM/GRU the activated gates, SimpleRNN the pre-activation
  T* recurrent_gates;  // GRU: (batch, steps, 3u) the recurrent projection; else null
  T* h_prev;           // (batch, steps, u)
  bool bf16 = false;   // float: every GEMM of the run in bf16 (GemmFusion::bf16), forward and backward
};
// `count` runs (Bidirectional's two directions) at once, one per thread where there are two.
template <typename T>
void recurrent_forward(const RecurrentArgs<T>* runs, int64_t count);

// From dstates (the loss's gradient with respect to each state, shaped as states): dx (or null),
// dkernel, drecurrent, dbias and drecurrent_bias (or null), dh0 and dc0 (the initial states'). The
// run's gates (and recurrent_gates) are overwritten with the pre-activation gradients.
template <typename T>
struct RecurrentGrads {
  T *dx, *dkernel, *drecurrent, *dbias, *drecurrent_bias, *dh0, *dc0;
  const T* dstates;
};
template <typename T>
void recurrent_backward(const RecurrentArgs<T>* runs, const RecurrentGrads<T>* grads, int64_t count);

// ---------------------------------------------------------------- convolution and pooling
// A window sliding over channels_last images x[n, h, w, c]: kh x kw taps, strides sh, sw,
// dilations dh, dw, padding pt (top) and pl (left), output positions oh x ow.
struct Window2D {
  int64_t n, h, w, c, kh, kw, sh, sw, dh, dw, pt, pl, oh, ow;
};

// col[n * oh * ow, kh * kw * cg] = each output position's receptive field over channels
// [c0, c0 + cg), taps in (kh, kw, channel) order; zeros where the window is in the padding.
template <typename T>
void im2col(T* col, const T* x, const Window2D& g, int64_t c0, int64_t cg);
// dx[..., c0:c0 + cg] = 0, then every row of col added back at its taps (an image at a time, in order)
template <typename T>
void col2im(T* dx, const T* col, const Window2D& g, int64_t c0, int64_t cg);

// A convolution of x (g.n images, channels_last) with `groups` groups: kernel w (kh, kw, c /
// groups, filters) as a (taps x filters) matrix. A chunk of images per thread (its patches and
// outputs in half of L2): the chunk's GEMMs pack their patches straight from the images (an
// implicit GEMM: no im2col matrix; im2col into a per-thread buffer only for the narrow shapes
// gemm reads A in place for). Results depend on the shapes and this CPU's caches, not the thread
// count.
// Hooks see each chunk's images [first, first + count) on the chunk's thread, where the kernels
// they call run on that thread alone. A function and its context, as GemmFusion::tile_done (no
// std::function: building one per training step would allocate).
struct ChunkHook {
  void (*run)(const void* context, int64_t first, int64_t count) = nullptr;
  const void* context = nullptr;
  void operator()(int64_t first, int64_t count) const { if (run) run(context, first, count); }
};
// Forward: z[positions, filters] = patches W (+ bias), then `fused` (activation_out: rows as z);
// after_chunk runs once a chunk's rows are done (e.g. the pooling above, while they are in cache).
// A 3 x 3, stride-1, one-group window of 16 or more channels and filters (and only activation_out
// fused) takes Winograd's F(2x2, 3x3) instead of the patches (winograd.h): 1.4x faster at the
// Simple MNIST convnet's second layer, rounding a few times the patches' (float32: ~3e-7 of the
// largest output). fused.bf16: the patches' GEMM in bf16 where a patch has 64 values or more (no
// Winograd then); shorter patches (a first layer's 3 x 3 x 1) and depthwise windows stay float32.
template <typename T>
void conv2d_forward(T* z, const T* x, const T* w, const T* bias, const Window2D& g, int64_t filters, int64_t groups,
                    const GemmFusion<T>& fused = GemmFusion<T>(), const ChunkHook& after_chunk = {});
// Backward: dw = patches^T dz and db = the column sums of dz (each unless null: one partial per
// chunk, summed in chunk order; db summed while the dw GEMM packs dz) and dx = col2im(dz W^T)
// (unless null), from x, the forward pass' input (read for dw only: null without); before_chunk
// runs before a chunk's rows of dz are read (e.g. to write them). dw of a window the forward pass
// runs by Winograd's F(2x2, 3x3) is Winograd's too (and db then a sum of dz's rows per chunk).
// A transposed convolution (Conv2DTranspose) is this convolution's input gradient: its forward
// is the dx part (dz: its input), its input gradient conv2d_forward of its output gradient, and
// its kernel gradient the dw part (x: its output gradient, dz: its input). bf16: both GEMMs in
// bf16 where conv2d_forward's is (float only).
template <typename T>
void conv2d_backward(T* dw, T* db, T* dx, const T* dz, const T* x, const T* w, const Window2D& g, int64_t filters,
                     int64_t groups, const ChunkHook& before_chunk = {}, bool bf16 = false);

// ZeroPadding2D / Cropping2D: y[n, i, j, :] = x[n, i - top, j - left, :] (zeros outside x) for an
// output of oh x ow; its gradient is the same move back: shift_image(dx, dy, n, oh, ow, c, h, w,
// -top, -left).
template <typename T>
void shift_image(T* y, const T* x, int64_t n, int64_t h, int64_t w, int64_t c, int64_t oh, int64_t ow, int64_t top,
                 int64_t left);
// RandomFlip: y[b] = x[b] mirrored left to right where flips[2 b] is set and top to bottom where
// flips[2 b + 1] is; the gradient is the same flip.
template <typename T>
void flip_images(T* y, const T* x, const uint8_t* flips, int64_t n, int64_t h, int64_t w, int64_t c);
// UpSampling2D (nearest): y[n, i, j, :] = x[n, i / sh, j / sw, :]; backward sums each input's
// sh x sw copies, in row then column order.
template <typename T>
void upsample_forward(T* y, const T* x, int64_t n, int64_t h, int64_t w, int64_t c, int64_t sh, int64_t sw);
template <typename T>
void upsample_backward(T* dx, const T* dy, int64_t n, int64_t h, int64_t w, int64_t c, int64_t sh, int64_t sw);

// Resizing images (n, h, w, c) -> (n, oh, ow, c) as TensorFlow's resize with half-pixel centres,
// bilinear or nearest (kernels/resampling.cpp). In: uint8, float or double; Out: float (double for
// double).
template <typename In, typename Out>
void resize_images(Out* y, const In* x, int64_t n, int64_t h, int64_t w, int64_t c, int64_t oh, int64_t ow,
                   bool bilinear);

// y[b, i, j, :] = x[b] read at the point transforms[b] (8 floats: a0 a1 a2 b0 b1 b2 c0 c1) maps
// output (j, i) to: ((a0 j + a1 i + a2) / k, (b0 j + b1 i + b2) / k), k = c0 j + c1 i + 1, as
// TensorFlow's ImageProjectiveTransformV3 (kernels/resampling.cpp); points outside the image as
// fill_mode says.
enum class FillMode { reflect, wrap, constant, nearest };
template <typename T>
void affine_transform_images(T* y, const T* x, const float* transforms, int64_t n, int64_t h, int64_t w, int64_t c,
                             int64_t oh, int64_t ow, bool bilinear, FillMode fill_mode, T fill_value);

// y[n, oh, ow, c] = the window's maximum (padding ignored), argmax its flat index in image n of x
// (-1: none; an image holds fewer than 2^31 values, checked by the callers)
template <typename T>
void max_pool_forward(T* y, int32_t* argmax, const T* x, const Window2D& g);
template <typename T>
void max_pool_backward(T* dx, const T* dy, const int32_t* argmax, const Window2D& g);
// y = the mean over the window's positions inside the image
template <typename T>
void avg_pool_forward(T* y, const T* x, const Window2D& g);
template <typename T>
void avg_pool_backward(T* dx, const T* dy, const Window2D& g);
// The backward passes for one image (g.n ignored) on the calling thread, for callers that split
// images over threads themselves; the functions above run these per image.
template <typename T>
void max_pool_backward_image(T* dx, const T* dy, const int32_t* argmax, const Window2D& g);
template <typename T>
void avg_pool_backward_image(T* dx, const T* dy, const Window2D& g);
// max_pool_backward_image, then dz = dx * f'(z) for the layer below (z, y = f(z): its
// pre-activation and output, an element-wise f; activation_backward's bits, denormals flushed), in
// one pass and without dx, where the windows tile the image (strides = pool size, no padding):
// each input is in one window at most. Returns false, doing nothing, for other windows.
template <typename T>
bool max_pool_backward_activation_image(T* dz, const T* dy, const int32_t* argmax, const Window2D& g, const T* z,
                                        const T* y, Activation act, T alpha);

// ---------------------------------------------------------------- activations
// y[rows,cols] = f(x[rows,cols]); softmax and log_softmax are taken along each row.
// alpha: slope for leaky_relu, alpha for elu; ignored otherwise. y may alias x.
template <typename T>
void activation_forward(T* y, const T* x, int64_t rows, int64_t cols, Activation act, T alpha);

// dx[rows,cols] = dy * f'(x), using x and y = f(x) (both given; each activation reads what it needs).
// dx may alias dy.
template <typename T>
void activation_backward(T* dx, const T* dy, const T* x, const T* y, int64_t rows, int64_t cols,
                         Activation act, T alpha);

// ---------------------------------------------------------------- losses
// The one list of built-in losses, used by the kernels, the engine and the bindings.
enum class LossKind : int {
  sparse_categorical_crossentropy, categorical_crossentropy, binary_crossentropy,
  mean_squared_error, mean_absolute_error, huber
};
// The losses that elementwise_loss computes (a mean over the last axis of an element-wise term).
inline bool is_elementwise(LossKind kind) {
  return kind != LossKind::sparse_categorical_crossentropy && kind != LossKind::categorical_crossentropy;
}
// Each loss writes the per-sample loss[rows] (times weight[i] when weights != nullptr) and, when
// dpred != nullptr, dpred[rows,cols] = grad_scale * d(sum_i weight_i * loss_i) / dpred.
// from_logits: pred holds logits (softmax / sigmoid applied inside, exactly and stably);
// otherwise pred holds probabilities, clipped to [eps, 1 - eps] as Keras does.

// labels[rows] in [0, cols)
template <typename T>
void sparse_categorical_crossentropy(T* loss, T* dpred, const T* pred, const int64_t* labels,
                                     const T* weights, int64_t rows, int64_t cols,
                                     bool from_logits, T grad_scale);
// target[rows,cols]: a probability distribution per row
template <typename T>
void categorical_crossentropy(T* loss, T* dpred, const T* pred, const T* target, const T* weights,
                              int64_t rows, int64_t cols, bool from_logits, T grad_scale);

// Softmax and cross-entropy fused (backward of both at once): logits[rows,cols] -> loss[rows],
// dlogits = grad_scale * weight_i * (softmax(logits) - onehot(labels)). labels may be nullptr,
// then target[rows,cols] gives the distribution.
template <typename T>
void softmax_crossentropy(T* loss, T* dlogits, const T* logits, const int64_t* labels,
                          const T* target, const T* weights, int64_t rows, int64_t cols,
                          T grad_scale);


// Losses that are a mean over the last axis of an element-wise term:
// loss[i] = weight_i * mean_j term(pred[i,j], target[i,j]).
// delta: the Huber threshold. from_logits: only for binary_crossentropy.
template <typename T>
void elementwise_loss(T* loss, T* dpred, const T* pred, const T* target, const T* weights,
                      int64_t rows, int64_t cols, LossKind kind, bool from_logits, T delta,
                      T grad_scale);

// ---------------------------------------------------------------- optimizers (in place, n elements)
// Keras 3 update rules. Scalars that depend only on the step (bias corrections) come from the host.

// SGD: momentum == 0 -> p -= lr*g; else v = momentum*v - lr*g; p += nesterov ? momentum*v - lr*g : v
template <typename T>
void sgd_step(T* p, T* velocity, const T* g, int64_t n, T lr, T momentum, bool nesterov);

// Adam / AdamW: p -= decay * p (decay = lr * weight_decay; 0 for Adam);
// m += (g - m)(1 - beta_1); v += (g^2 - v)(1 - beta_2); vhat = max(vhat, v) when vhat != nullptr;
// p -= alpha * m / (sqrt(vhat or v) + epsilon), alpha = lr * sqrt(1 - beta_2^t) / (1 - beta_1^t).
template <typename T>
void adam_step(T* p, T* m, T* v, T* vhat, const T* g, int64_t n, T alpha, T beta_1, T beta_2,
               T epsilon, T decay);

// RMSprop: v = rho v + (1-rho) g^2; centered: mg = rho mg + (1-rho) g, denom = v - mg^2 + eps,
// else denom = v + eps; inc = lr g / sqrt(denom); momentum > 0: mom = momentum*mom + inc, p -= mom;
// else p -= inc. mg is nullptr unless centered, mom nullptr unless momentum > 0.
template <typename T>
void rmsprop_step(T* p, T* v, T* mg, T* mom, const T* g, int64_t n, T lr, T rho, T momentum,
                  T epsilon);

// Adagrad: acc += g^2; p -= lr g / sqrt(acc + epsilon)
template <typename T>
void adagrad_step(T* p, T* acc, const T* g, int64_t n, T lr, T epsilon);

// Adamax: m += (g - m)(1 - beta_1); u = max(beta_2 u, |g|); p -= lr_t m / (u + epsilon),
// lr_t = lr / (1 - beta_1^t).
template <typename T>
void adamax_step(T* p, T* m, T* u, const T* g, int64_t n, T lr_t, T beta_1, T beta_2, T epsilon);

// Nadam (Keras' momentum schedule): m += (g - m)(1 - beta_1); v += (g^2 - v)(1 - beta_2);
// p -= lr (c_m m + c_g g) / (sqrt(v / v_scale) + epsilon), with c_m, c_g and v_scale = 1 - beta_2^t
// from the step's schedule (nadam_scalars).
template <typename T>
void nadam_step(T* p, T* m, T* v, const T* g, int64_t n, T lr, T c_m, T c_g, T v_scale, T beta_1,
                T beta_2, T epsilon);

// Adadelta: ag = rho ag + (1 - rho) g^2; d = -sqrt(ad + eps) g / sqrt(ag + eps);
// ad = rho ad + (1 - rho) d^2; p += lr d.
template <typename T>
void adadelta_step(T* p, T* ag, T* ad, const T* g, int64_t n, T lr, T rho, T epsilon);

// Lion: p -= lr sign(beta_1 m + (1 - beta_1) g); m = beta_2 m + (1 - beta_2) g.
template <typename T>
void lion_step(T* p, T* m, const T* g, int64_t n, T lr, T beta_1, T beta_2);

// ---------------------------------------------------------------- one optimizer step, described
// What an optimizer is to the engine (and to the Python path, which runs the same code): its
// rule, hyper-parameters, clipping and state. Each state array spans the flat parameter buffer;
// nullptr where the option is off. The rules are the kernels above; weight_decay is Keras'
// decoupled p -= lr * weight_decay * p, applied first.
enum class OptimizerKind : int { sgd, adam, rmsprop, adagrad, adamax, nadam, adadelta, lion };
enum class ClipKind : int { none, value, norm, global_norm };
constexpr int kOptimizerSlots = 3;

struct OptimizerSpec {
  OptimizerKind kind = OptimizerKind::sgd;
  double learning_rate = 0.01, beta_1 = 0.9, beta_2 = 0.999, epsilon = 1e-7, rho = 0.9,
         momentum = 0, weight_decay = 0;
  bool nesterov = false;
  ClipKind clip = ClipKind::none;  // value: each element to [-c, c]; norm: each variable's L2 norm
  double clip_threshold = 0;       // to <= c; global_norm: all variables' together
  // sgd {velocity}; adam {m, v, vhat (AMSGrad)}; rmsprop {velocity, average_gradient (centered),
  // momentum}; adagrad {accumulator}; adamax {m, u}; nadam {m, v}; adadelta {accumulated_grad,
  // accumulated_delta_var}; lion {m}
  float* state[kOptimizerSlots] = {nullptr, nullptr, nullptr};
  double u_product = 1;     // Nadam's running product of its momentum schedule
  int64_t iterations = 0;   // updates done so far
};

// A variable's place in the flat buffers.
struct Span {
  int64_t offset, size;
};

// The scalars of one update, computed once in double from the step count with Keras' expressions.
struct UpdateStep {
  const OptimizerSpec* spec;
  float lr, decay, lr_t, c_m, c_g, v_scale;  // lr_t: Adam's / Adamax's corrected rate; c_*: Nadam
  float beta_1, beta_2, epsilon, rho, momentum;  // the spec's, as the rules take them
};
// Starts update number iterations + 1 at this learning rate: advances spec.iterations (and Nadam's
// u_product) and returns the step's scalars.
UpdateStep begin_update(OptimizerSpec& spec, double learning_rate);
// The weight decay and update rule on params[offset, offset + n) from its (clipped) gradient g[n],
// on the calling thread alone (the engine calls it on GEMM threads, per finished tile).
void apply_update_serial(const UpdateStep& step, float* params, const float* g, int64_t offset, int64_t n);
// Clipping, then begin_update and the rule over every trainable variable (grads clipped in place).
void optimizer_step(OptimizerSpec& spec, double learning_rate, float* params, float* grads,
                    const std::vector<Span>& trainable);

// ---------------------------------------------------------------- clipping and penalties
// sum of g^2 in double, in a fixed order whatever the thread count
double sum_of_squares(const float* g, int64_t n);
void clip_by_value(float* g, int64_t n, float limit);  // g = min(max(g, -limit), limit); NaN stays
void scale_by(float* g, int64_t n, float factor);
// Keras' L1/L2 weight penalty: l1 * sum |w| + l2 * sum w^2 (each sum in double, in a fixed order).
double weight_penalty(const float* w, int64_t n, double l1, double l2);
// Its gradient, added: g += l1 * sign(w), then g += 2 l2 * w (each term skipped when 0).
void add_penalty_gradient(float* g, const float* w, int64_t n, double l1, double l2);

// ---------------------------------------------------------------- dropout
// mask[i] = 1 with probability 1 - rate, from a counter-based hash of (seed, i): the same mask for
// the same seed whatever the thread count. y = x * mask / (1 - rate). y may alias x.
template <typename T>
void dropout_forward(T* y, uint8_t* mask, const T* x, int64_t n, T rate, uint64_t seed);
// The same for elements first .. first + n of a longer run (mask[i] keyed by first + i): a data-
// parallel process draws exactly the masks of its rows of the whole batch.
template <typename T>
void dropout_forward_at(T* y, uint8_t* mask, const T* x, int64_t n, T rate, uint64_t seed, int64_t first);
// Dropout of whole channels (Keras' SpatialDropout): x holds rows of `positions` x `channels`
// values; one keep flag per (row, channel), keyed by (first_row + row) * channels + channel, kept or
// dropped at every position. mask is per value, as dropout_forward's (dropout_backward applies).
template <typename T>
void spatial_dropout_forward(T* y, uint8_t* mask, const T* x, int64_t rows, int64_t positions, int64_t channels,
                             T rate, uint64_t seed, int64_t first_row);
// dx = dy * mask / (1 - rate). dx may alias dy.
template <typename T>
void dropout_backward(T* dx, const T* dy, const uint8_t* mask, int64_t n, T rate);

}  // namespace brisknet
