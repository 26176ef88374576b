// Where a prefill's time goes, op by op (`mmmamba bench --op-times`): while on, each outermost op call
// waits for the device before and after itself and adds its wall time to (op, path). An op called
// inside another (the rms_norm inside norm_linear's reference) counts toward the outer one. The waits
// slow the run and cannot be captured in a CUDA graph: turn it on for an untimed eager pass only (calls
// made while a CUDA stream is capturing are not timed). Torch-free header.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ops/op_registry.h"

namespace mm {

void set_op_timing(bool on);
bool op_timing_enabled();

struct OpTime {
  std::string op, path;  ///< op_name(), and "reference" or the fast path's name
  int64_t calls = 0;
  double seconds = 0;
};
/// Accumulated since the last reset, the slowest first.
std::vector<OpTime> op_times();
void reset_op_times();

/// Times one op call when timing is on and the call is the outermost one on this thread.
class OpTimer {
 public:
  OpTimer(Op op, const char* path, bool on_cuda);
  ~OpTimer();
  OpTimer(const OpTimer&) = delete;
  OpTimer& operator=(const OpTimer&) = delete;

 private:
  Op op_;
  const char* path_;
  bool on_cuda_;
  bool counted_ = false;  ///< this call raised the thread's nesting depth
  bool active_ = false;   ///< this call is being timed
  int64_t start_ns_ = 0;
};

}  // namespace mm
