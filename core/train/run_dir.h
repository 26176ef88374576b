// A training run on disk:
//   recipe.json        the resolved recipe
//   metrics.jsonl      one line per optimiser step (and per evaluation)
//   run.log            what happened, timestamped
//   <stage>/start.json where the stage's tensors came from (loaded, from the teacher, initialised)
//   <stage>/ckpt-NNNNNN/  an HF checkpoint + train_state/{optimizer.safetensors, state.json}
//   <stage>/latest     name of the newest complete checkpoint (written last, atomically)
//   <stage>/final      name of the checkpoint that finished the stage
// A checkpoint counts only once `latest` names it, so an interrupted write leaves the previous one in use.
#pragma once

#include <nlohmann/json.hpp>

#include <map>
#include <memory>
#include <optional>
#include <string>

#include "config/model_config.h"
#include "models/layer_weights.h"

namespace mm {

struct TrainState {
  int64_t step = 0;           ///< optimiser steps done
  double wall_s = 0;          ///< training time so far
  int64_t tokens = 0;         ///< tokens seen so far
  uint64_t data_seed = 0;     ///< the counter-based data order: batches are a pure function of (seed, step)
  nlohmann::json fingerprints = nlohmann::json::object();  ///< frozen-tensor checksums at stage start
};

/// Faults a test can inject into RunDir::save.
enum class SaveFault {
  none,
  after_model,  ///< throws after the model is written and before the train state, like a crash
  killed,       ///< leaves a ckpt-N.partial-PID directory behind and throws, like kill -9 during the write
};

struct TrainCheckpoint {
  std::string dir;
  ModelConfig config;
  TensorMap weights;
  std::map<std::string, std::string> metadata;
  TensorMap optimizer;
  TrainState state;
};

class RunDir {
 public:
  /// Creates the directory if needed.
  explicit RunDir(std::string dir);
  const std::string& dir() const { return dir_; }
  std::string stage_dir(const std::string& stage) const;
  bool has_recipe() const;
  /// Whether a stage of the run has begun (a stage directory or a metrics line exists). A run whose
  /// recipe.json was written but whose setup then failed (bad data, a teacher that does not load) has
  /// not: it may be started again with a corrected recipe.
  bool has_started() const;
  void write_recipe(const nlohmann::json& recipe) const;
  nlohmann::json read_recipe() const;

  void append_metric(const nlohmann::json& line) const;
  /// Drops the lines of `stage` past `step` (written after the checkpoint a resumed run starts from).
  void truncate_metrics(const std::string& stage, int64_t step) const;
  void log(const std::string& line) const;

  /// Takes the run's exclusive lock (ConfigError naming the holder's PID when another process has it)
  /// and then removes what killed writers left: ckpt-N.partial-*, *.old-*, *.tmp-* and checkpoints
  /// that never got their train state. Held until this RunDir is destroyed.
  void lock() const;

  /// Writes a complete checkpoint and then points `latest` at it. Keeps the newest `keep` complete
  /// checkpoints (counting this one), `latest` and `final`; only directories named exactly ckpt-NNNNNN
  /// count, so leftovers of killed writes never push a good checkpoint out.
  std::string save(const std::string& stage, const ModelConfig& cfg, const TensorMap& weights,
                   const std::map<std::string, std::string>& metadata, const std::string& tokenizer_dir,
                   const TensorMap& optimizer, const TrainState& state, int keep = 2,
                   SaveFault fault = SaveFault::none) const;
  /// The newest complete checkpoint of the stage, if any.
  std::optional<std::string> latest(const std::string& stage) const;
  std::optional<std::string> final_checkpoint(const std::string& stage) const;
  void mark_final(const std::string& stage, const std::string& checkpoint) const;
  void write_stage_start(const std::string& stage, const nlohmann::json& report) const;

 private:
  void remove_leftovers(const std::string& stage_dir) const;
  std::string dir_;
  mutable std::shared_ptr<class DirLock> lock_;
};

/// Loads a run checkpoint (model in fp32 + optimiser moments + state). CheckpointError when incomplete.
TrainCheckpoint load_train_checkpoint(const std::string& dir);

}  // namespace mm
