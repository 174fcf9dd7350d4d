// Device-side helpers of the CUDA backend: error checks that throw, and an owning device buffer.
#pragma once
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <string>

namespace brisknet::cuda {

inline void check(cudaError_t status, const char* what) {
  if (status != cudaSuccess)
    throw std::runtime_error(std::string("CUDA: ") + what + ": " + cudaGetErrorName(status) + ": " +
                             cudaGetErrorString(status));
}
#define BRISKNET_CUDA_CHECK(call) ::brisknet::cuda::check((call), #call)
// After a kernel launch: a bad configuration is reported here, a fault at the next synchronisation.
#define BRISKNET_CUDA_LAUNCHED(what) ::brisknet::cuda::check(cudaGetLastError(), what)

// Element-wise kernels: kThreads per block, enough blocks for n (capped: each thread then strides).
constexpr int kThreads = 256;
inline int blocks_for(int64_t n) { return int(std::min<int64_t>((n + kThreads - 1) / kThreads, 65535 * 4)); }
#define BRISKNET_GRID_STRIDE(i, n) \
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < (n); i += int64_t(gridDim.x) * blockDim.x)

// n elements of T on the device (uninitialised), freed with the buffer.
template <typename T>
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  explicit DeviceBuffer(int64_t n) { resize(n); }
  ~DeviceBuffer() { release(); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  DeviceBuffer(DeviceBuffer&& o) noexcept : p_(o.p_), n_(o.n_) { o.p_ = nullptr, o.n_ = 0; }
  DeviceBuffer& operator=(DeviceBuffer&& o) noexcept {
    if (this != &o) {
      release();
      p_ = o.p_, n_ = o.n_;
      o.p_ = nullptr, o.n_ = 0;
    }
    return *this;
  }

  // Reallocates when n differs (contents lost); returns true when the address changed.
  bool resize(int64_t n) {
    if (n == n_ && (p_ || n == 0)) return false;
    release();
    if (n > 0) BRISKNET_CUDA_CHECK(cudaMalloc(reinterpret_cast<void**>(&p_), sizeof(T) * size_t(n)));
    n_ = n;
    return true;
  }
  // Grows to at least n (never shrinks); returns true when the address changed.
  bool reserve(int64_t n) { return n > n_ ? resize(n) : false; }
  void upload(const T* host, int64_t n, cudaStream_t s = nullptr) {
    resize(n);
    if (n) BRISKNET_CUDA_CHECK(cudaMemcpyAsync(p_, host, sizeof(T) * size_t(n), cudaMemcpyHostToDevice, s));
  }
  void download(T* host, int64_t n, cudaStream_t s = nullptr) const {
    if (n) BRISKNET_CUDA_CHECK(cudaMemcpyAsync(host, p_, sizeof(T) * size_t(n), cudaMemcpyDeviceToHost, s));
  }
  T* get() const { return p_; }
  int64_t size() const { return n_; }

 private:
  void release() {
    if (p_) cudaFree(p_);
    p_ = nullptr, n_ = 0;
  }
  T* p_ = nullptr;
  int64_t n_ = 0;
};

}  // namespace brisknet::cuda
