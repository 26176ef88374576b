#include "train/recipe.h"

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>
#include <type_traits>

#include "runtime/errors.h"
#include "train/recipe_validate.h"

namespace mm {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

/// Whether `v` is an integer JSON number that fits T (T integral).
template <class T>
bool fits_integer(const json& v) {
  if (v.is_number_unsigned()) return v.get<uint64_t>() <= uint64_t(std::numeric_limits<T>::max());
  if (!v.is_number_integer()) return false;
  const int64_t x = v.get<int64_t>();
  return std::is_signed_v<T> ? x >= int64_t(std::numeric_limits<T>::min()) && x <= int64_t(std::numeric_limits<T>::max())
                             : x >= 0;
}

template <class T>
void read_field(const json& j, const char* key, T& out, const std::string& where) {
  if (!j.contains(key)) return;
  const json& v = j.at(key);
  if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
    // get<int64_t>() would truncate 2.5 to 2 and wrap 1e30: an integer field takes whole numbers only.
    if (!fits_integer<T>(v))
      throw ConfigError(where + ": field \"" + key + "\" must be a whole number" +
                            (std::is_signed_v<T> ? "" : " >= 0") + ", got " + v.dump(),
                        "write it without a fraction or exponent, e.g. \"" + std::string(key) + "\": 100");
  }
  try {
    out = v.get<T>();
  } catch (const json::exception&) {
    throw ConfigError(where + ": field \"" + key + "\" has the wrong type (" + v.dump() + ")",
                      "see examples/recipes/*.json for the expected form");
  }
}

std::string resolve(const std::string& path, const std::string& base) {
  if (path.empty() || path == "seed" || fs::path(path).is_absolute()) return path;
  return (fs::path(base) / path).lexically_normal().string();
}

json stage_json(const StageSettings& s) {
  return {{"stage", s.stage}, {"steps", s.steps}, {"lr", s.lr}, {"weight_decay", s.weight_decay},
          {"warmup", s.warmup}, {"decay", s.decay}, {"batch", s.batch}, {"micro_batch", s.micro_batch}, {"clip", s.clip},
          {"mse_factor", s.mse_factor}, {"temperature", s.temperature}, {"answer_ce", s.answer_ce},
          {"a_dt_lr_scale", s.a_dt_lr_scale}, {"train_a", s.train_a}, {"train_mlp", s.train_mlp},
          {"checkpoint_every", s.checkpoint_every}, {"eval_every", s.eval_every},
          {"eval_batches", s.eval_batches}, {"from", s.from}, {"allow_any_stage", s.allow_any_stage}};
}

std::vector<std::string> keys_of(const json& j) {
  std::vector<std::string> out;
  for (const auto& [k, v] : j.items()) out.push_back(k);
  return out;
}

/// The fields a recipe (or one of its stages) may have: exactly what to_json writes.
const std::vector<std::string>& recipe_keys() {
  static const std::vector<std::string> k = keys_of(Recipe().to_json());
  return k;
}
const std::vector<std::string>& stage_keys() {
  static const std::vector<std::string> k = keys_of(stage_json(StageSettings()));
  return k;
}

/// ConfigError naming an unknown key and the nearest valid one.
void check_key(const std::string& key, const std::vector<std::string>& valid, const std::string& where) {
  if (std::find(valid.begin(), valid.end(), key) != valid.end()) return;
  const std::string near = nearest_name(key, valid);
  std::string all;
  for (const std::string& v : valid) all += (all.empty() ? "" : ", ") + v;
  throw ConfigError(where + ": unknown field \"" + key + "\"" + (near.empty() ? "" : " (did you mean \"" + near + "\"?)"),
                    "the fields are: " + all);
}

void check_keys(const json& j, const std::vector<std::string>& valid, const std::string& where) {
  for (const auto& [k, v] : j.items()) check_key(k, valid, where);
}

std::string num(double v) {
  std::ostringstream o;
  o << v;
  return o.str();
}

/// The largest batch and step count a recipe may ask for: far past any real run, and small enough
/// that step x batch (the data order's counter) cannot overflow and one step's index list fits in memory.
constexpr int64_t kMaxBatch = 65536;
constexpr int64_t kMaxSteps = 1000000000;

/// Value ranges of one stage; `sw` names it.
void check_stage_values(const StageSettings& s, const std::string& sw) {
  auto finite = [&](double v, const char* name) {
    if (!std::isfinite(v)) throw ConfigError(sw + ": " + name + " must be a finite number, got " + num(v), "fix it in the recipe");
  };
  for (auto [v, n] : {std::pair{s.lr, "lr"}, {s.weight_decay, "weight_decay"}, {s.warmup, "warmup"},
                      {s.decay, "decay"}, {s.clip, "clip"}, {s.mse_factor, "mse_factor"},
                      {s.temperature, "temperature"}, {s.answer_ce, "answer_ce"}, {s.a_dt_lr_scale, "a_dt_lr_scale"}})
    finite(v, n);
  if (s.steps < 1 || s.steps > kMaxSteps)
    throw ConfigError(sw + ": steps must be 1 to " + std::to_string(kMaxSteps) + ", got " + std::to_string(s.steps),
                      "the number of optimiser steps of this stage, e.g. \"steps\": 200");
  if (s.batch < 1 || s.batch > kMaxBatch)
    throw ConfigError(sw + ": batch must be 1 to " + std::to_string(kMaxBatch) + ", got " + std::to_string(s.batch),
                      "examples per optimiser step; set \"micro_batch\" to split a large batch into passes that fit in memory");
  if (s.lr <= 0) throw ConfigError(sw + ": lr must be positive, got " + num(s.lr), "the paper uses 1e-3 / 5e-4 / 5e-5 for stages 1 / 2 / 3");
  if (s.temperature <= 0)
    throw ConfigError(sw + ": temperature must be positive, got " + num(s.temperature), "1 is the plain KL of stage 3");
  if (s.answer_ce < 0)
    throw ConfigError(sw + ": answer_ce must be >= 0, got " + num(s.answer_ce), "0 is the paper's pure KL; 1 weighs each answer token's cross-entropy like its KL");
  if (s.a_dt_lr_scale <= 0)
    throw ConfigError(sw + ": a_dt_lr_scale must be positive, got " + num(s.a_dt_lr_scale),
                      "1 trains A_log_bias and dt_bias at the stage's lr; 10 at ten times it");
  if (s.micro_batch < 0 || s.micro_batch > kMaxBatch)
    throw ConfigError(sw + ": micro_batch must be 0 to " + std::to_string(kMaxBatch) + ", got " + std::to_string(s.micro_batch),
                      "0 runs the whole batch in one pass; N splits it into passes of N examples");
  if (s.warmup < 0 || s.decay < 0 || s.warmup + s.decay > 1)
    throw ConfigError(sw + ": warmup and decay are fractions of the steps that add up to at most 1, got " + num(s.warmup) +
                          " and " + num(s.decay),
                      "e.g. \"warmup\": 0.1, \"decay\": 0.1");
  if (s.clip < 0) throw ConfigError(sw + ": clip must be >= 0, got " + num(s.clip), "0 turns gradient clipping off; the paper uses 5.0");
  if (s.weight_decay < 0 || s.weight_decay > 1)
    throw ConfigError(sw + ": weight_decay must lie in [0, 1], got " + num(s.weight_decay), "the paper uses 0.05");
  if (s.mse_factor <= 0) throw ConfigError(sw + ": mse_factor must be positive, got " + num(s.mse_factor), "the paper uses 1000");
  if (s.checkpoint_every < 0 || s.eval_every < 0)
    throw ConfigError(sw + ": checkpoint_every and eval_every are step counts >= 0, got " + std::to_string(s.checkpoint_every) +
                          " and " + std::to_string(s.eval_every),
                      "0 means at the end only");
  if (s.eval_batches < 1)
    throw ConfigError(sw + ": eval_batches must be at least 1, got " + std::to_string(s.eval_batches),
                      "the number of eval batches per evaluation, e.g. 4");
}

}  // namespace

StageSettings paper_stage(int stage, int64_t steps) {
  StageSettings s;
  s.stage = stage;
  s.steps = steps;
  s.lr = stage == 1 ? 1e-3 : stage == 2 ? 5e-4 : stage == 3 ? 5e-5 : 1e-3;
  s.batch = stage == 3 ? 1 : 2;
  return s;
}

json Recipe::to_json() const {
  json st = json::array();
  for (const StageSettings& s : stages) st.push_back(stage_json(s));
  return {{"name", name}, {"teacher", teacher}, {"architecture", architecture},
          {"architecture_overrides", architecture_overrides}, {"tokenizer", tokenizer},
          {"train_data", train_data}, {"eval_data", eval_data}, {"plan", plan}, {"init", init},
          {"seed", seed}, {"system_prompt", system_prompt}, {"max_length", max_length},
          {"threads", threads}, {"device", device}, {"zero", zero}, {"stages", st}};
}

Recipe Recipe::from_json(const json& j, const std::string& base_dir) {
  if (!j.is_object()) throw ConfigError("a recipe must be a JSON object", "see examples/recipes/*.json");
  Recipe r;
  const std::string where = "recipe";
  check_keys(j, recipe_keys(), where);
  read_field(j, "name", r.name, where);
  read_field(j, "teacher", r.teacher, where);
  read_field(j, "architecture", r.architecture, where);
  if (j.contains("architecture_overrides")) r.architecture_overrides = j.at("architecture_overrides");
  read_field(j, "tokenizer", r.tokenizer, where);
  read_field(j, "train_data", r.train_data, where);
  read_field(j, "eval_data", r.eval_data, where);
  read_field(j, "plan", r.plan, where);
  read_field(j, "init", r.init, where);
  read_field(j, "seed", r.seed, where);
  read_field(j, "system_prompt", r.system_prompt, where);
  read_field(j, "max_length", r.max_length, where);
  read_field(j, "threads", r.threads, where);
  read_field(j, "device", r.device, where);
  read_field(j, "zero", r.zero, where);
  r.teacher = resolve(r.teacher, base_dir);
  r.tokenizer = resolve(r.tokenizer, base_dir);
  r.train_data = resolve(r.train_data, base_dir);
  r.eval_data = resolve(r.eval_data, base_dir);
  if (!j.contains("stages") || !j.at("stages").is_array() || j.at("stages").empty())
    throw ConfigError("the recipe has no \"stages\" list", "add e.g. \"stages\": [{\"stage\": 1, \"steps\": 200}]");
  int previous = -1;
  for (const json& sj : j.at("stages")) {
    if (!sj.is_object())
      throw ConfigError("every entry of \"stages\" must be an object, got " + sj.dump(), "e.g. {\"stage\": 1, \"steps\": 200}");
    check_keys(sj, stage_keys(), "recipe stage " + sj.value("stage", json("?")).dump());
    int stage = -1;
    read_field(sj, "stage", stage, where);
    if (stage < 0 || stage > 3) throw ConfigError("stage must be 0 (teacher) or 1-3, got " + std::to_string(stage),
                        "1-3 are the distillation stages (mmmamba distill), 0 is teacher training (mmmamba train-teacher)");
    const std::string sw = "recipe stage " + std::to_string(stage);
    StageSettings s = paper_stage(stage, 100);
    read_field(sj, "steps", s.steps, sw);
    read_field(sj, "lr", s.lr, sw);
    read_field(sj, "weight_decay", s.weight_decay, sw);
    read_field(sj, "warmup", s.warmup, sw);
    read_field(sj, "decay", s.decay, sw);
    read_field(sj, "batch", s.batch, sw);
    read_field(sj, "micro_batch", s.micro_batch, sw);
    read_field(sj, "clip", s.clip, sw);
    read_field(sj, "mse_factor", s.mse_factor, sw);
    read_field(sj, "temperature", s.temperature, sw);
    read_field(sj, "answer_ce", s.answer_ce, sw);
    if (s.answer_ce != 0 && stage != 3)
      throw ConfigError(sw + ": \"answer_ce\" applies to stage 3 only", "remove it from stage " + std::to_string(stage));
    read_field(sj, "a_dt_lr_scale", s.a_dt_lr_scale, sw);
    read_field(sj, "train_a", s.train_a, sw);
    read_field(sj, "train_mlp", s.train_mlp, sw);
    if (s.train_mlp && stage != 3)
      throw ConfigError(sw + ": \"train_mlp\" applies to stage 3 only", "remove it from stage " + std::to_string(stage));
    read_field(sj, "checkpoint_every", s.checkpoint_every, sw);
    read_field(sj, "eval_every", s.eval_every, sw);
    read_field(sj, "eval_batches", s.eval_batches, sw);
    read_field(sj, "from", s.from, sw);
    read_field(sj, "allow_any_stage", s.allow_any_stage, sw);
    s.from = resolve(s.from, base_dir);
    check_stage_values(s, sw);
    if (stage <= previous)
      throw ConfigError("recipe stages must be in increasing order (stage " + std::to_string(stage) + " after " +
                            std::to_string(previous) + ")",
                        "list each stage once, e.g. stages 1, 2, 3");
    if (stage == 0 && j.at("stages").size() != 1)
      throw ConfigError("a teacher-training recipe has exactly one stage, stage 0",
                        "distil with a separate recipe once the teacher is trained");
    previous = stage;
    r.stages.push_back(s);
  }
  if (r.max_length <= 0)
    throw ConfigError("max_length must be positive, got " + std::to_string(r.max_length),
                      "the longest conversation in tokens that is trained on, e.g. 2048");
  if (r.threads < 0 || r.threads > 4096)
    throw ConfigError("threads must be 0 (the machine's choice) to 4096, got " + std::to_string(r.threads),
                      "0 lets the engine choose; N uses N CPU threads");
  if (r.zero != 0 && r.zero != 1)
    throw ConfigError("zero must be 0 or 1, got " + std::to_string(r.zero), "1 shards the AdamW state over the ranks (ZeRO-1)");
  return r;
}

namespace {

json parse_value(const std::string& v) {
  try {
    return json::parse(v);
  } catch (const json::exception&) {
    return v;  // a bare string
  }
}

void apply_override(json& j, const std::string& kv) {
  const size_t eq = kv.find('=');
  if (eq == std::string::npos || eq == 0) throw ConfigError("override '" + kv + "' is not key=value", "e.g. --set teacher=DIR");
  const std::string key = kv.substr(0, eq);
  json value = parse_value(kv.substr(eq + 1));
  for (const char* k : {"teacher", "tokenizer", "train_data", "eval_data"})
    if (key == k && value.is_string() && !value.get<std::string>().empty())
      value = fs::absolute(value.get<std::string>()).lexically_normal().string();
  const size_t dot = key.find('.');
  if (dot == std::string::npos) {
    check_key(key, recipe_keys(), "--set " + kv);
    j[key] = value;
    return;
  }
  const std::string stage = key.substr(0, dot), field = key.substr(dot + 1);
  if (stage.rfind("stage", 0) != 0 || stage.size() != 6 || stage[5] < '0' || stage[5] > '3')
    throw ConfigError("override '" + kv + "': use stageN.field (N = 0-3) for stage settings", "e.g. --set stage1.steps=50");
  check_key(field, stage_keys(), "--set " + kv);
  const int n = stage[5] - '0';
  for (json& sj : j["stages"])
    if (sj.value("stage", -1) == n) {
      if (field == "from" && value.is_string() && value != "seed" && !value.get<std::string>().empty())
        value = fs::absolute(value.get<std::string>()).lexically_normal().string();
      sj[field] = value;
      return;
    }
  throw ConfigError("override '" + kv + "': the recipe has no stage " + std::to_string(n),
                    "--set changes a stage the recipe lists; add the stage to the recipe file first");
}

}  // namespace

Recipe load_recipe(const std::string& path, const std::vector<std::string>& overrides) {
  std::ifstream in(path);
  if (!in) throw ConfigError("cannot read recipe " + path, "check the path; examples/recipes/ has examples");
  json j;
  try {
    j = json::parse(in);
  } catch (const json::exception& e) {
    throw ConfigError("recipe " + path + " is not valid JSON: " + e.what(), "fix the JSON syntax at the byte the message names");
  }
  try {
    for (const std::string& o : overrides) apply_override(j, o);
    return Recipe::from_json(j, fs::absolute(path).parent_path().string());
  } catch (const ConfigError& e) {
    throw ConfigError(path + ": " + e.what(), e.hint());
  } catch (const json::exception& e) {
    throw ConfigError(path + ": the recipe's structure is wrong: " + e.what(), "see examples/recipes/*.json");
  }
}

}  // namespace mm
