// mmmamba info DIR: what a checkpoint is, and what a plan would make of it.
#include <cstdio>

#include "cli/common.h"
#include "config/layer_plan.h"
#include "config/plan_stats.h"
#include "io/checkpoint.h"
#include "ops/op_check.h"
#include "ops/op_registry.h"
#include "runtime/device.h"

namespace mm::cli {
namespace {

std::string layer_strip(const ModelConfig& c) {
  std::string s;
  for (int64_t i = 0; i < c.n_layers(); ++i) {
    if (i == c.he.n_layers) s += " | ";
    else if (i > 0 && i % 4 == 0) s += ' ';
    s += c.layer_kinds[i] == LayerKind::attention ? 'A' : 'M';
  }
  return s;
}

void print_stack(const char* name, const StackConfig& s) {
  std::printf("  %-15s %lld layers, hidden %lld, heads %lld (kv %lld, dim %lld), mlp %lld, rope theta %g\n", name,
              (long long)s.n_layers, (long long)s.hidden, (long long)s.n_heads, (long long)s.n_kv_heads,
              (long long)s.head_dim, (long long)s.intermediate, s.rope_theta);
}

void print_plan(const char* title, const ModelConfig& c) {
  const PlanStats st = compute_plan_stats(c, 2);
  std::printf("%s\n", title);
  std::printf("  layers          %s   (A attention, M Mamba-2; embedding | LLM)\n", layer_strip(c).c_str());
  std::printf("  kinds           %lld attention, %lld Mamba-2\n", (long long)st.attention_layers, (long long)st.mamba_layers);
  std::printf("  parameters      %s\n", format_count(double(st.total_params)).c_str());
  if (st.mamba_layers > 0)
    std::printf("  trainable       %s (%.1f%%, stage 3 set)\n", format_count(double(st.trainable_params)).c_str(),
                100 * st.trainable_share());
  std::printf("  cache (bf16)    %s per token + %s constant state\n", format_bytes(double(st.kv_bytes_per_token)).c_str(),
              format_bytes(double(st.state_bytes)).c_str());
  for (int64_t n : {1024, 32768, 131072})
    std::printf("  cache at %-6s %s\n", (std::to_string(n / 1024) + "K").c_str(), format_bytes(double(st.cache_bytes(n))).c_str());
}

}  // namespace

int cmd_info(const std::vector<std::string>& argv) {
  Args args("info", "DIR|--arch NAME [--plan PLAN] | --device DEV",
            "Describes a checkpoint directory (or a named architecture): layers and their kinds, parameters,\n"
            "cache bytes per token, and with --plan the student a plan would make, with its trainable share.\n"
            "With --device: the fast paths this build has for that device and, from a short self-test there,\n"
            "the path each op actually takes.",
            {{"arch", "NAME", "describe a named architecture instead of a directory (micro, tiny, demo, hovle-2.6b)"},
             {"plan", "PLAN", "teacher, linear, hybrid, interval:K[:head|:tail], stacked:N[:head|:tail], list:I,J"},
             {"check", "", "also verify every tensor name and shape against config.json"},
             {"device", "DEV", "describe the ops on a device (auto, cpu, cuda[:N])"}});
  if (parse_or_help(args, argv)) return 0;
  if (args.has("device")) {
    const c10::Device device = parse_device(args.get("device"));
    reset_op_paths();
    const std::vector<OpCheckResult> checks = run_op_checks(device, /*full=*/false);
    int failed = 0;
    for (const OpCheckResult& r : checks) failed += !r.skipped && !r.passed;
    std::printf("device          %s\n  self-test       %zu checks, %d failed (mmmamba selftest for the table)\n",
                describe_op_device(device).c_str(), checks.size(), failed);
    if (device.is_cpu())
      std::printf("  CPU BLAS        %s\n", cpu_blas_threads_are_scoped()
                                              ? "MKL: a decode step sets its per-thread count with OpenMP's"
                                              : "follows OpenMP's per-thread count (no MKL in this LibTorch)");
    std::printf("%s%s\n", op_path_report().c_str(), op_path_status().c_str());
    if (args.positionals().empty() && !args.has("arch")) return failed ? 1 : 0;
  }
  ModelConfig cfg;
  std::string where;
  if (args.has("arch")) {
    cfg = architecture_preset(args.get("arch"));
    where = "architecture " + args.get("arch");
  } else {
    where = args.positional(0, "checkpoint directory");
    cfg = load_model_config(where);
  }
  std::printf("%s\n  format          %s (%s)\n", where.c_str(), cfg.source_format.c_str(),
              cfg.is_teacher() ? "teacher" : cfg.count(LayerKind::attention) ? "hybrid student" : "linear student");
  print_stack("embedding", cfg.he);
  print_stack("llm", cfg.llm);
  std::printf("  vocabulary      %lld (image context id %lld)\n", (long long)cfg.vocab_size,
              (long long)cfg.img_context_token_id);
  std::printf("  images          %lldpx tiles, patch %lld, %lld tokens per tile, up to %lld tiles%s\n",
              (long long)cfg.vision.image_size, (long long)cfg.vision.patch_size, (long long)cfg.tokens_per_tile(),
              (long long)cfg.vision.max_dynamic_patch, cfg.vision.use_thumbnail ? " + thumbnail" : "");
  print_plan("this model", cfg);
  if (args.has("plan")) {
    const LayerPlan plan = LayerPlan::parse(args.get("plan"));
    print_plan(("plan " + plan.to_string()).c_str(), apply_plan(cfg, plan));
  }
  if (args.flag("check")) {
    if (args.has("arch")) throw InputError("--check needs a checkpoint directory");
    const CheckReport r = check_checkpoint(where, cfg);
    std::printf("check           %s\n%s", r.ok() ? "every tensor matches config.json" : "MISMATCH", r.describe().c_str());
    return r.ok() ? 0 : 1;
  }
  return 0;
}

}  // namespace mm::cli
