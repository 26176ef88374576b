// Batch-1..4 matrix-vector products for decode, where every weight is read once per token and the
// step is memory-bound: out = x W^T with an optional RMSNorm of x before (the layer's pre-norm),
// an optional SwiGLU pair (silu(x W^T) * (x W_up^T), the MLP's w1 and w3 read side by side) and an
// optional residual added after. One warp per output row streams W with 16-byte loads; x (normalised)
// sits in shared memory. References: rms_norm_ref, at::matmul, the decoder layer's swiglu and residual
// (core/ops/linear_ops.cpp composes them).
#pragma once

#include "common/kernel_types.h"

namespace mm::kern {

struct GemvParams {
  const void* x = nullptr;         ///< (batch, k), row stride x_stride elements, unit last stride
  const void* norm_w = nullptr;    ///< (k) or null: x is used as given
  const void* w = nullptr;         ///< (n, k) contiguous, 16-byte aligned
  const void* w_up = nullptr;      ///< (n, k) like w, or null: no SwiGLU
  const void* residual = nullptr;  ///< (batch, n), row stride res_stride, unit last stride; or null
  void* out = nullptr;             ///< (batch, n) contiguous
  int64_t x_stride = 0, res_stride = 0;
  int64_t batch = 0, n = 0, k = 0;
  float eps = 1e-5f;
  DType dtype = DType::bf16;
};

constexpr int64_t kGemvMaxBatch = 4;
constexpr int64_t kGemvMaxK = 8192;

/// Three forms: norm_w set (w_up optional): out = f(rms_norm(x) W^T [, rms_norm(x) W_up^T]); residual
/// set (norm_w and w_up null): out = residual + x W^T. Returns 0 or the CUDA error of the launch; needs
/// bf16/f16, batch 1..kGemvMaxBatch, k % 8 == 0 and k <= kGemvMaxK (the bindings check).
int gemv_launch(const GemvParams& p, Stream stream);

}  // namespace mm::kern
