// The CUDA kernels as ATen functions, with the signatures of their references in core/ref/. Built
// only with a CUDA LibTorch; core/ops/ calls them after its supports() checks.
#pragma once

#include <ATen/ATen.h>

#include <vector>

#include "ops/decode_layers.h"
#include "ref/conv1d_ref.h"
#include "ref/mamba2_step_ref.h"
#include "ref/ssd_ref.h"

namespace mm::cuda_ops {

/// rms_norm_ref. x (..., D) with unit last stride; returns a contiguous tensor of x's shape.
at::Tensor rms_norm(const at::Tensor& x, const at::Tensor& w, double eps);
/// gated_rmsnorm_ref. y, g (..., H, P) with unit last strides, P % 32 == 0, P <= 1024.
at::Tensor gated_rmsnorm(const at::Tensor& y, const at::Tensor& g, const at::Tensor& w, double eps);
/// apply_rope_ref. x (B, L, heads, hd) with unit last stride; returns a contiguous tensor.
at::Tensor apply_rope(const at::Tensor& x, int64_t pos0, double theta);
/// apply_rope_at_ref: the first position read on the device, pos0 an int64 (1) tensor on x's device.
at::Tensor apply_rope_at(const at::Tensor& x, const at::Tensor& pos0, double theta);
/// apply_rope of the slots [first, first + n) of qkv (B, L, H_kv, slots, hd), read in place: returns
/// (B, L, H_kv n, hd) contiguous, head kv n + j from slot first + j of kv head kv.
at::Tensor apply_rope_slots(const at::Tensor& qkv, int64_t first, int64_t n, int64_t pos0, double theta);
/// attention_decode_at_ref: one query over the first len keys of a static cache (len int64 (1) on q's device).
at::Tensor attention_decode_at(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& len);
/// attention_ref with one query: q (B, 1, H, hd), k and v (B, H_kv, T, hd). Returns (B, 1, H, hd).
at::Tensor attention_decode(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v);
/// The split-K kernel's variant as the op path record names it: "cuda-splitk", or "cuda-splitk-d2" with
/// MMMAMBA_ATTN_DECODE_DEPTH=2 (two steps of K/V rows in flight).
const char* attention_decode_variant();
/// causal_conv1d_ref and causal_conv1d_update_ref.
ConvResult causal_conv1d(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias,
                         const at::Tensor& init_state);
at::Tensor causal_conv1d_update(const at::Tensor& x, at::Tensor& state, const at::Tensor& weight,
                                const at::Tensor& bias);
/// ssd_scan_chunked_ref for head dim = state dim = chunk = 128: x, B, C (B, L, H, 128) bf16/f16 with
/// 16-byte rows, dt (B, L, H) and A (H) fp32, init_state (B, H, 128, 128) fp32 contiguous or undefined.
ScanResult ssd_scan_chunked(const at::Tensor& x, const at::Tensor& dt, const at::Tensor& A, const at::Tensor& Bm,
                            const at::Tensor& Cm, int64_t chunk_size, const at::Tensor& init_state);
/// mamba2_decode_step_ref.
at::Tensor mamba2_decode_step(const at::Tensor& c, const at::Tensor& gate, const at::Tensor& gamma,
                              at::Tensor& conv_state, at::Tensor& ssm_state, const Mamba2StepWeights& w);

/// merge_attention_blocks (core/ops/ops.h) of (B, H, L, hd) blocks with fp32 (B, H, L, 1) log-sum-exps,
/// written as (B, L, H, hd) contiguous in the blocks' dtype.
at::Tensor merge_attention_blocks(const at::Tensor& out_a, const at::Tensor& lse_a, const at::Tensor& out_b,
                                  const at::Tensor& lse_b);
/// rope_kv_append (core/ops/ops.h): qkv (B, 1, H_kv, g + 2, hd), caches (B, H_kv, capacity, hd), len int64 (1).
at::Tensor rope_kv_append(const at::Tensor& qkv, at::Tensor& k_cache, at::Tensor& v_cache, at::Tensor& len, double theta);

/// Decode GEMVs (1 to 4 rows of x, bf16/f16, K % 8 == 0 and <= 8192, W (N, K) contiguous):
/// rms_norm(x) W^T; silu(rms_norm(x) W1^T) * (rms_norm(x) W3^T); residual + x W^T. x (..., K) with a
/// unit last stride; returns (..., N) contiguous.
at::Tensor norm_linear(const at::Tensor& x, const at::Tensor& norm_w, double eps, const at::Tensor& w);
at::Tensor norm_swiglu(const at::Tensor& x, const at::Tensor& norm_w, double eps, const at::Tensor& w1,
                       const at::Tensor& w3);
at::Tensor linear_residual(const at::Tensor& x, const at::Tensor& w, const at::Tensor& residual);
/// a <- silu(a) * b in place (the SwiGLU product of prefill); a and b contiguous, same shape and dtype,
/// 16-byte aligned. Returns a.
at::Tensor& silu_mul_(at::Tensor& a, const at::Tensor& b);

/// mamba2_layers_decode (core/ops/ops.h): batch 1, bf16/f16, sm_90; see mamba2_layers_unsupported.
at::Tensor mamba2_layers_decode(const at::Tensor& h, const std::vector<Mamba2DecodeLayer>& layers, double rms_eps);
/// Why the persistent kernel cannot take this call (nullptr when it can).
const char* mamba2_layers_unsupported(const at::Tensor& h, const std::vector<Mamba2DecodeLayer>& layers);

}  // namespace mm::cuda_ops
