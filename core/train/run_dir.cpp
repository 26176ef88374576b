#include "train/run_dir.h"
#include "train/run_metrics.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include "io/checkpoint.h"
#include "io/remove_tree.h"
#include "io/safetensors.h"
#include "io/tensor_io.h"
#include "runtime/errors.h"
#include "runtime/files.h"
#include "runtime/run_lock.h"

namespace mm {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::string checkpoint_name(int64_t step) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "ckpt-%06lld", static_cast<long long>(step));
  return buf;
}

/// The step of a directory named exactly ckpt-<digits>, else -1 (partials, .old- and other names).
int64_t checkpoint_step(const std::string& name) {
  if (name.rfind("ckpt-", 0) != 0 || name.size() == 5 || name.size() > 5 + 18) return -1;
  for (size_t i = 5; i < name.size(); ++i)
    if (name[i] < '0' || name[i] > '9') return -1;
  return std::stoll(name.substr(5));
}

/// A name one of our atomic writers uses while writing: X.partial-PID, X.old-PID, X.tmp-PID.
bool is_write_leftover(const std::string& name) {
  for (const char* mark : {".partial-", ".old-", ".tmp-"})
    if (name.find(mark) != std::string::npos) return true;
  return false;
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

}  // namespace

RunDir::RunDir(std::string dir) : dir_(fs::absolute(dir).lexically_normal().string()) {
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec) throw IoError("cannot create run directory " + dir_ + ": " + ec.message(), "choose a writable location");
}

std::string RunDir::stage_dir(const std::string& stage) const { return (fs::path(dir_) / stage).string(); }

bool RunDir::has_recipe() const { return fs::exists(fs::path(dir_) / "recipe.json"); }

bool RunDir::has_started() const { return run_has_started(dir_); }

void RunDir::write_recipe(const json& recipe) const {
  write_text_atomic((fs::path(dir_) / "recipe.json").string(), recipe.dump(2) + "\n");
}

json RunDir::read_recipe() const {
  const auto text = read_text((fs::path(dir_) / "recipe.json").string());
  if (!text) throw ConfigError("run " + dir_ + " has no recipe.json", "start a run with --recipe first");
  try {
    return json::parse(*text);
  } catch (const json::exception& e) {
    throw ConfigError("run " + dir_ + ": recipe.json is damaged: " + e.what());
  }
}

void RunDir::append_metric(const json& line) const {
  std::ofstream out(fs::path(dir_) / "metrics.jsonl", std::ios::app);
  out << line.dump() << "\n";
  out.flush();
}

void RunDir::truncate_metrics(const std::string& stage, int64_t step) const {
  const std::string path = (fs::path(dir_) / "metrics.jsonl").string();
  const auto text = read_text(path);
  if (!text) return;
  std::istringstream in(*text);
  std::string line, kept;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    try {
      const json j = json::parse(line);
      if (j.value("stage", "") == stage && j.value("step", int64_t(0)) > step) continue;
    } catch (const json::exception&) {
      continue;  // a line torn by a kill
    }
    kept += line + "\n";
  }
  write_text_atomic(path, kept);
}

void RunDir::log(const std::string& line) const {
  const std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y-%m-%d %H:%M:%S", std::localtime(&now));
  std::ofstream out(fs::path(dir_) / "run.log", std::ios::app);
  out << stamp << "  " << line << "\n";
}

void RunDir::lock() const {
  if (lock_) return;
  lock_ = std::make_shared<DirLock>(dir_, "run directory");
  std::error_code ec;
  std::vector<fs::directory_entry> entries;  // listed first: removing while iterating is unspecified
  for (const auto& e : fs::directory_iterator(dir_, ec)) entries.push_back(e);
  for (const auto& e : entries) {
    if (is_write_leftover(e.path().filename().string())) mm::io::remove_tree(e.path(), ec);
    else if (e.is_directory(ec)) remove_leftovers(e.path().string());
  }
}

void RunDir::remove_leftovers(const std::string& sdir) const {
  std::error_code ec;
  const auto fin = final_checkpoint(fs::path(sdir).filename().string());
  std::vector<fs::path> entries;
  for (const auto& e : fs::directory_iterator(sdir, ec)) entries.push_back(e.path());
  for (const fs::path& path : entries) {
    const std::string name = path.filename().string();
    const bool torn = checkpoint_step(name) >= 0 && !fs::exists(path / "train_state" / "state.json") &&
                      (!fin || *fin != path.string());
    if (is_write_leftover(name) || torn) {
      mm::io::remove_tree(path, ec);
      if (!ec) log("removed " + path.string() + ", left by an interrupted write");
    }
  }
}

std::string RunDir::save(const std::string& stage, const ModelConfig& cfg, const TensorMap& weights,
                         const std::map<std::string, std::string>& metadata, const std::string& tokenizer_dir,
                         const TensorMap& optimizer, const TrainState& state, int keep, SaveFault fault) const {
  const fs::path sdir = stage_dir(stage);
  fs::create_directories(sdir);
  const std::string name = checkpoint_name(state.step);
  const fs::path ckpt = sdir / name;
  if (fault == SaveFault::killed) {
    // What kill -9 during the model write leaves: a staging directory that is never renamed.
    static int killed_writes = 0;
    const fs::path left = sdir / (name + ".partial-" + std::to_string(900000 + killed_writes++));
    save_checkpoint(left.string(), cfg, weights, metadata, tokenizer_dir);
    throw IoError("checkpoint write killed (injected)");
  }
  save_checkpoint(ckpt.string(), cfg, weights, metadata, tokenizer_dir);
  if (fault == SaveFault::after_model) throw IoError("checkpoint write interrupted (injected)");
  const fs::path ts = ckpt / "train_state";
  fs::create_directories(ts);
  std::vector<std::pair<std::string, at::Tensor>> opt(optimizer.begin(), optimizer.end());
  write_tensors((ts / "optimizer.safetensors").string(), opt);
  const json sj = {{"step", state.step}, {"wall_s", state.wall_s}, {"tokens", state.tokens},
                   {"data_seed", state.data_seed}, {"fingerprints", state.fingerprints}};
  write_text_atomic((ts / "state.json").string(), sj.dump(2) + "\n");
  write_text_atomic((sdir / "latest").string(), name + "\n");
  // Retention over complete checkpoints only, newest first; this one, latest and final always stay.
  std::vector<std::pair<int64_t, fs::path>> complete;
  for (const auto& e : fs::directory_iterator(sdir)) {
    const int64_t step = checkpoint_step(e.path().filename().string());
    if (step >= 0 && e.is_directory() && fs::exists(e.path() / "train_state" / "state.json"))
      complete.emplace_back(step, e.path());
  }
  std::sort(complete.begin(), complete.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  const auto fin = final_checkpoint(stage);
  int kept = 1;  // this checkpoint
  std::error_code ec;
  for (const auto& [step, path] : complete) {
    if (path == ckpt || (fin && path.string() == *fin)) continue;
    if (kept < keep) {
      ++kept;
      continue;
    }
    mm::io::remove_tree(path, ec);
  }
  return ckpt.string();
}

std::optional<std::string> RunDir::latest(const std::string& stage) const {
  const auto name = read_text((fs::path(stage_dir(stage)) / "latest").string());
  if (!name) return std::nullopt;
  const fs::path p = fs::path(stage_dir(stage)) / trim(*name);
  if (!fs::exists(p / "train_state" / "state.json")) return std::nullopt;
  return p.string();
}

std::optional<std::string> RunDir::final_checkpoint(const std::string& stage) const {
  const auto name = read_text((fs::path(stage_dir(stage)) / "final").string());
  if (!name) return std::nullopt;
  const fs::path p = fs::path(stage_dir(stage)) / trim(*name);
  if (!fs::exists(p / "config.json")) return std::nullopt;
  return p.string();
}

void RunDir::mark_final(const std::string& stage, const std::string& checkpoint) const {
  write_text_atomic((fs::path(stage_dir(stage)) / "final").string(), fs::path(checkpoint).filename().string() + "\n");
}

void RunDir::write_stage_start(const std::string& stage, const json& report) const {
  fs::create_directories(stage_dir(stage));
  write_text_atomic((fs::path(stage_dir(stage)) / "start.json").string(), report.dump(2) + "\n");
}

TrainCheckpoint load_train_checkpoint(const std::string& dir) {
  TrainCheckpoint out;
  Checkpoint c = load_checkpoint(dir, at::kFloat);
  out.dir = c.dir;
  out.config = std::move(c.config);
  out.weights = std::move(c.weights);
  out.metadata = std::move(c.metadata);
  const fs::path ts = fs::path(dir) / "train_state";
  const auto text = read_text((ts / "state.json").string());
  if (!text) throw CheckpointError(dir + " has no train_state/state.json", "it is not a complete run checkpoint");
  try {
    const json j = json::parse(*text);
    out.state.step = j.at("step").get<int64_t>();
    out.state.wall_s = j.value("wall_s", 0.0);
    out.state.tokens = j.value("tokens", int64_t(0));
    out.state.data_seed = j.value("data_seed", uint64_t(0));
    out.state.fingerprints = j.value("fingerprints", json::object());
  } catch (const json::exception& e) {
    throw CheckpointError(dir + ": train_state/state.json is damaged: " + e.what());
  }
  auto file = SafetensorsFile::open((ts / "optimizer.safetensors").string());
  for (const TensorInfo& info : file->tensors()) out.optimizer[info.name] = read_tensor(*file, info);
  return out;
}

}  // namespace mm
