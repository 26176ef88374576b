#include "ref/mamba2_step_ref.h"

#include <c10/util/Exception.h>

#include "ref/conv1d_ref.h"
#include "ref/ssd_ref.h"

namespace mm {

at::Tensor mamba2_decode_step_ref(const at::Tensor& c, const at::Tensor& gate, const at::Tensor& gamma,
                                  at::Tensor& conv_state, at::Tensor& ssm_state, const Mamba2StepWeights& w) {
  const int64_t B = c.size(0), H = w.n_heads, Hkv = w.n_kv_heads, hd = ssm_state.size(2), g = H / Hkv;
  const int64_t dkv = Hkv * hd;
  TORCH_CHECK(c.dim() == 2 && c.size(1) == 2 * dkv + H * hd, "mamba2 step: c must be (B, 2 H_kv hd + H hd), got ",
              c.sizes());
  const at::Tensor conv_out = causal_conv1d_update_ref(c, conv_state, w.conv_weight, w.conv_bias);  // (B, C)
  // SSM head j reads kv head j / g (the teacher's repeat_kv grouping): (B, H_kv, hd) -> (B, H_kv, g, hd)
  // -> (B, H, hd), a broadcast copy (at::repeat_interleave opens an OpenMP region per call: issue 11).
  const auto grouped = [&](const at::Tensor& t) {
    return t.reshape({B, Hkv, 1, hd}).expand({B, Hkv, g, hd}).reshape({B, H, hd});
  };
  const at::Tensor x = grouped(conv_out.narrow(-1, 0, dkv));     // (B, H, P)
  const at::Tensor Bm = grouped(conv_out.narrow(-1, dkv, dkv));  // (B, H, N)
  const at::Tensor Cm = conv_out.narrow(-1, 2 * dkv, H * hd).reshape({B, H, hd});                     // (B, H, N)
  const at::Tensor dt = at::softplus(gamma.to(at::kFloat) + w.dt_bias.to(at::kFloat), 1.0, 20.0);     // (B, H)
  const at::Tensor A = -at::exp(w.A_log.to(at::kFloat));                                               // (H)
  const at::Tensor y = ssd_state_update_ref(ssm_state, x, dt, A, Bm, Cm);                              // (B, H, P)
  return gated_rmsnorm_ref(y, gate.reshape({B, H, hd}), w.norm_weight, w.norm_eps);
}

}  // namespace mm
