#include <cuda_runtime.h>

#include "common/device_math.cuh"
#include "common/static_switch.h"
#include "rope/kv_append.h"
#include "rope/rope_math.cuh"

namespace mm::kern {
namespace {

constexpr int kThreads = 512;

template <typename T>
__global__ void __launch_bounds__(kThreads) kv_append_kernel(KvAppendParams p) {
  const int64_t pos = *p.len, half = p.head_dim / 2, G = p.group;
  // Items: the rotated pairs of the G queries and the key of every (b, kv head), then the value's elements.
  const int64_t pairs = p.batch * p.kv_heads * (G + 1) * half, vals = p.batch * p.kv_heads * p.head_dim;
  for (int64_t idx = threadIdx.x; idx < pairs + vals; idx += kThreads) {
    if (idx < pairs) {
      const int64_t i = idx % half, slot = (idx / half) % (G + 1), bh = idx / (half * (G + 1));
      const int64_t b = bh / p.kv_heads, h = bh % p.kv_heads;
      const T* x = static_cast<const T*>(p.qkv) + b * p.qkv_stride_b + h * p.qkv_stride_h + slot * p.qkv_stride_slot;
      float o1, o2;
      rope_pair(to_float(x[i]), to_float(x[i + half]), pos, i, p.head_dim, p.theta, o1, o2);
      T* out = slot < G ? static_cast<T*>(p.q_out) + ((b * p.kv_heads + h) * G + slot) * p.head_dim
                        : static_cast<T*>(p.cache_k) + b * p.cache_stride_b + h * p.cache_stride_h + pos * p.cache_stride_t;
      out[i] = from_float<T>(o1);
      out[i + half] = from_float<T>(o2);
    } else {
      const int64_t j = idx - pairs, d = j % p.head_dim, bh = j / p.head_dim;
      const int64_t b = bh / p.kv_heads, h = bh % p.kv_heads;
      const T* x = static_cast<const T*>(p.qkv) + b * p.qkv_stride_b + h * p.qkv_stride_h + (G + 1) * p.qkv_stride_slot;
      static_cast<T*>(p.cache_v)[b * p.cache_stride_b + h * p.cache_stride_h + pos * p.cache_stride_t + d] = x[d];
    }
  }
  __syncthreads();  // every thread has read the length
  if (threadIdx.x == 0) *p.len = pos + 1;
}

}  // namespace

int kv_append_launch(const KvAppendParams& p, Stream stream) {
  if (p.batch == 0 || p.kv_heads == 0) return 0;
  MM_DTYPE_SWITCH(p.dtype, [&] { kv_append_kernel<scalar_t><<<1, kThreads, 0, cudaStream_t(stream)>>>(p); });
  return int(cudaGetLastError());
}

}  // namespace mm::kern
