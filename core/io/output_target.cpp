#include "io/output_target.h"

#include <filesystem>

#include "runtime/errors.h"

namespace mm {
namespace fs = std::filesystem;

namespace {

fs::path normalised(const std::string& p) {
  std::error_code ec;
  fs::path abs = fs::weakly_canonical(fs::absolute(p), ec);  // resolves symlinks of the parts that exist
  if (ec) abs = fs::absolute(p).lexically_normal();
  if (abs.filename().empty()) abs = abs.parent_path();
  return abs;
}

/// Whether `inner` is `outer` or lies under it.
bool within(const fs::path& inner, const fs::path& outer) {
  const fs::path rel = inner.lexically_relative(outer);
  return !rel.empty() && *rel.begin() != "..";
}

bool is_our_checkpoint(const fs::path& dir) {
  std::error_code ec;
  if (!fs::is_regular_file(dir / "config.json", ec)) return false;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    if (name.rfind("model", 0) == 0 && (name.size() > 12 && (name.compare(name.size() - 12, 12, ".safetensors") == 0 ||
                                                             name == "model.safetensors.index.json")))
      return true;
  }
  return false;
}

}  // namespace

std::string check_output_dir(const std::string& out, const std::vector<std::string>& sources) {
  if (out.empty()) throw ConfigError("no output directory given", "name one with --out DIR");
  const fs::path target = normalised(out);
  for (const std::string& s : sources) {
    if (s.empty()) continue;
    const fs::path src = normalised(s);
    if (within(src, target))
      throw ConfigError("the output " + target.string() + (src == target ? " is the source itself" : " holds the source " + src.string()) +
                            ", which writing it would destroy",
                        "choose another --out directory");
  }
  std::error_code ec;
  const fs::file_status st = fs::status(target, ec);
  if (!fs::exists(st)) return target.string();
  if (!fs::is_directory(st))
    throw ConfigError("the output " + target.string() + " exists and is not a directory", "choose another --out directory");
  if (!fs::is_empty(target, ec) && !is_our_checkpoint(target))
    throw ConfigError("the output " + target.string() + " is a non-empty directory that is not a checkpoint",
                      "choose a new or empty --out directory (an existing checkpoint there would be replaced)");
  return target.string();
}

std::string check_output_file(const std::string& out, const std::vector<std::string>& sources) {
  if (out.empty()) throw ConfigError("no output file given", "name one, e.g. --out result.safetensors");
  std::error_code ec;
  if (out.back() == '/' || fs::is_directory(out, ec))
    throw ConfigError("the output " + out + " is a directory, not a file", "name a file, e.g. " +
                          (fs::path(out) / "out").lexically_normal().string());
  const fs::path target = normalised(out);
  for (const std::string& s : sources) {
    if (s.empty()) continue;
    const fs::path src = normalised(s);
    if (within(target, src))
      throw ConfigError("the output " + target.string() + (src == target ? " is the input " : " lies inside the input ") +
                            src.string() + ", which writing it would damage",
                        "write it somewhere outside the input");
  }
  if (is_our_checkpoint(target.parent_path()))
    throw ConfigError("the output " + target.string() + " would be written into the checkpoint directory " +
                          target.parent_path().string() + ", whose files belong to the checkpoint",
                      "write it somewhere outside the checkpoint directory");
  return target.string();
}

}  // namespace mm
