#include "train/recipe.h"

#include <filesystem>
#include <cstdlib>
#include <fstream>

#include "runtime/errors.h"

namespace mm {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

template <class T>
void read_field(const json& j, const char* key, T& out, const std::string& where) {
  if (!j.contains(key)) return;
  try {
    out = j.at(key).get<T>();
  } catch (const json::exception&) {
    throw ConfigError(where + ": field \"" + key + "\" has the wrong type (" + j.at(key).dump() + ")",
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
          {"mse_factor", s.mse_factor}, {"temperature", s.temperature}, {"train_a", s.train_a},
          {"checkpoint_every", s.checkpoint_every}, {"eval_every", s.eval_every},
          {"eval_batches", s.eval_batches}, {"from", s.from}, {"allow_any_stage", s.allow_any_stage}};
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
          {"threads", threads}, {"device", device}, {"stages", st}};
}

Recipe Recipe::from_json(const json& j, const std::string& base_dir) {
  if (!j.is_object()) throw ConfigError("a recipe must be a JSON object");
  Recipe r;
  const std::string where = "recipe";
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
  r.teacher = resolve(r.teacher, base_dir);
  r.tokenizer = resolve(r.tokenizer, base_dir);
  r.train_data = resolve(r.train_data, base_dir);
  r.eval_data = resolve(r.eval_data, base_dir);
  if (!j.contains("stages") || !j.at("stages").is_array() || j.at("stages").empty())
    throw ConfigError("the recipe has no \"stages\" list", "add e.g. \"stages\": [{\"stage\": 1, \"steps\": 200}]");
  int previous = -1;
  for (const json& sj : j.at("stages")) {
    if (!sj.is_object()) throw ConfigError("every entry of \"stages\" must be an object");
    int stage = -1;
    read_field(sj, "stage", stage, where);
    if (stage < 0 || stage > 3) throw ConfigError("stage must be 0 (teacher) or 1-3, got " + std::to_string(stage));
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
    read_field(sj, "train_a", s.train_a, sw);
    read_field(sj, "checkpoint_every", s.checkpoint_every, sw);
    read_field(sj, "eval_every", s.eval_every, sw);
    read_field(sj, "eval_batches", s.eval_batches, sw);
    read_field(sj, "from", s.from, sw);
    read_field(sj, "allow_any_stage", s.allow_any_stage, sw);
    s.from = resolve(s.from, base_dir);
    if (s.steps <= 0 || s.batch <= 0 || s.lr <= 0 || s.temperature <= 0)
      throw ConfigError(sw + ": steps, batch, lr and temperature must be positive");
    if (s.micro_batch < 0) throw ConfigError(sw + ": micro_batch must be 0 (the whole batch at once) or positive");
    if (s.warmup < 0 || s.decay < 0 || s.warmup + s.decay > 1)
      throw ConfigError(sw + ": warmup and decay are fractions of the steps that add up to at most 1");
    if (stage <= previous)
      throw ConfigError("recipe stages must be in increasing order (stage " + std::to_string(stage) + " after " +
                        std::to_string(previous) + ")");
    if (stage == 0 && j.at("stages").size() != 1)
      throw ConfigError("a teacher-training recipe has exactly one stage, stage 0");
    previous = stage;
    r.stages.push_back(s);
  }
  if (r.max_length <= 0) throw ConfigError("max_length must be positive");
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
    j[key] = value;
    return;
  }
  const std::string stage = key.substr(0, dot), field = key.substr(dot + 1);
  if (stage.rfind("stage", 0) != 0) throw ConfigError("override '" + kv + "': use stageN.field for stage settings");
  const int n = std::atoi(stage.c_str() + 5);
  for (json& sj : j["stages"])
    if (sj.value("stage", -1) == n) {
      if (field == "from" && value.is_string() && value != "seed" && !value.get<std::string>().empty())
        value = fs::absolute(value.get<std::string>()).lexically_normal().string();
      sj[field] = value;
      return;
    }
  throw ConfigError("override '" + kv + "': the recipe has no stage " + std::to_string(n));
}

}  // namespace

Recipe load_recipe(const std::string& path, const std::vector<std::string>& overrides) {
  std::ifstream in(path);
  if (!in) throw ConfigError("cannot read recipe " + path, "check the path; examples/recipes/ has examples");
  json j;
  try {
    j = json::parse(in);
  } catch (const json::exception& e) {
    throw ConfigError("recipe " + path + " is not valid JSON: " + e.what());
  }
  try {
    for (const std::string& o : overrides) apply_override(j, o);
    return Recipe::from_json(j, fs::absolute(path).parent_path().string());
  } catch (const ConfigError& e) {
    throw ConfigError(path + ": " + e.what(), e.hint());
  }
}

}  // namespace mm
