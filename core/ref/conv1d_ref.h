// Depthwise causal conv1d followed by SiLU (METHOD.md §2.2 step 2), full sequence and one step.
// Tap K-1 is the current token, tap 0 the oldest (PyTorch Conv1d, padding K-1, truncated to L).
#pragma once

#include <ATen/ATen.h>

namespace mm {

struct ConvResult {
  at::Tensor out;          ///< (B, L, C): SiLU(conv(x))
  at::Tensor final_state;  ///< (B, C, K-1): the last K-1 pre-activation inputs, for decoding
};

/// x (B, L, C); weight (C, K); bias (C); init_state (B, C, K-1) or undefined (zeros).
ConvResult causal_conv1d_ref(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias,
                             const at::Tensor& init_state = {});

/// One step: x (B, C); state (B, C, K-1) updated in place. Returns SiLU(conv) (B, C).
at::Tensor causal_conv1d_update_ref(const at::Tensor& x, at::Tensor& state, const at::Tensor& weight,
                                    const at::Tensor& bias);

/// Gated RMSNorm per head (METHOD.md §2.2 step 6): y * rsqrt(mean(y^2) + eps) * w * SiLU(g), in fp32.
/// y, g (..., P); weight (P). Returns the dtype of y.
at::Tensor gated_rmsnorm_ref(const at::Tensor& y, const at::Tensor& g, const at::Tensor& weight, double eps);

}  // namespace mm
