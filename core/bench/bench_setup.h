// Internal to the benchmark: where it runs, and the models it builds from BenchModelSpecs.
#pragma once

#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>

#include <memory>
#include <string>

#include "bench/benchmark.h"
#include "config/model_config.h"
#include "models/vlm_model.h"

namespace mm {

struct BenchEnv {
  c10::Device device = c10::Device(c10::kCPU);
  c10::ScalarType dtype = c10::kFloat;
  double bandwidth = -1;    ///< bytes/s for the decode floor; negative = unknown
  std::string device_text;  ///< "cpu (2 threads)", "cuda:0 (NVIDIA H100 80GB HBM3)"
};
BenchEnv resolve_bench_env(const BenchOptions& o);

/// The config a spec runs (plan applied); reads only config.json for checkpoints.
ModelConfig bench_model_config(const BenchModelSpec& spec);
/// The spec's model on device in dtype, fused for inference.
std::unique_ptr<VlmModel> build_bench_model(const BenchModelSpec& spec, uint64_t seed, const c10::Device& device,
                                            c10::ScalarType dtype);
/// Weight bytes one decode step must read: every layer, the final norm and the output head (not the
/// token table, of which one row is read, nor the vision tower). TARGETS.md's 4.41 GB for HoVLE-2.6B.
int64_t decode_weight_bytes(const ModelConfig& cfg, int64_t elem_size);

}  // namespace mm
