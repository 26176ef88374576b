// The fused decode step's params from its ATen arguments, shared by the bindings that launch a step
// (mamba2_decode_step, mamba2_in_step). The caller has checked shapes, dtypes and layouts.
#pragma once

#include <ATen/ATen.h>

#include "binding/check.h"
#include "mamba2/mamba2_step.h"
#include "ref/mamba2_step_ref.h"

namespace mm::cuda_ops {

/// States, weights and the output (B, H, 128) of a step over B rows and C conv channels.
inline kern::Mamba2StepParams step_params(at::Tensor& conv_state, at::Tensor& ssm_state, const Mamba2StepWeights& w,
                                          const at::Tensor& out, int64_t B, int64_t C) {
  kern::Mamba2StepParams p;
  p.conv_state = conv_state.data_ptr();
  p.ssm_state = ssm_state.data_ptr<float>();
  p.conv_weight = w.conv_weight.data_ptr();
  p.conv_bias = w.conv_bias.data_ptr();
  p.dt_bias = w.dt_bias.data_ptr();
  p.A_log = w.A_log.data_ptr();
  p.norm_weight = w.norm_weight.data_ptr();
  p.out = out.data_ptr();
  p.batch = B;
  p.heads = w.n_heads;
  p.kv_heads = w.n_kv_heads;
  p.channels = C;
  p.width = int(w.conv_weight.size(1));
  p.eps = float(w.norm_eps);
  p.dtype = kernel_dtype(out);
  return p;
}

}  // namespace mm::cuda_ops
