#include "train/run_metrics.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "runtime/errors.h"
#include "runtime/files.h"

namespace mm {
namespace fs = std::filesystem;
namespace {

std::string pointed(const fs::path& stage_dir, const char* pointer, const char* must_hold) {
  const auto name = read_text((stage_dir / pointer).string());
  if (!name) return {};
  std::string n = *name;
  while (!n.empty() && (n.back() == '\n' || n.back() == ' ')) n.pop_back();
  const fs::path p = stage_dir / n;
  return fs::exists(p / must_hold) ? p.string() : std::string();
}

}  // namespace

RunHistory read_run_history(const std::string& run_dir) {
  const fs::path dir(run_dir);
  const auto recipe_text = read_text((dir / "recipe.json").string());
  if (!recipe_text)
    throw InputError(run_dir + " is not a run directory (no recipe.json)",
                     "choose a directory made by `mmmamba distill` or `mmmamba train-teacher`");
  RunHistory h;
  h.recipe_text = *recipe_text;
  std::map<std::string, int64_t> totals;
  const nlohmann::json recipe = nlohmann::json::parse(*recipe_text, nullptr, false);
  if (recipe.is_object() && recipe.contains("stages") && recipe["stages"].is_array())
    for (const auto& s : recipe["stages"]) {
      if (!s.is_object() || !s.value("stage", nlohmann::json(1)).is_number_integer()) continue;
      const int stage = s.value("stage", 1);
      const std::string name = stage == 0 ? "teacher" : "stage" + std::to_string(stage);
      totals[name] = s.contains("steps") && s["steps"].is_number_integer() ? s["steps"].get<int64_t>() : 0;
      h.stage_order.push_back(name);
    }
  std::ifstream in(dir / "metrics.jsonl");
  for (std::string line; std::getline(in, line);) {
    const nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    if (!j.is_object() || !j.contains("stage") || !j["stage"].is_string() || !j.contains("step") ||
        !j["step"].is_number_integer() || !j.contains("loss") || !j["loss"].is_number())
      continue;
    try {  // a hostile or torn line is skipped, not fatal
      MetricEvent m;
      m.stage = j["stage"].get<std::string>();
      m.step = j["step"].get<int64_t>();
      m.total_steps = totals.count(m.stage) ? totals[m.stage] : 0;
      m.loss = j["loss"].get<double>();
      if (j.contains("layer_losses") && j["layer_losses"].is_array()) m.layer_losses = j["layer_losses"].get<std::vector<double>>();
      m.lr = j.value("lr", 0.0);
      m.grad_norm = j.value("grad_norm", 0.0);
      m.tokens_per_s = j.value("tokens_per_s", 0.0);
      m.wall_s = j.value("wall_s", 0.0);
      m.eval_loss = j.value("eval_loss", -1.0);
      m.tokens = j.value("tokens", int64_t(0));
      add_metric(h.metrics, m);
    } catch (const nlohmann::json::exception&) {
    }
  }
  if (const auto eval = read_text((dir / kRunEvalFile).string()))
    h.eval = eval_from_json(nlohmann::json::parse(*eval, nullptr, false));
  for (const std::string& stage : h.stage_order) {
    if (auto f = pointed(dir / stage, "final", "config.json"); !f.empty()) h.finals[stage] = f;
    if (auto l = pointed(dir / stage, "latest", "config.json"); !l.empty()) h.latest[stage] = l;
  }
  return h;
}

bool run_has_started(const std::string& dir) {
  std::error_code ec;
  const fs::path d(dir);
  for (const char* stage : {"teacher", "stage1", "stage2", "stage3"})
    if (fs::exists(d / stage, ec)) return true;
  const auto metrics = fs::file_size(d / "metrics.jsonl", ec);
  return !ec && metrics > 0;
}

void save_run_eval(const std::string& run_dir, const std::vector<EvalResult>& results) {
  write_text_atomic((fs::path(run_dir) / kRunEvalFile).string(), eval_json(results).dump(2) + "\n");
}

void add_metric(std::vector<MetricEvent>& metrics, const MetricEvent& m) {
  while (!metrics.empty() && metrics.back().stage == m.stage && metrics.back().step >= m.step) metrics.pop_back();
  metrics.push_back(m);
}

std::string metrics_csv(const std::vector<MetricEvent>& metrics) {
  size_t layers = 0;
  for (const MetricEvent& m : metrics) layers = std::max(layers, m.layer_losses.size());
  std::ostringstream out;
  out.precision(9);
  out << "stage,step,loss,lr,grad_norm,tokens,tokens_per_s,wall_s,eval_loss";
  for (size_t l = 0; l < layers; ++l) out << ",layer" << l;
  out << '\n';
  for (const MetricEvent& m : metrics) {
    out << m.stage << ',' << m.step << ',' << m.loss << ',' << m.lr << ',' << m.grad_norm << ',' << m.tokens << ','
        << m.tokens_per_s << ',' << m.wall_s << ',';
    if (m.eval_loss >= 0) out << m.eval_loss;
    for (size_t l = 0; l < layers; ++l) {
      out << ',';
      if (l < m.layer_losses.size()) out << m.layer_losses[l];
    }
    out << '\n';
  }
  return out.str();
}

}  // namespace mm
