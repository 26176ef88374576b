#include "binding/check.h"
#include "binding/mamba2_step_params.h"
#include "binding/mm_kernels.h"
#include "mamba2/mamba2_in_step.h"

namespace mm::cuda_ops {

bool mamba2_in_step_available() { return kern::mamba2_in_step_available(); }

at::Tensor mamba2_in_step(const at::Tensor& x, const at::Tensor& norm_w, double eps, const at::Tensor& fused_in,
                          at::Tensor& conv_state, at::Tensor& ssm_state, const Mamba2StepWeights& w) {
  constexpr int64_t P = 128;
  MM_CHECK_CUDA(x);
  TORCH_CHECK(x.scalar_type() == at::kBFloat16 || x.scalar_type() == at::kHalf, "x must be bf16 or f16, got ",
              x.scalar_type());
  const int64_t D = x.size(-1), H = w.n_heads, Hkv = w.n_kv_heads, C = 2 * Hkv * P + H * P;
  TORCH_CHECK(x.numel() == D && x.is_contiguous(), "x must be one contiguous row (1, 1, D), got ", x.sizes());
  TORCH_CHECK(D % 8 == 0 && D <= kern::kInStepMaxD, "D must be a multiple of 8 up to ", kern::kInStepMaxD, ", got ", D);
  TORCH_CHECK(Hkv > 0 && H % Hkv == 0 && (H / Hkv == 1 || H / Hkv == 2 || H / Hkv == 4 || H / Hkv == 8),
              "H / H_kv must be 1, 2, 4 or 8, got ", H, " / ", Hkv);
  MM_CHECK_SHAPE(norm_w, D);
  MM_CHECK_SHAPE(fused_in, C + H * P + H, D);
  TORCH_CHECK(aligned16(fused_in.data_ptr()), "the projection must be 16-byte aligned");
  const int64_t K = w.conv_weight.dim() == 2 ? w.conv_weight.size(1) : 0;
  TORCH_CHECK(w.conv_weight.dim() == 2 && w.conv_weight.size(0) == C && K >= 2 && K <= 4,
              "conv weight must be (C, K) with K in 2..4, got ", w.conv_weight.sizes());
  MM_CHECK_SHAPE(w.conv_bias, C);
  MM_CHECK_SHAPE(conv_state, 1, C, K - 1);
  MM_CHECK_SHAPE(ssm_state, 1, H, P, P);
  MM_CHECK_SHAPE(w.dt_bias, H);
  MM_CHECK_SHAPE(w.A_log, H);
  MM_CHECK_SHAPE(w.norm_weight, P);
  for (const at::Tensor* t : std::initializer_list<const at::Tensor*>{&norm_w, &fused_in, &conv_state, &w.conv_weight,
                                                                       &w.conv_bias, &w.dt_bias, &w.A_log, &w.norm_weight}) {
    MM_CHECK_DTYPE(*t, x.scalar_type());
    MM_CHECK_CONTIGUOUS(*t);
  }
  MM_CHECK_DTYPE(ssm_state, at::kFloat);
  MM_CHECK_CONTIGUOUS(ssm_state);
  TORCH_CHECK(aligned16(ssm_state.data_ptr()), "the SSM state must be 16-byte aligned");
  at::Tensor out = at::empty({1, H, P}, x.options());
  kern::Mamba2InStepParams p;
  p.x = x.data_ptr();
  p.norm_w = norm_w.data_ptr();
  p.w = fused_in.data_ptr();
  p.d = D;
  p.norm_eps = float(eps);
  p.step = step_params(conv_state, ssm_state, w, out, 1, C);
  MM_CHECK_LAUNCH(kern::mamba2_in_step_launch(p, current_stream(x)));
  return out;
}

}  // namespace mm::cuda_ops
