#include <cuda_runtime.h>

#include "common/device_math.cuh"
#include "common/pdl.cuh"
#include "common/static_switch.h"
#include "mamba2/mamba2_step.h"

namespace mm::kern {
namespace {

constexpr int kDim = 128;      // head dim P = state dim N
constexpr int kThreads = 512;  // 16 warps, 8 rows of each head's state per warp

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

// grid (H_kv, B), block kThreads: one block per kv head and its G query heads, so every conv channel it
// reads (the kv head's x and B, its heads' C) is read by no other block and the block shifts the conv
// state itself. The state rows stream in batches of kRowsPerWarp per warp, the next head's batch loaded
// before this head's is used; then the gated RMSNorm of each head's readout.
template <typename T, int G>
__global__ void __launch_bounds__(kThreads) mamba2_step_kernel(Mamba2StepParams p) {
  constexpr int kWarps = kThreads / 32, kRowsPerWarp = kDim / kWarps;
  __shared__ __align__(16) float sx[kDim], sB[kDim], sC[G][kDim], sy[G][kDim];
  __shared__ float s_dt[G], s_decay[G];
  const int64_t kvh = blockIdx.x, b = blockIdx.y, dkv = p.kv_heads * kDim;
  const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32;
  const auto state_row = [&](int g, int row) {  // (B, H, P, N) row `row` of head kvh G + g, this lane's 4 floats
    return reinterpret_cast<float4*>(p.ssm_state + ((b * p.heads + kvh * G + g) * kDim + row) * kDim) + lane;
  };
  float4 s[kRowsPerWarp];
#pragma unroll
  for (int j = 0; j < kRowsPerWarp; ++j) s[j] = *state_row(0, warp * kRowsPerWarp + j);  // the state is last step's
  wait_for_previous_kernel();  // c, gate and gamma come from the projection before
  allow_next_kernel();

  // Channel i of this block: x (kv head), B (kv head), then C of each of the G heads.
  const auto channel = [&](int i) -> int64_t {
    return i < kDim ? kvh * kDim + i : i < 2 * kDim ? dkv + kvh * kDim + (i - kDim) : 2 * dkv + kvh * G * kDim + (i - 2 * kDim);
  };
  for (int i = tid; i < (2 + G) * kDim; i += kThreads) {
    const float v = conv_step<T>(p, b, channel(i));
    if (i < kDim) sx[i] = v;
    else if (i < 2 * kDim) sB[i - kDim] = v;
    else sC[(i - 2 * kDim) / kDim][(i - 2 * kDim) % kDim] = v;
  }
  if (tid < G) {
    const int64_t h = kvh * G + tid;
    const float z = to_float(static_cast<const T*>(p.gamma)[b * p.gamma_stride_b + h]) +
                    to_float(static_cast<const T*>(p.dt_bias)[h]);
    const float dt = z > 20.f ? z : log1pf(expf(z));  // softplus, threshold 20 as in the reference
    s_dt[tid] = dt;
    s_decay[tid] = expf(dt * -expf(to_float(static_cast<const T*>(p.A_log)[h])));
  }
  __syncthreads();
  // Every read of this block's conv channels is done: shift them (new last entry = this token's input).
  const int K = p.width;
  for (int i = tid; i < (2 + G) * kDim; i += kThreads) {
    const int64_t ch = channel(i);
    T* st = static_cast<T*>(p.conv_state) + (b * p.channels + ch) * (K - 1);
    for (int k = 0; k + 1 < K - 1; ++k) st[k] = st[k + 1];
    st[K - 2] = static_cast<const T*>(p.c)[b * p.c_stride_b + ch];
  }

  const float4 Bv = reinterpret_cast<const float4*>(sB)[lane];
#pragma unroll
  for (int g = 0; g < G; ++g) {
    float4 next[kRowsPerWarp];
    if (g + 1 < G) {
#pragma unroll
      for (int j = 0; j < kRowsPerWarp; ++j) next[j] = *state_row(g + 1, warp * kRowsPerWarp + j);
    }
    const float4 Cv = reinterpret_cast<const float4*>(sC[g])[lane];
    const float dt = s_dt[g], decay = s_decay[g];
#pragma unroll
    for (int j = 0; j < kRowsPerWarp; ++j) {
      const int row = warp * kRowsPerWarp + j;
      const float xs = sx[row] * dt;
      float4 v = s[j];
      v.x = v.x * decay + xs * Bv.x;
      v.y = v.y * decay + xs * Bv.y;
      v.z = v.z * decay + xs * Bv.z;
      v.w = v.w * decay + xs * Bv.w;
      *state_row(g, row) = v;
      const float y = warp_sum(v.x * Cv.x + v.y * Cv.y + v.z * Cv.z + v.w * Cv.w);
      if (lane == 0) sy[g][row] = round_to<T>(y);
    }
    if (g + 1 < G) {
#pragma unroll
      for (int j = 0; j < kRowsPerWarp; ++j) s[j] = next[j];
    }
  }
  __syncthreads();
  // Gated RMSNorm: warp g normalises head g's 128 readouts.
  if (warp < G) {
    const int64_t h = kvh * G + warp;
    float v[kDim / 32], ss = 0.f;
#pragma unroll
    for (int q = 0; q < kDim / 32; ++q) {
      v[q] = sy[warp][lane + 32 * q];
      ss += v[q] * v[q];
    }
    const float inv = rsqrtf(warp_sum(ss) / float(kDim) + p.eps);
#pragma unroll
    for (int q = 0; q < kDim / 32; ++q) {
      const int i = lane + 32 * q;
      const float g = to_float(static_cast<const T*>(p.gate)[b * p.gate_stride_b + h * kDim + i]);
      static_cast<T*>(p.out)[(b * p.heads + h) * kDim + i] =
          from_float<T>(v[q] * inv * to_float(static_cast<const T*>(p.norm_weight)[i]) * silu(g));
    }
  }
}

}  // namespace

int mamba2_step_launch(const Mamba2StepParams& p, Stream stream) {
  if (p.batch == 0) return 0;
  const cudaStream_t s = cudaStream_t(stream);
  const dim3 grid(unsigned(p.kv_heads), unsigned(p.batch));
  return MM_DTYPE_SWITCH(p.dtype, [&] {
    return MM_GROUP_SWITCH(p.heads / p.kv_heads, [&] {
      return int(launch_pdl(mamba2_step_kernel<scalar_t, kG>, grid, dim3(kThreads), 0, s, p));
    });
  });
}

}  // namespace mm::kern
