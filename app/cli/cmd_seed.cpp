// mmmamba seed: teacher directory + plan -> student directory, with the seeding report.
#include <cstdio>
#include <fstream>

#include "cli/common.h"
#include "config/plan_stats.h"
#include "io/checkpoint.h"
#include "seeding/seed_job.h"

namespace mm::cli {

int cmd_seed(const std::vector<std::string>& argv) {
  Args args("seed", "--teacher DIR --out DIR [--plan PLAN] [--seed N] [--init mimic|inherit|scratch]",
            "Builds a student from a teacher (METHOD.md §3): every Mamba-2 layer inherits W_Q, W_K, W_V, W_O\n"
            "from the attention it replaces; the new parameters get the mimic init. Writes an HF directory in\n"
            "the mmMamba layout with the teacher's tokenizer and seeding_report.json.",
            {{"teacher", "DIR", "teacher checkpoint (HoVLE layout)"},
             {"out", "DIR", "where to write the student"},
             {"plan", "PLAN", "linear, hybrid, interval:K[:head|:tail], stacked:N[:head|:tail], list:I,J", "linear"},
             {"seed", "N", "random seed for dt_bias and W_G", "0"},
             {"init", "KIND", "mimic (paper), inherit (default new-param init), scratch", "mimic"}});
  if (parse_or_help(args, argv)) return 0;
  if (!args.has("teacher") || !args.has("out")) throw InputError("seed needs --teacher and --out", "see mmmamba seed --help");
  const std::string teacher_dir = args.get("teacher"), out = args.get("out");
  const LayerPlan plan = LayerPlan::parse(args.get("plan"));
  const uint64_t seed = uint64_t(args.get_int("seed"));
  const SeedInit init = parse_seed_init(args.get("init"));
  const SeedJobOptions opts{teacher_dir, out, plan, seed, init};
  const SeedResult r = run_on_engine<SeedResult>([&](JobContext& ctx) { return seed_to_directory(opts, ctx); });
  std::printf("%s", format_seed_report(r).c_str());
  const PlanStats st = compute_plan_stats(r.config);
  std::printf("student: %s params, %.1f%% trainable in stage 3\nwrote %s (report: %s/seeding_report.json)\n",
              format_count(double(st.total_params)).c_str(), 100 * st.trainable_share(), out.c_str(), out.c_str());
  return 0;
}

}  // namespace mm::cli
