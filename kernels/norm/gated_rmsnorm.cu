#include <cuda_runtime.h>

#include "common/device_math.cuh"
#include "common/static_switch.h"
#include "norm/gated_rmsnorm.h"

namespace mm::kern {
namespace {

constexpr int kWarps = 8;
constexpr int kMaxPerLane = 32;  // dim <= 1024

template <typename T>
__global__ void __launch_bounds__(kWarps * 32) gated_rmsnorm_kernel(GatedRmsNormParams p) {
  const int64_t vec = int64_t(blockIdx.x) * kWarps + threadIdx.x / 32;  // (row, head)
  if (vec >= p.rows * p.heads) return;  // whole warps leave together
  const int lane = threadIdx.x % 32, per = int(p.dim / 32);
  const int64_t row = vec / p.heads, h = vec % p.heads;
  const T* y = static_cast<const T*>(p.y) + row * p.y_stride_row + h * p.y_stride_h;
  const T* g = static_cast<const T*>(p.g) + row * p.g_stride_row + h * p.g_stride_h;
  float yv[kMaxPerLane];
  float ss = 0.f;
#pragma unroll
  for (int j = 0; j < kMaxPerLane; ++j)
    if (j < per) {
      yv[j] = to_float(y[j * 32 + lane]);
      ss += yv[j] * yv[j];
    }
  const float inv = rsqrtf(warp_sum(ss) / float(p.dim) + p.eps);
  T* out = static_cast<T*>(p.out) + vec * p.dim;
  const T* w = static_cast<const T*>(p.w);
#pragma unroll
  for (int j = 0; j < kMaxPerLane; ++j)
    if (j < per) {
      const int i = j * 32 + lane;
      out[i] = from_float<T>(yv[j] * inv * to_float(w[i]) * silu(to_float(g[i])));
    }
}

}  // namespace

int gated_rmsnorm_launch(const GatedRmsNormParams& p, Stream stream) {
  const int64_t n = p.rows * p.heads;
  if (n == 0) return 0;
  MM_DTYPE_SWITCH(p.dtype, [&] {
    gated_rmsnorm_kernel<scalar_t><<<unsigned((n + kWarps - 1) / kWarps), kWarps * 32, 0, cudaStream_t(stream)>>>(p);
  });
  return int(cudaGetLastError());
}

}  // namespace mm::kern
