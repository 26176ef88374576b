#include <cuda_runtime.h>

#include "common/device_math.cuh"
#include "common/static_switch.h"
#include "rope/rope.h"
#include "rope/rope_math.cuh"

namespace mm::kern {
namespace {

constexpr int kThreads = 256;

// One thread per pair (i, i + hd/2) of one (b, l), over every head: the angle (an accurate sin and cos,
// slow for the large arguments of long contexts) is computed once per position and pair, not per head.
template <typename T>
__global__ void rope_kernel(RopeParams p) {
  const int half = int(p.head_dim / 2), heads = int(p.heads);
  const int64_t n = p.batch * p.len * half;
  const int64_t pos0 = p.pos0_dev ? *p.pos0_dev : p.pos0;
  for (int64_t idx = blockIdx.x * int64_t(kThreads) + threadIdx.x; idx < n; idx += int64_t(gridDim.x) * kThreads) {
    const int i = int(idx % half);
    const int64_t bl = idx / half, l = bl % p.len, b = bl / p.len;
    float c, s;
    rope_angle(pos0 + l, i, p.head_dim, p.theta, c, s);
    const T* __restrict__ x = static_cast<const T*>(p.x) + b * p.x_stride_b + l * p.x_stride_l;
    T* __restrict__ out = static_cast<T*>(p.out) + bl * heads * p.head_dim;
    for (int h = 0; h < heads; ++h) {
      const float x1 = to_float(x[h * p.x_stride_h + i]), x2 = to_float(x[h * p.x_stride_h + i + half]);
      out[h * p.head_dim + i] = from_float<T>(x1 * c - x2 * s);
      out[h * p.head_dim + i + half] = from_float<T>(x2 * c + x1 * s);
    }
  }
}

}  // namespace

int rope_launch(const RopeParams& p, Stream stream) {
  const int64_t n = p.batch * p.len * (p.head_dim / 2);
  if (n == 0) return 0;
  const int64_t blocks = (n + kThreads - 1) / kThreads;
  MM_DTYPE_SWITCH(p.dtype, [&] {
    rope_kernel<scalar_t><<<unsigned(blocks < 65536 ? blocks : 65536), kThreads, 0, cudaStream_t(stream)>>>(p);
  });
  return int(cudaGetLastError());
}

}  // namespace mm::kern
