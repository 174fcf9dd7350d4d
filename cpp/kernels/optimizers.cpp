// The optimizer kernels over a whole buffer: one range per thread of the rules in
// optimizer_rules.h.
#include "brisknet/kernels.h"
#include "optimizer_rules.h"
#include "parallel.h"

namespace brisknet {

// The public kernels: one contiguous range per thread.
namespace {
template <typename T> T* at(T* a, int64_t b) { return a ? a + b : nullptr; }
}  // namespace

template <typename T>
void sgd_step(T* p, T* velocity, const T* g, int64_t n, T lr, T momentum, bool nesterov) {
  detail::parallel_chunks(n, [&](int64_t b, int64_t e) {
    detail::sgd_range(p + b, at(velocity, b), g + b, e - b, lr, momentum, nesterov);
  });
}

template <typename T>
void adam_step(T* p, T* m, T* v, T* vhat, const T* g, int64_t n, T alpha, T beta_1, T beta_2,
               T epsilon, T decay) {
  detail::parallel_chunks(n, [&](int64_t b, int64_t e) {
    detail::adam_range(p + b, m + b, v + b, at(vhat, b), g + b, e - b, alpha, beta_1, beta_2, epsilon, decay);
  });
}

template <typename T>
void rmsprop_step(T* p, T* v, T* mg, T* mom, const T* g, int64_t n, T lr, T rho, T momentum,
                  T epsilon) {
  detail::parallel_chunks(n, [&](int64_t b, int64_t e) {
    detail::rmsprop_range(p + b, v + b, at(mg, b), at(mom, b), g + b, e - b, lr, rho, momentum, epsilon);
  });
}

template <typename T>
void adagrad_step(T* p, T* acc, const T* g, int64_t n, T lr, T epsilon) {
  detail::parallel_chunks(n, [&](int64_t b, int64_t e) {
    detail::adagrad_range(p + b, acc + b, g + b, e - b, lr, epsilon);
  });
}

template <typename T>
void adamax_step(T* p, T* m, T* u, const T* g, int64_t n, T lr_t, T beta_1, T beta_2, T epsilon) {
  detail::parallel_chunks(n, [&](int64_t b, int64_t e) {
    detail::adamax_range(p + b, m + b, u + b, g + b, e - b, lr_t, beta_1, beta_2, epsilon);
  });
}

template <typename T>
void nadam_step(T* p, T* m, T* v, const T* g, int64_t n, T lr, T c_m, T c_g, T v_scale, T beta_1,
                T beta_2, T epsilon) {
  detail::parallel_chunks(n, [&](int64_t b, int64_t e) {
    detail::nadam_range(p + b, m + b, v + b, g + b, e - b, lr, c_m, c_g, v_scale, beta_1, beta_2, epsilon);
  });
}

template <typename T>
void adadelta_step(T* p, T* ag, T* ad, const T* g, int64_t n, T lr, T rho, T epsilon) {
  detail::parallel_chunks(n, [&](int64_t b, int64_t e) {
    detail::adadelta_range(p + b, ag + b, ad + b, g + b, e - b, lr, rho, epsilon);
  });
}

template <typename T>
void lion_step(T* p, T* m, const T* g, int64_t n, T lr, T beta_1, T beta_2) {
  detail::parallel_chunks(n, [&](int64_t b, int64_t e) {
    detail::lion_range(p + b, m + b, g + b, e - b, lr, beta_1, beta_2);
  });
}

#define BRISKNET_INSTANTIATE_OPTIMIZERS(T)                                                     \
  template void sgd_step<T>(T*, T*, const T*, int64_t, T, T, bool);                            \
  template void adam_step<T>(T*, T*, T*, T*, const T*, int64_t, T, T, T, T, T);                \
  template void rmsprop_step<T>(T*, T*, T*, T*, const T*, int64_t, T, T, T, T);                \
  template void adagrad_step<T>(T*, T*, const T*, int64_t, T, T);                              \
  template void adamax_step<T>(T*, T*, T*, const T*, int64_t, T, T, T, T);                     \
  template void nadam_step<T>(T*, T*, T*, const T*, int64_t, T, T, T, T, T, T, T);             \
  template void adadelta_step<T>(T*, T*, T*, const T*, int64_t, T, T, T);                      \
  template void lion_step<T>(T*, T*, const T*, int64_t, T, T, T);
BRISKNET_INSTANTIATE_OPTIMIZERS(float)
BRISKNET_INSTANTIATE_OPTIMIZERS(double)

}  // namespace brisknet
