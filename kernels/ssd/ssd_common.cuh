// Shared by the SSD scan kernels: tile loads into shared memory, the in-chunk cumulative decay, and
// the per-stage launchers that ssd_scan_launch strings together. One block per (chunk, head, batch).
#pragma once

#include <cuda_runtime.h>
#include <mma.h>

#include <cstdint>

#include "common/device_math.cuh"
#include "common/vec_io.cuh"
#include "ssd/ssd_scan.h"

namespace mm::kern::ssd {

constexpr int kT = kSsdChunk;  // chunk length = head dim = state dim
constexpr int kLd = kT + 8;    // shared-memory row pitch in 16-bit elements (breaks bank conflicts, keeps 16 B rows)
constexpr int kThreads = 256;  // 8 warps
constexpr int kWarps = kThreads / 32;
constexpr size_t kTileBytes = size_t(kT) * kLd * 2;  // one (128, 128) 16-bit tile with padding

/// Where a tile's rows come from: `src` is the operand at the chunk's first row (l0), `stride` its row
/// stride; with the fused conv (p.conv_weight set), `chan` is the conv channel of the tile's column 0.
struct TileSource {
  const void* src;
  int64_t stride, l0, b, chan;
};

/// The x, B and C tiles of chunk rows [l0, l0 + 128) for head h of batch row b (x and B at h / group).
template <typename T>
__device__ __forceinline__ TileSource x_source(const SsdScanParams& p, int64_t l0, int64_t b, int h) {
  const int64_t j = h / p.x_group;
  return {static_cast<const T*>(p.x) + b * p.x_stride_b + l0 * p.x_stride_l + j * p.x_stride_h, p.x_stride_l, l0, b,
          p.x_chan0 + j * kT};
}
template <typename T>
__device__ __forceinline__ TileSource b_source(const SsdScanParams& p, int64_t l0, int64_t b, int h) {
  const int64_t j = h / p.b_group;
  return {static_cast<const T*>(p.Bm) + b * p.b_stride_b + l0 * p.b_stride_l + j * p.b_stride_h, p.b_stride_l, l0, b,
          p.b_chan0 + j * kT};
}
template <typename T>
__device__ __forceinline__ TileSource c_source(const SsdScanParams& p, int64_t l0, int64_t b, int h) {
  return {static_cast<const T*>(p.Cm) + b * p.c_stride_b + l0 * p.c_stride_l + int64_t(h) * p.c_stride_h, p.c_stride_l,
          l0, b, p.c_chan0 + int64_t(h) * kT};
}

/// The 16-byte piece (row r, columns col..col+7) of a tile: the operand itself, or with the fused conv
/// SiLU(bias + sum_k w_k in(l0 + r - K + 1 + k)) in fp32, summed in the conv kernel's order and rounded.
template <typename T>
__device__ __forceinline__ uint4 tile_piece(const SsdScanParams& p, const TileSource& s, int r, int col) {
  const T* row = static_cast<const T*>(s.src) + r * s.stride + col;
  if (!p.conv_weight) return *reinterpret_cast<const uint4*>(row);
  const int K = p.conv_width;
  const int64_t ch = s.chan + col;
  const T* w = static_cast<const T*>(p.conv_weight) + ch * K;
  const T* bias = static_cast<const T*>(p.conv_bias) + ch;
  float cur[8], acc[8];
  load_floats<8>(row, cur);
#pragma unroll
  for (int v = 0; v < 8; ++v) acc[v] = to_float(bias[v]) + to_float(w[v * K + K - 1]) * cur[v];
#pragma unroll
  for (int j = 0; j < kSsdMaxConvWidth - 1; ++j) {
    if (j >= K - 1) break;
    const int back = K - 1 - j;  // tap j reads the input `back` positions earlier
    float in[8];
    if (s.l0 + r - back >= 0) {
      load_floats<8>(row - back * s.stride, in);
    } else {  // before the sequence: the conv state, oldest first
      const int64_t at = K - 1 + (s.l0 + r - back);
      const T* prev = static_cast<const T*>(p.conv_prev);
#pragma unroll
      for (int v = 0; v < 8; ++v) in[v] = prev ? to_float(prev[((s.b * p.conv_channels) + ch + v) * (K - 1) + at]) : 0.f;
    }
#pragma unroll
    for (int v = 0; v < 8; ++v) acc[v] += to_float(w[v * K + j]) * in[v];
  }
  alignas(16) T out[8];
#pragma unroll
  for (int v = 0; v < 8; ++v) out[v] = from_float<T>(silu(acc[v]));
  return *reinterpret_cast<const uint4*>(out);
}

/// rows (<= 128) rows of a 128-wide operand into a padded shared tile through tile_piece; rows past
/// `rows` are zero (the partial last chunk).
template <typename T>
__device__ __forceinline__ void load_operand_tile(T* tile, const SsdScanParams& p, const TileSource& s, int rows) {
  for (int i = threadIdx.x; i < kT * 16; i += kThreads) {
    const int r = i / 16, c = (i % 16) * 8;
    *reinterpret_cast<uint4*>(tile + r * kLd + c) = r < rows ? tile_piece<T>(p, s, r, c) : make_uint4(0u, 0u, 0u, 0u);
  }
}

/// tile[t][n] *= row_scale(t) in place, rounded to T; the scale is computed once per 16-byte piece.
template <typename T, typename Scale>
__device__ __forceinline__ void scale_tile_rows(T* tile, Scale row_scale) {
  for (int i = threadIdx.x; i < kT * 16; i += kThreads) {
    const int r = i / 16, c = (i % 16) * 8;
    const float f = row_scale(r);
    float v[8];
    load_floats<8>(tile + r * kLd + c, v);
#pragma unroll
    for (int e = 0; e < 8; ++e) v[e] *= f;
    store_floats<8>(tile + r * kLd + c, v);
  }
}

/// s_dt[t] = dt_t (0 past `rows`), s_acum[t] = sum_{u <= t} dt_u A: the chunk's A^c of METHOD §2.3.
/// Ends with a barrier.
__device__ __forceinline__ void chunk_cumsum(float* s_dt, float* s_acum, const float* dt, int64_t dt_stride, int rows,
                                             float A) {
  const int t = threadIdx.x;
  float a = 0.f;
  if (t < kT) {  // warps 0..3, whole
    const float d = t < rows ? dt[t * dt_stride] : 0.f;
    s_dt[t] = d;
    a = d * A;
    const int lane = t & 31;
#pragma unroll
    for (int o = 1; o < 32; o <<= 1) {
      const float n = __shfl_up_sync(0xffffffffu, a, o);
      if (lane >= o) a += n;
    }
    s_acum[t] = a;  // inclusive within the warp
  }
  __syncthreads();
  float add = 0.f;
  if (t < kT)
    for (int w = 0; w < t / 32; ++w) add += s_acum[w * 32 + 31];
  __syncthreads();
  if (t < kT) s_acum[t] = a + add;
  __syncthreads();
}

/// The stages, each one launch over p (see ssd_scan.h for the workspace they share).
int chunk_state_launch(const SsdScanParams& p, cudaStream_t stream);
int state_passing_launch(const SsdScanParams& p, cudaStream_t stream);
int chunk_scan_launch(const SsdScanParams& p, cudaStream_t stream);

}  // namespace mm::kern::ssd
