// The teacher's norm, rotary embedding and causal GQA attention as plain ATen: the executable spec
// the fast paths in ops/ are held to. B batch, L new positions, T keys, H heads, H_kv kv heads, hd head dim.
#pragma once

#include <ATen/ATen.h>

namespace mm {

/// InternLM2 RMSNorm, computed in fp32: w * (x * rsqrt(mean(x^2) + eps)). x (..., D), w (D).
at::Tensor rms_norm_ref(const at::Tensor& x, const at::Tensor& w, double eps);

/// Rotate-half (NeoX) RoPE on x (B, L, heads, hd) at absolute positions pos0..pos0+L-1.
at::Tensor apply_rope_ref(const at::Tensor& x, int64_t pos0, double theta);

/// apply_rope_ref at positions pos0[0].. read on the device: pos0 an int64 (1) tensor on x's device, so
/// a captured decode step (static cache) needs no host value.
at::Tensor apply_rope_at_ref(const at::Tensor& x, const at::Tensor& pos0, double theta);

/// Softmax over the last dim: plain ops on the calling thread when x is small and needs no gradient
/// (decode), else at::softmax.
at::Tensor softmax_lastdim(const at::Tensor& x);

/// Causal GQA softmax attention, scale 1/sqrt(hd). q (B, L, H, hd); k, v (B, H_kv, T, hd) with T >= L;
/// query i sits at absolute position T - L + i and sees keys t <= T - L + i. Query head j reads kv
/// head j / (H / H_kv), without copying K/V. Returns (B, L, H, hd) in the dtype of v.
at::Tensor attention_ref(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v);

/// attention_ref of one query over the first len[0] keys of a static cache: q (B, 1, H, hd); k, v
/// (B, H_kv, capacity, hd); len an int64 (1) tensor on q's device, 1 <= len <= capacity. Keys past len
/// are masked on the device (no host read), so the call can be captured in a CUDA graph; they must hold
/// finite values (a zero weight times NaN is NaN), as ModelCache::make_static sees to.
at::Tensor attention_decode_at_ref(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& len);

}  // namespace mm
