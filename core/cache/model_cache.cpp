#include "cache/model_cache.h"

#include <c10/util/Exception.h>

#include <algorithm>
#include <cstdint>

namespace mm {
namespace {

int64_t conv_channels(const StackConfig& s) { return 2 * s.n_kv_heads * s.head_dim + s.n_heads * s.head_dim; }

}  // namespace

void AttentionCache::set_len(int64_t n) {
  len = n;
  if (len_dev.defined()) len_dev.fill_(n);  // a fill kernel: no host sync
}

void AttentionCache::append(const at::Tensor& k_new, const at::Tensor& v_new) {
  const int64_t add = k_new.size(2);
  const int64_t cap = k.defined() ? k.size(2) : 0;
  TORCH_CHECK(!is_static() || len + add <= cap, "static KV cache full: ", len, " + ", add, " positions past its ", cap,
              " (HINT: make the cache static for the whole prompt and reply: ModelCache::make_static)");
  if (len + add > cap) {
    const int64_t new_cap = std::max<int64_t>({len + add, 2 * cap, 64});
    auto shape = k_new.sizes().vec();
    shape[2] = new_cap;
    at::Tensor nk = at::empty(shape, k_new.options()), nv = at::empty(shape, v_new.options());
    if (len > 0) {
      nk.narrow(2, 0, len).copy_(k.narrow(2, 0, len));
      nv.narrow(2, 0, len).copy_(v.narrow(2, 0, len));
    }
    k = nk;
    v = nv;
  }
  k.narrow(2, len, add).copy_(k_new);
  v.narrow(2, len, add).copy_(v_new);
  set_len(len + add);
}

void AttentionCache::reserve(int64_t B, int64_t kv_heads, int64_t tokens, int64_t head_dim,
                             const at::TensorOptions& opts) {
  if (k.defined() && k.size(2) >= tokens) return;
  at::Tensor nk = at::empty({B, kv_heads, tokens, head_dim}, opts), nv = at::empty({B, kv_heads, tokens, head_dim}, opts);
  if (len > 0) {
    nk.narrow(2, 0, len).copy_(k.narrow(2, 0, len));
    nv.narrow(2, 0, len).copy_(v.narrow(2, 0, len));
  }
  k = nk;
  v = nv;
  if (is_static()) {  // a static cache's keys past len stay finite (a masked zero weight times NaN is NaN)
    k.narrow(2, len, tokens - len).zero_();
    v.narrow(2, len, tokens - len).zero_();
  }
}

void ModelCache::reserve(const ModelConfig& cfg, int64_t tokens, const at::TensorOptions& opts) {
  for (int64_t i = 0; i < cfg.n_layers() && i < int64_t(layers.size()); ++i) {
    if (layers[i].kind != LayerKind::attention) continue;
    const StackConfig& s = cfg.stack_of(i);
    layers[i].attn.reserve(batch, s.n_kv_heads, tokens, s.head_dim, opts);
  }
}

void ModelCache::make_static(const ModelConfig& cfg, int64_t tokens, const at::TensorOptions& opts) {
  reserve(cfg, tokens, opts);
  if (!opts.device().is_cuda()) return;  // a CPU step has no graph to capture: the growing path is as good
  for (LayerCache& lc : layers) {
    if (lc.kind != LayerKind::attention || lc.attn.is_static()) continue;
    AttentionCache& a = lc.attn;
    // Keys past the length are masked, never weighted by a NaN: the fresh memory is zeroed.
    a.k.narrow(2, a.len, a.k.size(2) - a.len).zero_();
    a.v.narrow(2, a.len, a.v.size(2) - a.len).zero_();
    a.len_dev = at::full({1}, a.len, at::TensorOptions().dtype(at::kLong).device(opts.device()));
  }
}

int64_t ModelCache::static_capacity() const {
  int64_t cap = INT64_MAX;
  for (const LayerCache& lc : layers)
    if (lc.kind == LayerKind::attention && lc.attn.is_static()) cap = std::min(cap, lc.attn.k.size(2));
  return cap;
}

ModelCache::ModelCache(const ModelConfig& cfg, int64_t b, const at::TensorOptions& opts) : batch(b) {
  layers.resize(cfg.n_layers());
  for (int64_t i = 0; i < cfg.n_layers(); ++i) {
    LayerCache& lc = layers[i];
    lc.kind = cfg.layer_kinds[i];
    if (lc.kind != LayerKind::mamba2) continue;
    const StackConfig& s = cfg.stack_of(i);
    lc.ssm.conv = at::zeros({b, conv_channels(s), cfg.mamba.d_conv - 1}, opts);
    lc.ssm.ssm = at::zeros({b, s.n_heads, s.head_dim, s.head_dim}, opts.dtype(at::kFloat));
  }
}

int64_t ModelCache::bytes() const {
  int64_t total = 0;
  for (const auto& lc : layers) {
    if (lc.kind == LayerKind::attention && lc.attn.k.defined())
      total += 2 * lc.attn.len * lc.attn.k.size(0) * lc.attn.k.size(1) * lc.attn.k.size(3) * lc.attn.k.element_size();
    if (lc.kind == LayerKind::mamba2)
      total += lc.ssm.conv.numel() * lc.ssm.conv.element_size() + lc.ssm.ssm.numel() * lc.ssm.ssm.element_size();
  }
  return total;
}

CacheSnapshot ModelCache::snapshot() const {
  CacheSnapshot s;
  s.seq_len = seq_len;
  for (const auto& lc : layers) {
    s.attn_len.push_back(lc.attn.len);
    s.states.push_back(lc.kind == LayerKind::mamba2 ? Mamba2State{lc.ssm.conv.clone(), lc.ssm.ssm.clone()}
                                                    : Mamba2State{});
  }
  return s;
}

void ModelCache::restore(const CacheSnapshot& s) {
  TORCH_CHECK(s.attn_len.size() == layers.size(), "cache snapshot is for a different model");
  TORCH_CHECK(s.seq_len <= seq_len, "cache snapshot is newer than the cache");
  seq_len = s.seq_len;
  for (size_t i = 0; i < layers.size(); ++i) {
    layers[i].attn.set_len(s.attn_len[i]);
    if (layers[i].kind == LayerKind::mamba2) {
      layers[i].ssm.conv.copy_(s.states[i].conv);
      layers[i].ssm.ssm.copy_(s.states[i].ssm);
    }
  }
}

int64_t layer_kv_bytes_per_token(const ModelConfig& cfg, int64_t layer, int64_t elem_size) {
  if (cfg.layer_kinds[size_t(layer)] != LayerKind::attention) return 0;
  const StackConfig& s = cfg.stack_of(layer);
  return 2 * s.n_kv_heads * s.head_dim * elem_size;
}

int64_t layer_state_bytes(const ModelConfig& cfg, int64_t layer, int64_t elem_size) {
  if (cfg.layer_kinds[size_t(layer)] != LayerKind::mamba2) return 0;
  const StackConfig& s = cfg.stack_of(layer);
  return conv_channels(s) * (cfg.mamba.d_conv - 1) * elem_size + s.n_heads * s.head_dim * s.head_dim * 4;
}

int64_t cache_bytes_per_token(const ModelConfig& cfg, int64_t elem_size) {
  int64_t total = 0;
  for (int64_t i = 0; i < cfg.n_layers(); ++i) total += layer_kv_bytes_per_token(cfg, i, elem_size);
  return total;
}

int64_t cache_state_bytes(const ModelConfig& cfg, int64_t elem_size) {
  int64_t total = 0;
  for (int64_t i = 0; i < cfg.n_layers(); ++i) total += layer_state_bytes(cfg, i, elem_size);
  return total;
}

}  // namespace mm
