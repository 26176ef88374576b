// The two training jobs the CLI and the studio run: a teacher from scratch (stage 0) and the three-stage
// distillation of a teacher into a linear or hybrid student. Both live in a run directory and resume.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "runtime/job.h"
#include "train/recipe.h"
#include "train/trainer.h"

namespace mm {

struct TrainRunOptions {
  std::string run_dir;
  std::optional<Recipe> recipe;  ///< required for a new run; when resuming it must match the stored one
  bool resume = false;           ///< continue an existing run from its latest checkpoints
  std::shared_ptr<TrainControl> control;
  TrainHooks hooks;
  /// Data parallel: this process's rank, joined (DistGroup::rendezvous) but without a backend yet; the job
  /// picks Gloo or NCCL for the recipe's device. Rank 0 opens the run directory and hands the recipe to the
  /// others, which write nothing. Null: one process.
  std::shared_ptr<DistGroup> group;
};

struct TrainRunResult {
  std::map<std::string, std::string> checkpoints;  ///< stage name -> final checkpoint
  std::vector<std::string> warnings;
  std::map<std::string, double> stage_seconds;
};

/// Stage 0: a HoVLE-architecture model of recipe.architecture trained from scratch with next-token
/// cross-entropy on the answers. The final checkpoint is a teacher for distillation.
TrainRunResult train_teacher(const TrainRunOptions& opts, const JobContext& ctx);

/// The recipe's distillation stages in order (METHOD.md §4). Stage N starts from stage N-1's final
/// checkpoint unless its "from" says otherwise; a "from" checkpoint of another stage is refused unless
/// allow_any_stage. Each stage records in <stage>/start.json which tensors were loaded, taken from the
/// teacher or initialised.
TrainRunResult distill(const TrainRunOptions& opts, const JobContext& ctx);

/// Opens the run directory with its recipe: takes the run's lock, checks --resume against what is there
/// and validates the recipe (validate_recipe) before anything is written; its warnings are logged.
/// With opts.group: rank 0 does so and hands the recipe (or its error) to the other ranks, then every rank
/// connects the backend for the recipe's device.
Recipe prepare_run(const TrainRunOptions& opts, const class RunDir& run, const JobContext& ctx);

/// The recipe's device for this process: with several ranks on CUDA, GPU LOCAL_RANK (one GPU per local rank).
c10::Device run_device(const Recipe& recipe, const TrainRunOptions& opts);

/// What both jobs set alike on a stage's job: the provenance every checkpoint carries (stage, recipe, seed,
/// system prompt), the seed, the checkpoint to resume from (may be null) and the run's controls.
void set_common_job_fields(StageJob& job, const Recipe& recipe, const std::string& stage, const TrainRunOptions& opts,
                           const TrainCheckpoint* resume);

/// Logs (job log and run.log) how many records each set left out for being longer than max_length.
void log_skipped_records(const ExampleSet& train, const ExampleSet* eval, const class RunDir& run, const JobContext& ctx);

}  // namespace mm
