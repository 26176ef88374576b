// The rotate-half pair at one position, angles in fp32 as apply_rope_ref computes them.
#pragma once

#include <cstdint>

namespace mm::kern {

/// cos and sin of the angle of pair i (of head_dim / 2) at position pos.
__device__ __forceinline__ void rope_angle(int64_t pos, int64_t i, int64_t head_dim, float theta, float& c, float& s) {
  const float inv_freq = 1.f / powf(theta, float(2 * i) / float(head_dim));
  const float angle = float(pos) * inv_freq;
  c = cosf(angle);
  s = sinf(angle);
}

/// (x1, x2) = elements i and i + hd/2 of a head at position pos -> (o1, o2).
__device__ __forceinline__ void rope_pair(float x1, float x2, int64_t pos, int64_t i, int64_t head_dim, float theta,
                                          float& o1, float& o2) {
  float c, s;
  rope_angle(pos, i, head_dim, theta, c, s);
  o1 = x1 * c - x2 * s;
  o2 = x2 * c + x1 * s;
}

}  // namespace mm::kern
