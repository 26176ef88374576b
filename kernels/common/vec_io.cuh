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

/// Whether p sits on a multiple of n elements of `bytes` each.
inline bool aligned_to(const void* p, int64_t n, int64_t bytes) {
  return reinterpret_cast<uintptr_t>(p) % uintptr_t(n * bytes) == 0;
}

}  // namespace mm::kern
