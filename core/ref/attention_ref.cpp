#include "ref/attention_ref.h"

#include <c10/util/Exception.h>

#include <cmath>

namespace mm {

at::Tensor rms_norm_ref(const at::Tensor& x, const at::Tensor& w, double eps) {
  const at::Tensor xf = x.to(at::kFloat);
  const at::Tensor normed = xf * at::rsqrt(xf.pow(2).mean(-1, /*keepdim=*/true) + eps);
  return w * normed.to(x.scalar_type());
}

namespace {

// Rotate-half RoPE at the fp32 positions pos (L).
at::Tensor rope_at_positions(const at::Tensor& x, const at::Tensor& pos, double theta) {
  const int64_t L = x.size(1), hd = x.size(3);
  const auto f32 = x.options().dtype(at::kFloat);
  const at::Tensor inv_freq = 1.0 / at::pow(theta, at::arange(0, hd, 2, f32) / double(hd));  // (hd/2)
  const at::Tensor freqs = at::outer(pos, inv_freq);                                          // (L, hd/2)
  const at::Tensor emb = at::cat({freqs, freqs}, -1).view({1, L, 1, hd});                     // (1, L, 1, hd)
  const at::Tensor xf = x.to(at::kFloat);
  const at::Tensor x1 = xf.narrow(-1, 0, hd / 2), x2 = xf.narrow(-1, hd / 2, hd / 2);
  const at::Tensor rotated = at::cat({-x2, x1}, -1);
  return (xf * at::cos(emb) + rotated * at::sin(emb)).to(x.scalar_type());
}

}  // namespace

at::Tensor apply_rope_ref(const at::Tensor& x, int64_t pos0, double theta) {
  return rope_at_positions(x, at::arange(pos0, pos0 + x.size(1), x.options().dtype(at::kFloat)), theta);  // (L)
}

at::Tensor apply_rope_at_ref(const at::Tensor& x, const at::Tensor& pos0, double theta) {
  TORCH_CHECK(pos0.numel() == 1 && pos0.scalar_type() == at::kLong, "rope: the position must be one int64");
  const at::Tensor pos = at::arange(x.size(1), x.options().dtype(at::kLong)) + pos0.to(x.device());  // (L)
  return rope_at_positions(x, pos.to(at::kFloat), theta);
}

at::Tensor softmax_lastdim(const at::Tensor& x) {
  // at::softmax opens an OpenMP region for as few as 4 rows of 1K (its grain is per row); below ATen's
  // elementwise grain (32768 elements) these plain ops stay on the calling thread.
  // Training keeps at::softmax: its fused backward, and no in-place ops on saved tensors.
  if (x.numel() > 32768 || x.requires_grad()) return at::softmax(x, -1);
  at::Tensor e = (x - at::amax(x, -1, /*keepdim=*/true)).exp_();
  return e.div_(e.sum(-1, /*keepdim=*/true));
}

at::Tensor attention_ref(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v) {
  TORCH_CHECK(q.dim() == 4 && k.dim() == 4 && v.sizes() == k.sizes(), "attention: q must be (B, L, H, hd) and k, v (B, H_kv, T, hd), got ",
              q.sizes(), ", ", k.sizes(), ", ", v.sizes());
  const int64_t B = q.size(0), L = q.size(1), H = q.size(2), hd = q.size(3), Hkv = k.size(1), T = k.size(2);
  TORCH_CHECK(k.size(0) == B && k.size(3) == hd && Hkv > 0 && H % Hkv == 0 && T >= L,
              "attention: k/v (B, H_kv, T, hd) do not fit q ", q.sizes(), ": ", k.sizes());
  const int64_t g = H / Hkv, past = T - L;
  // Query head kv*g + r attends with kv head kv: the g query heads of a kv head and their L positions
  // share one matrix, (B, H_kv, g L, hd), so K and V are read in place (an expanded K would be copied
  // at every decode step, the whole cache).
  const at::Tensor qg = q.transpose(1, 2).reshape({B, Hkv, g * L, hd});
  at::Tensor scores = at::matmul(qg.to(at::kFloat), k.transpose(-1, -2).to(at::kFloat));  // (B, H_kv, g L, T)
  scores.mul_(1.0 / std::sqrt(double(hd)));
  if (L > 1) {
    // query i (absolute past + i) sees keys t <= past + i
    const at::Tensor allowed = at::ones({L, T}, q.options().dtype(at::kBool)).tril(past);
    scores.view({B, Hkv, g, L, T}).masked_fill_(allowed.logical_not(), -INFINITY);
  }
  const at::Tensor probs = softmax_lastdim(scores).to(v.scalar_type());
  const at::Tensor out = at::matmul(probs, v);        // (B, H_kv, g L, hd)
  return out.reshape({B, H, L, hd}).transpose(1, 2);  // (B, L, H, hd)
}

at::Tensor attention_decode_at_ref(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& len) {
  TORCH_CHECK(q.dim() == 4 && q.size(1) == 1 && k.dim() == 4 && v.sizes() == k.sizes(),
              "attention decode: q must be (B, 1, H, hd) and k, v (B, H_kv, capacity, hd), got ", q.sizes(), ", ", k.sizes());
  TORCH_CHECK(len.numel() == 1 && len.scalar_type() == at::kLong, "attention decode: the length must be one int64");
  const int64_t B = q.size(0), H = q.size(2), hd = q.size(3), Hkv = k.size(1), cap = k.size(2);
  TORCH_CHECK(k.size(0) == B && k.size(3) == hd && Hkv > 0 && H % Hkv == 0, "attention decode: k/v do not fit q");
  const at::Tensor qg = q.reshape({B, Hkv, H / Hkv, hd});  // (B, H_kv, g, hd): the g query heads of a kv head
  at::Tensor scores = at::matmul(qg.to(at::kFloat), k.transpose(-1, -2).to(at::kFloat));  // (B, H_kv, g, cap)
  scores.mul_(1.0 / std::sqrt(double(hd)));
  const at::Tensor past_end = at::arange(cap, len.options()) >= len.to(k.device());  // (cap): keys not yet written
  scores.masked_fill_(past_end, -INFINITY);
  const at::Tensor probs = at::softmax(scores, -1).to(v.scalar_type());
  return at::matmul(probs, v).reshape({B, 1, H, hd});  // (B, H_kv, g, hd) -> (B, 1, H, hd)
}

}  // namespace mm
