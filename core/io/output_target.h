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

}  // namespace mm
