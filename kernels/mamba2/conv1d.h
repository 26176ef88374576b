// Depthwise causal conv1d (kernel width 2..4) + SiLU over channels [v | k | q]: the full sequence,
// with an initial and a final state, and the one-token update. References: causal_conv1d_ref and
// causal_conv1d_update_ref (core/ref/conv1d_ref.h). Arithmetic in fp32.
#pragma once

#include "common/kernel_types.h"

namespace mm::kern {

struct Conv1dParams {
  const void* x = nullptr;           ///< (B, L, C), strides x_stride_b, x_stride_l, unit channel stride
  const void* weight = nullptr;      ///< (C, K) contiguous; tap K-1 is the current token
  const void* bias = nullptr;        ///< (C)
  const void* init_state = nullptr;  ///< (B, C, K-1) contiguous, or null for zeros
  void* out = nullptr;               ///< (B, L, C) contiguous: SiLU(conv(x))
  void* final_state = nullptr;       ///< (B, C, K-1) contiguous: the last K-1 inputs of [state | x]
  int64_t x_stride_b = 0, x_stride_l = 0;
  int64_t batch = 0, len = 0, channels = 0;
  int width = 2;
  DType dtype = DType::bf16;
};

struct Conv1dUpdateParams {
  const void* x = nullptr;       ///< (B, C), row stride x_stride_b, unit channel stride
  void* state = nullptr;         ///< (B, C, K-1) contiguous, shifted in place
  const void* weight = nullptr;  ///< (C, K)
  const void* bias = nullptr;    ///< (C)
  void* out = nullptr;           ///< (B, C) contiguous
  int64_t x_stride_b = 0, batch = 0, channels = 0;
  int width = 2;
  DType dtype = DType::bf16;
};

/// Return 0 or the CUDA error of the launch.
int causal_conv1d_launch(const Conv1dParams& p, Stream stream);
int causal_conv1d_update_launch(const Conv1dUpdateParams& p, Stream stream);

}  // namespace mm::kern
