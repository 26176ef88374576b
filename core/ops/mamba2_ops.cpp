// Dispatch of the Mamba-2 ops: SSD scan and step, causal conv + SiLU, gated RMSNorm, the fused step.
#include "ops/dispatch_util.h"
#include "ops/ops.h"

namespace mm {
using namespace ops_detail;

const char* ssd_scan_unsupported(const at::Tensor& x, const at::Tensor& dt, const at::Tensor& A, const at::Tensor& Bm,
                                 const at::Tensor& Cm, int64_t chunk_size, const at::Tensor& init_state) {
  if (!cuda_kernels_built()) return kNotBuilt;
  if (!x.is_cuda()) return "not a CUDA tensor";
  if (!half_or_bf16(x) || Bm.scalar_type() != x.scalar_type() || Cm.scalar_type() != x.scalar_type())
    return "dtype (x, B and C bf16/f16 alike)";
  if (dt.scalar_type() != at::kFloat || A.scalar_type() != at::kFloat ||
      (init_state.defined() && init_state.scalar_type() != at::kFloat))
    return "dtype (dt, A and the state fp32)";
  if (x.dim() != 4 || Bm.dim() != 4 || Cm.dim() != 4 || x.size(3) != 128 || Bm.size(3) != 128 || Cm.size(3) != 128 ||
      chunk_size != 128)
    return "shape (head dim = state dim = chunk = 128)";
  if (x.size(1) == 0) return "shape (empty sequence)";
  for (const at::Tensor* t : {&x, &Bm, &Cm}) {
    if (t->stride(3) != 1 || t->stride(0) % 8 != 0 || t->stride(1) % 8 != 0 || t->stride(2) % 8 != 0 ||
        reinterpret_cast<uintptr_t>(t->data_ptr()) % 16 != 0)
      return "layout (x, B, C rows 16-byte aligned, unit last stride)";
  }
  if (!A.is_contiguous() || (init_state.defined() && !init_state.is_contiguous())) return "layout (A and the state contiguous)";
  return nullptr;
}

ScanResult ssd_scan_chunked(const at::Tensor& x, const at::Tensor& dt, const at::Tensor& A, const at::Tensor& Bm,
                            const at::Tensor& Cm, int64_t chunk_size, const at::Tensor& init_state) {
  const auto why = [&]() -> const char* {
    if (needs_grad({x, dt, A, Bm, Cm, init_state})) return kNeedsGrad;
    return ssd_scan_unsupported(x, dt, A, Bm, Cm, chunk_size, init_state);
  };
  return dispatch(Op::ssd_scan, "cuda-chunked", x, why,
                  MM_KERNEL_CALL(cuda_ops::ssd_scan_chunked(x, dt, A, Bm, Cm, chunk_size, init_state)),
                  [&] { return ssd_scan_chunked_ref(x, dt, A, Bm, Cm, chunk_size, init_state); });
}

at::Tensor ssd_state_update(at::Tensor& state, const at::Tensor& x, const at::Tensor& dt, const at::Tensor& A,
                            const at::Tensor& Bm, const at::Tensor& Cm) {
  record_op_path(Op::ssd_state_update, "reference");
  return ssd_state_update_ref(state, x, dt, A, Bm, Cm);
}

const char* gated_rmsnorm_unsupported(const at::Tensor& y, const at::Tensor& g, const at::Tensor& weight) {
  if (!cuda_kernels_built()) return kNotBuilt;
  if (!y.is_cuda()) return "not a CUDA tensor";
  if (!kernel_dtype(y) || g.scalar_type() != y.scalar_type() || weight.scalar_type() != y.scalar_type())
    return "dtype (needs bf16/f16/f32, gate and weight of y's dtype)";
  if (y.dim() < 2 || g.sizes() != y.sizes() || y.size(-1) % 32 != 0 || y.size(-1) > 1024) return "shape (P % 32, P <= 1024)";
  if (y.stride(-1) != 1 || g.stride(-1) != 1 || !weight.is_contiguous()) return "layout (unit last strides)";
  return nullptr;
}

at::Tensor gated_rmsnorm(const at::Tensor& y, const at::Tensor& g, const at::Tensor& weight, double eps) {
  return dispatch(
      Op::gated_rmsnorm, "cuda", y,
      [&] { return needs_grad({y, g, weight}) ? kNeedsGrad : gated_rmsnorm_unsupported(y, g, weight); },
      MM_KERNEL_CALL(cuda_ops::gated_rmsnorm(y, g, weight, eps)), [&] { return gated_rmsnorm_ref(y, g, weight, eps); });
}

const char* conv1d_unsupported(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& state) {
  if (!cuda_kernels_built()) return kNotBuilt;
  if (!x.is_cuda()) return "not a CUDA tensor";
  if (!kernel_dtype(x) || weight.scalar_type() != x.scalar_type() || (state.defined() && state.scalar_type() != x.scalar_type()))
    return "dtype (needs bf16/f16/f32, weights and state of x's dtype)";
  if (weight.dim() != 2 || weight.size(1) < 2 || weight.size(1) > 4) return "shape (kernel width 2..4)";
  if (x.stride(-1) != 1 || !weight.is_contiguous() || (state.defined() && !state.is_contiguous()))
    return "layout (unit channel stride, contiguous weight and state)";
  return nullptr;
}

ConvResult causal_conv1d(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias,
                         const at::Tensor& init_state) {
  const auto why = [&]() -> const char* {
    if (needs_grad({x, weight, bias, init_state})) return kNeedsGrad;
    if (const char* r = conv1d_unsupported(x, weight, init_state)) return r;
    return bias.scalar_type() != x.scalar_type() ? "dtype (bias of x's dtype)" : nullptr;
  };
  return dispatch(Op::conv1d, "cuda", x, why, MM_KERNEL_CALL(cuda_ops::causal_conv1d(x, weight, bias, init_state)),
                  [&] { return causal_conv1d_ref(x, weight, bias, init_state); });
}

at::Tensor causal_conv1d_update(const at::Tensor& x, at::Tensor& state, const at::Tensor& weight,
                                const at::Tensor& bias) {
  const auto why = [&]() -> const char* {
    if (needs_grad({x, state, weight, bias})) return kNeedsGrad;
    if (const char* r = conv1d_unsupported(x, weight, state)) return r;
    return bias.scalar_type() != x.scalar_type() ? "dtype (bias of x's dtype)" : nullptr;
  };
  return dispatch(Op::conv1d_update, "cuda", x, why, MM_KERNEL_CALL(cuda_ops::causal_conv1d_update(x, state, weight, bias)),
                  [&] { return causal_conv1d_update_ref(x, state, weight, bias); });
}

const char* mamba2_decode_step_unsupported(const at::Tensor& c, const at::Tensor& gate, const at::Tensor& gamma,
                                           const at::Tensor& conv_state, const at::Tensor& ssm_state,
                                           const Mamba2StepWeights& w) {
  if (const char* why = conv1d_unsupported(c, w.conv_weight, conv_state)) return why;
  if (ssm_state.dim() != 4 || ssm_state.size(2) != 128 || ssm_state.size(3) != 128 || w.n_kv_heads <= 0 ||
      w.n_heads % w.n_kv_heads != 0)
    return "shape (head dim = state dim = 128, H % H_kv)";
  const int64_t g = w.n_heads / w.n_kv_heads;
  if (g != 1 && g != 2 && g != 4 && g != 8) return "shape (H / H_kv in 1, 2, 4, 8)";
  if (ssm_state.scalar_type() != at::kFloat || !ssm_state.is_contiguous()) return "state (needs contiguous fp32)";
  if (gate.scalar_type() != c.scalar_type() || gamma.scalar_type() != c.scalar_type() ||
      w.conv_bias.scalar_type() != c.scalar_type() || w.norm_weight.scalar_type() != c.scalar_type() ||
      w.dt_bias.scalar_type() != c.scalar_type() || w.A_log.scalar_type() != c.scalar_type())
    return "dtype (gate, gamma and every weight of c's dtype)";
  if (!w.dt_bias.is_contiguous() || !w.A_log.is_contiguous() || !w.norm_weight.is_contiguous() ||
      reinterpret_cast<uintptr_t>(ssm_state.data_ptr()) % 16 != 0)
    return "layout (contiguous weights, 16-byte aligned state)";
  if (gate.stride(-1) != 1 || gamma.stride(-1) != 1) return "layout (unit last stride of gate and gamma)";
  return nullptr;
}

at::Tensor mamba2_decode_step(const at::Tensor& c, const at::Tensor& gate, const at::Tensor& gamma,
                              at::Tensor& conv_state, at::Tensor& ssm_state, const Mamba2StepWeights& w) {
  const auto why = [&]() -> const char* {
    if (needs_grad({c, gate, gamma, conv_state, ssm_state, w.conv_weight, w.conv_bias, w.dt_bias, w.A_log, w.norm_weight}))
      return kNeedsGrad;
    return mamba2_decode_step_unsupported(c, gate, gamma, conv_state, ssm_state, w);
  };
  return dispatch(Op::mamba2_decode_step, "cuda-fused", c, why,
                  MM_KERNEL_CALL(cuda_ops::mamba2_decode_step(c, gate, gamma, conv_state, ssm_state, w)),
                  [&] { return mamba2_decode_step_ref(c, gate, gamma, conv_state, ssm_state, w); });
}

at::Tensor mamba2_layers_decode_composed(const at::Tensor& h, const std::vector<Mamba2DecodeLayer>& layers,
                                         double rms_eps) {
  at::Tensor x = h;  // (1, 1, D)
  for (const Mamba2DecodeLayer& l : layers) {
    const int64_t H = l.step.n_heads, P = l.ssm_state->size(2), C = 2 * l.step.n_kv_heads * P + H * P;
    const at::Tensor z = norm_linear(x, l.attn_norm, rms_eps, l.fused_in).select(1, 0);  // (1, C + H P + H)
    const at::Tensor o = mamba2_decode_step(z.narrow(-1, 0, C), z.narrow(-1, C, H * P), z.narrow(-1, C + H * P, H),
                                            *l.conv_state, *l.ssm_state, l.step);  // (1, H, P)
    const at::Tensor out = linear_residual(o.reshape({1, 1, H * P}), l.o_proj, x);  // x + W_O o
    x = linear_residual(norm_swiglu(out, l.ffn_norm, rms_eps, l.w1, l.w3), l.w2, out);
  }
  return x;
}

at::Tensor mamba2_layers_decode(const at::Tensor& h, const std::vector<Mamba2DecodeLayer>& layers, double rms_eps) {
  const auto why = [&]() -> const char* {
    for (const Mamba2DecodeLayer& l : layers)
      if (needs_grad({h, l.fused_in, l.o_proj, l.w1, l.w3, l.w2, l.attn_norm, l.ffn_norm})) return kNeedsGrad;
#if MM_HAVE_CUDA_KERNELS
    return cuda_ops::mamba2_layers_unsupported(h, layers);
#else
    return kNotBuilt;
#endif
  };
  return dispatch(Op::mamba2_layers_decode, "cuda-persistent", h, why,
                  MM_KERNEL_CALL(cuda_ops::mamba2_layers_decode(h, layers, rms_eps)),
                  [&] { return mamba2_layers_decode_composed(h, layers, rms_eps); });
}

}  // namespace mm
