#include <cuda_runtime.h>

#include "common/device_math.cuh"
#include "common/static_switch.h"
#include "common/vec_io.cuh"
#include "mlp/silu_mul.h"

namespace mm::kern {
namespace {

constexpr int kThreads = 256;
constexpr int kVec = 8;

// Eight elements per thread and iteration (16-byte accesses for bf16/f16), grid-strided; the tail that
// is not a multiple of 8 is done element by element by the first threads.
template <typename T>
__global__ void __launch_bounds__(kThreads) silu_mul_kernel(SiluMulParams p) {
  T* a = static_cast<T*>(p.a);
  const T* b = static_cast<const T*>(p.b);
  const int64_t packs = p.n / kVec, stride = int64_t(gridDim.x) * kThreads;
  for (int64_t i = int64_t(blockIdx.x) * kThreads + threadIdx.x; i < packs; i += stride) {
    float av[kVec], bv[kVec];
    load_floats<kVec>(a + i * kVec, av);
    load_floats<kVec>(b + i * kVec, bv);
#pragma unroll
    for (int j = 0; j < kVec; ++j) av[j] = silu(av[j]) * bv[j];
    store_floats<kVec>(a + i * kVec, av);
  }
  const int64_t t = packs * kVec + int64_t(blockIdx.x) * kThreads + threadIdx.x;
  if (t < p.n) a[t] = from_float<T>(silu(to_float(a[t])) * to_float(b[t]));
}

}  // namespace

int silu_mul_launch(const SiluMulParams& p, Stream stream) {
  if (p.n == 0) return 0;
  if (!aligned_to(p.a, 16, 1) || !aligned_to(p.b, 16, 1)) return int(cudaErrorMisalignedAddress);
  const int64_t packs = p.n / kVec + 1;
  const int64_t blocks = (packs + kThreads - 1) / kThreads;
  MM_DTYPE_SWITCH(p.dtype, [&] {
    silu_mul_kernel<scalar_t><<<unsigned(blocks < 8192 ? blocks : 8192), kThreads, 0, cudaStream_t(stream)>>>(p);
  });
  return int(cudaGetLastError());
}

}  // namespace mm::kern
