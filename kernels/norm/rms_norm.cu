#include <cuda_runtime.h>

#include "common/device_math.cuh"
#include "common/static_switch.h"
#include "norm/rms_norm.h"

namespace mm::kern {
namespace {

constexpr int kThreads = 256;

// One block per row: fp32 sum of squares, then the scaled row, rounded as the reference rounds.
template <typename T>
__global__ void rms_norm_kernel(RmsNormParams p) {
  __shared__ float scratch[32];
  const T* x = static_cast<const T*>(p.x) + blockIdx.x * p.x_row_stride;
  const T* w = static_cast<const T*>(p.w);
  T* out = static_cast<T*>(p.out) + blockIdx.x * p.dim;
  float ss = 0.f;
  for (int64_t i = threadIdx.x; i < p.dim; i += kThreads) {
    const float v = to_float(x[i]);
    ss += v * v;
  }
  const float inv = rsqrtf(block_sum(ss, scratch) / float(p.dim) + p.eps);
  for (int64_t i = threadIdx.x; i < p.dim; i += kThreads)
    out[i] = from_float<T>(to_float(w[i]) * round_to<T>(to_float(x[i]) * inv));
}

}  // namespace

int rms_norm_launch(const RmsNormParams& p, Stream stream) {
  if (p.rows == 0) return 0;
  MM_DTYPE_SWITCH(p.dtype, [&] {
    rms_norm_kernel<scalar_t><<<unsigned(p.rows), kThreads, 0, cudaStream_t(stream)>>>(p);
  });
  return int(cudaGetLastError());
}

}  // namespace mm::kern
