#include "train/recipe_validate.h"

#include <algorithm>
#include <filesystem>

#include "config/layer_plan.h"
#include "io/safetensors.h"
#include "runtime/device.h"
#include "runtime/errors.h"
#include "seeding/seed_student.h"

namespace mm {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

void require_file(const std::string& path, const std::string& field, const std::string& hint) {
  std::error_code ec;
  if (path.empty()) throw ConfigError("the recipe names no \"" + field + "\"", hint);
  if (!fs::is_regular_file(path, ec)) throw InputError("recipe \"" + field + "\": no file at " + path, hint);
}

/// A checkpoint directory: config.json and at least one safetensors file.
void require_checkpoint(const std::string& dir, const std::string& field) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    throw InputError("recipe " + field + ": no checkpoint directory at " + dir,
                     "check the path (paths in a recipe file are relative to its folder, --set paths to the current one)");
  if (!fs::is_regular_file(fs::path(dir) / "config.json", ec))
    throw InputError("recipe " + field + ": " + dir + " has no config.json, so it is not a checkpoint",
                     "name a checkpoint directory (mmmamba create / seed / a run's ckpt-*)");
}

std::string stage_of_checkpoint(const std::string& dir) {
  const auto meta = SafetensorsDir::open(dir).metadata();
  const auto it = meta.find("mmmamba.stage");
  return it == meta.end() ? "unknown" : it->second;
}

struct OverrideSpec {
  const char* key;
  int64_t max;
};
constexpr OverrideSpec kOverrides[] = {{"hidden", 1 << 16},     {"heads", 1024},       {"kv_heads", 1024},
                                       {"intermediate", 1 << 18}, {"he_layers", 1024},  {"llm_layers", 1024},
                                       {"image_size", 4088},     {"chunk_size", 4096}, {"max_tiles", 40}};

}  // namespace

std::string nearest_name(const std::string& key, const std::vector<std::string>& valid) {
  std::string best;
  size_t best_d = std::max<size_t>(2, key.size() / 3) + 1;
  for (const std::string& v : valid) {
    const size_t d = edit_distance(key, v);
    if (d < best_d) best_d = d, best = v;
  }
  return best;
}

ModelConfig teacher_architecture(const std::string& preset, const json& overrides) {
  ModelConfig cfg = architecture_preset(preset);
  if (overrides.is_null()) return cfg;
  if (!overrides.is_object())
    throw ConfigError("\"architecture_overrides\" must be an object", "e.g. {\"llm_layers\": 4}");
  std::vector<std::string> names;
  for (const OverrideSpec& o : kOverrides) names.emplace_back(o.key);
  for (const auto& [key, value] : overrides.items()) {
    const auto spec = std::find_if(std::begin(kOverrides), std::end(kOverrides),
                                   [&, k = key](const OverrideSpec& o) { return k == o.key; });
    if (spec == std::end(kOverrides)) {
      const std::string near = nearest_name(key, names);
      throw ConfigError("unknown architecture override \"" + key + "\"" +
                            (near.empty() ? "" : " (did you mean \"" + near + "\"?)"),
                        "use hidden, heads, kv_heads, intermediate, he_layers, llm_layers, image_size, chunk_size, "
                        "max_tiles");
    }
    const int64_t lo = (key == "he_layers") ? 0 : 1;
    if (!value.is_number_integer() || value.get<int64_t>() < lo || value.get<int64_t>() > spec->max)
      throw ConfigError("architecture_overrides." + key + " must be an integer from " + std::to_string(lo) + " to " +
                            std::to_string(spec->max) + ", got " + value.dump(),
                        "fix the value in the recipe");
    const int64_t v = value.get<int64_t>();
    if (key == "hidden") cfg.he.hidden = cfg.llm.hidden = v;
    else if (key == "heads") cfg.he.n_heads = cfg.llm.n_heads = v;
    else if (key == "kv_heads") cfg.he.n_kv_heads = cfg.llm.n_kv_heads = v;
    else if (key == "intermediate") cfg.he.intermediate = cfg.llm.intermediate = v;
    else if (key == "he_layers") cfg.he.n_layers = v;
    else if (key == "llm_layers") cfg.llm.n_layers = v;
    else if (key == "image_size") cfg.vision.image_size = v;
    else if (key == "chunk_size") cfg.mamba.chunk_size = v;
    else if (key == "max_tiles") cfg.vision.max_dynamic_patch = v;
  }
  // Only now, with every value known to be positive, derive what depends on them.
  if (cfg.llm.hidden % cfg.llm.n_heads != 0)
    throw ConfigError("architecture_overrides: hidden (" + std::to_string(cfg.llm.hidden) +
                          ") is not divisible by heads (" + std::to_string(cfg.llm.n_heads) + ")",
                      "choose heads that divide hidden");
  if (cfg.llm.n_heads % cfg.llm.n_kv_heads != 0)
    throw ConfigError("architecture_overrides: heads (" + std::to_string(cfg.llm.n_heads) +
                          ") is not divisible by kv_heads (" + std::to_string(cfg.llm.n_kv_heads) + ")",
                      "choose kv_heads that divide heads");
  cfg.he.head_dim = cfg.llm.head_dim = cfg.llm.hidden / cfg.llm.n_heads;
  if (cfg.llm.n_layers + cfg.he.n_layers < 1)
    throw ConfigError("architecture_overrides: the model has no layers", "set llm_layers (or he_layers) to at least 1");
  cfg.layer_kinds.assign(size_t(cfg.n_layers()), LayerKind::attention);
  try {
    cfg.validate();
  } catch (const ConfigError& e) {  // what the overrides made of the preset, named as overrides
    throw ConfigError("architecture_overrides: " + std::string(e.what()), "change the overrides so that they describe "
                      "a buildable model");
  }
  return cfg;
}

std::vector<std::string> validate_recipe(const Recipe& r) {
  std::vector<std::string> warnings;
  if (r.stages.empty()) throw ConfigError("the recipe has no stages", "add e.g. \"stages\": [{\"stage\": 1, \"steps\": 200}]");
  parse_seed_init(r.init);
  require_file(r.train_data, "train_data", "make scene data with: mmmamba make-data --out DIR --split train");
  if (!r.eval_data.empty()) require_file(r.eval_data, "eval_data", "make it with: mmmamba make-data --split val");
  if (r.threads < 0 || r.threads > 4096)
    throw ConfigError("\"threads\" must be 0 (the machine's choice) to 4096", "0 lets the engine choose");
  if (r.device.empty()) throw ConfigError("\"device\" is empty", "use cpu or cuda[:N]");
  try {  // here, not when the stage starts: a device this machine lacks must not leave a run behind
    (void)parse_device(r.device);
  } catch (const Error& e) {
    throw ConfigError("recipe \"device\": " + std::string(e.what()), "set \"device\" to cpu or cuda[:N] in the recipe, or --set device=cpu");
  }
  if (r.zero != 0 && r.zero != 1)
    throw ConfigError("\"zero\" must be 0 or 1, got " + std::to_string(r.zero),
                      "1 shards the AdamW state over the ranks of a data-parallel run (ZeRO-1)");

  if (r.stages[0].stage == 0) {
    const std::string& from = r.stages[0].from;
    if (!from.empty()) {  // continued training: the model's own config.json is the architecture
      if (!r.architecture.empty() || !r.architecture_overrides.empty())
        throw ConfigError("stage 0 starts \"from\" " + from + ", so \"architecture\" and \"architecture_overrides\" "
                          "cannot also be set (the model's config.json is used)",
                          "remove them from the recipe, e.g. --set architecture=");
      require_checkpoint(from, "stage 0 \"from\"");
      if (!load_model_config(from).is_teacher())
        throw ConfigError("stage 0 \"from\": " + from + " is not an all-attention teacher",
                          "continue training a teacher, or distil a student with mmmamba distill");
    } else {
      if (r.architecture.empty()) throw ConfigError("the recipe names no \"architecture\"", "e.g. \"demo\" or \"tiny\"");
      (void)teacher_architecture(r.architecture, r.architecture_overrides);  // validated there
    }
    if (r.tokenizer.empty())
      throw ConfigError("the recipe names no \"tokenizer\" directory", "make one with: mmmamba make-data --tokenizer DIR");
    require_file((fs::path(r.tokenizer) / "tokenizer.model").string(), "tokenizer",
                 "make one with: mmmamba make-data --tokenizer DIR");
    return warnings;
  }

  require_checkpoint(r.teacher, "\"teacher\"");
  const ModelConfig teacher = load_model_config(r.teacher);
  if (!teacher.is_teacher())
    throw ConfigError(r.teacher + " is not an all-attention teacher", "distil from the original Transformer model");
  require_file((fs::path(r.teacher) / "tokenizer.model").string(), "teacher",
               "copy tokenizer.model from the original checkpoint into the teacher directory");
  const ModelConfig student = apply_plan(teacher, LayerPlan::parse(r.plan));
  if (student.is_teacher()) {
    // Stage 3 trains the student's Mamba-2 layers: with none, it would fail after stages 1-2 had run.
    if (std::any_of(r.stages.begin(), r.stages.end(), [](const StageSettings& s) { return s.stage == 3; }))
      throw ConfigError("the plan \"" + r.plan + "\" keeps every layer attention, so the student is the teacher and "
                        "stage 3 has nothing to train",
                        "use linear, hybrid or interval:K, or leave stage 3 out");
    warnings.push_back("the plan \"" + r.plan + "\" keeps every layer attention: a student with it trains nothing "
                       "in stage 3 (stages 1-2 train every layer as Mamba-2 whatever the plan)");
  }
  bool have_previous = false;
  for (const StageSettings& s : r.stages) {
    const std::string where = "stage " + std::to_string(s.stage);
    if (s.stage == 0) throw ConfigError("stage 0 is teacher training", "use mmmamba train-teacher for it");
    if (s.from.empty() && !have_previous && s.stage != 1)
      throw ConfigError(where + " is the recipe's first stage and has no weights to start from",
                        "set \"from\": \"seed\" to start from freshly seeded weights, or \"from\": a stage-" +
                            std::to_string(s.stage - 1) + " checkpoint");
    if (!s.from.empty() && s.from != "seed") {
      require_checkpoint(s.from, where + " \"from\"");
      const std::string expected = "stage" + std::to_string(s.stage - 1), found = stage_of_checkpoint(s.from);
      if (found != expected && !s.allow_any_stage)
        throw ConfigError(where + " starts from " + expected + " weights, but " + s.from + " holds " + found +
                              " weights (mmmamba.stage = " + found + ")",
                          "finish " + expected + " first, or set \"from\": \"seed\" or \"allow_any_stage\": true for "
                          "this stage in the recipe");
    }
    have_previous = true;
  }
  return warnings;
}

}  // namespace mm
