// SSD stages 1 and 4 (ssd_scan_chunked_ref) in one kernel, and the launcher of the whole scan.
// Per (chunk, head, batch), on tensor cores with fp32 accumulation:
//   scores[i][j] = (C_i . B_j) exp(A_i - A_j) dt_j  for j <= i   (the masked decay "attention")
//   y_i = sum_{j <= i} scores[i][j] x_j + exp(A_i) S_in C_i      (S_in: the state entering the chunk)
// The two products share one accumulator: y = [scores | exp(A) C] [x ; S_in^T].
// Three shared tiles, each reused once its operand is consumed (C -> exp(A) C, B -> x, scores -> S_in),
// so that two blocks fit on an SM (about 113 KB each): one block's loads overlap the other's tensor-core
// work. The readout keeps both of a warp's row strips in registers across the two products.
#include "ssd/ssd_common.cuh"

namespace mm::kern::ssd {
namespace {

using namespace nvcuda;

constexpr int kTiles = kT / 16;                          // 16 x 16 tiles per side
constexpr int kLowerTiles = kTiles * (kTiles + 1) / 2;   // tiles (i, j) with j <= i
constexpr size_t kScratchBytes = size_t(kWarps) * 16 * 16 * sizeof(float);
constexpr size_t kSmemBytes = 3 * kTileBytes + kScratchBytes + 2 * kT * sizeof(float);
constexpr int kLoadsPerThread = kT * 16 / kThreads;      // 16-byte pieces of one tile per thread

using Acc = wmma::fragment<wmma::accumulator, 16, 16, 16, float>;

template <typename T>
__global__ void __launch_bounds__(kThreads, 2) chunk_scan_kernel(SsdScanParams p) {
  extern __shared__ __align__(128) unsigned char smem[];
  T* s_c = reinterpret_cast<T*>(smem);                    // (T, N): C, then exp(A_i) C_i
  T* s_bx = reinterpret_cast<T*>(smem + kTileBytes);      // (T, N): B, then (T, P): x
  T* s_ps = reinterpret_cast<T*>(smem + 2 * kTileBytes);  // (T, T): scores (lower tiles), then (P, N): S_in
  float* scratch = reinterpret_cast<float*>(smem + 3 * kTileBytes);  // a 16 x 16 fp32 tile per warp
  float* s_dt = scratch + kWarps * 256;
  float* s_acum = s_dt + kT;
  const int c = blockIdx.x, h = blockIdx.y, b = blockIdx.z;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  float* my_scratch = scratch + warp * 256;
  const int64_t l0 = int64_t(c) * kT;
  const int rows = int(p.len - l0 < kT ? p.len - l0 : kT);

  load_tile_async(s_c, static_cast<const T*>(p.Cm) + b * p.c_stride_b + l0 * p.c_stride_l + h * p.c_stride_h, p.c_stride_l, rows);
  load_tile_async(s_bx, static_cast<const T*>(p.Bm) + b * p.b_stride_b + l0 * p.b_stride_l + (h / p.b_group) * p.b_stride_h, p.b_stride_l, rows);
  cp_async_commit();
  // x waits in registers until B's tile is free (its loads overlap the scores).
  const T* x_src = static_cast<const T*>(p.x) + b * p.x_stride_b + l0 * p.x_stride_l + (h / p.x_group) * p.x_stride_h;
  uint4 xr[kLoadsPerThread];
#pragma unroll
  for (int q = 0; q < kLoadsPerThread; ++q) {
    const int i = threadIdx.x + q * kThreads, r = i / 16, col = (i % 16) * 8;
    xr[q] = r < rows ? *reinterpret_cast<const uint4*>(x_src + r * p.x_stride_l + col) : make_uint4(0u, 0u, 0u, 0u);
  }
  chunk_cumsum(s_dt, s_acum, p.dt + b * p.dt_stride_b + l0 * p.dt_stride_l + h * p.dt_stride_h, p.dt_stride_l, rows,
               p.A[h]);
  cp_async_wait<0>();
  __syncthreads();  // C and B are loaded

  // 1. scores on the lower tiles, the warps taking every 8th tile of the list (i, j), j <= i.
  for (int idx = warp; idx < kLowerTiles; idx += kWarps) {
    int ti = 0, tj = idx;
    while (tj > ti) tj -= ++ti;  // idx = ti (ti + 1) / 2 + tj
    Acc acc;
    wmma::fill_fragment(acc, 0.f);
#pragma unroll
    for (int k = 0; k < kTiles; ++k) {
      wmma::fragment<wmma::matrix_a, 16, 16, 16, T, wmma::row_major> ca;  // (i, n)
      wmma::fragment<wmma::matrix_b, 16, 16, 16, T, wmma::col_major> bt;  // (n, j) = s_bx[j kLd + n]
      wmma::load_matrix_sync(ca, s_c + ti * 16 * kLd + k * 16, kLd);
      wmma::load_matrix_sync(bt, s_bx + tj * 16 * kLd + k * 16, kLd);
      wmma::mma_sync(acc, ca, bt, acc);
    }
    wmma::store_matrix_sync(my_scratch, acc, 16, wmma::mem_row_major);
    __syncwarp();
    for (int e = lane; e < 256; e += 32) {
      const int gi = ti * 16 + e / 16, gj = tj * 16 + e % 16;
      const float v = gj <= gi ? my_scratch[e] * __expf(s_acum[gi] - s_acum[gj]) * s_dt[gj] : 0.f;
      s_ps[gi * kLd + gj] = from_float<T>(v);
    }
    __syncwarp();
  }
  __syncthreads();  // C and B are consumed
  // x into B's tile; C_i -> exp(A_i) C_i, the left factor of the entering state's readout.
#pragma unroll
  for (int q = 0; q < kLoadsPerThread; ++q) {
    const int i = threadIdx.x + q * kThreads;
    *reinterpret_cast<uint4*>(s_bx + (i / 16) * kLd + (i % 16) * 8) = xr[q];
  }
  scale_tile_rows<T>(s_c, [&](int t) { return __expf(s_acum[t]); });
  __syncthreads();

  // 4. y: warp w owns the 16-row strips {w % 4, 7 - w % 4} (equal work under the causal mask) and
  // the column half w / 4 (four 16-column tiles). First scores (i, j) x_j over the chunk's earlier tiles.
  const int col0 = (warp / 4) * 4;
  const int strips[2] = {warp % 4, kTiles - 1 - warp % 4};
  Acc acc[2][4];
#pragma unroll
  for (int si = 0; si < 2; ++si) {
    const int ti = strips[si];
#pragma unroll
    for (int j = 0; j < 4; ++j) wmma::fill_fragment(acc[si][j], 0.f);
    for (int k = 0; k <= ti; ++k) {
      wmma::fragment<wmma::matrix_a, 16, 16, 16, T, wmma::row_major> pa;
      wmma::load_matrix_sync(pa, s_ps + ti * 16 * kLd + k * 16, kLd);
#pragma unroll
      for (int j = 0; j < 4; ++j) {
        wmma::fragment<wmma::matrix_b, 16, 16, 16, T, wmma::row_major> xb;  // (t, p)
        wmma::load_matrix_sync(xb, s_bx + k * 16 * kLd + (col0 + j) * 16, kLd);
        wmma::mma_sync(acc[si][j], pa, xb, acc[si][j]);
      }
    }
  }
  __syncthreads();  // the scores are consumed: S_in (P, N) into their tile
  load_tile_async(s_ps, static_cast<const T*>(p.entering_states) + ((int64_t(b) * p.n_chunks + c) * p.heads + h) * kT * kT, kT, kT);
  cp_async_commit();
  cp_async_wait<0>();
  __syncthreads();

  // Then exp(A_i) C_i . S_in^T, and the strips out.
  T* y_base = static_cast<T*>(p.y) + ((int64_t(b) * p.len + l0) * p.heads + h) * kT;  // row t: + t H P
#pragma unroll
  for (int si = 0; si < 2; ++si) {
    const int ti = strips[si];
#pragma unroll
    for (int k = 0; k < kTiles; ++k) {
      wmma::fragment<wmma::matrix_a, 16, 16, 16, T, wmma::row_major> ca;
      wmma::load_matrix_sync(ca, s_c + ti * 16 * kLd + k * 16, kLd);
#pragma unroll
      for (int j = 0; j < 4; ++j) {
        wmma::fragment<wmma::matrix_b, 16, 16, 16, T, wmma::col_major> sb;  // (n, p) = s_ps[p kLd + n]
        wmma::load_matrix_sync(sb, s_ps + (col0 + j) * 16 * kLd + k * 16, kLd);
        wmma::mma_sync(acc[si][j], ca, sb, acc[si][j]);
      }
    }
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      wmma::store_matrix_sync(my_scratch, acc[si][j], 16, wmma::mem_row_major);
      __syncwarp();
      // lane: row lane / 2, 8 columns from (lane % 2) 8, one 16-byte store
      const int r = ti * 16 + lane / 2, cc = (lane % 2) * 8;
      if (r < rows) {
        alignas(16) T out[8];
#pragma unroll
        for (int e = 0; e < 8; ++e) out[e] = from_float<T>(my_scratch[(lane / 2) * 16 + cc + e]);
        *reinterpret_cast<uint4*>(y_base + int64_t(r) * p.heads * kT + (col0 + j) * 16 + cc) = *reinterpret_cast<const uint4*>(out);
      }
      __syncwarp();
    }
  }
}

}  // namespace

int chunk_scan_launch(const SsdScanParams& p, cudaStream_t stream) {
  const dim3 grid(unsigned(p.n_chunks), unsigned(p.heads), unsigned(p.batch));
  auto* kernel = p.dtype == DType::bf16 ? chunk_scan_kernel<__nv_bfloat16> : chunk_scan_kernel<__half>;
  if (const cudaError_t e = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, int(kSmemBytes)))
    return int(e);
  kernel<<<grid, kThreads, kSmemBytes, stream>>>(p);
  return int(cudaGetLastError());
}

}  // namespace mm::kern::ssd

namespace mm::kern {

int ssd_scan_launch(const SsdScanParams& p, Stream stream) {
  if (p.batch == 0 || p.heads == 0 || p.len == 0) return 0;
  const cudaStream_t s = cudaStream_t(stream);
  if (const int e = ssd::chunk_state_launch(p, s)) return e;
  if (const int e = ssd::state_passing_launch(p, s)) return e;
  return ssd::chunk_scan_launch(p, s);
}

}  // namespace mm::kern
