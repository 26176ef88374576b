#include "bench/bench_setup.h"

#include <torch/version.h>

#include <ATen/Parallel.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>

#include "bench/peak_memory.h"
#include "config/layer_plan.h"
#include "ops/op_registry.h"
#include "io/checkpoint.h"
#include "io/name_table.h"
#include "models/random_init.h"
#include "runtime/device.h"
#include "runtime/errors.h"
#include "seeding/seed_student.h"

namespace mm {
namespace {

/// Measured copy bandwidths (BUILD-NOTES.md); a device not listed has an unknown floor unless
/// BenchOptions::bandwidth_bytes_per_s is given.
double known_bandwidth(const std::string& name) {
  if (name.find("H100") != std::string::npos) return 3.0e12;
  if (name.find("H200") != std::string::npos) return 4.24e12;  // reading an 8 GiB bf16 tensor (BUILD-NOTES.md)
  return -1;
}

std::string default_label(const BenchModelSpec& s) {
  if (s.checkpoint.empty()) return s.architecture + "/" + (s.plan.empty() ? "teacher" : s.plan);
  std::filesystem::path p = std::filesystem::path(s.checkpoint).lexically_normal();
  if (p.filename().empty()) p = p.parent_path();  // "dir/" -> "dir"
  const std::string base = p.filename().string();
  return s.plan.empty() ? base : base + "/" + s.plan;
}

}  // namespace

BenchOptions resolve_bench_options(const BenchOptions& in) {
  BenchOptions o = in;
  if (o.models.empty())
    throw InputError("no models to benchmark", "name checkpoint directories, or --arch NAME with --plans teacher,linear");
  if (o.lengths.empty()) throw InputError("no context lengths to benchmark", "give --lengths 128,256,512");
  for (int64_t L : o.lengths)
    if (L < 1) throw InputError("context length " + std::to_string(L) + " is not positive", "give lengths >= 1");
  std::sort(o.lengths.begin(), o.lengths.end());
  o.lengths.erase(std::unique(o.lengths.begin(), o.lengths.end()), o.lengths.end());
  if (o.batches.empty()) throw InputError("no batch sizes to benchmark", "give --batch 1 (or 1,8,64)");
  for (int64_t B : o.batches)
    if (B < 1 || B > 4096) throw InputError("batch " + std::to_string(B) + " is out of range", "give batch sizes from 1 to 4096");
  std::sort(o.batches.begin(), o.batches.end());
  o.batches.erase(std::unique(o.batches.begin(), o.batches.end()), o.batches.end());
  if (!o.prefill && !o.decode) throw InputError("nothing to measure", "enable prefill, decode or both");
  if (o.repeats < 1) throw InputError("repeats must be >= 1");
  if (o.warmup < 0) throw InputError("warm-up repeats must be >= 0");
  if (o.decode_tokens < 1) throw InputError("decode tokens must be >= 1");
  if (o.prefill_chunk < 0) throw InputError("prefill chunk must be >= 0", "0 takes each model's default (4096 tokens; 2048 on the CPU for models with attention layers)");
  for (BenchModelSpec& s : o.models) {
    if (s.checkpoint.empty() == s.architecture.empty())
      throw InputError("a benchmark model needs exactly one of a checkpoint and an architecture",
                       "e.g. a checkpoint directory, or --arch demo");
    (void)bench_model_config(s);  // checks the preset name, the plan and config.json up front
    for (const std::string& name : s.reference_ops) {
      Op op;
      if (!op_from_name(name, op))
        throw InputError("no op named '" + name + "' to force to the reference",
                         "e.g. ssd_scan or attention_decode (mmmamba info --device lists them)");
    }
    if (s.label.empty()) {
      s.label = default_label(s);
      if (!s.reference_ops.empty()) {
        s.label += " ref:";
        for (size_t i = 0; i < s.reference_ops.size(); ++i) s.label += (i ? "," : "") + s.reference_ops[i];
      }
      if (s.eager_decode) s.label += " eager";
    }
  }
  (void)parse_device(o.device);
  if (!o.dtype.empty() && o.dtype != "auto") (void)parse_dtype_name(o.dtype);
  return o;
}

BenchEnv resolve_bench_env(const BenchOptions& o) {
  BenchEnv e;
  e.device = parse_device(o.device);
  if (e.device.is_cuda() && !e.device.has_index()) e.device = c10::Device(c10::kCUDA, 0);  // "cuda" -> "cuda:0"
  e.dtype = o.dtype.empty() || o.dtype == "auto" ? default_dtype(e.device) : parse_dtype_name(o.dtype);
  const std::string name = device_name(e.device);
  e.device_text = describe_device(e.device) + (name.empty() ? "" : " (" + name + ")");
  e.bandwidth = o.bandwidth_bytes_per_s > 0 ? o.bandwidth_bytes_per_s : known_bandwidth(name);
  return e;
}

nlohmann::json bench_environment(const BenchOptions& o) {
  const BenchEnv e = resolve_bench_env(o);
  char torch_version[32];
  std::snprintf(torch_version, sizeof torch_version, "%d.%d.%d", TORCH_VERSION_MAJOR, TORCH_VERSION_MINOR,
                TORCH_VERSION_PATCH);
  return {{"device", e.device_text},
          {"device_type", e.device.is_cuda() ? "cuda" : "cpu"},
          {"dtype", e.dtype == c10::kBFloat16 ? "bf16" : e.dtype == c10::kHalf ? "f16" : "f32"},
          {"threads", at::get_num_threads()},
          {"bandwidth_bytes_per_s", e.bandwidth},
          {"memory_measure", peak_memory_measure(e.device)},
          {"torch_version", torch_version}};
}

ModelConfig bench_model_config(const BenchModelSpec& s) {
  if (s.checkpoint.empty()) return apply_plan(architecture_preset(s.architecture), LayerPlan::parse(s.plan.empty() ? "teacher" : s.plan));
  ModelConfig cfg = load_model_config(s.checkpoint);
  if (s.plan.empty()) return cfg;
  const LayerPlan plan = LayerPlan::parse(s.plan);
  if (!cfg.is_teacher())
    throw InputError(s.checkpoint + " is already a student; a plan applies to teacher checkpoints",
                     "benchmark it without a plan, or give its teacher");
  return apply_plan(cfg, plan);
}

std::unique_ptr<VlmModel> build_bench_model(const BenchModelSpec& s, uint64_t seed, const c10::Device& device,
                                            c10::ScalarType dtype) {
  ModelConfig cfg = bench_model_config(s);
  TensorMap w;
  if (s.checkpoint.empty()) {
    w = random_weights(cfg, seed);
  } else {
    Checkpoint ck = load_checkpoint(s.checkpoint, s.plan.empty() ? dtype : at::kFloat);
    w = std::move(ck.weights);
    if (!s.plan.empty() && !cfg.is_teacher()) {
      SeedResult r = seed_student(ck.config, w, LayerPlan::parse(s.plan), seed);
      cfg = r.config;
      w = std::move(r.weights);
    }
  }
  auto m = std::make_unique<VlmModel>(cfg, std::move(w));
  m->release_unused_weights();  // before the move: the unused table never reaches the device
  m->to(device, dtype);
  if (cfg.count(LayerKind::mamba2) > 0) m->fuse_for_inference();
  return m;
}

int64_t decode_weight_bytes(const ModelConfig& cfg, int64_t elem_size) {
  int64_t n = 0;
  for (const TensorSpec& t : expected_tensors(cfg, WeightLayout::internal)) {
    const bool read = t.name.rfind("embedding_model.encoder.", 0) == 0 || t.name.rfind("language_model.model.layers.", 0) == 0 ||
                      t.name == "language_model.model.norm.weight" || t.name == "language_model.output.weight";
    if (!read) continue;
    int64_t k = 1;
    for (int64_t d : t.shape) k *= d;
    n += k;
  }
  return n * elem_size;
}

}  // namespace mm
