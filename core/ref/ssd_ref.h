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
