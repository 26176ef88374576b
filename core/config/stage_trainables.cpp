#include "config/stage_trainables.h"

namespace mm {

std::vector<std::string> stage_trainable_parts(int stage, bool train_a) {
  std::vector<std::string> parts = {"in_proj.weight", "conv1d.weight", "conv1d.bias", "g_proj.weight", "g_norm.weight"};
  if (stage == 1 || stage == 2) parts.insert(parts.end(), {"dt_bias", "A_log_bias"});
  if (stage >= 2) parts.insert(parts.end(), {"q_proj.weight", "k_proj.weight", "v_proj.weight"});
  if (stage == 3 && train_a) parts.push_back("A_log_bias");
  return parts;
}

}  // namespace mm
