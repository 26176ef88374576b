#include <cuda_runtime.h>

#include "common/device_math.cuh"
#include "common/static_switch.h"
#include "mamba2/mamba2_step.h"

namespace mm::kern {
namespace {

constexpr int kDim = 128;       // head dim P = state dim N
constexpr int kRows = 16;       // rows of S per block in the update kernel
constexpr int kThreads = 128;   // 4 warps, kRows / 4 rows each

/// SiLU(conv) of channel ch for batch b at the new token, rounded to T as the reference rounds.
template <typename T>
__device__ __forceinline__ float conv_step(const Mamba2StepParams& p, int64_t b, int64_t ch) {
  const int K = p.width;
  const T* st = static_cast<const T*>(p.conv_state) + (b * p.channels + ch) * (K - 1);
  const T* w = static_cast<const T*>(p.conv_weight) + ch * K;
  float acc = to_float(static_cast<const T*>(p.conv_bias)[ch]);
  for (int k = 0; k < K - 1; ++k) acc += to_float(w[k]) * to_float(st[k]);
  acc += to_float(w[K - 1]) * to_float(static_cast<const T*>(p.c)[b * p.c_stride_b + ch]);
  return round_to<T>(silu(acc));
}

// grid (128 / kRows, H, B). Reads the old conv state; the norm kernel shifts it afterwards.
template <typename T, int G>
__global__ void __launch_bounds__(kThreads) mamba2_update_kernel(Mamba2StepParams p) {
  __shared__ float sB[kDim], sC[kDim], sx[kRows];
  __shared__ float s_dt, s_decay;
  const int64_t h = blockIdx.y, b = blockIdx.z, kvh = h / G, p0 = int64_t(blockIdx.x) * kRows;
  const int64_t dkv = p.kv_heads * kDim;
  const int tid = threadIdx.x;
  sB[tid] = conv_step<T>(p, b, dkv + kvh * kDim + tid);
  sC[tid] = conv_step<T>(p, b, 2 * dkv + h * kDim + tid);
  if (tid < kRows) sx[tid] = conv_step<T>(p, b, kvh * kDim + p0 + tid);
  if (tid == 0) {
    const float z = to_float(static_cast<const T*>(p.gamma)[b * p.gamma_stride_b + h]) +
                    to_float(static_cast<const T*>(p.dt_bias)[h]);
    const float dt = z > 20.f ? z : log1pf(expf(z));  // softplus, threshold 20 as in the reference
    const float A = -expf(to_float(static_cast<const T*>(p.A_log)[h]));
    s_dt = dt;
    s_decay = expf(dt * A);
  }
  __syncthreads();
  const int warp = tid / 32, lane = tid % 32;
  const float4 Bv = reinterpret_cast<const float4*>(sB)[lane];
  const float4 Cv = reinterpret_cast<const float4*>(sC)[lane];
  const float decay = s_decay;
#pragma unroll
  for (int r = warp * (kRows / 4); r < (warp + 1) * (kRows / 4); ++r) {
    const int64_t row = (b * p.heads + h) * kDim + p0 + r;  // (B, H, P) row of S
    float4* S = reinterpret_cast<float4*>(p.ssm_state + row * kDim) + lane;
    const float xs = sx[r] * s_dt;
    float4 s = *S;
    s.x = s.x * decay + xs * Bv.x;
    s.y = s.y * decay + xs * Bv.y;
    s.z = s.z * decay + xs * Bv.z;
    s.w = s.w * decay + xs * Bv.w;
    *S = s;
    const float y = warp_sum(s.x * Cv.x + s.y * Cv.y + s.z * Cv.z + s.w * Cv.w);
    if (lane == 0) p.y_raw[row] = round_to<T>(y);
  }
}

// grid (H, B), block 128: gated RMSNorm of one head's readout; then this block's share of the conv
// state shift (every update block has finished reading it).
template <typename T>
__global__ void __launch_bounds__(kThreads) mamba2_norm_kernel(Mamba2StepParams p) {
  __shared__ float scratch[32];
  const int64_t h = blockIdx.x, b = blockIdx.y;
  const int tid = threadIdx.x;
  const int64_t row = (b * p.heads + h) * kDim;
  const float y = p.y_raw[row + tid];
  const float inv = rsqrtf(block_sum(y * y, scratch) / float(kDim) + p.eps);
  const float g = to_float(static_cast<const T*>(p.gate)[b * p.gate_stride_b + h * kDim + tid]);
  static_cast<T*>(p.out)[row + tid] = from_float<T>(y * inv * to_float(static_cast<const T*>(p.norm_weight)[tid]) * silu(g));

  const int K = p.width;
  const int64_t per = (p.channels + p.heads - 1) / p.heads;
  const int64_t c0 = h * per, c1 = c0 + per < p.channels ? c0 + per : p.channels;
  for (int64_t ch = c0 + tid; ch < c1; ch += kThreads) {
    T* st = static_cast<T*>(p.conv_state) + (b * p.channels + ch) * (K - 1);
    for (int k = 0; k + 1 < K - 1; ++k) st[k] = st[k + 1];
    st[K - 2] = static_cast<const T*>(p.c)[b * p.c_stride_b + ch];
  }
}

}  // namespace

int mamba2_step_launch(const Mamba2StepParams& p, Stream stream) {
  if (p.batch == 0) return 0;
  const cudaStream_t s = cudaStream_t(stream);
  MM_DTYPE_SWITCH(p.dtype, [&] {
    const dim3 grid(kDim / kRows, unsigned(p.heads), unsigned(p.batch));
    MM_GROUP_SWITCH(p.heads / p.kv_heads, [&] { mamba2_update_kernel<scalar_t, kG><<<grid, kThreads, 0, s>>>(p); });
    mamba2_norm_kernel<scalar_t><<<dim3(unsigned(p.heads), unsigned(p.batch)), kThreads, 0, s>>>(p);
  });
  return int(cudaGetLastError());
}

}  // namespace mm::kern
