#include "config/plan_stats.h"

#include "cache/model_cache.h"
#include "config/stage_trainables.h"
#include "io/name_table.h"

namespace mm {

namespace {
/// In stage 3's trainable set with the recipes' default (a trained, as the paper says).
bool in_stage3_set(const std::string& name) {
  static const std::vector<std::string> parts = stage_trainable_parts(3, kStage3TrainsA);
  for (const std::string& p : parts) {
    const std::string key = ".attention." + p;
    if (name.size() >= key.size() && name.compare(name.size() - key.size(), key.size(), key) == 0) return true;
  }
  return false;
}
}  // namespace

PlanStats compute_plan_stats(const ModelConfig& cfg, int64_t elem_size) {
  PlanStats s;
  for (const TensorSpec& t : expected_tensors(cfg, WeightLayout::internal)) {
    int64_t n = 1;
    for (int64_t d : t.shape) n *= d;
    // Optional tensors count too: HoVLE's 2.6B includes the (unused) LLM tok_embeddings (METHOD App. A).
    s.total_params += n;
    if (in_stage3_set(t.name)) s.trainable_params += n;
  }
  s.attention_layers = cfg.count(LayerKind::attention);
  s.mamba_layers = cfg.count(LayerKind::mamba2);
  s.kv_bytes_per_token = cache_bytes_per_token(cfg, elem_size);
  s.state_bytes = cache_state_bytes(cfg, elem_size);
  return s;
}

}  // namespace mm

namespace mm {

std::vector<LayerStats> compute_layer_stats(const ModelConfig& cfg, int64_t elem_size) {
  std::vector<LayerStats> out(size_t(cfg.n_layers()));
  const std::vector<TensorSpec> specs = expected_tensors(cfg, WeightLayout::internal);
  for (int64_t i = 0; i < cfg.n_layers(); ++i) {
    const std::string prefix = layer_prefix(cfg, i);
    LayerStats& ls = out[size_t(i)];
    for (const TensorSpec& t : specs) {
      if (t.name.compare(0, prefix.size(), prefix) != 0) continue;
      int64_t n = 1;
      for (int64_t d : t.shape) n *= d;
      ls.params += n;
      if (in_stage3_set(t.name)) ls.trainable_params += n;
    }
    ls.kv_bytes_per_token = layer_kv_bytes_per_token(cfg, i, elem_size);
    ls.state_bytes = layer_state_bytes(cfg, i, elem_size);
  }
  return out;
}

}  // namespace mm
