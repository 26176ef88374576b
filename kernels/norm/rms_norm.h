// RMSNorm over the last dim of rows: out = w * round(x * rsqrt(mean(x^2) + eps)) (ref/attention_ref.h).
#pragma once

#include "common/kernel_types.h"

namespace mm::kern {

struct RmsNormParams {
  const void* x = nullptr;  ///< (rows, D), row stride x_row_stride elements, unit last stride
  const void* w = nullptr;  ///< (D)
  void* out = nullptr;      ///< (rows, D) contiguous
  int64_t rows = 0, dim = 0, x_row_stride = 0;
  float eps = 1e-5f;
  DType dtype = DType::bf16;
};

/// Returns 0 or the CUDA error code of the launch.
int rms_norm_launch(const RmsNormParams& p, Stream stream);

}  // namespace mm::kern
