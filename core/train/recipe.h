// Training recipes as JSON files: what to train (teacher from scratch, or the distillation stages of
// METHOD.md §4), on which data, with which optimiser settings. Values where the paper and its public
// code differ are settings with the paper's as defaults (clip 5.0, 10% warmup and decay, `a` trained
// in stage 3).
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace mm {

struct StageSettings {
  int stage = 1;                  ///< 0: teacher training, 1-3: distillation stages
  int64_t steps = 100;            ///< optimiser steps
  double lr = 1e-3;
  double weight_decay = 0.05;     ///< for every trainable tensor whose name has no "bias"
  double warmup = 0.1;            ///< WSD warmup, fraction of steps
  double decay = 0.1;             ///< WSD cosine decay, fraction of steps
  int64_t batch = 2;              ///< examples per optimiser step
  int64_t micro_batch = 0;        ///< examples per forward/backward pass (gradient accumulation); 0 = batch
  double clip = 5.0;              ///< max global gradient norm (paper 5.0; public code 2.0); <= 0 disables
  double mse_factor = 1000.0;     ///< stages 1-2: loss = factor x mean over layers of MSE
  double temperature = 1.0;       ///< stage 3 KL temperature
  double answer_ce = 0.0;         ///< stage 3: weight of a cross-entropy on the data's answer tokens added to the
                                  ///< KL, in the KL's units (summed over tokens / batch); 0 = the paper's pure KL
  double a_dt_lr_scale = 1.0;     ///< learning rate multiplier for the per-head decay scalars (A_log_bias, dt_bias):
                                  ///< Adam moves a parameter by about lr a step, and a short run cannot move `a` far
  bool train_a = true;            ///< stage 3: train a (A_log_bias) as the paper says; the public code freezes it
                                  ///< (config/stage_trainables.h: kStage3TrainsA)
  bool train_mlp = false;         ///< stage 3: also train the MLPs of the Mamba-2 layers (not the paper's
                                  ///< setting: its stage 3 freezes them; Llamba-style distillation trains them)
  int64_t checkpoint_every = 0;   ///< steps between checkpoints; 0: at the end only
  int64_t eval_every = 0;         ///< steps between held-out loss evaluations; 0: at the end only
  int64_t eval_batches = 4;       ///< batches of the eval set per evaluation
  /// Where the stage's weights come from: "" = the previous stage of this recipe (stage 1: seeded from
  /// the teacher), "seed" = freshly seeded from the teacher, or a checkpoint directory. Stage 0: a
  /// teacher directory to continue training from (its config.json replaces "architecture").
  std::string from;
  bool allow_any_stage = false;   ///< accept a "from" checkpoint of another stage than stage - 1
  std::string name() const { return stage == 0 ? "teacher" : "stage" + std::to_string(stage); }
};

struct Recipe {
  std::string name = "recipe";
  std::string teacher;        ///< distillation: the teacher checkpoint directory
  std::string architecture;   ///< teacher training: a preset name ("demo", "tiny", ...)
  nlohmann::json architecture_overrides = nlohmann::json::object();  ///< e.g. {"llm_layers": 4}
  std::string tokenizer;      ///< teacher training: the tokenizer directory
  std::string train_data;     ///< InternVL-style JSONL
  std::string eval_data;      ///< held-out JSONL ("" = none)
  std::string plan = "linear";  ///< the student's layer plan (config/layer_plan.h), applied in stage 3
  std::string init = "mimic";   ///< seeding: mimic | inherit | scratch
  uint64_t seed = 0;
  std::string system_prompt;  ///< "" = none (the demo data has none)
  int64_t max_length = 2048;  ///< longer examples are skipped
  int threads = 0;            ///< CPU threads; 0 = the machine's choice
  std::string device = "cpu";
  /// Data parallel runs: 1 = ZeRO-1, each rank keeps and updates 1 / world of the AdamW state; 0 = every
  /// rank keeps all of it. Checkpoints hold the whole state either way.
  int zero = 0;
  std::vector<StageSettings> stages;

  nlohmann::json to_json() const;
  /// Relative paths are resolved against base_dir. ConfigError naming the field on a bad value.
  static Recipe from_json(const nlohmann::json& j, const std::string& base_dir);
};

/// Reads a recipe file (ConfigError with the file name on any problem). Each override "key=value" sets a
/// top-level field or "stageN.key" a stage field before parsing; override paths are relative to the
/// working directory, the file's own paths to the file's directory.
Recipe load_recipe(const std::string& path, const std::vector<std::string>& overrides = {});

/// The paper's settings for a stage, scaled to `steps` (METHOD.md §4.2-4.4).
StageSettings paper_stage(int stage, int64_t steps);

}  // namespace mm
