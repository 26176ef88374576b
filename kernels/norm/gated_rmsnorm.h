// Gated RMSNorm per head: out = y * rsqrt(mean(y^2) + eps) * w * SiLU(g), in fp32 (gated_rmsnorm_ref,
// core/ref/conv1d_ref.h). One warp per (row, head) vector of P elements.
#pragma once

#include "common/kernel_types.h"

namespace mm::kern {

struct GatedRmsNormParams {
  const void* y = nullptr;  ///< (rows, H, P), strides y_stride_row, y_stride_h, unit last stride
  const void* g = nullptr;  ///< (rows, H, P), strides g_stride_row, g_stride_h, unit last stride
  const void* w = nullptr;  ///< (P)
  void* out = nullptr;      ///< (rows, H, P) contiguous
  int64_t y_stride_row = 0, y_stride_h = 0, g_stride_row = 0, g_stride_h = 0;
  int64_t rows = 0, heads = 0, dim = 0;  ///< dim: a multiple of 32, at most 1024
  float eps = 1e-5f;
  DType dtype = DType::bf16;
};

/// Returns 0 or the CUDA error of the launch.
int gated_rmsnorm_launch(const GatedRmsNormParams& p, Stream stream);

}  // namespace mm::kern
