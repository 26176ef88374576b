// Shared by the SSD scan kernels: tile loads into shared memory, the in-chunk cumulative decay, and
// the per-stage launchers that ssd_scan_launch strings together. One block per (chunk, head, batch).
#pragma once

#include <cuda_runtime.h>
#include <mma.h>

#include <cstdint>

#include "common/cp_async.cuh"
#include "common/device_math.cuh"
#include "common/vec_io.cuh"
#include "ssd/ssd_scan.h"

namespace mm::kern::ssd {

constexpr int kT = kSsdChunk;  // chunk length = head dim = state dim
constexpr int kLd = kT + 8;    // shared-memory row pitch in 16-bit elements (breaks bank conflicts, keeps 16 B rows)
constexpr int kThreads = 256;  // 8 warps
constexpr int kWarps = kThreads / 32;
constexpr size_t kTileBytes = size_t(kT) * kLd * 2;  // one (128, 128) 16-bit tile with padding

/// Starts copying rows (<= 128) rows of 128 16-bit elements from global (row stride `stride` elements,
/// 16-byte aligned) into a padded shared tile; rows past `rows` become zero (the partial last chunk). The
/// caller commits, waits and syncs before reading the tile.
template <typename T>
__device__ __forceinline__ void load_tile_async(T* tile, const T* src, int64_t stride, int rows) {
#pragma unroll
  for (int i = threadIdx.x; i < kT * 16; i += kThreads) {
    const int r = i / 16, c = (i % 16) * 8;
    const bool valid = r < rows;
    cp_async16(tile + r * kLd + c, src + (valid ? r * stride + c : 0), valid);
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
