// One fused decode step of an mmMamba Mamba-2 layer (head dim = state dim = 128): conv update + SiLU
// for the head's x, B and C channels, dt = softplus(gamma + dt_bias), S = exp(dt A) S + dt x B^T,
// y = S C, then the gated RMSNorm. One launch: a block per kv head and batch row, which also shifts
// the conv state of the channels only it reads.
// Reference: mamba2_decode_step_ref (core/ref/mamba2_step_ref.h).
#pragma once

#include "common/kernel_types.h"

namespace mm::kern {

struct Mamba2StepParams {
  const void* c = nullptr;      ///< (B, C) pre-conv [v | k | q], C = 2 H_kv 128 + H 128, row stride c_stride_b
  const void* gate = nullptr;   ///< (B, H 128), row stride gate_stride_b
  const void* gamma = nullptr;  ///< (B, H), row stride gamma_stride_b
  void* conv_state = nullptr;   ///< (B, C, K-1) contiguous, shifted in place
  float* ssm_state = nullptr;   ///< (B, H, 128, 128) fp32 contiguous, updated in place
  const void* conv_weight = nullptr;  ///< (C, K)
  const void* conv_bias = nullptr;    ///< (C)
  const void* dt_bias = nullptr;      ///< (H)
  const void* A_log = nullptr;        ///< (H)
  const void* norm_weight = nullptr;  ///< (128)
  void* out = nullptr;                ///< (B, H, 128) contiguous
  int64_t c_stride_b = 0, gate_stride_b = 0, gamma_stride_b = 0;
  int64_t batch = 0, heads = 0, kv_heads = 0, channels = 0;
  int width = 2;
  float eps = 1e-5f;
  DType dtype = DType::bf16;
};

/// Returns 0 or the CUDA error of the launches.
int mamba2_step_launch(const Mamba2StepParams& p, Stream stream);

}  // namespace mm::kern
