#include "binding/check.h"
#include "binding/mm_kernels.h"
#include "mamba2/conv1d.h"
#include "mamba2/mamba2_step.h"

namespace mm::cuda_ops {
namespace {

void check_conv_weights(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias, int64_t C) {
  TORCH_CHECK(weight.dim() == 2 && weight.size(0) == C && weight.size(1) >= 2 && weight.size(1) <= 4,
              "conv weight must be (C, K) with K in 2..4, got ", weight.sizes());
  MM_CHECK_SHAPE(bias, C);
  MM_CHECK_DTYPE(weight, x.scalar_type());
  MM_CHECK_DTYPE(bias, x.scalar_type());
  MM_CHECK_CONTIGUOUS(weight);
  MM_CHECK_CONTIGUOUS(bias);
}

}  // namespace

ConvResult causal_conv1d(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias,
                         const at::Tensor& init_state) {
  MM_CHECK_CUDA(x);
  TORCH_CHECK(x.dim() == 3, "x must be (B, L, C), got ", x.sizes());
  MM_CHECK_LAST_STRIDE(x);
  const int64_t B = x.size(0), L = x.size(1), C = x.size(2);
  check_conv_weights(x, weight, bias, C);
  const int64_t K = weight.size(1);
  if (init_state.defined()) {
    MM_CHECK_SHAPE(init_state, B, C, K - 1);
    MM_CHECK_DTYPE(init_state, x.scalar_type());
    MM_CHECK_CONTIGUOUS(init_state);
  }
  ConvResult r{at::empty({B, L, C}, x.options()), at::empty({B, C, K - 1}, x.options())};
  kern::Conv1dParams p;
  p.x = x.data_ptr();
  p.weight = weight.data_ptr();
  p.bias = bias.data_ptr();
  p.init_state = init_state.defined() ? init_state.data_ptr() : nullptr;
  p.out = r.out.data_ptr();
  p.final_state = r.final_state.data_ptr();
  p.x_stride_b = x.stride(0);
  p.x_stride_l = x.stride(1);
  p.batch = B;
  p.len = L;
  p.channels = C;
  p.width = int(K);
  p.dtype = kernel_dtype(x);
  MM_CHECK_LAUNCH(kern::causal_conv1d_launch(p, current_stream(x)));
  return r;
}

at::Tensor causal_conv1d_update(const at::Tensor& x, at::Tensor& state, const at::Tensor& weight,
                                const at::Tensor& bias) {
  MM_CHECK_CUDA(x);
  TORCH_CHECK(x.dim() == 2, "x must be (B, C), got ", x.sizes());
  MM_CHECK_LAST_STRIDE(x);
  const int64_t B = x.size(0), C = x.size(1);
  check_conv_weights(x, weight, bias, C);
  MM_CHECK_SHAPE(state, B, C, weight.size(1) - 1);
  MM_CHECK_DTYPE(state, x.scalar_type());
  MM_CHECK_CONTIGUOUS(state);
  at::Tensor out = at::empty({B, C}, x.options());
  kern::Conv1dUpdateParams p;
  p.x = x.data_ptr();
  p.state = state.data_ptr();
  p.weight = weight.data_ptr();
  p.bias = bias.data_ptr();
  p.out = out.data_ptr();
  p.x_stride_b = x.stride(0);
  p.batch = B;
  p.channels = C;
  p.width = int(weight.size(1));
  p.dtype = kernel_dtype(x);
  MM_CHECK_LAUNCH(kern::causal_conv1d_update_launch(p, current_stream(x)));
  return out;
}

at::Tensor mamba2_decode_step(const at::Tensor& c, const at::Tensor& gate, const at::Tensor& gamma,
                              at::Tensor& conv_state, at::Tensor& ssm_state, const Mamba2StepWeights& w) {
  constexpr int64_t P = 128;
  MM_CHECK_CUDA(c);
  const int64_t B = c.size(0), H = w.n_heads, Hkv = w.n_kv_heads, C = 2 * Hkv * P + H * P;
  TORCH_CHECK(Hkv > 0 && H % Hkv == 0 && (H / Hkv == 1 || H / Hkv == 2 || H / Hkv == 4 || H / Hkv == 8),
              "H / H_kv must be 1, 2, 4 or 8, got ", H, " / ", Hkv);
  MM_CHECK_SHAPE(c, B, C);
  MM_CHECK_SHAPE(gate, B, H * P);
  MM_CHECK_SHAPE(gamma, B, H);
  for (const at::Tensor* t : {&c, &gate, &gamma}) MM_CHECK_LAST_STRIDE(*t);
  check_conv_weights(c, w.conv_weight, w.conv_bias, C);
  MM_CHECK_SHAPE(conv_state, B, C, w.conv_weight.size(1) - 1);
  MM_CHECK_SHAPE(ssm_state, B, H, P, P);
  MM_CHECK_SHAPE(w.dt_bias, H);
  MM_CHECK_SHAPE(w.A_log, H);
  MM_CHECK_SHAPE(w.norm_weight, P);
  for (const at::Tensor* t : std::initializer_list<const at::Tensor*>{&gate, &gamma, &conv_state, &w.dt_bias, &w.A_log, &w.norm_weight})
    MM_CHECK_DTYPE(*t, c.scalar_type());
  MM_CHECK_DTYPE(ssm_state, at::kFloat);
  for (const at::Tensor* t : std::initializer_list<const at::Tensor*>{&conv_state, &ssm_state, &w.dt_bias, &w.A_log, &w.norm_weight}) MM_CHECK_CONTIGUOUS(*t);
  TORCH_CHECK(aligned16(ssm_state.data_ptr()), "the SSM state must be 16-byte aligned");
  at::Tensor out = at::empty({B, H, P}, c.options());
  kern::Mamba2StepParams p;
  p.c = c.data_ptr();
  p.gate = gate.data_ptr();
  p.gamma = gamma.data_ptr();
  p.conv_state = conv_state.data_ptr();
  p.ssm_state = ssm_state.data_ptr<float>();
  p.conv_weight = w.conv_weight.data_ptr();
  p.conv_bias = w.conv_bias.data_ptr();
  p.dt_bias = w.dt_bias.data_ptr();
  p.A_log = w.A_log.data_ptr();
  p.norm_weight = w.norm_weight.data_ptr();
  p.out = out.data_ptr();
  p.c_stride_b = c.stride(0);
  p.gate_stride_b = gate.stride(0);
  p.gamma_stride_b = gamma.stride(0);
  p.batch = B;
  p.heads = H;
  p.kv_heads = Hkv;
  p.channels = C;
  p.width = int(w.conv_weight.size(1));
  p.eps = float(w.norm_eps);
  p.dtype = kernel_dtype(c);
  MM_CHECK_LAUNCH(kern::mamba2_step_launch(p, current_stream(c)));
  return out;
}

}  // namespace mm::cuda_ops
