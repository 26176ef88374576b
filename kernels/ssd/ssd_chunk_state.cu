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
  load_tile(s_x, static_cast<const T*>(p.x) + b * p.x_stride_b + l0 * p.x_stride_l + (h / p.x_group) * p.x_stride_h, p.x_stride_l, rows);
  load_tile(s_b, static_cast<const T*>(p.Bm) + b * p.b_stride_b + l0 * p.b_stride_l + (h / p.b_group) * p.b_stride_h, p.b_stride_l, rows);
  chunk_cumsum(s_dt, s_acum, p.dt + b * p.dt_stride_b + l0 * p.dt_stride_l + h * p.dt_stride_h, p.dt_stride_l, rows,
               p.A[h]);
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

// grid (P N / (4 kThreads), H, B): S^(c) = exp(A_last,c) S^(c-1) + s_c, one float4 of S per thread. The
// workspace's s_c is replaced by the state entering chunk c; the last S is the final state.
__global__ void __launch_bounds__(kThreads) state_passing_kernel(SsdScanParams p) {
  const int h = blockIdx.y, b = blockIdx.z;
  const int64_t e = int64_t(blockIdx.x) * kThreads + threadIdx.x;  // float4 index within (P, N)
  constexpr int64_t kVec = int64_t(kT) * kT / 4;
  const int64_t bh = int64_t(b) * p.heads + h;
  float4 S = p.init_state ? reinterpret_cast<const float4*>(p.init_state)[bh * kVec + e] : make_float4(0.f, 0.f, 0.f, 0.f);
  float4* states = reinterpret_cast<float4*>(p.chunk_states);
  const float* decay = p.chunk_decay + bh * p.n_chunks;
  const int64_t chunk_step = p.heads * kVec;  // float4s from one chunk's (b, h) state to the next's
  float4* ptr = states + (int64_t(b) * p.n_chunks * p.heads + h) * kVec + e;
  float4 next = *ptr;
  for (int64_t c = 0; c < p.n_chunks; ++c, ptr += chunk_step) {
    const float4 local = next;
    if (c + 1 < p.n_chunks) next = ptr[chunk_step];  // in flight while this chunk's state is written
    *ptr = S;
    const float d = decay[c];
    S = make_float4(d * S.x + local.x, d * S.y + local.y, d * S.z + local.z, d * S.w + local.w);
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
  state_passing_kernel<<<grid, kThreads, 0, stream>>>(p);
  return int(cudaGetLastError());
}

}  // namespace mm::kern::ssd
