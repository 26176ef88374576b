// SSD stages 2 and 3 (ssd_scan_chunked_ref): each chunk's local state, then the recurrence over chunks.
#include "ssd/ssd_common.cuh"

namespace mm::kern::ssd {
namespace {

using namespace nvcuda;

// grid (n_chunks, H, B). s_c[p][n] = sum_t x[t][p] (dt_t exp(A_last - A_t) B[t][n]): x^T (P x T) times
// the decayed keys (T x N) on tensor cores, fp32 accumulation; warp w owns rows p in [16 w, 16 w + 16).
template <typename T>
__global__ void __launch_bounds__(kThreads) chunk_state_kernel(SsdScanParams p) {
  extern __shared__ __align__(128) unsigned char smem[];
  T* s_x = reinterpret_cast<T*>(smem);                   // (T, P) pitch kLd
  T* s_b = reinterpret_cast<T*>(smem + kTileBytes);      // (T, N) pitch kLd, decayed in place
  float* s_dt = reinterpret_cast<float*>(smem + 2 * kTileBytes);
  float* s_acum = s_dt + kT;
  const int c = blockIdx.x, h = blockIdx.y, b = blockIdx.z;
  const int64_t l0 = int64_t(c) * kT;
  const int rows = int(p.len - l0 < kT ? p.len - l0 : kT);
  load_tile_async(s_x, static_cast<const T*>(p.x) + b * p.x_stride_b + l0 * p.x_stride_l + (h / p.x_group) * p.x_stride_h, p.x_stride_l, rows);
  load_tile_async(s_b, static_cast<const T*>(p.Bm) + b * p.b_stride_b + l0 * p.b_stride_l + (h / p.b_group) * p.b_stride_h, p.b_stride_l, rows);
  cp_async_commit();
  chunk_cumsum(s_dt, s_acum, p.dt + b * p.dt_stride_b + l0 * p.dt_stride_l + h * p.dt_stride_h, p.dt_stride_l, rows,
               p.A[h]);  // while the tiles arrive
  cp_async_wait<0>();
  __syncthreads();
  const float a_last = s_acum[kT - 1];
  scale_tile_rows<T>(s_b, [&](int t) { return s_dt[t] * __expf(a_last - s_acum[t]); });
  __syncthreads();
  const int warp = threadIdx.x / 32;
  wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc[kT / 16];
#pragma unroll
  for (int j = 0; j < kT / 16; ++j) wmma::fill_fragment(acc[j], 0.f);
#pragma unroll
  for (int k = 0; k < kT / 16; ++k) {
    wmma::fragment<wmma::matrix_a, 16, 16, 16, T, wmma::col_major> xa;  // (p, t) = s_x[t kLd + p]
    wmma::load_matrix_sync(xa, s_x + k * 16 * kLd + warp * 16, kLd);
#pragma unroll
    for (int j = 0; j < kT / 16; ++j) {
      wmma::fragment<wmma::matrix_b, 16, 16, 16, T, wmma::row_major> bb;  // (t, n)
      wmma::load_matrix_sync(bb, s_b + k * 16 * kLd + j * 16, kLd);
      wmma::mma_sync(acc[j], xa, bb, acc[j]);
    }
  }
  float* out = p.chunk_states + ((int64_t(b) * p.n_chunks + c) * p.heads + h) * kT * kT;  // (P, N)
#pragma unroll
  for (int j = 0; j < kT / 16; ++j) wmma::store_matrix_sync(out + warp * 16 * kT + j * 16, acc[j], kT, wmma::mem_row_major);
  if (threadIdx.x == 0) p.chunk_decay[(int64_t(b) * p.heads + h) * p.n_chunks + c] = __expf(a_last);
}

// grid (P N / (4 kThreads), H, B): S^(c) = exp(A_last,c) S^(c-1) + s_c, one float4 of S per thread, fp32.
// Writes the state entering each chunk in T (the readout's operand) and the last S as the final state.
// The local states and decays of kDepth chunks are loaded at once, so the recurrence waits on memory once
// per kDepth chunks.
template <typename T>
__global__ void __launch_bounds__(kThreads) state_passing_kernel(SsdScanParams p) {
  constexpr int kDepth = 8;
  const int h = blockIdx.y, b = blockIdx.z;
  const int64_t e = int64_t(blockIdx.x) * kThreads + threadIdx.x;  // float4 index within (P, N)
  constexpr int64_t kVec = int64_t(kT) * kT / 4;
  const int64_t bh = int64_t(b) * p.heads + h;
  float4 S = p.init_state ? reinterpret_cast<const float4*>(p.init_state)[bh * kVec + e] : make_float4(0.f, 0.f, 0.f, 0.f);
  const int64_t first = (int64_t(b) * p.n_chunks * p.heads + h) * kVec + e;  // chunk 0's float4 of (b, h)
  const float4* __restrict__ local = reinterpret_cast<const float4*>(p.chunk_states) + first;
  T* __restrict__ entering = static_cast<T*>(p.entering_states) + first * 4;
  const float* __restrict__ decay = p.chunk_decay + bh * p.n_chunks;
  const int64_t step = p.heads * kVec;  // float4s from one chunk's (b, h) state to the next's
  for (int64_t c0 = 0; c0 < p.n_chunks; c0 += kDepth) {
    float4 s[kDepth];
    float d[kDepth];
#pragma unroll
    for (int j = 0; j < kDepth; ++j)
      if (c0 + j < p.n_chunks) s[j] = local[(c0 + j) * step], d[j] = decay[c0 + j];
#pragma unroll
    for (int j = 0; j < kDepth; ++j) {
      if (c0 + j >= p.n_chunks) break;
      const float in[4] = {S.x, S.y, S.z, S.w};
      store_floats<4>(entering + (c0 + j) * step * 4, in);
      S = make_float4(d[j] * S.x + s[j].x, d[j] * S.y + s[j].y, d[j] * S.z + s[j].z, d[j] * S.w + s[j].w);
    }
  }
  reinterpret_cast<float4*>(p.final_state)[bh * kVec + e] = S;
}

}  // namespace

int chunk_state_launch(const SsdScanParams& p, cudaStream_t stream) {
  const size_t smem = 2 * kTileBytes + 2 * kT * sizeof(float);
  const dim3 grid(unsigned(p.n_chunks), unsigned(p.heads), unsigned(p.batch));
  auto* kernel = p.dtype == DType::bf16 ? chunk_state_kernel<__nv_bfloat16> : chunk_state_kernel<__half>;
  if (const cudaError_t e = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, int(smem))) return int(e);
  kernel<<<grid, kThreads, smem, stream>>>(p);
  return int(cudaGetLastError());
}

int state_passing_launch(const SsdScanParams& p, cudaStream_t stream) {
  const dim3 grid(unsigned(kT * kT / 4 / kThreads), unsigned(p.heads), unsigned(p.batch));
  auto* kernel = p.dtype == DType::bf16 ? state_passing_kernel<__nv_bfloat16> : state_passing_kernel<__half>;
  kernel<<<grid, kThreads, 0, stream>>>(p);
  return int(cudaGetLastError());
}

}  // namespace mm::kern::ssd
