#include "seeding/seed_job.h"

#include "io/checkpoint.h"
#include "io/output_target.h"
#include "runtime/files.h"

namespace mm {

SeedResult seed_to_directory(const SeedJobOptions& o, const JobContext& ctx) {
  const std::string out = check_output_dir(o.out_dir, {o.teacher_dir});  // before any work
  ctx.progress("seed", -1, "loading teacher " + o.teacher_dir);
  Checkpoint teacher = load_checkpoint(o.teacher_dir, at::kFloat);
  ctx.check_cancel();
  ctx.progress("seed", 0.5, "seeding " + o.plan.to_string());
  SeedResult res = seed_student(teacher.config, teacher.weights, o.plan, o.seed, o.init);
  ctx.check_cancel();
  auto meta = base_metadata();
  meta["mmmamba.stage"] = "seeded";
  meta["mmmamba.plan"] = o.plan.to_string();
  meta["mmmamba.seed"] = std::to_string(o.seed);
  meta["mmmamba.init"] = seed_init_name(o.init);
  meta["mmmamba.teacher"] = o.teacher_dir;
  ctx.progress("seed", 0.8, "writing " + out);
  save_checkpoint(out, res.config, res.weights, meta, o.teacher_dir);
  write_text_atomic(out + "/seeding_report.json", seed_report_json(res).dump(1) + "\n");
  return res;
}

}  // namespace mm
