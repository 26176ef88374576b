// Seeding Mamba-2 layers from a teacher's attention (METHOD.md §3), with a report of where every
// student tensor came from.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "config/layer_plan.h"
#include "models/layer_weights.h"

namespace mm {

/// mimic: inherit W_Q/K/V/O + mimic init of the new parameters (the paper's recipe);
/// inherit: inherit W_Q/K/V/O, default Mamba-2 init of the rest; scratch: nothing inherited but W_O.
enum class SeedInit { mimic, inherit, scratch };
SeedInit parse_seed_init(const std::string& s);
const char* seed_init_name(SeedInit i);

struct SeedEntry {
  std::string tensor;  ///< student tensor (internal layout)
  std::string origin;  ///< "copied" (unchanged teacher tensor), "inherited" (slice/rename), "initialised"
  std::string detail;  ///< the teacher tensor and slice, or how it was initialised
};

struct SeedResult {
  ModelConfig config;  ///< the teacher config with the plan's layer kinds
  TensorMap weights;   ///< internal layout
  std::vector<SeedEntry> report;
};

/// teacher: internal-layout tensors of an all-attention model. Deterministic from seed.
SeedResult seed_student(const ModelConfig& teacher_cfg, const TensorMap& teacher, const LayerPlan& plan,
                        uint64_t seed, SeedInit init = SeedInit::mimic);

nlohmann::json seed_report_json(const SeedResult& r);
/// One line per Mamba-2 layer tensor kind plus totals, readable in a terminal.
std::string format_seed_report(const SeedResult& r);

}  // namespace mm
