#include "config/model_config.h"
#include "data/conversation.h"
#include "io/checkpoint.h"
#include "models/random_init.h"
#include "runtime/device.h"
#include "runtime/errors.h"
#include "text/chat_template.h"
#include "text/tokenizer.h"
#include "train/jobs.h"
#include "train/recipe_validate.h"

namespace mm {
using nlohmann::json;

TrainRunResult train_teacher(const TrainRunOptions& opts, const JobContext& ctx) {
  RunDir run(opts.run_dir);
  const Recipe recipe = prepare_run(opts, run, ctx);
  const ScopedCpuThreads threads(recipe.threads);  // the recipe's "threads", when set
  if (recipe.stages.size() != 1 || recipe.stages[0].stage != 0)
    throw ConfigError("a teacher-training recipe has exactly one stage, stage 0",
                      "see examples/recipes/demo-teacher.json");
  if (recipe.tokenizer.empty()) throw ConfigError("the recipe names no \"tokenizer\" directory",
                                                  "make one with: mmmamba make-data --tokenizer DIR");
  auto tok = std::shared_ptr<const Tokenizer>(Tokenizer::load(recipe.tokenizer));
  const std::string& from = recipe.stages[0].from;  // continued training from a model's weights
  ModelConfig cfg = from.empty() ? teacher_architecture(recipe.architecture, recipe.architecture_overrides)
                                 : load_model_config(from);
  if (from.empty()) {
    cfg.vocab_size = cfg.text_vocab_size = tok->vocab_size();
    cfg.img_context_token_id = tok->token_id(kImgContext);
  } else if (cfg.vocab_size != tok->vocab_size() || cfg.img_context_token_id != tok->token_id(kImgContext)) {
    throw ConfigError("stage 0 \"from\": " + from + " has a vocabulary of " + std::to_string(cfg.vocab_size) +
                          " tokens, the recipe's tokenizer " + recipe.tokenizer + " " + std::to_string(tok->vocab_size()),
                      "use the tokenizer the model was trained with (its directory holds tokenizer.model)");
  }
  cfg.validate();

  ctx.progress("teacher", -1, "reading data");
  ExampleSet train(data::read_dataset(recipe.train_data), tok, cfg, recipe.system_prompt, recipe.max_length);
  std::unique_ptr<ExampleSet> eval;
  if (!recipe.eval_data.empty())
    eval = std::make_unique<ExampleSet>(data::read_dataset(recipe.eval_data), tok, cfg, recipe.system_prompt, recipe.max_length);

  if (!opts.group || opts.group->rank() == 0) log_skipped_records(train, eval.get(), run, ctx);
  TrainRunResult result;
  if (auto fin = run.final_checkpoint("teacher")) {
    result.checkpoints["teacher"] = *fin;
    return result;
  }
  const bool lead = !opts.group || opts.group->rank() == 0;  // the rank that writes
  std::optional<TrainCheckpoint> resume;
  TensorMap weights;
  if (auto latest = run.latest("teacher")) {
    resume = load_train_checkpoint(*latest);
    cfg = resume->config;
    weights = resume->weights;
    if (lead) run.truncate_metrics("teacher", resume->state.step);
  } else if (!from.empty()) {
    weights = load_checkpoint(from).weights;  // fp32 master weights whatever the file's dtype
    if (lead) run.write_stage_start("teacher", {{"source", from}, {"seed", recipe.seed}});
  } else {
    weights = random_weights(cfg, recipe.seed);
    if (lead) run.write_stage_start("teacher", {{"source", "random"}, {"seed", recipe.seed}, {"architecture", recipe.architecture}});
  }
  const c10::Device device = run_device(recipe, opts);
  VlmModel model(cfg, std::move(weights));
  if (!device.is_cpu()) model.to(device, at::kFloat);
  StageJob job;
  job.device = device;
  job.settings = recipe.stages[0];
  job.model = &model;
  job.loss = [&](const Batch& b) { return lm_loss(model, b); };
  job.train = &train;
  job.eval = eval.get();
  job.run = &run;
  set_common_job_fields(job, recipe, "teacher", opts, resume ? &*resume : nullptr);
  job.tokenizer_dir = recipe.tokenizer;
  StageOutcome out = run_stage(job, ctx);
  result.checkpoints["teacher"] = out.checkpoint;
  result.warnings = out.warnings;
  result.stage_seconds["teacher"] = out.wall_s;
  return result;
}

}  // namespace mm
