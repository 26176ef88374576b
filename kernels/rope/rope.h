// Rotate-half (NeoX) rotary embedding at positions pos0.., angles computed in fp32 as the reference
// computes them (apply_rope_ref, core/ref/attention_ref.h): one launch instead of a dozen.
#pragma once

#include "common/kernel_types.h"

namespace mm::kern {

struct RopeParams {
  const void* x = nullptr;  ///< (B, L, heads, hd), strides x_stride_b/l/h, unit last stride
  void* out = nullptr;      ///< (B, L, heads, hd) contiguous
  int64_t x_stride_b = 0, x_stride_l = 0, x_stride_h = 0;
  int64_t batch = 0, len = 0, heads = 0, head_dim = 0, pos0 = 0;
  const int64_t* pos0_dev = nullptr;  ///< when set, the first position is read here (a static cache's length on the device)
  float theta = 10000.f;
  DType dtype = DType::bf16;
};

/// Returns 0 or the CUDA error of the launch.
int rope_launch(const RopeParams& p, Stream stream);

}  // namespace mm::kern
