#include <cooperative_groups.h>
#include <cuda_runtime.h>

#include "common/device_math.cuh"
#include "common/dot8.cuh"
#include "common/pdl.cuh"
#include "common/vec_io.cuh"
#include "common/static_switch.h"
#include "mamba2/mamba2_in_step.h"
#include "mamba2/cluster_step_tail.cuh"

namespace mm::kern {
namespace {

constexpr int kBlocks = 8;     // blocks per cluster (one cluster per kv head)
constexpr int kThreads = 512;  // 16 warps
constexpr int kMaxWidth = 4;   // conv widths kept in registers

// grid (H_kv kBlocks), clusters of kBlocks: cluster kvh, block rank = g S + slice (S = kBlocks / G blocks
// per query head g, each updating R = 128 / S of its state rows). Phase 1: the cluster's 128 warps take
// the kv head's rows round-robin (warp w of block k: rows 16 k + w + 128 j), each result kept in the
// computing block's shared memory. Phase 2: the step of mamba2_step_cluster_kernel, reading those rows
// through distributed shared memory.
template <typename T, int G>
__global__ void __launch_bounds__(kThreads, 1) mamba2_in_step_kernel(Mamba2InStepParams prm) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  namespace cg = cooperative_groups;
  constexpr int kDim = 128;  // head dim P = state dim N
  constexpr int kWarps = kThreads / 32, kClusterWarps = kBlocks * kWarps;  // 128 warps share the rows
  constexpr int kUnroll = 8;  // 16-byte loads per lane and chunk: a chunk is 2048 elements of a row
  constexpr int S = kBlocks / G, R = kDim / S, kRowsPerWarp = R / kWarps;
  constexpr int kRows = 2 * kDim + 2 * G * kDim + G;
  static_assert(kRowsPerWarp >= 1 && R % kWarps == 0, "every warp updates state rows");
  __shared__ __align__(16) T xs[kInStepMaxD];  // the normalised input
  __shared__ float zs[kRows];                  // this block's rows of the projection (rounded to T)
  __shared__ ClusterStepShared<R> sh;
  __shared__ float scratch[32];
  const Mamba2StepParams& p = prm.step;
  cg::cluster_group cluster = cg::this_cluster();
  const int rank = int(cluster.block_rank()), g = rank / S, slice = rank % S;
  const int64_t kvh = blockIdx.x / kBlocks, h = kvh * G + g, dkv = p.kv_heads * kDim;
  const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32, K = p.width;
  const int D = int(prm.d), nvec = D / 8, chunks = (nvec + 32 * kUnroll - 1) / (32 * kUnroll);

  // Phase 1's first weights, the state rows and the conv's history do not depend on the layer's input:
  // load them before the wait.
  const int wi = rank * kWarps + warp;  // this warp's index in the cluster
  // Local row r (the kv head's [x | B], then C, gate and gamma of its G heads) in fused_in = [v | k | q | gate | gamma].
  const auto fused_row = [&](int r) -> int64_t {
    if (r < kDim) return kvh * kDim + r;
    if (r < 2 * kDim) return dkv + kvh * kDim + (r - kDim);
    r -= 2 * kDim;
    if (r < G * kDim) return 2 * dkv + kvh * G * kDim + r;
    r -= G * kDim;
    if (r < G * kDim) return p.channels + kvh * G * kDim + r;
    return p.channels + p.heads * kDim + kvh * G + (r - G * kDim);
  };
  const auto row_ptr = [&](int r) { return reinterpret_cast<const uint4*>(static_cast<const T*>(prm.w) + fused_row(r) * D); };
  const auto load = [&](uint4 (&dst)[kUnroll], int r, int chunk) {
    const uint4* w = row_ptr(r);
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      const int i = chunk * 32 * kUnroll + u * 32 + lane;
      dst[u] = i < nvec ? load_weights(w + i) : make_uint4(0, 0, 0, 0);
    }
  };
  uint4 wv[kUnroll];
  int r = wi, chunk = 0;
  if (r < kRows) load(wv, r, 0);
  const auto state_row = [&](int row) {  // row of head h's state, this lane's 4 floats
    return reinterpret_cast<float4*>(p.ssm_state + (h * kDim + row) * kDim) + lane;
  };
  float4 st[kRowsPerWarp];
#pragma unroll
  for (int j = 0; j < kRowsPerWarp; ++j) st[j] = *state_row(slice * R + warp * kRowsPerWarp + j);
  // Thread t < 128 convolves B channel t, thread 128 + t C channel t of head h; threads t < R also x
  // channel slice R + t of the kv head (the local rows they read are row_bc and row_x).
  const bool has_bc = tid < 2 * kDim, has_x = tid < R;
  const int row_bc = tid < kDim ? kDim + tid : 2 * kDim + g * kDim + (tid - kDim);
  const int row_x = slice * R + tid;
  const int64_t ch_bc = tid < kDim ? dkv + kvh * kDim + tid : 2 * dkv + h * kDim + (tid - kDim);
  const int64_t ch_x = kvh * kDim + slice * R + tid;
  const T* cw = static_cast<const T*>(p.conv_weight);
  const T* cb = static_cast<const T*>(p.conv_bias);
  const T* cs = static_cast<const T*>(p.conv_state);
  float acc_bc = 0.f, acc_x = 0.f, w_bc = 0.f, w_x = 0.f;
  if (has_bc) {
    acc_bc = to_float(cb[ch_bc]);
    for (int k = 0; k < K - 1; ++k) acc_bc += to_float(cw[ch_bc * K + k]) * to_float(cs[ch_bc * (K - 1) + k]);
    w_bc = to_float(cw[ch_bc * K + K - 1]);
  }
  if (has_x) {
    acc_x = to_float(cb[ch_x]);
    for (int k = 0; k < K - 1; ++k) acc_x += to_float(cw[ch_x * K + k]) * to_float(cs[ch_x * (K - 1) + k]);
    w_x = to_float(cw[ch_x * K + K - 1]);
  }
  const float dt_bias = to_float(static_cast<const T*>(p.dt_bias)[h]);
  const float A = -expf(to_float(static_cast<const T*>(p.A_log)[h]));
  wait_for_previous_kernel();  // x comes from the kernel before
  allow_next_kernel();

  // The input through the RMSNorm, rounded as rms_norm_ref (as the decode GEMV's prologue).
  {
    const T* xr = static_cast<const T*>(prm.x);
    const T* nw = static_cast<const T*>(prm.norm_w);
    float ss = 0.f;
    for (int i = tid; i < D; i += kThreads) {
      const float v = to_float(xr[i]);
      ss += v * v;
    }
    const float inv = rsqrtf(block_sum(ss, scratch) / float(D) + prm.norm_eps);
    for (int i = tid; i < D; i += kThreads) xs[i] = from_float<T>(to_float(nw[i]) * round_to<T>(to_float(xr[i]) * inv));
  }
  __syncthreads();

  // Phase 1: the kv head's rows, each a warp's dot product (the next chunk loads while this one is used).
  const uint4* xv = reinterpret_cast<const uint4*>(xs);
  float acc = 0.f;
  while (r < kRows) {
    int next_r = r, next_chunk = chunk + 1;
    if (next_chunk == chunks) next_chunk = 0, next_r += kClusterWarps;
    uint4 nx[kUnroll];
    if (next_r < kRows) load(nx, next_r, next_chunk);
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      const int i = chunk * 32 * kUnroll + u * 32 + lane;
      if (i < nvec) acc = dot8<T>(wv[u], xv[i], acc);
    }
    if (chunk == chunks - 1) {
      const float z = round_to<T>(warp_sum(acc));
      if (lane == 0) zs[r] = z;
      acc = 0.f;
    }
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) wv[u] = nx[u];
    r = next_r;
    chunk = next_chunk;
  }
  cluster.sync();  // every row is in its block's shared memory; every block has read the old conv state

  // Phase 2: the step. Row q of the projection sits in block (q % 128) / 16 of the cluster.
  const auto z_at = [&](int q) { return *cluster.map_shared_rank(&zs[q], (q % kClusterWarps) / kWarps); };
  const T in_bc = has_bc ? from_float<T>(z_at(row_bc)) : T(), in_x = has_x ? from_float<T>(z_at(row_x)) : T();
  if (has_bc) {
    const float conv_bc = round_to<T>(silu(acc_bc + w_bc * to_float(in_bc)));
    if (tid < kDim) sh.B[tid] = conv_bc;
    else sh.C[tid - kDim] = conv_bc;
  }
  if (has_x) sh.x[tid] = round_to<T>(silu(acc_x + w_x * to_float(in_x)));
  if (tid == 0) {
    const float zg = z_at(2 * kDim + 2 * G * kDim + g) + dt_bias;
    const float dt = zg > 20.f ? zg : log1pf(expf(zg));  // softplus, threshold 20 as in the reference
    sh.dt = dt;
    sh.decay = expf(dt * A);
  }
  const float gate = has_x ? z_at(2 * kDim + G * kDim + g * kDim + slice * R + tid) : 0.f;
  {  // the conv state: each channel shifted by one block (all reads of it were before the cluster barrier)
    T* cst = static_cast<T*>(p.conv_state);
    const auto shift = [&](int64_t ch, T in) {
      T* row = cst + ch * (K - 1);
      for (int k = 0; k + 1 < K - 1; ++k) row[k] = row[k + 1];
      row[K - 2] = in;
    };
    const int local = tid % kDim;  // B or C channel index within the head
    const bool mine = has_bc && local >= slice * R && local < slice * R + R;
    if (mine && (tid >= kDim || g == 0)) shift(ch_bc, in_bc);  // C of head h; B once per kv head
    if (has_x && g == 0) shift(ch_x, in_x);
  }
  __syncthreads();  // sh

  cluster_step_tail<T, S, R, kRowsPerWarp>(p, sh, st, p.ssm_state + h * kDim * kDim, static_cast<T*>(p.out) + h * kDim, g,
                                           slice, gate);
#else
  __trap();  // sm_90 only: mamba2_in_step_available() keeps other devices off it
#endif
}

template <typename T, int G>
cudaError_t launch(const Mamba2InStepParams& p, cudaStream_t stream) {
  return launch_pdl_cluster(mamba2_in_step_kernel<T, G>, dim3(unsigned(p.step.kv_heads * kBlocks)), dim3(kThreads),
                            kBlocks, stream, p);
}

}  // namespace

bool mamba2_in_step_available() {
  static const bool on = [] {
    int dev = 0, major = 0;
    return cudaGetDevice(&dev) == cudaSuccess &&
           cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev) == cudaSuccess && major == 9;
  }();
  return on;
}

int mamba2_in_step_launch(const Mamba2InStepParams& p, Stream stream) {
  const Mamba2StepParams& s = p.step;
  if (s.batch != 1 || p.d % 8 != 0 || p.d > kInStepMaxD || s.width < 2 || s.width > kMaxWidth || s.kv_heads < 1 ||
      s.heads % s.kv_heads != 0 || s.dtype == DType::f32 || !mamba2_in_step_available())
    return int(cudaErrorInvalidValue);
  const cudaStream_t st = cudaStream_t(stream);
  if (s.dtype == DType::bf16)
    return MM_GROUP_SWITCH(s.heads / s.kv_heads, [&] { return int(launch<__nv_bfloat16, kG>(p, st)); });
  return MM_GROUP_SWITCH(s.heads / s.kv_heads, [&] { return int(launch<__half, kG>(p, st)); });
}

}  // namespace mm::kern
