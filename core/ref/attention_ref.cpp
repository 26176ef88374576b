#include "ref/attention_ref.h"

#include <c10/util/Exception.h>

#include <cmath>

namespace mm {

at::Tensor rms_norm_ref(const at::Tensor& x, const at::Tensor& w, double eps) {
  const at::Tensor xf = x.to(at::kFloat);
  const at::Tensor normed = xf * at::rsqrt(xf.pow(2).mean(-1, /*keepdim=*/true) + eps);
  return w * normed.to(x.scalar_type());
}

at::Tensor apply_rope_ref(const at::Tensor& x, int64_t pos0, double theta) {
  const int64_t L = x.size(1), hd = x.size(3);
  const auto f32 = x.options().dtype(at::kFloat);
  const at::Tensor inv_freq = 1.0 / at::pow(theta, at::arange(0, hd, 2, f32) / double(hd));  // (hd/2)
  const at::Tensor pos = at::arange(pos0, pos0 + L, f32);                                    // (L)
  const at::Tensor freqs = at::outer(pos, inv_freq);                                          // (L, hd/2)
  const at::Tensor emb = at::cat({freqs, freqs}, -1).view({1, L, 1, hd});                     // (1, L, 1, hd)
  const at::Tensor xf = x.to(at::kFloat);
  const at::Tensor x1 = xf.narrow(-1, 0, hd / 2), x2 = xf.narrow(-1, hd / 2, hd / 2);
  const at::Tensor rotated = at::cat({-x2, x1}, -1);
  return (xf * at::cos(emb) + rotated * at::sin(emb)).to(x.scalar_type());
}

at::Tensor attention_ref(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v) {
  TORCH_CHECK(q.dim() == 4 && k.dim() == 4 && v.sizes() == k.sizes(), "attention: q must be (B, L, H, hd) and k, v (B, H_kv, T, hd), got ",
              q.sizes(), ", ", k.sizes(), ", ", v.sizes());
  const int64_t B = q.size(0), L = q.size(1), H = q.size(2), hd = q.size(3), Hkv = k.size(1), T = k.size(2);
  TORCH_CHECK(k.size(0) == B && k.size(3) == hd && Hkv > 0 && H % Hkv == 0 && T >= L,
              "attention: k/v (B, H_kv, T, hd) do not fit q ", q.sizes(), ": ", k.sizes());
  const int64_t g = H / Hkv, past = T - L;
  // Query head kv*g + r attends with kv head kv: group queries as (B, H_kv, g, L, hd), no K/V copy.
  const at::Tensor qg = q.transpose(1, 2).reshape({B, Hkv, g, L, hd});
  at::Tensor scores = at::matmul(qg.to(at::kFloat), k.unsqueeze(2).transpose(-1, -2).to(at::kFloat));  // (B, H_kv, g, L, T)
  scores.mul_(1.0 / std::sqrt(double(hd)));
  if (L > 1) {
    // query i (absolute past + i) sees keys t <= past + i
    const at::Tensor allowed = at::ones({L, T}, q.options().dtype(at::kBool)).tril(past);
    scores.masked_fill_(allowed.logical_not(), -INFINITY);
  }
  const at::Tensor probs = at::softmax(scores, -1).to(v.scalar_type());
  const at::Tensor out = at::matmul(probs, v.unsqueeze(2));  // (B, H_kv, g, L, hd)
  return out.reshape({B, H, L, hd}).transpose(1, 2);         // (B, L, H, hd)
}

}  // namespace mm
