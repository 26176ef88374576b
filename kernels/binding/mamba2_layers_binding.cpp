#include <algorithm>
#include <utility>
#include <vector>

#include <c10/cuda/CUDAGuard.h>

#include "binding/check.h"
#include "binding/mm_kernels.h"
#include "mamba2/mamba2_layers.h"

namespace mm::cuda_ops {
namespace {

constexpr int64_t kP = 128;

bool contiguous16(const at::Tensor& t) { return t.is_contiguous() && aligned16(t.data_ptr()); }

}  // namespace

const char* mamba2_layers_unsupported(const at::Tensor& h, const std::vector<Mamba2DecodeLayer>& layers) {
  if (layers.empty()) return "no layers";
  const c10::cuda::CUDAGuard guard(h.device());  // the kernel side queries the current device
  if (h.scalar_type() != at::kBFloat16 && h.scalar_type() != at::kHalf) return "dtype (bf16/f16)";
  const int64_t D = h.size(-1);
  if (h.numel() != D) return "shape (batch 1, one token)";
  const Mamba2DecodeLayer& f = layers.front();
  if (!f.w1.defined() || !f.step.conv_weight.defined()) return "shape (a weight is missing)";
  const int64_t H = f.step.n_heads, Hkv = f.step.n_kv_heads, F = f.w1.size(0), K = f.step.conv_weight.size(-1);
  if (Hkv <= 0 || H % Hkv != 0) return "shape (H % H_kv)";
  const int64_t HP = H * kP, C = 2 * Hkv * kP + HP;
  for (const Mamba2DecodeLayer& l : layers) {
    if (!l.conv_state || !l.ssm_state || !l.conv_state->defined() || !l.ssm_state->defined()) return "state (missing)";
    if (!l.w1.defined() || !l.step.conv_weight.defined()) return "shape (a weight is missing)";
    if (l.step.n_heads != H || l.step.n_kv_heads != Hkv || l.w1.size(0) != F || l.step.conv_weight.size(-1) != K ||
        l.step.norm_eps != f.step.norm_eps)
      return "shape (layers of one shape)";
    const std::vector<std::pair<const at::Tensor*, std::vector<int64_t>>> shaped = {
        {&l.attn_norm, {D}}, {&l.fused_in, {C + HP + H, D}}, {&l.o_proj, {D, HP}}, {&l.ffn_norm, {D}},
        {&l.w1, {F, D}},     {&l.w3, {F, D}},                {&l.w2, {D, F}},      {&l.step.conv_bias, {C}},
        {&l.step.dt_bias, {H}}, {&l.step.A_log, {H}},        {&l.step.norm_weight, {kP}}};
    for (const auto& [t, shape] : shaped) {
      if (!t->defined() || t->sizes() != at::IntArrayRef(shape)) return "shape (a weight is not the layer's shape)";
      if (t->scalar_type() != h.scalar_type()) return "dtype (every weight of h's dtype)";
      if (!contiguous16(*t) && t->dim() == 2) return "layout (contiguous, 16-byte aligned matrices)";
      if (!t->is_contiguous()) return "layout (contiguous weights)";
    }
    const at::Tensor& cw = l.step.conv_weight;
    if (cw.numel() != C * K || !cw.is_contiguous() || cw.scalar_type() != h.scalar_type()) return "shape (conv weight (C, K))";
    if (l.conv_state->sizes() != at::IntArrayRef({1, C, K - 1}) || !l.conv_state->is_contiguous() ||
        l.conv_state->scalar_type() != h.scalar_type())
      return "state (conv (1, C, K - 1) contiguous)";
    if (l.ssm_state->sizes() != at::IntArrayRef({1, H, kP, kP}) || !contiguous16(*l.ssm_state) ||
        l.ssm_state->scalar_type() != at::kFloat)
      return "state (ssm (1, H, 128, 128) fp32 contiguous)";
    if (l.ssm_state->device() != h.device() || l.fused_in.device() != h.device()) return "device (one device)";
  }
  return kern::mamba2_layers_unsupported(D, H, Hkv, F, int(K), kernel_dtype(h));
}

at::Tensor mamba2_layers_decode(const at::Tensor& h, const std::vector<Mamba2DecodeLayer>& layers, double rms_eps) {
  MM_CHECK_CUDA(h);
  const c10::cuda::CUDAGuard guard(h.device());
  const char* why = mamba2_layers_unsupported(h, layers);
  TORCH_CHECK(!why, "mamba2_layers_decode: unsupported ", why);
  const Mamba2DecodeLayer& f = layers.front();
  const int64_t D = h.size(-1), H = f.step.n_heads, Hkv = f.step.n_kv_heads, F = f.w1.size(0);
  const at::Tensor work = at::empty({kern::mamba2_layers_work_elems(D, H, Hkv, F)}, h.options());
  const at::Tensor barrier = at::empty({2}, h.options().dtype(at::kInt));  // zeroed by the launcher
  at::Tensor x = h.contiguous(), out;
  for (size_t first = 0; first < layers.size(); first += kern::kMamba2LayersMax) {
    const size_t n = std::min(layers.size() - first, size_t(kern::kMamba2LayersMax));
    kern::Mamba2LayersParams p;
    for (size_t i = 0; i < n; ++i) {
      const Mamba2DecodeLayer& l = layers[first + i];
      kern::Mamba2LayerPtrs& q = p.layers[i];
      q.attn_norm = l.attn_norm.data_ptr();
      q.fused_in = l.fused_in.data_ptr();
      q.conv_weight = l.step.conv_weight.data_ptr();
      q.conv_bias = l.step.conv_bias.data_ptr();
      q.dt_bias = l.step.dt_bias.data_ptr();
      q.A_log = l.step.A_log.data_ptr();
      q.gnorm = l.step.norm_weight.data_ptr();
      q.o_proj = l.o_proj.data_ptr();
      q.ffn_norm = l.ffn_norm.data_ptr();
      q.w1 = l.w1.data_ptr();
      q.w3 = l.w3.data_ptr();
      q.w2 = l.w2.data_ptr();
      q.conv_state = l.conv_state->data_ptr();
      q.ssm_state = l.ssm_state->data_ptr<float>();
    }
    out = at::empty_like(x);
    p.n_layers = int(n);
    p.h_in = x.data_ptr();
    p.h_out = out.data_ptr();
    p.work = work.data_ptr();
    p.barrier = reinterpret_cast<unsigned*>(barrier.data_ptr<int>());
    p.dim = D;
    p.heads = H;
    p.kv_heads = Hkv;
    p.ffn = F;
    p.width = int(f.step.conv_weight.size(-1));
    p.rms_eps = float(rms_eps);
    p.norm_eps = float(f.step.norm_eps);
    p.dtype = kernel_dtype(h);
    MM_CHECK_LAUNCH(kern::mamba2_layers_launch(p, current_stream(h)));
    x = out;
  }
  return out.view(h.sizes());
}

}  // namespace mm::cuda_ops
