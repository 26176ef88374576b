// The Mamba-2 (SSD) scan as plain ATen: the executable spec of METHOD.md §2.2-2.4.
// Three forms that tests hold equal: the exact per-step recurrence, the chunked SSD form, and the
// one-token state update used while decoding.
//
// Shapes: B batch, L length, H heads, P value dim (head_dim), N state dim (key dim).
//   x  (B, L, H, P)  values (v' after conv); the scans also take (B, L, H_x, P) with H % H_x == 0,
//                    head j reading head j / (H / H_x) (the teacher's GQA grouping), and likewise Bm
//   dt (B, L, H)     step sizes after softplus, fp32
//   A  (H)           negative decay rates, fp32
//   Bm (B, L, H, N)  keys (k')
//   Cm (B, L, H, N)  queries (q')
//   state (B, H, P, N) fp32, S_t = exp(dt_t A) S_{t-1} + dt_t x_t Bm_t^T,  y_t = S_t Cm_t
#pragma once

#include <ATen/ATen.h>

namespace mm {

struct ScanResult {
  at::Tensor y;            ///< (B, L, H, P), dtype of x
  at::Tensor final_state;  ///< (B, H, P, N), fp32
};

/// The Mamba-2 layer's conv and scan together (METHOD.md §2.2 steps 2-5): the conv's output split into
/// the scan's operands, the scan's result and the conv's state.
struct ConvScanResult {
  at::Tensor y;            ///< (B, L, H, P), dtype of the conv input
  at::Tensor final_state;  ///< (B, H, P, N), fp32
  at::Tensor conv_state;   ///< (B, C, K-1): the last K-1 conv inputs, for decoding
};

struct ScanOperands {
  at::Tensor x, Bm, Cm;  ///< (B, L, H_kv, P), (B, L, H_kv, P), (B, L, H, P)
};

/// c (B, L, 2 H_kv P + H P) = [x | B | C] per position, as views.
ScanOperands split_scan_operands(const at::Tensor& c, int64_t kv_heads, int64_t heads);

/// causal_conv1d_ref over c (weight (C, K), bias (C), conv_state (B, C, K-1) or undefined), then
/// ssd_scan_chunked_ref over the split of its output (heads from dt (B, L, H)).
ConvScanResult conv_ssd_scan_ref(const at::Tensor& c, int64_t kv_heads, const at::Tensor& conv_weight,
                                 const at::Tensor& conv_bias, const at::Tensor& conv_state, const at::Tensor& dt,
                                 const at::Tensor& A, int64_t chunk_size, const at::Tensor& ssm_state = {});

/// (B, L, H_x, D) -> (B, L, H, D), head j a copy of head j / (H / H_x); t itself when H_x == H.
at::Tensor expand_heads(const at::Tensor& t, int64_t H);

/// Per-step recurrence; init_state may be undefined (zeros).
ScanResult ssd_scan_recurrent_ref(const at::Tensor& x, const at::Tensor& dt, const at::Tensor& A,
                                  const at::Tensor& Bm, const at::Tensor& Cm, const at::Tensor& init_state = {});

/// Chunked SSD form (chunk_size T, any L, a shorter last chunk), one chunk after the other.
ScanResult ssd_scan_chunked_ref(const at::Tensor& x, const at::Tensor& dt, const at::Tensor& A,
                                const at::Tensor& Bm, const at::Tensor& Cm, int64_t chunk_size,
                                const at::Tensor& init_state = {});

/// One decode step. state (B, H, P, N) fp32 is updated in place; x (B, H, P), dt (B, H), Bm/Cm (B, H, N).
/// Returns y (B, H, P) in the dtype of x.
at::Tensor ssd_state_update_ref(at::Tensor& state, const at::Tensor& x, const at::Tensor& dt, const at::Tensor& A,
                                const at::Tensor& Bm, const at::Tensor& Cm);

}  // namespace mm
