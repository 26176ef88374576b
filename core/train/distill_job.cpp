#include <filesystem>

#include "config/layer_plan.h"
#include "data/conversation.h"
#include "io/checkpoint.h"
#include "io/name_table.h"
#include "runtime/device.h"
#include "runtime/errors.h"
#include "seeding/seed_student.h"
#include "text/tokenizer.h"
#include "train/jobs.h"
#include "train/recipe_validate.h"

namespace mm {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

void report_warnings(const std::vector<std::string>& warnings, const RunDir& run, const JobContext& ctx) {
  for (const std::string& w : warnings) {
    ctx.log("warning: " + w);
    run.log("warning: " + w);
  }
}

}  // namespace

void log_skipped_records(const ExampleSet& train, const ExampleSet* eval, const RunDir& run, const JobContext& ctx) {
  for (const ExampleSet* set : {&train, eval}) {
    if (!set || set->skipped_message().empty()) continue;
    const std::string m = std::string("warning: ") + (set == &train ? "train_data: " : "eval_data: ") + set->skipped_message();
    ctx.log(m);
    run.log(m);
  }
}

namespace {

Recipe open_run(const TrainRunOptions& opts, const RunDir& run, const JobContext& ctx) {
  run.lock();  // one process per run; cleans what killed writers left
  // A run whose setup failed before any stage began (bad data, say) takes a corrected recipe.
  const bool restart = run.has_recipe() && !opts.resume && opts.recipe && !run.has_started();
  if (run.has_recipe() && !restart) {
    if (!opts.resume)
      throw ConfigError("run directory " + run.dir() + " already holds a run",
                        "pass --resume to continue it, or choose a new --run directory");
    const Recipe stored = Recipe::from_json(run.read_recipe(), run.dir());
    if (opts.recipe && opts.recipe->to_json() != stored.to_json())
      throw ConfigError("the recipe differs from the one run " + run.dir() + " was started with",
                        "resume without --recipe to use the stored one, or start a new run");
    report_warnings(validate_recipe(stored), run, ctx);
    run.log("resuming");
    return stored;
  }
  if (!opts.recipe) throw ConfigError("run directory " + run.dir() + " holds no run to resume", "start it with --recipe");
  report_warnings(validate_recipe(*opts.recipe), run, ctx);  // before stage 1, before anything is written
  if (restart) run.log("the run never started a stage: its recipe is replaced");
  run.write_recipe(opts.recipe->to_json());
  run.log("run started with recipe " + opts.recipe->name);
  return *opts.recipe;
}

}  // namespace

c10::Device run_device(const Recipe& recipe, const TrainRunOptions& opts) {
  const c10::Device d = parse_device(recipe.device);
  if (!opts.group || !d.is_cuda()) return d;
  return c10::Device(c10::kCUDA, c10::DeviceIndex(opts.group->env().local_rank));
}

void set_common_job_fields(StageJob& job, const Recipe& recipe, const std::string& stage, const TrainRunOptions& opts,
                           const TrainCheckpoint* resume) {
  job.metadata = base_metadata();
  job.metadata["mmmamba.stage"] = stage;
  job.metadata["mmmamba.recipe"] = recipe.name;
  job.metadata["mmmamba.seed"] = std::to_string(recipe.seed);
  job.metadata["mmmamba.system_prompt"] = recipe.system_prompt;  // what chat uses by default
  job.seed = recipe.seed;
  job.resume = resume;
  job.control = opts.control;
  job.hooks = opts.hooks;
  job.group = opts.group.get();
  job.zero = recipe.zero == 1;
}

Recipe prepare_run(const TrainRunOptions& opts, const RunDir& run, const JobContext& ctx) {
  DistGroup* g = opts.group.get();
  if (!g) return open_run(opts, run, ctx);
  Recipe recipe;
  if (g->rank() == 0) {
    try {
      recipe = open_run(opts, run, ctx);
    } catch (const Error& e) {
      g->publish("recipe", json{{"error", e.what()}, {"hint", e.hint()}}.dump());
      throw;
    }
    g->publish("recipe", json{{"recipe", recipe.to_json()}}.dump());
  } else {
    ctx.progress("run", -1, "waiting for rank 0 to open the run");
    const json j = json::parse(g->fetch("recipe"));
    if (j.contains("error"))
      throw ConfigError("rank 0 could not open the run: " + j.at("error").get<std::string>(), j.value("hint", ""));
    recipe = Recipe::from_json(j.at("recipe"), run.dir());
  }
  ctx.progress("run", -1, "connecting " + std::to_string(g->size()) + " ranks");
  g->init_backend(run_device(recipe, opts));
  if (g->rank() == 0)
    run.log("data parallel: " + std::to_string(g->size()) + " ranks over " + g->backend() + ", master " +
            g->env().master_addr + ":" + std::to_string(g->env().master_port) + (recipe.zero ? ", ZeRO-1" : ""));
  return recipe;
}

namespace {

struct StageStart {
  ModelConfig config;
  TensorMap weights;
  json report;
};

/// Stages 1-2 train every layer as Mamba-2 (METHOD §5); stage 3 uses the recipe's plan.
LayerPlan plan_for(const Recipe& r, int stage) { return LayerPlan::parse(stage == 3 ? r.plan : "linear"); }

StageStart seeded_start(const Recipe& r, int stage, const Checkpoint& teacher) {
  SeedResult s = seed_student(teacher.config, teacher.weights, plan_for(r, stage), r.seed, parse_seed_init(r.init));
  return {s.config, std::move(s.weights), {{"source", "seed"}, {"init", r.init}, {"seeding", seed_report_json(s)}}};
}

/// Loads a previous stage's checkpoint for `stage`: every tensor the stage's config needs comes from it,
/// except attention layers the plan restores, which come from the teacher.
StageStart loaded_start(const Recipe& r, int stage, const std::string& dir, const Checkpoint& teacher,
                        bool allow_any_stage) {
  Checkpoint src = load_checkpoint(dir, at::kFloat);
  const std::string expected = "stage" + std::to_string(stage - 1);
  const auto it = src.metadata.find("mmmamba.stage");
  const std::string found = it == src.metadata.end() ? "unknown" : it->second;
  if (found != expected && !allow_any_stage)
    throw ConfigError("stage " + std::to_string(stage) + " starts from " + expected + " weights, but " + dir +
                          " holds " + found + " weights (mmmamba.stage = " + found + ")",
                      "finish " + expected + " first, or set \"from\": \"seed\" or \"allow_any_stage\": true for this "
                      "stage in the recipe");
  StageStart out;
  out.config = apply_plan(teacher.config, plan_for(r, stage));
  json loaded = json::array(), from_teacher = json::array();
  for (const TensorSpec& spec : expected_tensors(out.config, WeightLayout::internal)) {
    const bool is_attention = spec.name.find(".attention.wqkv.") != std::string::npos ||
                              spec.name.find(".attention.wo.") != std::string::npos;
    auto s = src.weights.find(spec.name);
    if (s != src.weights.end() && !is_attention) {
      out.weights[spec.name] = s->second;
      loaded.push_back(spec.name);
    } else if (auto t = teacher.weights.find(spec.name); t != teacher.weights.end()) {
      out.weights[spec.name] = t->second.clone();
      from_teacher.push_back(spec.name);
    } else if (!spec.optional) {
      throw CheckpointError(dir + " lacks " + spec.name + ", which stage " + std::to_string(stage) + " needs");
    }
  }
  out.report = {{"source", dir}, {"source_stage", found}, {"loaded", loaded}, {"from_teacher", from_teacher},
                {"initialised", json::array()}};
  return out;
}

}  // namespace

TrainRunResult distill(const TrainRunOptions& opts, const JobContext& ctx) {
  RunDir run(opts.run_dir);
  const Recipe recipe = prepare_run(opts, run, ctx);
  const ScopedCpuThreads threads(recipe.threads);  // the recipe's "threads", when set
  if (recipe.teacher.empty()) throw ConfigError("the recipe names no \"teacher\" checkpoint");
  for (const StageSettings& s : recipe.stages)
    if (s.stage == 0) throw ConfigError("stage 0 is teacher training", "use mmmamba train-teacher for it");
  ctx.progress("distill", -1, "loading the teacher");
  const Checkpoint teacher = load_checkpoint(recipe.teacher, at::kFloat);
  if (!teacher.config.is_teacher())
    throw ConfigError(recipe.teacher + " is not an all-attention teacher", "distil from the original Transformer model");
  auto tok = std::shared_ptr<const Tokenizer>(Tokenizer::load(recipe.teacher));
  ctx.progress("distill", -1, "reading data");
  ExampleSet train(data::read_dataset(recipe.train_data), tok, teacher.config, recipe.system_prompt, recipe.max_length);
  std::unique_ptr<ExampleSet> eval;
  if (!recipe.eval_data.empty())
    eval = std::make_unique<ExampleSet>(data::read_dataset(recipe.eval_data), tok, teacher.config, recipe.system_prompt,
                                        recipe.max_length);
  if (!opts.group || opts.group->rank() == 0) log_skipped_records(train, eval.get(), run, ctx);
  const c10::Device device = run_device(recipe, opts);
  VlmModel teacher_model(teacher.config, teacher.weights);
  if (!device.is_cpu()) teacher_model.to(device, at::kFloat);

  const bool lead = !opts.group || opts.group->rank() == 0;  // the rank that writes
  TrainRunResult result;
  std::string previous;  // the last finished stage's checkpoint
  for (const StageSettings& st : recipe.stages) {
    const std::string name = st.name();
    if (auto fin = run.final_checkpoint(name)) {
      previous = result.checkpoints[name] = *fin;
      continue;
    }
    std::optional<TrainCheckpoint> resume;
    StageStart start;
    if (auto latest = run.latest(name)) {
      resume = load_train_checkpoint(*latest);
      start.config = resume->config;
      start.weights = resume->weights;
      if (lead) run.truncate_metrics(name, resume->state.step);
    } else {
      if (st.from == "seed" || (st.from.empty() && previous.empty() && st.stage == 1)) {
        start = seeded_start(recipe, st.stage, teacher);
      } else if (st.from.empty() && previous.empty()) {
        throw ConfigError("stage " + std::to_string(st.stage) + " is the recipe's first stage and has no weights to start from",
                          "set \"from\": \"seed\" to start from freshly seeded weights, or \"from\": a stage-" +
                              std::to_string(st.stage - 1) + " checkpoint");
      } else {
        start = loaded_start(recipe, st.stage, st.from.empty() ? previous : st.from, teacher,
                             st.allow_any_stage);
      }
      if (lead) run.write_stage_start(name, start.report);
    }
    VlmModel student(start.config, std::move(start.weights));
    if (!device.is_cpu()) student.to(device, at::kFloat);
    StageJob job;
    job.device = device;
    job.settings = st;
    job.model = &student;
    if (st.stage == 3)
      job.loss = [&](const Batch& b) { return kl_loss(teacher_model, student, b, st.temperature, st.answer_ce); };
    else
      job.loss = [&](const Batch& b) { return layerwise_loss(teacher_model, student, b, st.mse_factor); };
    job.train = &train;
    job.eval = eval.get();
    job.run = &run;
    set_common_job_fields(job, recipe, name, opts, resume ? &*resume : nullptr);
    job.metadata["mmmamba.plan"] = plan_for(recipe, st.stage).to_string();
    job.metadata["mmmamba.init"] = recipe.init;
    job.metadata["mmmamba.teacher"] = recipe.teacher;
    job.tokenizer_dir = recipe.teacher;
    StageOutcome out = run_stage(job, ctx);
    previous = result.checkpoints[name] = out.checkpoint;
    result.warnings.insert(result.warnings.end(), out.warnings.begin(), out.warnings.end());
    result.stage_seconds[name] = out.wall_s;
  }
  return result;
}

}  // namespace mm
