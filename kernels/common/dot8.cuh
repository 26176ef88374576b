// Dot products over 16-byte packs of eight bf16/f16 values, accumulated in fp32 (the decode GEMVs).
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>

namespace mm::kern {

__device__ __forceinline__ float2 pair_to_float2(uint32_t v, __nv_bfloat16) {
  __nv_bfloat162 h;
  *reinterpret_cast<uint32_t*>(&h) = v;
  return __bfloat1622float2(h);
}
__device__ __forceinline__ float2 pair_to_float2(uint32_t v, __half) {
  __half2 h;
  *reinterpret_cast<uint32_t*>(&h) = v;
  return __half22float2(h);
}

/// acc += <w, x> over 8 elements of T packed in 16 bytes each.
template <typename T>
__device__ __forceinline__ float dot8(const uint4& w, const uint4& x, float acc) {
  const uint32_t wv[4] = {w.x, w.y, w.z, w.w}, xv[4] = {x.x, x.y, x.z, x.w};
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    const float2 a = pair_to_float2(wv[i], T()), b = pair_to_float2(xv[i], T());
    acc = fmaf(a.x, b.x, acc);
    acc = fmaf(a.y, b.y, acc);
  }
  return acc;
}

}  // namespace mm::kern
