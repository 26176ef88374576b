#include "io/checkpoint.h"

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <set>
#include <unistd.h>

#include "io/remove_tree.h"
#include "io/safetensors.h"
#include "io/tensor_io.h"
#include "runtime/errors.h"

namespace fs = std::filesystem;

namespace mm {
namespace {

void write_text_atomic(const fs::path& path, const std::string& text) {
  const fs::path tmp = path.string() + ".tmp-" + std::to_string(::getpid());
  {
    std::ofstream out(tmp, std::ios::binary);
    out << text;
    out.flush();
    if (!out) {
      std::error_code ec;
      fs::remove(tmp, ec);
      throw IoError("cannot write " + path.string(), "check free disk space and permissions");
    }
  }
  fs::rename(tmp, path);
}

}  // namespace

std::string CheckReport::describe(size_t limit) const {
  std::string s;
  auto list = [&](const char* title, const std::vector<std::string>& v) {
    if (v.empty()) return;
    s += std::string(title) + " (" + std::to_string(v.size()) + "):\n";
    for (size_t i = 0; i < v.size() && i < limit; ++i) s += "  " + v[i] + "\n";
    if (v.size() > limit) s += "  ... and " + std::to_string(v.size() - limit) + " more\n";
  };
  list("missing tensors", missing);
  list("unexpected tensors", unexpected);
  list("tensors with the wrong shape", misshaped);
  list("tensors with a non-floating dtype", bad_dtype);
  return s;
}

CheckReport check_checkpoint(const std::string& dir, const ModelConfig& cfg) {
  const SafetensorsDir files = SafetensorsDir::open(dir);
  CheckReport r;
  std::set<std::string> known;
  for (const TensorSpec& spec : expected_tensors(cfg, WeightLayout::hf)) {
    known.insert(spec.name);
    const TensorInfo* info = files.find(spec.name);
    if (!info) {
      if (!spec.optional) r.missing.push_back(spec.name + " " + shape_string(spec.shape));
      continue;
    }
    if (info->shape != spec.shape)
      r.misshaped.push_back(spec.name + ": file " + shape_string(info->shape) + " vs config " + shape_string(spec.shape));
    if (info->dtype != DType::F32 && info->dtype != DType::F16 && info->dtype != DType::BF16 && info->dtype != DType::F64)
      r.bad_dtype.push_back(spec.name + ": " + dtype_name(info->dtype));
  }
  for (const std::string& name : files.names())
    if (!known.count(name) && name.find("rotary_emb.inv_freq") == std::string::npos) r.unexpected.push_back(name);
  return r;
}

Checkpoint load_checkpoint(const std::string& dir, at::ScalarType dtype) {
  Checkpoint ck;
  ck.dir = dir;
  ck.config = load_model_config(dir);
  const CheckReport report = check_checkpoint(dir, ck.config);
  if (!report.ok())
    throw CheckpointError("checkpoint " + dir + " does not match its config.json:\n" + report.describe(),
                          "the weights and config.json come from different models, or the file is damaged; "
                          "re-export the checkpoint or fix config.json (layers_block_type, sizes)");
  const SafetensorsDir files = SafetensorsDir::open(dir);
  ck.metadata = files.metadata();
  TensorMap hf;
  for (const TensorSpec& spec : expected_tensors(ck.config, WeightLayout::hf)) {
    if (!files.find(spec.name)) continue;  // optional and absent
    hf[spec.name] = read_tensor(files, spec.name).to(dtype);
  }
  ck.weights = from_hf_layout(ck.config, hf);
  return ck;
}

const std::vector<std::string>& tokenizer_file_names() {
  static const std::vector<std::string> names = {"tokenizer.model", "tokenizer_config.json", "special_tokens_map.json",
                                                 "added_tokens.json", "generation_config.json"};
  return names;
}

std::map<std::string, std::string> base_metadata() {
  const std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
  return {{"format", "pt"}, {"mmmamba.version", MM_VERSION}, {"mmmamba.created_utc", stamp}};
}

void save_checkpoint(const std::string& dir, const ModelConfig& cfg, const TensorMap& weights,
                     const std::map<std::string, std::string>& metadata, const std::string& tokenizer_dir,
                     uint64_t max_shard_bytes) {
  fs::path target = fs::absolute(dir).lexically_normal();
  if (target.filename().empty()) target = target.parent_path();  // "out/" names out
  const fs::path parent = target.parent_path();
  std::error_code ec;
  fs::create_directories(parent, ec);
  const fs::path staging = parent / (target.filename().string() + ".partial-" + std::to_string(::getpid()));
  mm::io::remove_tree(staging, ec);
  fs::create_directories(staging, ec);
  if (ec) throw IoError("cannot create " + staging.string() + ": " + ec.message(), "check permissions of " + parent.string());
  try {
    const TensorMap hf = to_hf_layout(cfg, weights);
    std::vector<std::pair<std::string, at::Tensor>> list(hf.begin(), hf.end());
    write_tensors_sharded(staging.string(), list, metadata, max_shard_bytes);
    write_text_atomic(staging / "config.json", to_hf_config(cfg).dump(2) + "\n");
    if (!tokenizer_dir.empty())
      for (const std::string& name : tokenizer_file_names()) {
        const fs::path src = fs::path(tokenizer_dir) / name;
        if (fs::exists(src)) fs::copy_file(src, staging / name, fs::copy_options::overwrite_existing);
      }
    // Swap into place: the old directory goes only once the new one is complete.
    const fs::path old = parent / (target.filename().string() + ".old-" + std::to_string(::getpid()));
    const bool had_old = fs::exists(target);
    if (had_old) fs::rename(target, old);
    fs::rename(staging, target);
    if (had_old) mm::io::remove_tree(old, ec);
  } catch (const fs::filesystem_error& e) {
    mm::io::remove_tree(staging, ec);
    throw IoError(std::string("cannot write checkpoint ") + dir + ": " + e.what(), "check free disk space and permissions");
  } catch (...) {
    mm::io::remove_tree(staging, ec);
    throw;
  }
}

}  // namespace mm
