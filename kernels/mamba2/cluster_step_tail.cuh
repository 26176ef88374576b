// The end of a decode step on a thread-block cluster, shared by mamba2_step_cluster_kernel and
// mamba2_in_step_kernel. With the conv's outputs for query head h in shared memory, block (g, slice) of the
// cluster updates rows [slice R, slice R + R) of the head's fp32 state and writes those rows of its gated
// RMSNorm'd readout; the head's sum of squares is combined over its S blocks through distributed shared
// memory. Ends with a cluster barrier, so that no block exits while a peer still reads its shared memory.
#pragma once

#include <cooperative_groups.h>

#include "common/device_math.cuh"
#include "mamba2/mamba2_step.h"
#include "mamba2/ssm_row.cuh"

namespace mm::kern {

/// What the tail reads (x, B, C after the conv, dt and the decay) and its own scratch, in shared memory.
template <int R>
struct ClusterStepShared {
  alignas(16) float x[R];
  alignas(16) float B[128];
  alignas(16) float C[128];
  float y[R], part, dt, decay;
};

/// Every warp of the block updates kRowsPerWarp consecutive state rows of the slice (R = warps x
/// kRowsPerWarp), st holding them as loaded (lane l: columns 4l..4l+3). state: the head's (128, 128)
/// state; out: the head's 128 outputs; gate: this thread's gate value (threads < R).
template <typename T, int S, int R, int kRowsPerWarp>
__device__ __forceinline__ void cluster_step_tail(const Mamba2StepParams& p, ClusterStepShared<R>& sh,
                                                  const float4 (&st)[kRowsPerWarp], float* state, T* out, int g,
                                                  int slice, float gate) {
  namespace cg = cooperative_groups;
  cg::cluster_group cluster = cg::this_cluster();
  const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32;
  const float4 Bv = reinterpret_cast<const float4*>(sh.B)[lane];
  const float4 Cv = reinterpret_cast<const float4*>(sh.C)[lane];
  const float dt = sh.dt, decay = sh.decay;
#pragma unroll
  for (int j = 0; j < kRowsPerWarp; ++j) {
    const int local = warp * kRowsPerWarp + j;
    float y;
    float4* row = reinterpret_cast<float4*>(state + (slice * R + local) * 128) + lane;
    *row = ssm_row_step(st[j], sh.x[local] * dt, Bv, Cv, decay, y);
    if (lane == 0) sh.y[local] = round_to<T>(y);
  }
  __syncthreads();
  if (warp == 0) {
    float ss = 0.f;
    for (int i = lane; i < R; i += 32) ss += sh.y[i] * sh.y[i];
    ss = warp_sum(ss);
    if (lane == 0) sh.part = ss;
  }
  cluster.sync();  // every block's partial sum of squares is in its shared memory
  float ss = 0.f;
#pragma unroll
  for (int q = 0; q < S; ++q) ss += *cluster.map_shared_rank(&sh.part, g * S + q);
  if (tid < R) {
    const float inv = rsqrtf(ss / 128.f + p.eps);
    const int i = slice * R + tid;
    out[i] = from_float<T>(sh.y[tid] * inv * to_float(static_cast<const T*>(p.norm_weight)[i]) * silu(gate));
  }
  cluster.sync();  // the peers have read this block's shared memory before any block of the cluster exits
}

}  // namespace mm::kern
