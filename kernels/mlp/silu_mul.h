// The SwiGLU product of prefill: a <- silu(a) * b elementwise, in place over a, both contiguous of
// n elements. Reference: at::silu(a) * b (norm_swiglu's composition in core/ops). fp32 arithmetic.
#pragma once

#include "common/kernel_types.h"

namespace mm::kern {

struct SiluMulParams {
  void* a = nullptr;        ///< (n) contiguous: the gate input, overwritten with silu(a) * b
  const void* b = nullptr;  ///< (n) contiguous: the up projection
  int64_t n = 0;
  DType dtype = DType::bf16;
};

/// Returns 0 or the CUDA error of the launch.
int silu_mul_launch(const SiluMulParams& p, Stream stream);

}  // namespace mm::kern
