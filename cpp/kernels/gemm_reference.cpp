// The GEMM oracle: a plain triple loop that performs each element's operations in the order the
// packed GEMM (gemm.cpp) does: per block of kc values of k (this CPU's kc), a sum from zero of
// a*b in order of k (one fused multiply-add each on the ISAs that have it, else a multiply and
// an add), added to beta * C for the first block and to C after it; the bias last. So tests can
// ask gemm for exact equality with it on every ISA path. Slow on purpose: tests only.
#include <cmath>
#include "brisknet/kernels.h"
#include "gemm_dispatch.h"

namespace brisknet {

template <typename T>
void gemm_reference(T* C, int64_t ldc, const T* A, int64_t rsa, int64_t csa, const T* B, int64_t rsb,
                    int64_t csb, int64_t m, int64_t n, int64_t k, T beta, const T* bias) {
  const bool fused = detail::isa() != "generic";  // the micro-kernels of avx2/avx512 use FMA
  const int64_t kc = detail::gemm_kernels<T>().tiles[0].kc;
  auto madd = [fused](T a, T b, T c) { return fused ? std::fma(a, b, c) : c + a * b; };
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      T& c = C[i * ldc + j];
      T r = k == 0 && beta != T(0) ? beta * c : T(0);
      for (int64_t p0 = 0; p0 < k; p0 += kc) {
        T acc = T(0);
        for (int64_t p = p0; p < std::min(k, p0 + kc); ++p) acc = madd(A[i * rsa + p * csa], B[p * rsb + j * csb], acc);
        if (p0 > 0) r = r + acc;
        else r = beta != T(0) ? madd(beta, c, acc) : acc;
      }
      if (bias) r = r + bias[j];
      c = r;
    }
}

template void gemm_reference<float>(float*, int64_t, const float*, int64_t, int64_t, const float*, int64_t,
                                    int64_t, int64_t, int64_t, int64_t, float, const float*);
template void gemm_reference<double>(double*, int64_t, const double*, int64_t, int64_t, const double*, int64_t,
                                     int64_t, int64_t, int64_t, int64_t, double, const double*);

}  // namespace brisknet
