// Two attention blocks of the same queries over disjoint keys, merged by their log-sum-exps into one
// output in the (B, L, H, hd) layout the output projection reads. Reference: merge_attention_blocks
// (core/ops/ops.h), fp32 math as there.
#pragma once

#include "common/kernel_types.h"

namespace mm::kern {

struct MergeBlocksParams {
  const void* out_a = nullptr;  ///< (B, H, L, hd), strides a_stride_b/h/l, unit last stride
  const void* out_b = nullptr;  ///< (B, H, L, hd), strides b_stride_b/h/l, unit last stride
  const float* lse_a = nullptr;  ///< (B, H, L) natural log-sum-exps, strides lse_a_stride_b/h/l
  const float* lse_b = nullptr;
  void* out = nullptr;  ///< (B, L, H, hd) contiguous, the blocks' dtype
  int64_t a_stride_b = 0, a_stride_h = 0, a_stride_l = 0, b_stride_b = 0, b_stride_h = 0, b_stride_l = 0;
  int64_t lse_a_stride_b = 0, lse_a_stride_h = 0, lse_a_stride_l = 0;
  int64_t lse_b_stride_b = 0, lse_b_stride_h = 0, lse_b_stride_l = 0;
  int64_t batch = 0, heads = 0, len = 0, head_dim = 0;
  DType dtype = DType::bf16;
};

/// Returns 0 or the CUDA error of the launch.
int merge_blocks_launch(const MergeBlocksParams& p, Stream stream);

}  // namespace mm::kern
