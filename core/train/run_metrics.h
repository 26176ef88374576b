// Reading a run directory back without loading any weights: its metrics as events (to redraw the
// curves of a past run), the final checkpoint of each stage and the last evaluation. Torch-free.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "eval/evaluate.h"
#include "runtime/job.h"

namespace mm {

struct RunHistory {
  std::vector<MetricEvent> metrics;             ///< in file order; total_steps from the recipe
  std::map<std::string, std::string> finals;    ///< stage -> final checkpoint directory
  std::map<std::string, std::string> latest;    ///< stage -> latest checkpoint directory
  std::vector<std::string> stage_order;         ///< stages of the recipe, in order
  std::string recipe_text;                      ///< recipe.json as stored
  std::vector<EvalResult> eval;                 ///< the last evaluation saved in the run (eval.json), if any
};

/// Whether a stage of the run in `dir` has begun (a stage directory or a metrics line exists); creates
/// nothing. A run whose recipe.json was written but whose setup then failed (bad data, a teacher that
/// does not load) has not, and may be started again with a corrected recipe.
bool run_has_started(const std::string& dir);

/// The file a run's last evaluation is kept in, beside recipe.json.
constexpr const char* kRunEvalFile = "eval.json";

/// Writes RESULTS (eval_json) to DIR/eval.json atomically, replacing an earlier evaluation.
void save_run_eval(const std::string& run_dir, const std::vector<EvalResult>& results);

/// Reads DIR/recipe.json, DIR/metrics.jsonl, DIR/eval.json and the stage pointer files. InputError when DIR is not a
/// run directory; malformed metric lines are skipped (a torn last line after a kill), as is an
/// eval.json that does not parse.
RunHistory read_run_history(const std::string& run_dir);

/// Appends M to METRICS, first dropping the same stage's points at or after M's step (a resume that
/// repeats steps past its checkpoint replaces them).
void add_metric(std::vector<MetricEvent>& metrics, const MetricEvent& m);

/// Every column metrics.jsonl has, one row per step: stage, step, loss, lr, grad_norm, tokens,
/// tokens_per_s, wall_s, eval_loss (empty when not evaluated), then layer0..layerN-1 (empty where a
/// stage has no per-layer losses).
std::string metrics_csv(const std::vector<MetricEvent>& metrics);

}  // namespace mm
