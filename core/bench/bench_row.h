// One measured point of a benchmark sweep: a model, a context length, a phase. Torch-free, so the UI
// can include it (it travels inside the job API's BenchEvent).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ops/op_timing.h"

namespace mm {

struct BenchRow {
  std::string model;      ///< the model's label
  int64_t length = 0;     ///< context length in tokens (prompt tokens prefilled before the phase)
  int64_t batch = 1;      ///< sequences prefilled and decoded together (each of `length` tokens)
  std::string phase;      ///< "prefill" | "decode"
  /// Mean over repeats: prefill = seconds for the whole prompt; decode = seconds per generated token.
  double seconds = 0;
  double stddev = 0;      ///< sample standard deviation over repeats (0 for one repeat)
  double min = 0;         ///< fastest repeat, same unit as seconds
  int repeats = 0;        ///< repeats measured (0 for an oom row)
  /// Peak memory of this model during the phase, weights included: CUDA = the caching allocator's peak
  /// allocated bytes, CPU = the peak bytes of live tensors (bench/peak_memory.h), both less what was
  /// allocated before the model was built. -1 = unavailable.
  int64_t peak_bytes = -1;
  /// CPU only: the whole process's peak resident set during the phase (VmHWM); -1 elsewhere.
  int64_t rss_peak_bytes = -1;
  /// Weights + the batch's cache at this length, from the plan (config/plan_stats.h) at the run's dtype.
  int64_t predicted_bytes = 0;
  /// Decode only: bytes one step must read (layer + head weights once, plus every sequence's cache at
  /// this length) divided by the memory bandwidth; negative when the bandwidth is unknown or for prefill rows.
  double floor_seconds = -1;
  /// Out of memory at this point. Lengths after the first OOM of a model are not run; they are
  /// reported as oom rows too, with error "skipped: ...", so every (model, length, phase) has a row.
  bool oom = false;
  /// Decode only: the steps were replays of one captured CUDA graph (generate/decode_graph.h).
  bool cuda_graph = false;
  std::string error;      ///< why the row has no measurement (empty when measured)
  /// Prefill with BenchOptions::op_times: each op's wall time in one extra, untimed prefill that waits
  /// for the device around every op, and that prefill's whole wall time (what no op covers is the rest).
  std::vector<OpTime> op_times;
  double op_times_wall = 0;

  /// seconds / floor_seconds, or negative when either is unknown.
  double floor_ratio() const { return floor_seconds > 0 && seconds > 0 && !oom ? seconds / floor_seconds : -1.0; }
  /// Decode tokens per second over the batch (batch / seconds per step), 0 when not measured.
  double tokens_per_second() const { return phase == "decode" && seconds > 0 && !oom ? double(batch) / seconds : 0.0; }
};

}  // namespace mm
