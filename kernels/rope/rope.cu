#include <cuda_runtime.h>

#include "common/device_math.cuh"
#include "common/static_switch.h"
#include "rope/rope.h"
#include "rope/rope_math.cuh"

namespace mm::kern {
namespace {

constexpr int kThreads = 256;

// One thread per rotated pair (i, i + hd/2) of one (b, l, head).
template <typename T>
__global__ void rope_kernel(RopeParams p) {
  const int64_t half = p.head_dim / 2;
  const int64_t n = p.batch * p.len * p.heads * half;
  const int64_t pos0 = p.pos0_dev ? *p.pos0_dev : p.pos0;
  for (int64_t idx = blockIdx.x * int64_t(kThreads) + threadIdx.x; idx < n; idx += int64_t(gridDim.x) * kThreads) {
    const int64_t i = idx % half, h = (idx / half) % p.heads, l = (idx / (half * p.heads)) % p.len,
                  b = idx / (half * p.heads * p.len);
    const T* x = static_cast<const T*>(p.x) + b * p.x_stride_b + l * p.x_stride_l + h * p.x_stride_h;
    float o1, o2;
    rope_pair(to_float(x[i]), to_float(x[i + half]), pos0 + l, i, p.head_dim, p.theta, o1, o2);
    T* out = static_cast<T*>(p.out) + ((b * p.len + l) * p.heads + h) * p.head_dim;
    out[i] = from_float<T>(o1);
    out[i + half] = from_float<T>(o2);
  }
}

}  // namespace

int rope_launch(const RopeParams& p, Stream stream) {
  const int64_t n = p.batch * p.len * p.heads * (p.head_dim / 2);
  if (n == 0) return 0;
  const int64_t blocks = (n + kThreads - 1) / kThreads;
  MM_DTYPE_SWITCH(p.dtype, [&] {
    rope_kernel<scalar_t><<<unsigned(blocks < 65536 ? blocks : 65536), kThreads, 0, cudaStream_t(stream)>>>(p);
  });
  return int(cudaGetLastError());
}

}  // namespace mm::kern
