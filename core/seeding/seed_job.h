// Seeding as one job: load a teacher checkpoint, seed a student with a plan, write it (with the
// teacher's tokenizer, provenance and seeding_report.json) as a checkpoint directory.
#pragma once

#include <cstdint>
#include <string>

#include "config/layer_plan.h"
#include "runtime/job.h"
#include "seeding/seed_student.h"

namespace mm {

struct SeedJobOptions {
  std::string teacher_dir;
  std::string out_dir;
  LayerPlan plan;
  uint64_t seed = 0;
  SeedInit init = SeedInit::mimic;
};

/// Returns the seeding result (its weights included); progress and cancellation through ctx.
SeedResult seed_to_directory(const SeedJobOptions& opts, const JobContext& ctx);

}  // namespace mm
