// The engine's op dispatch: one entry per op, with the signature of its reference in ref/. Each
// entry takes its fast path (kernels/ CUDA kernels, SDPA flash) when the call is one the fast path
// supports, and the reference otherwise: another device, dtype or shape, or a call that needs
// gradients. What ran is recorded in ops/op_registry.h. core/models/ calls only these.
#pragma once

#include <ATen/ATen.h>

#include <vector>

#include "ops/decode_layers.h"
#include "ref/conv1d_ref.h"
#include "ref/mamba2_step_ref.h"
#include "ref/ssd_ref.h"

namespace mm {

/// rms_norm_ref: x (..., D), w (D).
at::Tensor rms_norm(const at::Tensor& x, const at::Tensor& w, double eps);
/// apply_rope_ref: x (B, L, heads, hd) at positions pos0...
at::Tensor apply_rope(const at::Tensor& x, int64_t pos0, double theta);
/// apply_rope_at_ref: the first position pos0 (int64 (1)) read on the device.
at::Tensor apply_rope_at(const at::Tensor& x, const at::Tensor& pos0, double theta);
/// apply_rope of the slots [first, first + n) of a projection qkv (B, L, H_kv, slots, hd), read in place
/// on CUDA: (B, L, H_kv n, hd), head kv n + j from slot first + j of kv head kv.
at::Tensor apply_rope_slots(const at::Tensor& qkv, int64_t first, int64_t n, int64_t pos0, double theta);
/// attention_ref for L new queries: q (B, L, H, hd); k, v (B, H_kv, T, hd), causal with T - L past keys.
at::Tensor attention_prefill(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v);
/// Attention over the union of two disjoint key sets from attention over each: out_a, out_b (B, H, L, hd)
/// with lse_a, lse_b (B, H, L, 1) fp32, each row's natural log-sum-exp of its scaled scores. The cuDNN
/// prefill merges a chunk's prefix and diagonal blocks with it; returns fp32.
at::Tensor merge_attention_blocks(const at::Tensor& out_a, const at::Tensor& lse_a, const at::Tensor& out_b,
                                  const at::Tensor& lse_b);
/// attention_ref for one query over a cache: q (B, 1, H, hd); k, v (B, H_kv, T, hd).
at::Tensor attention_decode(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v);
/// attention_decode_at_ref: one query over the first len (int64 (1), on the device) keys of a static cache.
at::Tensor attention_decode_at(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& len);

/// ssd_scan_chunked_ref (x and Bm may have H / g heads: head j reads j / g).
ScanResult ssd_scan_chunked(const at::Tensor& x, const at::Tensor& dt, const at::Tensor& A, const at::Tensor& Bm,
                            const at::Tensor& Cm, int64_t chunk_size, const at::Tensor& init_state = {});
/// ssd_state_update_ref.
at::Tensor ssd_state_update(at::Tensor& state, const at::Tensor& x, const at::Tensor& dt, const at::Tensor& A,
                            const at::Tensor& Bm, const at::Tensor& Cm);
/// causal_conv1d_ref and causal_conv1d_update_ref.
ConvResult causal_conv1d(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias,
                         const at::Tensor& init_state = {});
at::Tensor causal_conv1d_update(const at::Tensor& x, at::Tensor& state, const at::Tensor& weight,
                                const at::Tensor& bias);
/// gated_rmsnorm_ref.
at::Tensor gated_rmsnorm(const at::Tensor& y, const at::Tensor& g, const at::Tensor& weight, double eps);
/// mamba2_decode_step_ref: one fused decode step of a Mamba-2 layer.
at::Tensor mamba2_decode_step(const at::Tensor& c, const at::Tensor& gate, const at::Tensor& gamma,
                              at::Tensor& conv_state, at::Tensor& ssm_state, const Mamba2StepWeights& w);

/// h (1, 1, D) through consecutive Mamba-2 decoder layers, their states updated in place; returns the
/// last layer's output (1, 1, D). The reference is each layer's decode as decoder_layer runs it:
/// norm_linear (fused input projection), mamba2_decode_step, linear_residual (W_O), norm_swiglu,
/// linear_residual (w2). On sm_90 the fast path is one persistent launch for up to 32 layers.
at::Tensor mamba2_layers_decode(const at::Tensor& h, const std::vector<Mamba2DecodeLayer>& layers, double rms_eps);
/// The reference of mamba2_layers_decode (its inner ops dispatch as usual).
at::Tensor mamba2_layers_decode_composed(const at::Tensor& h, const std::vector<Mamba2DecodeLayer>& layers,
                                         double rms_eps);

/// A static-cache decode step's attention bookkeeping: qkv (B, 1, H_kv, g + 2, hd) = [q x g | k | v] per kv
/// head (the wqkv row layout); rotates q and k at position len[0], writes k and v at row len[0] of k_cache,
/// v_cache (B, H_kv, capacity, hd), then len += 1 (int64 (1) on the device). Returns q (B, 1, H_kv g, hd).
/// One launch on CUDA; elsewhere apply_rope_at, index_copy_ and add_.
at::Tensor rope_kv_append(const at::Tensor& qkv, at::Tensor& k_cache, at::Tensor& v_cache, at::Tensor& len, double theta);
const char* rope_kv_append_unsupported(const at::Tensor& qkv, const at::Tensor& k_cache, const at::Tensor& v_cache,
                                       const at::Tensor& len);

/// A decoder layer's projections as single ops, so decode reads each weight once in one launch (the
/// cuda-gemv path: 1 to 4 rows of x); elsewhere the composition of rms_norm and at::matmul they name.
/// norm_linear: rms_norm(x, norm_w) W^T; x (..., K), W (N, K), returns (..., N).
at::Tensor norm_linear(const at::Tensor& x, const at::Tensor& norm_w, double eps, const at::Tensor& w);
/// norm_swiglu: silu(n W1^T) * (n W3^T) with n = rms_norm(x, norm_w), the MLP's first half.
at::Tensor norm_swiglu(const at::Tensor& x, const at::Tensor& norm_w, double eps, const at::Tensor& w1,
                       const at::Tensor& w3);
/// linear_residual: residual + x W^T; residual shaped as the product.
at::Tensor linear_residual(const at::Tensor& x, const at::Tensor& w, const at::Tensor& residual);

/// Why each fast path cannot take this call (nullptr = it can). Pure shape/dtype/device checks,
/// true of the build's kernels; exposed so tests can hold the declarations to what runs.
const char* rms_norm_unsupported(const at::Tensor& x, const at::Tensor& w);
const char* rope_unsupported(const at::Tensor& x);
const char* attention_prefill_unsupported(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v);
const char* attention_decode_unsupported(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v);
const char* ssd_scan_unsupported(const at::Tensor& x, const at::Tensor& dt, const at::Tensor& A, const at::Tensor& Bm,
                                 const at::Tensor& Cm, int64_t chunk_size, const at::Tensor& init_state);
const char* gated_rmsnorm_unsupported(const at::Tensor& y, const at::Tensor& g, const at::Tensor& weight);
const char* conv1d_unsupported(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& state);
/// The decode GEMV's checks on x (..., K) and W (N, K); extra weights (w3, the norm's, the residual) are
/// checked by the caller.
const char* gemv_unsupported(const at::Tensor& x, const at::Tensor& w);
const char* mamba2_decode_step_unsupported(const at::Tensor& c, const at::Tensor& gate, const at::Tensor& gamma,
                                           const at::Tensor& conv_state, const at::Tensor& ssm_state,
                                           const Mamba2StepWeights& w);

}  // namespace mm
