// Where a new checkpoint directory may be written. save_checkpoint replaces its target whole, so the
// target is checked first: never the source being read, never a folder holding it, never a plain file,
// and never a non-empty folder that is not one of our checkpoints.
#pragma once

#include <string>
#include <vector>

namespace mm {

/// The normalised absolute target ("out/" names out). ConfigError with a hint when out is, or holds,
/// one of `sources`; when it is an existing non-directory; or when it is a non-empty directory without
/// config.json and model safetensors.
std::string check_output_dir(const std::string& out, const std::vector<std::string>& sources = {});

/// The normalised absolute path of an output file (logits, JSON, CSV). ConfigError with a hint when it
/// ends in '/' or is an existing directory; when it is one of `sources` or lies inside a source
/// directory; or when it would be written into one of our checkpoint directories (whose files belong
/// to the checkpoint: logits --out MODEL/model.safetensors would replace the weights).
std::string check_output_file(const std::string& out, const std::vector<std::string>& sources = {});

}  // namespace mm
