#include <cuda_runtime.h>

#include "common/device_math.cuh"
#include "common/static_switch.h"
#include "common/vec_io.cuh"
#include "rope/rope.h"
#include "rope/rope_math.cuh"

namespace mm::kern {
namespace {

constexpr int kThreads = 128;
constexpr int kMaxRows = 8192;  // blocks; a longer call strides over its rows

// A block per (b, l) row: the row's cos and sin (accurate, so slow for the large arguments of long
// contexts) once into shared memory, then every head's pairs from them, V elements of each half per item.
template <typename T, int V>
__global__ void __launch_bounds__(kThreads) rope_kernel(RopeParams p) {
  extern __shared__ float angles[];  // [cos 0..half) [sin 0..half)
  const int half = int(p.head_dim / 2), per_head = half / V, items = int(p.heads) * per_head;
  const int64_t group = p.head_group > 0 ? p.head_group : p.heads, rows = p.batch * p.len;
  const int64_t pos0 = p.pos0_dev ? *p.pos0_dev : p.pos0;
  for (int64_t bl = blockIdx.x; bl < rows; bl += gridDim.x) {
    const int64_t l = bl % p.len, b = bl / p.len;
    __syncthreads();  // the previous row's items have read the angles
    for (int i = threadIdx.x; i < half; i += kThreads) rope_angle(pos0 + l, i, p.head_dim, p.theta, angles[i], angles[half + i]);
    __syncthreads();
    const T* __restrict__ x = static_cast<const T*>(p.x) + b * p.x_stride_b + l * p.x_stride_l;
    T* __restrict__ out = static_cast<T*>(p.out) + bl * p.heads * p.head_dim;
    for (int it = threadIdx.x; it < items; it += kThreads) {
      const int64_t h = it / per_head;
      const int i0 = (it % per_head) * V;
      const T* xh = x + (h / group) * p.x_stride_group + (h % group) * p.x_stride_h + i0;
      float x1[V], x2[V], o1[V], o2[V];
      load_floats<V>(xh, x1);
      load_floats<V>(xh + half, x2);
#pragma unroll
      for (int j = 0; j < V; ++j) {
        const float c = angles[i0 + j], s = angles[half + i0 + j];
        o1[j] = x1[j] * c - x2[j] * s;
        o2[j] = x2[j] * c + x1[j] * s;
      }
      T* oh = out + h * p.head_dim + i0;
      store_floats<V>(oh, o1);
      store_floats<V>(oh + half, o2);
    }
  }
}

template <typename T>
int launch(const RopeParams& p, Stream stream) {
  const int64_t rows = p.batch * p.len, half = p.head_dim / 2;
  constexpr int64_t kVec = 16 / sizeof(T);  // a 16-byte access
  // Every head's half starts on a 16-byte boundary when the base, the strides and half are multiples of it.
  const bool vec = half % kVec == 0 && aligned_to(p.x, kVec, sizeof(T)) && aligned_to(p.out, kVec, sizeof(T)) &&
                   p.x_stride_b % kVec == 0 && p.x_stride_l % kVec == 0 && p.x_stride_h % kVec == 0 &&
                   p.x_stride_group % kVec == 0;
  const unsigned blocks = unsigned(rows < kMaxRows ? rows : kMaxRows);
  const size_t smem = size_t(2 * half) * sizeof(float);
  if (vec)
    rope_kernel<T, int(kVec)><<<blocks, kThreads, smem, cudaStream_t(stream)>>>(p);
  else
    rope_kernel<T, 1><<<blocks, kThreads, smem, cudaStream_t(stream)>>>(p);
  return int(cudaGetLastError());
}

}  // namespace

int rope_launch(const RopeParams& p, Stream stream) {
  if (p.batch * p.len * p.heads == 0) return 0;
  int rc = 0;
  MM_DTYPE_SWITCH(p.dtype, [&] { rc = launch<scalar_t>(p, stream); });
  return rc;
}

}  // namespace mm::kern
