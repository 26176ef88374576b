// One row of a Mamba-2 head's fp32 state at one token, as every decode step kernel updates it: lane l
// of a warp holds columns 4l..4l+3 of the row.
#pragma once

#include "common/device_math.cuh"

namespace mm::kern {

/// S_row = decay S_row + xs B (xs = dt x_row); y = <S_row, C> over the warp. Returns the new row.
__device__ __forceinline__ float4 ssm_row_step(float4 s, float xs, const float4& B, const float4& C, float decay,
                                               float& y) {
  s.x = s.x * decay + xs * B.x;
  s.y = s.y * decay + xs * B.y;
  s.z = s.z * decay + xs * B.z;
  s.w = s.w * decay + xs * B.w;
  y = warp_sum(s.x * C.x + s.y * C.y + s.z * C.z + s.w * C.w);
  return s;
}

}  // namespace mm::kern
