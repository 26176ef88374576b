// One decode step of an mmMamba Mamba-2 layer as plain ATen, composed from the conv and SSD
// references: conv update + SiLU, dt, state update, readout, gated RMSNorm (METHOD.md §2.2).
#pragma once

#include <ATen/ATen.h>

namespace mm {

/// The layer's step weights. P = N = head_dim; C = 2 H_kv P + H N channels ordered [v | k | q].
struct Mamba2StepWeights {
  at::Tensor conv_weight;  ///< (C, K)
  at::Tensor conv_bias;    ///< (C)
  at::Tensor dt_bias;      ///< (H)
  at::Tensor A_log;        ///< (H): A = -exp(A_log)
  at::Tensor norm_weight;  ///< (P)
  int64_t n_heads = 0, n_kv_heads = 0;
  double norm_eps = 1e-5;
};

/// c (B, C) pre-conv channels of one token; gate (B, H P); gamma (B, H) (dt before its bias).
/// conv_state (B, C, K-1) (model dtype) and ssm_state (B, H, P, N) (fp32) are updated in place.
/// Returns the gated, normalised readout (B, H, P) in the dtype of c.
at::Tensor mamba2_decode_step_ref(const at::Tensor& c, const at::Tensor& gate, const at::Tensor& gamma,
                                  at::Tensor& conv_state, at::Tensor& ssm_state, const Mamba2StepWeights& w);

}  // namespace mm
