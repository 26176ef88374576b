#include <cuda_runtime.h>

#include "common/device_math.cuh"
#include "common/static_switch.h"
#include "common/vec_io.cuh"
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

// The vector path: lane l holds elements [l PER, l PER + PER) of its (row, head) vector, read and
// written in 8- or 16-byte accesses, with 32-bit index arithmetic (the launcher checks the sizes and
// alignment). Same arithmetic as above.
template <typename T, int PER>
__global__ void __launch_bounds__(kWarps * 32) gated_rmsnorm_vec_kernel(GatedRmsNormParams p) {
  const unsigned vec = blockIdx.x * unsigned(kWarps) + threadIdx.x / 32;  // (row, head)
  if (vec >= unsigned(p.rows * p.heads)) return;
  const unsigned lane = threadIdx.x % 32, heads = unsigned(p.heads), row = vec / heads, h = vec % heads;
  const unsigned off = lane * PER;
  float yv[PER], gv[PER], wv[PER];
  load_floats<PER>(static_cast<const T*>(p.y) + row * int64_t(p.y_stride_row) + h * int64_t(p.y_stride_h) + off, yv);
  load_floats<PER>(static_cast<const T*>(p.g) + row * int64_t(p.g_stride_row) + h * int64_t(p.g_stride_h) + off, gv);
  load_floats<PER>(static_cast<const T*>(p.w) + off, wv);
  float ss = 0.f;
#pragma unroll
  for (int j = 0; j < PER; ++j) ss += yv[j] * yv[j];
  const float inv = rsqrtf(warp_sum(ss) / float(p.dim) + p.eps);
#pragma unroll
  for (int j = 0; j < PER; ++j) yv[j] = yv[j] * inv * wv[j] * silu(gv[j]);
  store_floats<PER>(static_cast<T*>(p.out) + int64_t(vec) * p.dim + off, yv);
}

template <typename T, int PER>
bool gated_vec_fits(const GatedRmsNormParams& p) {
  constexpr int64_t kAlign = VecIo<T, PER>::kPer;
  return p.dim == 32 * PER && p.rows * p.heads < (int64_t(1) << 31) - kWarps && p.y_stride_row % kAlign == 0 &&
         p.y_stride_h % kAlign == 0 && p.g_stride_row % kAlign == 0 && p.g_stride_h % kAlign == 0 &&
         aligned_to(p.y, kAlign, sizeof(T)) && aligned_to(p.g, kAlign, sizeof(T)) && aligned_to(p.w, kAlign, sizeof(T)) &&
         aligned_to(p.out, kAlign, sizeof(T));
}

}  // namespace

int gated_rmsnorm_launch(const GatedRmsNormParams& p, Stream stream) {
  const int64_t n = p.rows * p.heads;
  if (n == 0) return 0;
  const unsigned blocks = unsigned((n + kWarps - 1) / kWarps);
  const cudaStream_t s = cudaStream_t(stream);
  MM_DTYPE_SWITCH(p.dtype, [&] {
    if (gated_vec_fits<scalar_t, 4>(p)) gated_rmsnorm_vec_kernel<scalar_t, 4><<<blocks, kWarps * 32, 0, s>>>(p);
    else if (gated_vec_fits<scalar_t, 2>(p)) gated_rmsnorm_vec_kernel<scalar_t, 2><<<blocks, kWarps * 32, 0, s>>>(p);
    else if (gated_vec_fits<scalar_t, 8>(p)) gated_rmsnorm_vec_kernel<scalar_t, 8><<<blocks, kWarps * 32, 0, s>>>(p);
    else gated_rmsnorm_kernel<scalar_t><<<blocks, kWarps * 32, 0, s>>>(p);
  });
  return int(cudaGetLastError());
}

}  // namespace mm::kern
