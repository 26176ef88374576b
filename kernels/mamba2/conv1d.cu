#include <cuda_runtime.h>

#include "common/device_math.cuh"
#include "common/static_switch.h"
#include "common/vec_io.cuh"
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

constexpr int kVec = 8;          // channels per thread in the vector kernel
constexpr int kVecTokens = 8;    // consecutive tokens per thread there
constexpr int kVecThreads = 128;

// The prefill path: a thread takes 8 channels (one 16-byte load per token for bf16/f16) of kVecTokens
// consecutive tokens, keeps the K - 1 inputs before each token in registers (so each input is read
// once) and its channels' weights and biases too. Needs C % 8 == 0 and 8-element-aligned rows (the
// launcher checks). grid (C / 8 / kVecThreads, token blocks (grid-strided), B).
template <typename T, int K>
__global__ void __launch_bounds__(kVecThreads) conv1d_fwd_vec_kernel(Conv1dParams p) {
  const int groups = int(p.channels / kVec), grp = int(blockIdx.x) * kVecThreads + int(threadIdx.x);
  if (grp >= groups) return;
  const int64_t c0 = int64_t(grp) * kVec, b = blockIdx.z;
  float w[K][kVec], bias[kVec];
  const T* wt = static_cast<const T*>(p.weight);
#pragma unroll
  for (int v = 0; v < kVec; ++v) {
#pragma unroll
    for (int k = 0; k < K; ++k) w[k][v] = to_float(wt[(c0 + v) * K + k]);
    bias[v] = to_float(static_cast<const T*>(p.bias)[c0 + v]);
  }
  const T* x = static_cast<const T*>(p.x) + b * p.x_stride_b + c0;
  const T* st = static_cast<const T*>(p.init_state);
  T* out = static_cast<T*>(p.out) + b * p.len * p.channels + c0;
  for (int64_t t0 = int64_t(blockIdx.y) * kVecTokens; t0 < p.len; t0 += int64_t(gridDim.y) * kVecTokens) {
    float win[K > 1 ? K - 1 : 1][kVec];  // inputs at t0 - K + 1 .. t0 - 1
#pragma unroll
    for (int j = 0; j < K - 1; ++j) {
      const int64_t s = t0 - (K - 1) + j;  // < 0 reads the initial state
      if (s >= 0) {
        load_floats<kVec>(x + s * p.x_stride_l, win[j]);
      } else {
#pragma unroll
        for (int v = 0; v < kVec; ++v)
          win[j][v] = st ? to_float(st[(b * p.channels + c0 + v) * (K - 1) + (K - 1) + s]) : 0.f;
      }
    }
#pragma unroll
    for (int i = 0; i < kVecTokens; ++i) {
      const int64_t t = t0 + i;
      if (t >= p.len) break;
      float cur[kVec], o[kVec];
      load_floats<kVec>(x + t * p.x_stride_l, cur);
#pragma unroll
      for (int v = 0; v < kVec; ++v) {
        float acc = bias[v] + w[K - 1][v] * cur[v];
#pragma unroll
        for (int j = 0; j < K - 1; ++j) acc += w[j][v] * win[j][v];
        o[v] = silu(acc);
      }
      store_floats<kVec>(out + t * p.channels, o);
#pragma unroll
      for (int j = 0; j + 1 < K - 1; ++j)
#pragma unroll
        for (int v = 0; v < kVec; ++v) win[j][v] = win[j + 1][v];
      if constexpr (K > 1) {
#pragma unroll
        for (int v = 0; v < kVec; ++v) win[K - 2][v] = cur[v];
      }
    }
  }
}

template <typename T>
bool conv1d_vec_fits(const Conv1dParams& p) {
  return p.channels % kVec == 0 && p.x_stride_l % kVec == 0 && p.x_stride_b % kVec == 0 &&
         aligned_to(p.x, kVec, sizeof(T)) && aligned_to(p.out, kVec, sizeof(T)) && p.width >= 2 && p.width <= 4;
}

template <typename T>
void conv1d_fwd_vec_launch(const Conv1dParams& p, cudaStream_t s) {
  const int64_t token_blocks = (p.len + kVecTokens - 1) / kVecTokens;
  const dim3 grid(unsigned((p.channels / kVec + kVecThreads - 1) / kVecThreads),
                  unsigned(token_blocks < 65535 ? token_blocks : 65535), unsigned(p.batch));
  switch (p.width) {
    case 2: conv1d_fwd_vec_kernel<T, 2><<<grid, kVecThreads, 0, s>>>(p); break;
    case 3: conv1d_fwd_vec_kernel<T, 3><<<grid, kVecThreads, 0, s>>>(p); break;
    default: conv1d_fwd_vec_kernel<T, 4><<<grid, kVecThreads, 0, s>>>(p); break;
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
    if (n > 0 && p.batch <= 65535 && conv1d_vec_fits<scalar_t>(p)) conv1d_fwd_vec_launch<scalar_t>(p, s);
    else if (n > 0) conv1d_fwd_kernel<scalar_t><<<blocks_for(n), kThreads, 0, s>>>(p);
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
