// One optimizer step from its typed description (OptimizerSpec): clipping, Keras' decoupled
// weight decay and the update rule. The Python reference path and the training engine both run
// this code, so they give bit-identical weights whichever of them trains.
#include <cmath>
#include "brisknet/kernels.h"
#include "optimizer_rules.h"
#include "parallel.h"

namespace brisknet {

UpdateStep begin_update(OptimizerSpec& s, double lr) {
  const double t = double(++s.iterations);
  const math::StepScalars c = math::step_scalars(s.kind, lr, t, s.beta_1, s.beta_2, s.weight_decay, &s.u_product);
  return UpdateStep{&s, c.lr, c.decay, c.lr_t, c.c_m, c.c_g, c.v_scale,
                    float(s.beta_1), float(s.beta_2), float(s.epsilon), float(s.rho), float(s.momentum)};
}

void apply_update_serial(const UpdateStep& u, float* params, const float* g, int64_t offset, int64_t n) {
  const OptimizerSpec& s = *u.spec;
  float* p = params + offset;
  float* st[kOptimizerSlots];
  for (int i = 0; i < kOptimizerSlots; ++i) st[i] = s.state[i] ? s.state[i] + offset : nullptr;
  if (u.decay != 0.0f && s.kind != OptimizerKind::adam) {  // Adam decays inside its loop
    for (int64_t i = 0; i < n; ++i) p[i] -= p[i] * u.decay;
  }
  const float b1 = u.beta_1, b2 = u.beta_2, eps = u.epsilon;
  switch (s.kind) {
    case OptimizerKind::sgd:
      detail::sgd_range(p, st[0], g, n, u.lr, u.momentum, s.nesterov);
      break;
    case OptimizerKind::adam:
      detail::adam_range(p, st[0], st[1], st[2], g, n, u.lr_t, b1, b2, eps, u.decay);
      break;
    case OptimizerKind::rmsprop:
      detail::rmsprop_range(p, st[0], st[1], st[2], g, n, u.lr, u.rho, u.momentum, eps);
      break;
    case OptimizerKind::adagrad:
      detail::adagrad_range(p, st[0], g, n, u.lr, eps);
      break;
    case OptimizerKind::adamax:
      detail::adamax_range(p, st[0], st[1], g, n, u.lr_t, b1, b2, eps);
      break;
    case OptimizerKind::nadam:
      detail::nadam_range(p, st[0], st[1], g, n, u.lr, u.c_m, u.c_g, u.v_scale, b1, b2, eps);
      break;
    case OptimizerKind::adadelta:
      detail::adadelta_range(p, st[0], st[1], g, n, u.lr, u.rho, eps);
      break;
    case OptimizerKind::lion:
      detail::lion_range(p, st[0], g, n, u.lr, b1, b2);
      break;
  }
}

namespace {
// Keras clips a variable's gradient to norm c when its norm is larger: g * (c / norm).
void clip_to_norm(float* g, int64_t n, double sum_sq, double limit) {
  const double norm = std::sqrt(sum_sq);
  if (norm > limit) scale_by(g, n, float(limit / norm));
}
}  // namespace

void optimizer_step(OptimizerSpec& s, double lr, float* params, float* grads, const std::vector<Span>& trainable) {
  switch (s.clip) {
    case ClipKind::value:
      for (const Span& v : trainable) clip_by_value(grads + v.offset, v.size, float(s.clip_threshold));
      break;
    case ClipKind::norm:
      for (const Span& v : trainable)
        clip_to_norm(grads + v.offset, v.size, sum_of_squares(grads + v.offset, v.size), s.clip_threshold);
      break;
    case ClipKind::global_norm: {
      double total = 0;  // the variables' sums, in order
      for (const Span& v : trainable) total += sum_of_squares(grads + v.offset, v.size);
      const double norm = std::sqrt(total);
      if (norm > s.clip_threshold)
        for (const Span& v : trainable) scale_by(grads + v.offset, v.size, float(s.clip_threshold / norm));
      break;
    }
    case ClipKind::none:
      break;
  }
  const UpdateStep u = begin_update(s, lr);
  for (const Span& v : trainable)
    detail::parallel_chunks(v.size, [&](int64_t b, int64_t e) {
      apply_update_serial(u, params, grads + v.offset + b, v.offset + b, e - b);
    });
}

}  // namespace brisknet
