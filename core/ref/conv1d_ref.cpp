#include "ref/conv1d_ref.h"

#include <c10/util/Exception.h>

namespace mm {

ConvResult causal_conv1d_ref(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias,
                             const at::Tensor& init_state) {
  TORCH_CHECK(x.dim() == 3, "conv1d: x must be (B, L, C), got ", x.sizes());
  const int64_t Bsz = x.size(0), L = x.size(1), C = x.size(2), K = weight.size(1);
  TORCH_CHECK(weight.dim() == 2 && weight.size(0) == C, "conv1d: weight must be (C, K), got ", weight.sizes());
  at::Tensor state = init_state.defined() ? init_state.to(x.scalar_type())
                                          : at::zeros({Bsz, C, K - 1}, x.options());
  TORCH_CHECK(state.sizes() == at::IntArrayRef({Bsz, C, K - 1}), "conv1d: state must be (B, C, K-1), got ",
              state.sizes());
  const at::Tensor xt = at::cat({state, x.transpose(1, 2)}, 2);  // (B, C, K-1+L): history then new inputs
  // out[:, c, t] = bias[c] + sum_k w[c, k] * xt[:, c, t + k]
  at::Tensor out = bias.to(x.scalar_type()).view({1, C, 1}).expand({Bsz, C, L}).clone();
  for (int64_t k = 0; k < K; ++k) out.add_(xt.narrow(2, k, L) * weight.select(1, k).to(x.scalar_type()).view({1, C, 1}));
  const at::Tensor final_state = xt.narrow(2, xt.size(2) - (K - 1), K - 1).contiguous();  // (B, C, K-1)
  return {at::silu(out).transpose(1, 2), final_state};                                   // (B, L, C)
}

at::Tensor causal_conv1d_update_ref(const at::Tensor& x, at::Tensor& state, const at::Tensor& weight,
                                    const at::Tensor& bias) {
  const int64_t K = weight.size(1);
  const at::Tensor window = at::cat({state, x.unsqueeze(-1).to(state.scalar_type())}, 2);  // (B, C, K)
  const at::Tensor out = (window * weight.to(state.scalar_type()).unsqueeze(0)).sum(-1) + bias.to(state.scalar_type());
  if (K > 1) state.copy_(window.narrow(2, 1, K - 1));
  return at::silu(out).to(x.scalar_type());
}

at::Tensor gated_rmsnorm_ref(const at::Tensor& y, const at::Tensor& g, const at::Tensor& weight, double eps) {
  const at::Tensor yf = y.to(at::kFloat);
  const at::Tensor normed = yf * at::rsqrt(yf.pow(2).mean(-1, /*keepdim=*/true) + eps);
  return (normed * weight.to(at::kFloat) * at::silu(g.to(at::kFloat))).to(y.scalar_type());
}

}  // namespace mm
