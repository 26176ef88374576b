#include "config/layer_plan.h"

#include <sstream>

#include "runtime/errors.h"

namespace mm {
namespace {

const char* kForms = "use teacher, linear, hybrid, interval:K[:head|:tail], stacked:N[:head|:tail] or list:I,J,...";

int parse_int(const std::string& s, const std::string& whole) {
  try {
    size_t used = 0;
    int v = std::stoi(s, &used);
    if (used == s.size()) return v;
  } catch (const std::exception&) {
  }
  throw InputError("layer plan '" + whole + "': '" + s + "' is not a number", kForms);
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string part;
  while (std::getline(ss, part, sep)) out.push_back(part);
  return out;
}

}  // namespace

LayerPlan LayerPlan::parse(const std::string& text) {
  LayerPlan p;
  const auto parts = split(text, ':');
  const std::string head = parts.empty() ? "" : parts[0];
  auto placement = [&](size_t i) {
    if (parts.size() <= i) return false;
    if (parts[i] == "head") return false;
    if (parts[i] == "tail") return true;
    throw InputError("layer plan '" + text + "': placement must be head or tail", kForms);
  };
  if (head == "teacher" && parts.size() == 1) p.mode = Mode::teacher;
  else if (head == "linear" && parts.size() == 1) p.mode = Mode::linear;
  else if (head == "hybrid" && parts.size() == 1) p.mode = Mode::interval;
  else if (head == "interval" && parts.size() >= 2 && parts.size() <= 3) {
    p.mode = Mode::interval;
    p.interval = parse_int(parts[1], text);
    p.tail = placement(2);
    if (p.interval < 1) throw InputError("layer plan '" + text + "': the interval must be at least 1", kForms);
  } else if (head == "stacked" && parts.size() >= 2 && parts.size() <= 3) {
    p.mode = Mode::stacked;
    p.count = parse_int(parts[1], text);
    p.tail = placement(2);
    if (p.count < 0) throw InputError("layer plan '" + text + "': the count must not be negative", kForms);
  } else if (head == "list" && parts.size() == 2) {
    p.mode = Mode::list;
    for (const auto& s : split(parts[1], ','))
      if (!s.empty()) p.attention.push_back(parse_int(s, text));
  } else {
    throw InputError("cannot read layer plan '" + text + "'", kForms);
  }
  return p;
}

std::string LayerPlan::to_string() const {
  switch (mode) {
    case Mode::teacher: return "teacher";
    case Mode::linear: return "linear";
    case Mode::interval: return "interval:" + std::to_string(interval) + (tail ? ":tail" : ":head");
    case Mode::stacked: return "stacked:" + std::to_string(count) + (tail ? ":tail" : ":head");
    case Mode::list: {
      std::string s = "list:";
      for (size_t i = 0; i < attention.size(); ++i) s += (i ? "," : "") + std::to_string(attention[i]);
      return s;
    }
  }
  return "linear";
}

std::vector<LayerKind> LayerPlan::kinds(int n) const {
  std::vector<LayerKind> k(n, LayerKind::mamba2);
  switch (mode) {
    case Mode::teacher: k.assign(n, LayerKind::attention); break;
    case Mode::linear: break;
    case Mode::interval:
      for (int i = 0; i < n; ++i)
        if (i % interval == (tail ? interval - 1 : 0)) k[i] = LayerKind::attention;
      break;
    case Mode::stacked:
      if (count > n)
        throw InputError("layer plan " + to_string() + " keeps " + std::to_string(count) + " attention layers but the model has " +
                         std::to_string(n));
      for (int i = 0; i < count; ++i) k[tail ? n - 1 - i : i] = LayerKind::attention;
      break;
    case Mode::list:
      for (int i : attention) {
        if (i < 0 || i >= n)
          throw InputError("layer plan " + to_string() + ": layer " + std::to_string(i) + " does not exist",
                           "layers are numbered 0.." + std::to_string(n - 1) + " (embedding layers first)");
        k[i] = LayerKind::attention;
      }
      break;
  }
  return k;
}

ModelConfig apply_plan(const ModelConfig& cfg, const LayerPlan& plan) {
  ModelConfig out = cfg;
  out.layer_kinds = plan.kinds(int(cfg.n_layers()));
  return out;
}

}  // namespace mm
