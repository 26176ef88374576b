#include "config/plan_stats.h"

#include "cache/model_cache.h"
#include "io/name_table.h"

namespace mm {

PlanStats compute_plan_stats(const ModelConfig& cfg, int64_t elem_size) {
  static const char* kStage3[] = {".q_proj.", ".k_proj.", ".v_proj.", ".g_proj.", ".in_proj.", ".conv1d.", ".g_norm."};
  PlanStats s;
  for (const TensorSpec& t : expected_tensors(cfg, WeightLayout::internal)) {
    int64_t n = 1;
    for (int64_t d : t.shape) n *= d;
    // Optional tensors count too: HoVLE's 2.6B includes the (unused) LLM tok_embeddings (METHOD App. A).
    s.total_params += n;
    for (const char* key : kStage3)
      if (t.name.find(key) != std::string::npos) s.trainable_params += n;
  }
  s.attention_layers = cfg.count(LayerKind::attention);
  s.mamba_layers = cfg.count(LayerKind::mamba2);
  s.kv_bytes_per_token = cache_bytes_per_token(cfg, elem_size);
  s.state_bytes = cache_state_bytes(cfg, elem_size);
  return s;
}

}  // namespace mm
