// What a plan costs before any training: parameters, the stage-3 trainable share, cache bytes.
#pragma once

#include <cstdint>
#include <vector>

#include "config/model_config.h"

namespace mm {

struct PlanStats {
  int64_t total_params = 0;
  int64_t trainable_params = 0;  ///< stage 3's set (config/stage_trainables.h) of the Mamba-2 layers
  int64_t attention_layers = 0;
  int64_t mamba_layers = 0;
  int64_t kv_bytes_per_token = 0;  ///< at elem_size bytes per value
  int64_t state_bytes = 0;         ///< constant conv + SSM state (SSM state in fp32)
  double trainable_share() const { return total_params ? double(trainable_params) / double(total_params) : 0; }
  /// Cache bytes at a context of n tokens.
  int64_t cache_bytes(int64_t n) const { return state_bytes + kv_bytes_per_token * n; }
};

PlanStats compute_plan_stats(const ModelConfig& cfg, int64_t elem_size = 2);

/// One decoder layer's share: its parameters and its cache (attention: KV per token; Mamba-2: state).
struct LayerStats {
  int64_t params = 0;
  int64_t trainable_params = 0;    ///< stage 3's set, Mamba-2 layers only
  int64_t kv_bytes_per_token = 0;  ///< at elem_size bytes per value
  int64_t state_bytes = 0;
};

/// Per global layer (HE first, then LLM).
std::vector<LayerStats> compute_layer_stats(const ModelConfig& cfg, int64_t elem_size = 2);

}  // namespace mm
