#include <cuda_runtime.h>

#include "attention/merge_blocks.h"
#include "common/device_math.cuh"
#include "common/static_switch.h"
#include "common/vec_io.cuh"

namespace mm::kern {
namespace {

constexpr int kThreads = 256;

// One thread per V consecutive elements of one (b, l, h) row: w_a = exp(lse_a - m), w_b = exp(lse_b - m)
// with m the larger, out = (a w_a + b w_b) / (w_a + w_b).
template <typename T, int V>
__global__ void __launch_bounds__(kThreads) merge_blocks_kernel(MergeBlocksParams p) {
  const int64_t per_row = p.head_dim / V, n = p.batch * p.len * p.heads * per_row;
  for (int64_t idx = blockIdx.x * int64_t(kThreads) + threadIdx.x; idx < n; idx += int64_t(gridDim.x) * kThreads) {
    const int64_t d = (idx % per_row) * V, row = idx / per_row;  // row = (b L + l) H + h
    const int64_t h = row % p.heads, bl = row / p.heads, l = bl % p.len, b = bl / p.len;
    const float la = p.lse_a[b * p.lse_a_stride_b + h * p.lse_a_stride_h + l * p.lse_a_stride_l];
    const float lb = p.lse_b[b * p.lse_b_stride_b + h * p.lse_b_stride_h + l * p.lse_b_stride_l];
    const float m = fmaxf(la, lb), wa = expf(la - m), wb = expf(lb - m), inv = 1.f / (wa + wb);
    float xa[V], xb[V], o[V];
    load_floats<V>(static_cast<const T*>(p.out_a) + b * p.a_stride_b + h * p.a_stride_h + l * p.a_stride_l + d, xa);
    load_floats<V>(static_cast<const T*>(p.out_b) + b * p.b_stride_b + h * p.b_stride_h + l * p.b_stride_l + d, xb);
#pragma unroll
    for (int j = 0; j < V; ++j) o[j] = (xa[j] * wa + xb[j] * wb) * inv;
    store_floats<V>(static_cast<T*>(p.out) + row * p.head_dim + d, o);
  }
}

template <typename T>
int launch(const MergeBlocksParams& p, Stream stream) {
  constexpr int64_t kVec = 16 / sizeof(T);
  const bool vec = p.head_dim % kVec == 0 && aligned_to(p.out_a, kVec, sizeof(T)) && aligned_to(p.out_b, kVec, sizeof(T)) &&
                   aligned_to(p.out, kVec, sizeof(T)) && p.a_stride_b % kVec == 0 && p.a_stride_h % kVec == 0 &&
                   p.a_stride_l % kVec == 0 && p.b_stride_b % kVec == 0 && p.b_stride_h % kVec == 0 && p.b_stride_l % kVec == 0;
  const int64_t n = p.batch * p.len * p.heads * (vec ? p.head_dim / kVec : p.head_dim);
  const int64_t blocks = (n + kThreads - 1) / kThreads;
  const unsigned grid = unsigned(blocks < 65536 ? blocks : 65536);
  if (vec)
    merge_blocks_kernel<T, int(kVec)><<<grid, kThreads, 0, cudaStream_t(stream)>>>(p);
  else
    merge_blocks_kernel<T, 1><<<grid, kThreads, 0, cudaStream_t(stream)>>>(p);
  return int(cudaGetLastError());
}

}  // namespace

int merge_blocks_launch(const MergeBlocksParams& p, Stream stream) {
  if (p.batch * p.len * p.heads * p.head_dim == 0) return 0;
  int rc = 0;
  MM_DTYPE_SWITCH(p.dtype, [&] { rc = launch<scalar_t>(p, stream); });
  return rc;
}

}  // namespace mm::kern
