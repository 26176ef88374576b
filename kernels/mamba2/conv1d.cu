#include <cuda_runtime.h>

#include "common/device_math.cuh"
#include "common/static_switch.h"
#include "mamba2/conv1d.h"

namespace mm::kern {
namespace {

constexpr int kThreads = 256;

unsigned blocks_for(int64_t n) {
  const int64_t b = (n + kThreads - 1) / kThreads;
  return unsigned(b < 65536 ? b : 65536);  // grid-stride beyond
}

// One thread per output (b, t, c); consecutive threads take consecutive channels (coalesced).
template <typename T>
__global__ void conv1d_fwd_kernel(Conv1dParams p) {
  const int K = p.width;
  const T* x = static_cast<const T*>(p.x);
  const T* w = static_cast<const T*>(p.weight);
  const T* st = static_cast<const T*>(p.init_state);
  const int64_t n = p.batch * p.len * p.channels;
  for (int64_t i = blockIdx.x * int64_t(kThreads) + threadIdx.x; i < n; i += int64_t(gridDim.x) * kThreads) {
    const int64_t c = i % p.channels, t = (i / p.channels) % p.len, b = i / (p.channels * p.len);
    float acc = to_float(static_cast<const T*>(p.bias)[c]);
    for (int k = 0; k < K; ++k) {
      const int64_t s = t + k - (K - 1);  // source position; < 0 reads the initial state
      float v = 0.f;
      if (s >= 0) v = to_float(x[b * p.x_stride_b + s * p.x_stride_l + c]);
      else if (st) v = to_float(st[(b * p.channels + c) * (K - 1) + (K - 1) + s]);
      acc += to_float(w[c * K + k]) * v;
    }
    static_cast<T*>(p.out)[i] = from_float<T>(silu(acc));
  }
}

// final_state[b, c, j] = xt[L + j] where xt = [init_state (K-1) | x (L)].
template <typename T>
__global__ void conv1d_final_state_kernel(Conv1dParams p) {
  const int K = p.width;
  const int64_t n = p.batch * p.channels * (K - 1);
  for (int64_t i = blockIdx.x * int64_t(kThreads) + threadIdx.x; i < n; i += int64_t(gridDim.x) * kThreads) {
    const int64_t j = i % (K - 1), c = (i / (K - 1)) % p.channels, b = i / ((K - 1) * p.channels);
    const int64_t src = p.len + j;  // index into xt
    T v = from_float<T>(0.f);
    if (src >= K - 1) v = static_cast<const T*>(p.x)[b * p.x_stride_b + (src - (K - 1)) * p.x_stride_l + c];
    else if (p.init_state) v = static_cast<const T*>(p.init_state)[(b * p.channels + c) * (K - 1) + src];
    static_cast<T*>(p.final_state)[i] = v;
  }
}

template <typename T>
__global__ void conv1d_update_kernel(Conv1dUpdateParams p) {
  const int K = p.width;
  const int64_t n = p.batch * p.channels;
  for (int64_t i = blockIdx.x * int64_t(kThreads) + threadIdx.x; i < n; i += int64_t(gridDim.x) * kThreads) {
    const int64_t c = i % p.channels, b = i / p.channels;
    T* st = static_cast<T*>(p.state) + i * (K - 1);
    const T* w = static_cast<const T*>(p.weight) + c * K;
    const T xin = static_cast<const T*>(p.x)[b * p.x_stride_b + c];
    float acc = to_float(static_cast<const T*>(p.bias)[c]);
    for (int k = 0; k < K - 1; ++k) acc += to_float(w[k]) * to_float(st[k]);
    acc += to_float(w[K - 1]) * to_float(xin);
    for (int k = 0; k + 1 < K - 1; ++k) st[k] = st[k + 1];
    st[K - 2] = xin;
    static_cast<T*>(p.out)[i] = from_float<T>(silu(acc));
  }
}

}  // namespace

int causal_conv1d_launch(const Conv1dParams& p, Stream stream) {
  const cudaStream_t s = cudaStream_t(stream);
  MM_DTYPE_SWITCH(p.dtype, [&] {
    const int64_t n = p.batch * p.len * p.channels;
    if (n > 0) conv1d_fwd_kernel<scalar_t><<<blocks_for(n), kThreads, 0, s>>>(p);
    const int64_t m = p.batch * p.channels * (p.width - 1);
    if (m > 0) conv1d_final_state_kernel<scalar_t><<<blocks_for(m), kThreads, 0, s>>>(p);
  });
  return int(cudaGetLastError());
}

int causal_conv1d_update_launch(const Conv1dUpdateParams& p, Stream stream) {
  const int64_t n = p.batch * p.channels;
  if (n == 0) return 0;
  MM_DTYPE_SWITCH(p.dtype, [&] {
    conv1d_update_kernel<scalar_t><<<blocks_for(n), kThreads, 0, cudaStream_t(stream)>>>(p);
  });
  return int(cudaGetLastError());
}

}  // namespace mm::kern
