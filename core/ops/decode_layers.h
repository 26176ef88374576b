// A run of consecutive Mamba-2 decoder layers for batch-1 decode, as one op: the weights of each layer
// (the fused input projection of fuse_for_inference) and its state, updated in place.
#pragma once

#include <ATen/ATen.h>

#include <vector>

#include "ref/mamba2_step_ref.h"

namespace mm {

struct Mamba2DecodeLayer {
  at::Tensor attn_norm;              ///< (D)
  at::Tensor fused_in;               ///< (C + H P + H, D) = [v | k | q | gate | gamma]
  at::Tensor o_proj;                 ///< (D, H P)
  at::Tensor ffn_norm;               ///< (D)
  at::Tensor w1, w3;                 ///< (F, D)
  at::Tensor w2;                     ///< (D, F)
  Mamba2StepWeights step;            ///< conv (C, K), biases, dt_bias, A_log, gated-norm scale, heads, eps
  at::Tensor* conv_state = nullptr;  ///< (1, C, K - 1)
  at::Tensor* ssm_state = nullptr;   ///< (1, H, P, P) fp32
};

}  // namespace mm
