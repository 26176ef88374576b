#include "seeding/seed_student.h"

#include <ATen/CPUGeneratorImpl.h>

#include <cmath>
#include <map>
#include <sstream>

#include "io/name_table.h"
#include "runtime/errors.h"

namespace mm {
namespace {

at::Tensor uniform(const std::vector<int64_t>& shape, double bound, at::Generator& gen) {
  return at::rand(shape, gen) * (2 * bound) - bound;
}

/// Inverse softplus of a log-uniform dt in [dt_min, dt_max], rounded through bf16 as the code computes it.
at::Tensor mimic_dt_bias(int64_t H, const Mamba2Config& m, at::Generator& gen) {
  const at::Tensor u = at::rand({H}, gen);
  at::Tensor dt = at::exp(u * (std::log(m.dt_max) - std::log(m.dt_min)) + std::log(m.dt_min));
  dt = dt.to(at::kBFloat16).to(at::kFloat).clamp_min(m.dt_init_floor);
  const at::Tensor inv = dt + at::log(-at::expm1(-dt));  // softplus^-1(dt)
  return inv.to(at::kBFloat16).to(at::kFloat);
}

}  // namespace

SeedInit parse_seed_init(const std::string& s) {
  if (s == "mimic") return SeedInit::mimic;
  if (s == "inherit") return SeedInit::inherit;
  if (s == "scratch") return SeedInit::scratch;
  throw InputError("unknown init '" + s + "'", "use mimic, inherit or scratch");
}

const char* seed_init_name(SeedInit i) {
  return i == SeedInit::mimic ? "mimic" : i == SeedInit::inherit ? "inherit" : "scratch";
}

SeedResult seed_student(const ModelConfig& tcfg, const TensorMap& teacher, const LayerPlan& plan, uint64_t seed,
                        SeedInit init) {
  if (!tcfg.is_teacher())
    throw InputError("the source model already has Mamba-2 layers", "seed from an all-attention teacher checkpoint");
  SeedResult r;
  r.config = apply_plan(tcfg, plan);
  at::Generator gen = at::detail::createCPUGenerator(seed);
  auto copy = [&](const std::string& name) {
    auto it = teacher.find(name);
    if (it == teacher.end()) throw CheckpointError("teacher tensor " + name + " is missing");
    r.weights[name] = it->second.detach().clone();
    return it->second;
  };
  auto record = [&](const std::string& name, at::Tensor t, const char* origin, std::string detail) {
    r.weights[name] = std::move(t);
    r.report.push_back({name, origin, std::move(detail)});
  };
  for (const TensorSpec& spec : expected_tensors(tcfg, WeightLayout::internal)) {
    if (spec.name.find(".attention.") != std::string::npos) continue;  // mixers handled below
    if (teacher.count(spec.name)) {
      copy(spec.name);
      r.report.push_back({spec.name, "copied", spec.name});
    }
  }
  for (int64_t i = 0; i < tcfg.n_layers(); ++i) {
    const std::string a = layer_prefix(tcfg, i) + "attention.";
    const at::Tensor wqkv = copy(a + "wqkv.weight"), wo = copy(a + "wo.weight");
    if (r.config.layer_kinds[i] == LayerKind::attention) {
      r.report.push_back({a + "wqkv.weight", "copied", a + "wqkv.weight"});
      r.report.push_back({a + "wo.weight", "copied", a + "wo.weight"});
      continue;
    }
    r.weights.erase(a + "wqkv.weight");
    r.weights.erase(a + "wo.weight");
    const StackConfig& s = tcfg.stack_of(i);
    const int64_t H = s.n_heads, Hkv = s.n_kv_heads, hd = s.head_dim, g = H / Hkv, D = s.hidden;
    const int64_t C = 2 * Hkv * hd + H * hd, K = tcfg.mamba.d_conv;
    const at::Tensor grouped = wqkv.detach().view({Hkv, g + 2, hd, D});  // rows: (kv head, slot, hd)
    const std::string src = a + "wqkv.weight";
    if (init == SeedInit::scratch) {
      const double b = 1.0 / std::sqrt(double(D));  // nn.Linear default bound
      record(a + "q_proj.weight", uniform({H * hd, D}, b, gen), "initialised", "uniform(+-1/sqrt(D)) (scratch)");
      record(a + "k_proj.weight", uniform({Hkv * hd, D}, b, gen), "initialised", "uniform(+-1/sqrt(D)) (scratch)");
      record(a + "v_proj.weight", uniform({Hkv * hd, D}, b, gen), "initialised", "uniform(+-1/sqrt(D)) (scratch)");
    } else {
      record(a + "q_proj.weight", grouped.narrow(1, 0, g).reshape({H * hd, D}).clone(), "inherited",
             src + " query slots 0.." + std::to_string(g - 1) + " of each kv group (W_Q -> C)");
      record(a + "k_proj.weight", grouped.select(1, g).reshape({Hkv * hd, D}).clone(), "inherited",
             src + " slot " + std::to_string(g) + " of each kv group (W_K -> B)");
      record(a + "v_proj.weight", grouped.select(1, g + 1).reshape({Hkv * hd, D}).clone(), "inherited",
             src + " slot " + std::to_string(g + 1) + " of each kv group (W_V -> x)");
    }
    record(a + "o_proj.weight", wo.detach().clone(), "inherited", a + "wo.weight (W_O, frozen)");
    if (init == SeedInit::mimic) {
      record(a + "in_proj.weight", at::zeros({H, D}), "initialised", "zeros (W_gamma = 0)");
      record(a + "dt_bias", mimic_dt_bias(H, tcfg.mamba, gen), "initialised",
             "softplus^-1 of log-uniform dt in [1e-3, 1e-1] (bf16)");
      record(a + "A_log_bias", at::ones({H}), "initialised", "ones (a = 1, A = -e)");
      at::Tensor conv = at::zeros({C, 1, K});
      conv.select(2, K - 1).fill_(1.0);
      record(a + "conv1d.weight", conv, "initialised", "identity (tap for the current token = 1)");
      record(a + "conv1d.bias", at::zeros({C}), "initialised", "zeros");
      const double gain = std::pow(2.0, -2.5), bound = gain * std::sqrt(6.0 / double(D + H * hd));
      record(a + "g_proj.weight", uniform({H * hd, D}, bound, gen), "initialised",
             "xavier_uniform gain 2^-2.5 (bound " + std::to_string(bound) + ")");
    } else {
      const double b = 1.0 / std::sqrt(double(D));
      record(a + "in_proj.weight", uniform({H, D}, b, gen), "initialised", "uniform(+-1/sqrt(D)) (nn.Linear default)");
      record(a + "dt_bias", at::zeros({H}), "initialised", "zeros (non-mimic)");
      record(a + "A_log_bias", at::log(at::rand({H}, gen) * 15 + 1), "initialised", "log U(1, 16) (non-mimic)");
      record(a + "conv1d.weight", uniform({C, 1, K}, 1.0 / std::sqrt(double(K)), gen), "initialised",
             "uniform(+-1/sqrt(K)) (nn.Conv1d default)");
      record(a + "conv1d.bias", uniform({C}, 1.0 / std::sqrt(double(K)), gen), "initialised",
             "uniform(+-1/sqrt(K)) (nn.Conv1d default)");
      record(a + "g_proj.weight", uniform({H * hd, D}, b, gen), "initialised", "uniform(+-1/sqrt(D)) (nn.Linear default)");
    }
    record(a + "g_norm.weight", at::ones({hd}), "initialised", "ones");
  }
  return r;
}

nlohmann::json seed_report_json(const SeedResult& r) {
  nlohmann::json j = nlohmann::json::array();
  for (const auto& e : r.report) j.push_back({{"tensor", e.tensor}, {"origin", e.origin}, {"detail", e.detail}});
  return j;
}

std::string format_seed_report(const SeedResult& r) {
  // Group Mamba-2 tensors by their name within the layer, so the report reads per tensor kind.
  std::map<std::string, std::pair<int, std::string>> by_kind;
  std::map<std::string, int> origins;
  for (const auto& e : r.report) {
    ++origins[e.origin];
    const auto pos = e.tensor.find(".attention.");
    if (pos == std::string::npos || e.origin == "copied") continue;
    const std::string kind = e.tensor.substr(pos + 11);
    auto& slot = by_kind[kind];
    if (slot.first++ == 0) {
      // strip the layer prefix from the detail so one line covers every layer
      std::string d = e.detail;
      const auto p = d.find(".attention.");
      slot.second = p == std::string::npos ? d : d.substr(p + 11);
      slot.second = e.origin + ": " + slot.second;
    }
  }
  std::ostringstream os;
  os << "Mamba-2 layers: " << r.config.count(LayerKind::mamba2) << ", attention layers kept: "
     << r.config.count(LayerKind::attention) << "\n";
  for (const auto& kv : by_kind) os << "  " << kv.first << " (x" << kv.second.first << "): " << kv.second.second << "\n";
  os << "tensors: ";
  bool first = true;
  for (const auto& kv : origins) os << (first ? "" : ", ") << kv.second << " " << kv.first, first = false;
  os << "\n";
  return os.str();
}

}  // namespace mm
