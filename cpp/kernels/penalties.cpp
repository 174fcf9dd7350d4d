// Gradient clipping and Keras' L1/L2 weight penalties over whole buffers (the element rules are
// in optimizer_rules.h). Sums are taken in double, in
// fixed blocks summed in order, so they do not depend on the thread count.
#include <cmath>
#include <vector>
#include "brisknet/kernels.h"
#include "optimizer_rules.h"
#include "parallel.h"

namespace brisknet {
namespace {

constexpr int64_t kSumBlock = 1 << 14;

// sum over i of term(x[i]), in double: four interleaved partial sums per block of kSumBlock
// elements (so the loop vectorises without reassociation), blocks added in order.
template <typename F>
double blocked_sum(const float* x, int64_t n, F term) {
  const int64_t blocks = (n + kSumBlock - 1) / kSumBlock;
  std::vector<double> partial(size_t(std::max<int64_t>(blocks, 1)), 0.0);
  const int nt = detail::threads_for(n, detail::kElementGrain);
#pragma omp parallel for num_threads(nt) schedule(static)
  for (int64_t blk = 0; blk < blocks; ++blk) {
    const int64_t begin = blk * kSumBlock, end = std::min(n, begin + kSumBlock);
    double lane[4] = {0, 0, 0, 0};
    int64_t i = begin;
    for (; i + 4 <= end; i += 4)
      for (int k = 0; k < 4; ++k) lane[k] += term(x[i + k]);
    for (; i < end; ++i) lane[0] += term(x[i]);
    partial[size_t(blk)] = (lane[0] + lane[1]) + (lane[2] + lane[3]);
  }
  double total = 0;
  for (double p : partial) total += p;
  return total;
}

}  // namespace

double sum_of_squares(const float* g, int64_t n) {
  return blocked_sum(g, n, [](float v) { return double(v) * double(v); });
}

void clip_by_value(float* g, int64_t n, float limit) {
  detail::parallel_chunks(n, [&](int64_t b, int64_t e) { detail::clip_by_value_range(g + b, e - b, limit); });
}

void scale_by(float* g, int64_t n, float factor) {
  detail::parallel_chunks(n, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) g[i] *= factor;
  });
}

double weight_penalty(const float* w, int64_t n, double l1, double l2) {
  double total = 0.0;
  if (l1 != 0) total += l1 * blocked_sum(w, n, [](float v) { return std::abs(double(v)); });
  if (l2 != 0) total += l2 * blocked_sum(w, n, [](float v) { return double(v) * double(v); });
  return total;
}

void add_penalty_gradient(float* g, const float* w, int64_t n, double l1, double l2) {
  detail::parallel_chunks(n, [&](int64_t b, int64_t e) {
    detail::add_penalty_gradient_range(g + b, w + b, e - b, float(l1), float(2.0 * l2));
  });
}

}  // namespace brisknet
