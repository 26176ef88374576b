#include "models/layers.h"

#include <c10/util/Exception.h>

namespace mm {

at::Tensor MixerInput::project(const at::Tensor& w) const {
  return norm_w.defined() ? norm_linear(h, norm_w, eps, w) : at::matmul(h, w.t());
}

at::Tensor MixerInput::normed() const { return norm_w.defined() ? rms_norm(h, norm_w, eps) : h; }

at::Tensor attention_mixer(const MixerInput& u, const AttentionWeights& w, const StackConfig& s,
                           AttentionCache* cache, int64_t pos0) {
  const int64_t B = u.h.size(0), L = u.h.size(1), H = s.n_heads, Hkv = s.n_kv_heads, hd = s.head_dim, g = H / Hkv;
  // wqkv rows are grouped by kv head: (H_kv, g + 2, hd) = [q_{g h}..q_{g h + g - 1}, k_h, v_h].
  const at::Tensor qkv = u.project(w.wqkv).view({B, L, Hkv, g + 2, hd});
  if (cache && cache->is_static() && L == 1) {
    // Static cache: the position, the K/V write and the length come from the device (len_dev), so the
    // step has no host value in it and a CUDA graph can replay it.
    TORCH_CHECK(cache->len < cache->k.size(2), "static KV cache full at ", cache->len,
                " positions (HINT: make the cache static for the whole prompt and reply)");
    const at::Tensor q = rope_kv_append(qkv, cache->k, cache->v, cache->len_dev, s.rope_theta);  // (B, 1, H, hd)
    cache->len += 1;  // the host mirror (a graph replay advances it in DecodeGraph::step)
    return attention_decode_at(q, cache->k, cache->v, cache->len_dev);  // (B, 1, H, hd)
  }
  const int64_t start = cache ? cache->len : pos0;
  at::Tensor q = apply_rope_slots(qkv, 0, g, start, s.rope_theta);  // (B, L, H, hd)
  at::Tensor k = apply_rope_slots(qkv, g, 1, start, s.rope_theta);  // (B, L, H_kv, hd)
  at::Tensor v = qkv.select(3, g + 1);
  k = k.transpose(1, 2);  // (B, H_kv, L, hd)
  v = v.transpose(1, 2);
  if (cache) {
    cache->append(k, v);
    k = cache->keys();  // (B, H_kv, T, hd)
    v = cache->values();
  }
  return L == 1 ? attention_decode(q, k, v) : attention_prefill(q, k, v);  // (B, L, H, hd)
}

Mamba2StepWeights step_weights(const Mamba2Weights& w, const StackConfig& s, const Mamba2Config& m) {
  return {w.conv_weight.view({w.conv_weight.size(0), -1}), w.conv_bias, w.dt_bias, w.A_log, w.norm_weight,
          s.n_heads, s.n_kv_heads, m.norm_eps};
}

at::Tensor mamba2_mixer(const MixerInput& in, const Mamba2Weights& w, const StackConfig& s, const Mamba2Config& m,
                        Mamba2State* state) {
  const int64_t B = in.h.size(0), L = in.h.size(1), H = s.n_heads, Hkv = s.n_kv_heads, hd = s.head_dim;
  const int64_t dkv = Hkv * hd, dq = H * hd, C = 2 * dkv + dq;
  at::Tensor c, gate, gamma;  // c = [v | k | q] (B, L, C), gate (B, L, H hd), gamma (B, L, H)
  if (w.fused_in.defined()) {
    const at::Tensor z = in.project(w.fused_in);  // (B, L, C + dq + H)
    c = z.narrow(-1, 0, C);
    gate = z.narrow(-1, C, dq);
    gamma = z.narrow(-1, C + dq, H);
  } else {
    const at::Tensor u = in.normed();
    c = at::cat({at::matmul(u, w.v_proj.t()), at::matmul(u, w.k_proj.t()), at::matmul(u, w.q_proj.t())}, -1);
    gate = at::matmul(u, w.g_proj.t());
    gamma = at::matmul(u, w.in_proj.t());
  }
  if (state && L == 1)
    return mamba2_decode_step(c.select(1, 0), gate.select(1, 0), gamma.select(1, 0), state->conv, state->ssm,
                              step_weights(w, s, m))
        .unsqueeze(1);  // (B, 1, H, hd)
  const at::Tensor cw = w.conv_weight.view({C, -1});  // (C, K)
  ConvResult r = causal_conv1d(c, cw, w.conv_bias, state ? state->conv : at::Tensor());
  const at::Tensor conv_out = r.out;  // (B, L, C)
  if (state) state->conv = r.final_state;
  // Split; the scan expands the kv heads itself: SSM head j reads kv head j / g (the teacher's repeat_kv grouping).
  const at::Tensor x = conv_out.narrow(-1, 0, dkv).view({B, L, Hkv, hd});     // (B, L, H_kv, hd)
  const at::Tensor Bm = conv_out.narrow(-1, dkv, dkv).view({B, L, Hkv, hd});  // (B, L, H_kv, hd)
  const at::Tensor Cm = conv_out.narrow(-1, 2 * dkv, dq).view({B, L, H, hd});  // (B, L, H, hd)
  const at::Tensor dt = at::softplus(gamma.to(at::kFloat) + w.dt_bias.to(at::kFloat), 1.0, 20.0);        // (B, L, H)
  const at::Tensor A = -at::exp(w.A_log.to(at::kFloat));                                                  // (H)
  ScanResult scan = ssd_scan_chunked(x, dt, A, Bm, Cm, m.chunk_size, state ? state->ssm : at::Tensor());
  if (state) state->ssm = scan.final_state;
  return gated_rmsnorm(scan.y, gate.reshape({B, L, H, hd}), w.norm_weight, m.norm_eps);
}

at::Tensor decoder_layer(const at::Tensor& h, const LayerWeights& lw, const StackConfig& s, const Mamba2Config& m,
                         LayerCache* cache, int64_t pos0, at::Tensor* mixer_out) {
  const int64_t B = h.size(0), L = h.size(1);
  const MixerInput u{h, lw.attention_norm, s.rms_eps};
  at::Tensor o;  // (B, L, H, hd)
  const at::Tensor* wo = nullptr;
  if (lw.kind == LayerKind::attention) {
    o = attention_mixer(u, lw.attn, s, cache ? &cache->attn : nullptr, pos0);
    wo = &lw.attn.wo;
  } else {
    o = mamba2_mixer(u, lw.ssm, s, m, cache ? &cache->ssm : nullptr);
    wo = &lw.ssm.o_proj;
  }
  if (mixer_out) *mixer_out = o;
  const at::Tensor out = linear_residual(o.reshape({B, L, -1}), *wo, h);  // h + W_O o
  // SwiGLU feed-forward: out + w2(silu(w1 n) * w3 n), n = norm(out)
  return linear_residual(norm_swiglu(out, lw.ffn_norm, s.rms_eps, lw.w1, lw.w3), lw.w2, out);
}

}  // namespace mm
