// Rotate-half (NeoX) rotary embedding at positions pos0.., angles computed in fp32 as the reference
// computes them (apply_rope_ref, core/ref/attention_ref.h): one launch instead of a dozen.
#pragma once

#include "common/kernel_types.h"

namespace mm::kern {

/// Head h of row (b, l) starts at x + b x_stride_b + l x_stride_l + (h / head_group) x_stride_group +
/// (h % head_group) x_stride_h: with head_group < heads the heads can be the query slots of a
/// (B, L, H_kv, g + 2, hd) projection, read in place (head_group = g, x_stride_group = (g + 2) hd).
struct RopeParams {
  const void* x = nullptr;  ///< unit last stride
  void* out = nullptr;      ///< (B, L, heads, hd) contiguous
  int64_t x_stride_b = 0, x_stride_l = 0, x_stride_h = 0;
  int64_t head_group = 0, x_stride_group = 0;  ///< head_group 0: one group of all heads
  int64_t batch = 0, len = 0, heads = 0, head_dim = 0, pos0 = 0;
  const int64_t* pos0_dev = nullptr;  ///< when set, the first position is read here (a static cache's length on the device)
  float theta = 10000.f;
  DType dtype = DType::bf16;
};

/// Returns 0 or the CUDA error of the launch.
int rope_launch(const RopeParams& p, Stream stream);

}  // namespace mm::kern
