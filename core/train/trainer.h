// The optimisation loop shared by teacher training and the distillation stages: deterministic batches,
// AdamW with the WSD schedule and clipping, metrics, checkpoints, pause/stop, NaN guard, resume, and a
// check that frozen tensors stayed bit-identical.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "models/vlm_model.h"
#include "runtime/job.h"
#include "train/examples.h"
#include "train/losses.h"
#include "train/recipe.h"
#include "train/run_dir.h"

namespace mm {

/// Shared with the caller (UI, CLI) to pause a running stage; stopping is the job's cancel token, which
/// writes a checkpoint of the last finished step before the job ends.
struct TrainControl {
  std::atomic<bool> paused{false};
};

/// Fault injection for tests (1-based step numbers; 0 = off).
struct TrainHooks {
  int64_t nan_at_step = 0;              ///< the loss of this step reads NaN
  int64_t crash_after_step = 0;         ///< throw right after this step, without saving (like kill -9)
  int64_t fail_checkpoint_at_step = 0;  ///< the checkpoint of this step dies halfway through its write
  int64_t kill_checkpoint_at_step = 0;  ///< the checkpoint of this step is killed mid-write (leaves a partial)
};

struct StageJob {
  StageSettings settings;
  VlmModel* model = nullptr;  ///< the model being trained (fp32)
  std::function<LossResult(const Batch&)> loss;
  const ExampleSet* train = nullptr;
  const ExampleSet* eval = nullptr;  ///< may be null
  const RunDir* run = nullptr;
  std::map<std::string, std::string> metadata;  ///< provenance written into every checkpoint
  std::string tokenizer_dir;
  uint64_t seed = 0;
  const TrainCheckpoint* resume = nullptr;  ///< continue from this checkpoint's step and optimiser state
  std::shared_ptr<TrainControl> control;
  TrainHooks hooks;
};

struct StageOutcome {
  std::string checkpoint;             ///< the stage's final checkpoint
  std::vector<std::string> warnings;  ///< sanity findings (frozen tensors that moved)
  double wall_s = 0;
};

StageOutcome run_stage(StageJob& job, const JobContext& ctx);

/// A checksum of a tensor's bytes (FNV-1a), to tell bit-identical from changed.
uint64_t tensor_fingerprint(const at::Tensor& t);

}  // namespace mm
