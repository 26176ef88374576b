// HF-style checkpoint directories: strict, shape-checked loading (HoVLE or mmMamba layout) and export
// of the mmMamba layout with provenance in the safetensors metadata.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "config/model_config.h"
#include "io/name_table.h"
#include "models/layer_weights.h"

namespace mm {

/// Differences between a checkpoint's tensors and what its config implies.
struct CheckReport {
  std::vector<std::string> missing;     ///< required by the config, absent in the files
  std::vector<std::string> unexpected;  ///< present in the files, unknown to the config
  std::vector<std::string> misshaped;   ///< "name: file (a, b) vs config (c, d)"
  std::vector<std::string> bad_dtype;   ///< not a floating dtype
  bool ok() const { return missing.empty() && unexpected.empty() && misshaped.empty() && bad_dtype.empty(); }
  /// A readable diff, at most `limit` names per list.
  std::string describe(size_t limit = 12) const;
};

struct Checkpoint {
  std::string dir;
  ModelConfig config;
  TensorMap weights;  ///< internal layout, CPU
  std::map<std::string, std::string> metadata;
};

/// Compares the tensors in dir against its config.json (HF layout). Never throws for mismatches.
CheckReport check_checkpoint(const std::string& dir, const ModelConfig& cfg);

/// Loads config + every tensor, validating names, shapes and dtypes; converts to `dtype` (floating
/// tensors) and the internal layout. Throws CheckpointError with the readable diff on any mismatch.
Checkpoint load_checkpoint(const std::string& dir, at::ScalarType dtype = at::kFloat);

/// Writes cfg + weights (internal layout) as an HF directory in the mmMamba layout (or HoVLE for a
/// teacher): config.json, model.safetensors (sharded above max_shard_bytes) and the tokenizer files of
/// tokenizer_dir when given. Built in a sibling temp dir, then renamed into place; an existing dir is
/// replaced only after the new one is complete.
void save_checkpoint(const std::string& dir, const ModelConfig& cfg, const TensorMap& weights,
                     const std::map<std::string, std::string>& metadata, const std::string& tokenizer_dir = {},
                     uint64_t max_shard_bytes = uint64_t(4) << 30);

/// Names of the tokenizer files copied along with a checkpoint.
const std::vector<std::string>& tokenizer_file_names();

/// Provenance keys every export carries: format, mmmamba.version, mmmamba.created_utc.
std::map<std::string, std::string> base_metadata();

}  // namespace mm
