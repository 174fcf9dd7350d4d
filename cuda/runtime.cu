// What the machine offers (driver, devices), and the GEMM on host arrays for tests and benchmarks.
#include <string>

#include "api.h"
#include "kernels.cuh"

namespace brisknet::cuda {

Availability availability() {
  Availability a;
  int count = 0;
  const cudaError_t status = cudaGetDeviceCount(&count);
  if (status == cudaSuccess) {
    a.devices = count;
    if (count == 0) a.error = "no CUDA device: the NVIDIA driver reports none";
    return a;
  }
  cudaGetLastError();  // not sticky: clear it
  switch (status) {
    case cudaErrorNoDevice:
      a.error = "no CUDA device: the NVIDIA driver reports none";
      break;
    case cudaErrorInsufficientDriver:
      a.error = "the NVIDIA driver is missing or older than this build's CUDA " +
                std::to_string(runtime_version() / 1000) + "." + std::to_string(runtime_version() % 1000 / 10) +
                " runtime needs";
      break;
    default:
      a.error = std::string("the CUDA runtime cannot start: ") + cudaGetErrorName(status) + ": " +
                cudaGetErrorString(status);
  }
  return a;
}

std::string device_name(int device) {
  cudaDeviceProp prop{};
  BRISKNET_CUDA_CHECK(cudaGetDeviceProperties(&prop, device));
  return prop.name;
}

int runtime_version() {
  int v = 0;
  cudaRuntimeGetVersion(&v);
  return v;
}

int driver_version() {
  int v = 0;
  if (cudaDriverGetVersion(&v) != cudaSuccess) return 0;
  return v;
}

void gemm_on_host(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, const float* a, const float* b,
                  const float* bias, Activation act, float alpha, float* c, float* pre, bool tf32, int splits) {
  DeviceBuffer<float> da, db, dbias, dc, dpre, workspace;
  da.upload(a, m * k);
  db.upload(b, k * n);
  if (bias) dbias.upload(bias, n);
  dc.resize(m * n);
  if (pre) dpre.resize(m * n);
  GemmArgs g;
  g.trans_a = trans_a, g.trans_b = trans_b, g.m = m, g.n = n, g.k = k;
  g.a = da.get(), g.lda = trans_a ? m : k;
  g.b = db.get(), g.ldb = trans_b ? k : n;
  g.c = dc.get(), g.ldc = n;
  Epilogue e;
  e.bias = bias ? dbias.get() : nullptr;
  e.pre = pre ? dpre.get() : nullptr;
  e.act = act, e.alpha = alpha;
  gemm(nullptr, g, e, tf32, workspace, splits);
  dc.download(c, m * n);
  if (pre) dpre.download(pre, m * n);
  BRISKNET_CUDA_CHECK(cudaDeviceSynchronize());
}

double time_gemm(int64_t m, int64_t n, int64_t k, bool trans_a, bool trans_b, bool tf32, int calls) {
  DeviceBuffer<float> a(m * k), b(k * n), c(m * n), workspace;
  BRISKNET_CUDA_CHECK(cudaMemset(a.get(), 0, sizeof(float) * m * k));
  BRISKNET_CUDA_CHECK(cudaMemset(b.get(), 0, sizeof(float) * k * n));
  GemmArgs g;
  g.trans_a = trans_a, g.trans_b = trans_b, g.m = m, g.n = n, g.k = k;
  g.a = a.get(), g.lda = trans_a ? m : k, g.b = b.get(), g.ldb = trans_b ? k : n, g.c = c.get(), g.ldc = n;
  gemm(nullptr, g, Epilogue{}, tf32, workspace);  // warm-up, and the split-k workspace
  cudaEvent_t start, stop;
  BRISKNET_CUDA_CHECK(cudaEventCreate(&start));
  BRISKNET_CUDA_CHECK(cudaEventCreate(&stop));
  BRISKNET_CUDA_CHECK(cudaEventRecord(start));
  for (int i = 0; i < calls; ++i) gemm(nullptr, g, Epilogue{}, tf32, workspace);
  BRISKNET_CUDA_CHECK(cudaEventRecord(stop));
  BRISKNET_CUDA_CHECK(cudaEventSynchronize(stop));
  float ms = 0;
  BRISKNET_CUDA_CHECK(cudaEventElapsedTime(&ms, start, stop));
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  return double(ms) / 1000.0 / calls;
}

}  // namespace brisknet::cuda
