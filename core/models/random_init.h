// Random weights for a named architecture: the teacher for tests, demos and speed work (speed does not
// depend on trained values). Deterministic from the seed.
#pragma once

#include <cstdint>

#include "config/model_config.h"
#include "models/layer_weights.h"

namespace mm {

/// Every tensor of expected_tensors(cfg, internal), optional ones included, fp32 on CPU:
/// norms 1, biases 0, matrices N(0, std^2), Mamba-2 extras at their mimic-init values.
TensorMap random_weights(const ModelConfig& cfg, uint64_t seed, double std = 0.02);

}  // namespace mm
