// N consecutive elements of T to and from fp32 registers in 16-byte (or smaller, when N * sizeof(T)
// is) loads and stores. The caller guarantees the alignment: src/dst at a multiple of
// min(N, 16 / sizeof(T)) elements.
#pragma once

#include <cstdint>

#include "common/device_math.cuh"

namespace mm::kern {

template <typename T, int N>
struct VecIo {
  static constexpr int kPer = int(16 / sizeof(T)) < N ? int(16 / sizeof(T)) : N;  ///< elements per access
  struct alignas(kPer * sizeof(T)) Pack {
    T v[kPer];
  };
  static_assert(N % kPer == 0, "N must be a multiple of the access width");
};

template <int N, typename T>
__device__ __forceinline__ void load_floats(const T* src, float (&dst)[N]) {
  using Pack = typename VecIo<T, N>::Pack;
  constexpr int kPer = VecIo<T, N>::kPer;
#pragma unroll
  for (int i = 0; i < N; i += kPer) {
    const Pack pk = *reinterpret_cast<const Pack*>(src + i);
#pragma unroll
    for (int j = 0; j < kPer; ++j) dst[i + j] = to_float(pk.v[j]);
  }
}

template <int N, typename T>
__device__ __forceinline__ void store_floats(T* dst, const float (&src)[N]) {
  using Pack = typename VecIo<T, N>::Pack;
  constexpr int kPer = VecIo<T, N>::kPer;
#pragma unroll
  for (int i = 0; i < N; i += kPer) {
    Pack pk;
#pragma unroll
    for (int j = 0; j < kPer; ++j) pk.v[j] = from_float<T>(src[i + j]);
    *reinterpret_cast<Pack*>(dst + i) = pk;
  }
}

/// 16 bytes of weights that are read once per token (decode): bypass L1 and leave it, and L2's reuse,
/// to the activations and states.
__device__ __forceinline__ uint4 load_weights(const uint4* p) {
  uint4 r;
  asm("ld.global.nc.L1::no_allocate.v4.u32 {%0, %1, %2, %3}, [%4];" : "=r"(r.x), "=r"(r.y), "=r"(r.z), "=r"(r.w) : "l"(p));
  return r;
}

/// Whether p sits on a multiple of n elements of `bytes` each.
inline bool aligned_to(const void* p, int64_t n, int64_t bytes) {
  return reinterpret_cast<uintptr_t>(p) % uintptr_t(n * bytes) == 0;
}

}  // namespace mm::kern
