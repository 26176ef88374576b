#include "io/name_table.h"

#include "runtime/errors.h"

namespace mm {
namespace {

const char* kVision = "embedding_model.vision_embeddings.";

}  // namespace

std::string layer_prefix(const ModelConfig& cfg, int64_t layer) {
  if (layer < cfg.he.n_layers) return "embedding_model.encoder." + std::to_string(layer) + ".";
  return "language_model.model.layers." + std::to_string(layer - cfg.he.n_layers) + ".";
}

std::string shape_string(const std::vector<int64_t>& shape) {
  std::string s = "(";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + ")";
}

std::vector<TensorSpec> expected_tensors(const ModelConfig& c, WeightLayout layout) {
  const int64_t D = c.hidden(), grid = c.vision.image_size / c.vision.patch_size, p = c.vision.patch_size;
  const int64_t shuffled = int64_t(D / (c.vision.downsample_ratio * c.vision.downsample_ratio));
  std::vector<TensorSpec> t = {
      {std::string(kVision) + "class_embedding", {1, 1, D}, true},
      {std::string(kVision) + "patch_embedding.weight", {D, 3, p, p}},
      {std::string(kVision) + "patch_embedding.bias", {D}},
      {std::string(kVision) + "position_embedding", {1, 1 + grid * grid, D}},
      {"embedding_model.llm_text_embeddings.weight", {c.text_vocab_size, D}},
      {"language_model.model.tok_embeddings.weight", {c.vocab_size, D}, true},
      {"language_model.model.norm.weight", {D}},
      {"language_model.output.weight", {c.vocab_size, D}},
  };
  if (c.vision.use_pixel_shuffle_proj) {
    t.push_back({"embedding_model.pixel_shuffle_proj.0.weight", {D, shuffled}});
    t.push_back({"embedding_model.pixel_shuffle_proj.0.bias", {D}});
    t.push_back({"embedding_model.pixel_shuffle_proj.2.weight", {D, D}});
    t.push_back({"embedding_model.pixel_shuffle_proj.2.bias", {D}});
  }
  for (int64_t i = 0; i < c.n_layers(); ++i) {
    const StackConfig& s = c.stack_of(i);
    const std::string pre = layer_prefix(c, i);
    const int64_t H = s.n_heads, Hkv = s.n_kv_heads, hd = s.head_dim, C = 2 * Hkv * hd + H * hd;
    t.push_back({pre + "attention_norm.weight", {D}});
    t.push_back({pre + "ffn_norm.weight", {D}});
    t.push_back({pre + "feed_forward.w1.weight", {s.intermediate, D}});
    t.push_back({pre + "feed_forward.w3.weight", {s.intermediate, D}});
    t.push_back({pre + "feed_forward.w2.weight", {D, s.intermediate}});
    const std::string a = pre + "attention.";
    if (c.layer_kinds[i] == LayerKind::attention) {
      t.push_back({a + "wqkv.weight", {(H + 2 * Hkv) * hd, D}});
      t.push_back({a + "wo.weight", {D, H * hd}});
      continue;
    }
    if (layout == WeightLayout::hf) {
      t.push_back({a + "wvkqgdt.weight", {C + H * hd + H, D}});
      t.push_back({a + "g_norm_swish_gate.weight", {hd}});
    } else {
      t.push_back({a + "q_proj.weight", {H * hd, D}});
      t.push_back({a + "k_proj.weight", {Hkv * hd, D}});
      t.push_back({a + "v_proj.weight", {Hkv * hd, D}});
      t.push_back({a + "g_proj.weight", {H * hd, D}});
      t.push_back({a + "in_proj.weight", {H, D}});
      t.push_back({a + "g_norm.weight", {hd}});
    }
    t.push_back({a + "o_proj.weight", {D, H * hd}});
    t.push_back({a + "conv1d.weight", {C, 1, c.mamba.d_conv}});
    t.push_back({a + "conv1d.bias", {C}});
    t.push_back({a + "dt_bias", {H}});
    t.push_back({a + "A_log_bias", {H}});
  }
  return t;
}

TensorMap to_hf_layout(const ModelConfig& c, const TensorMap& in) {
  TensorMap out = in;
  for (int64_t i = 0; i < c.n_layers(); ++i) {
    if (c.layer_kinds[i] != LayerKind::mamba2) continue;
    const std::string a = layer_prefix(c, i) + "attention.";
    auto take = [&](const std::string& n) {
      auto it = out.find(a + n);
      if (it == out.end()) throw CheckpointError("cannot export: " + a + n + " is missing");
      at::Tensor t = it->second;
      out.erase(it);
      return t;
    };
    at::Tensor v = take("v_proj.weight"), k = take("k_proj.weight"), q = take("q_proj.weight");
    at::Tensor g = take("g_proj.weight"), d = take("in_proj.weight");
    out[a + "wvkqgdt.weight"] = at::cat({v, k, q, g, d}, 0);  // rows v | k | q | g | gamma
    out[a + "g_norm_swish_gate.weight"] = take("g_norm.weight");
  }
  return out;
}

TensorMap from_hf_layout(const ModelConfig& c, const TensorMap& in) {
  TensorMap out = in;
  for (int64_t i = 0; i < c.n_layers(); ++i) {
    if (c.layer_kinds[i] != LayerKind::mamba2) continue;
    const StackConfig& s = c.stack_of(i);
    const std::string a = layer_prefix(c, i) + "attention.";
    auto it = out.find(a + "wvkqgdt.weight");
    if (it == out.end()) continue;  // already internal
    const at::Tensor f = it->second;
    const int64_t dkv = s.n_kv_heads * s.head_dim, dq = s.n_heads * s.head_dim;
    out[a + "v_proj.weight"] = f.narrow(0, 0, dkv).clone();
    out[a + "k_proj.weight"] = f.narrow(0, dkv, dkv).clone();
    out[a + "q_proj.weight"] = f.narrow(0, 2 * dkv, dq).clone();
    out[a + "g_proj.weight"] = f.narrow(0, 2 * dkv + dq, dq).clone();
    out[a + "in_proj.weight"] = f.narrow(0, 2 * dkv + 2 * dq, s.n_heads).clone();
    out.erase(it);
    auto gn = out.find(a + "g_norm_swish_gate.weight");
    if (gn != out.end()) {
      out[a + "g_norm.weight"] = gn->second;
      out.erase(gn);
    }
  }
  return out;
}

LayerWeights bind_layer(const ModelConfig& c, const TensorMap& w, int64_t layer) {
  const std::string pre = layer_prefix(c, layer);
  auto get = [&](const std::string& n) -> at::Tensor {
    auto it = w.find(pre + n);
    if (it == w.end()) throw CheckpointError("tensor " + pre + n + " is missing", "check the checkpoint against its config.json");
    return it->second;
  };
  LayerWeights lw;
  lw.kind = c.layer_kinds[layer];
  lw.attention_norm = get("attention_norm.weight");
  lw.ffn_norm = get("ffn_norm.weight");
  lw.w1 = get("feed_forward.w1.weight");
  lw.w2 = get("feed_forward.w2.weight");
  lw.w3 = get("feed_forward.w3.weight");
  if (lw.kind == LayerKind::attention) {
    lw.attn = {get("attention.wqkv.weight"), get("attention.wo.weight")};
    return lw;
  }
  Mamba2Weights& m = lw.ssm;
  m.q_proj = get("attention.q_proj.weight");
  m.k_proj = get("attention.k_proj.weight");
  m.v_proj = get("attention.v_proj.weight");
  m.g_proj = get("attention.g_proj.weight");
  m.in_proj = get("attention.in_proj.weight");
  m.o_proj = get("attention.o_proj.weight");
  m.conv_weight = get("attention.conv1d.weight");
  m.conv_bias = get("attention.conv1d.bias");
  m.norm_weight = get("attention.g_norm.weight");
  m.dt_bias = get("attention.dt_bias");
  m.A_log = get("attention.A_log_bias");
  return lw;
}

}  // namespace mm
