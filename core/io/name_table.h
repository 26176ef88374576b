// The one table of checkpoint tensor names and shapes (METHOD.md §1.7), for the in-memory layout and
// the HF layout of HoVLE / mmMamba, and the conversions between them.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "config/model_config.h"
#include "models/layer_weights.h"

namespace mm {

struct TensorSpec {
  std::string name;
  std::vector<int64_t> shape;
  bool optional = false;  ///< may be absent (unused by the forward pass)
};

/// internal: Mamba-2 layers as separate q/k/v/g/in_proj + g_norm (the training names);
/// hf: the released mmMamba layout (fused wvkqgdt, g_norm_swish_gate). Attention layers are the same.
enum class WeightLayout { internal, hf };

std::vector<TensorSpec> expected_tensors(const ModelConfig& cfg, WeightLayout layout);

/// Fuses every Mamba-2 layer into the HF layout (rows v | k | q | g | gamma). Other tensors pass through.
TensorMap to_hf_layout(const ModelConfig& cfg, const TensorMap& internal);
/// Splits HF Mamba-2 layers into the internal layout (copies, so each part can train on its own).
TensorMap from_hf_layout(const ModelConfig& cfg, const TensorMap& hf);

/// Names of the mixer's own tensors of layer i in the internal layout, used by seeding and trainable sets.
std::string shape_string(const std::vector<int64_t>& shape);

}  // namespace mm
