// Which layers stay attention and which become Mamba-2: the hybrid rule as data.
#pragma once

#include <string>
#include <vector>

#include "config/model_config.h"

namespace mm {

/// A plan over the global layer list (HE layers first, then LLM layers).
struct LayerPlan {
  enum class Mode { teacher, linear, interval, stacked, list };
  Mode mode = Mode::linear;
  int interval = 4;            ///< interval: one attention layer per block of this many
  bool tail = false;           ///< interval: last layer of each block (tail-interleaved); stacked: at the end
  int count = 0;               ///< stacked: how many attention layers
  std::vector<int> attention;  ///< list: explicit attention layer indices

  /// Parses "teacher", "linear", "interval:4[:head|:tail]" (alias "hybrid" = interval:4:head),
  /// "stacked:8[:head|:tail]" or "list:0,4,8". Throws InputError with the accepted forms.
  static LayerPlan parse(const std::string& text);
  std::string to_string() const;
  /// The kind of each of n layers.
  std::vector<LayerKind> kinds(int n_layers) const;
};

/// Applies a plan to a config (returns a copy whose layer_kinds follow the plan).
ModelConfig apply_plan(const ModelConfig& cfg, const LayerPlan& plan);

}  // namespace mm
