// Which path each op actually ran: every dispatch point in ops/ records its choice here, so the
// CLI (`mmmamba info --device`, `mmmamba selftest`), the bench JSON and the studio's status bar
// report what ran, not what was hoped for. Torch-free header.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace mm {

enum class Op {
  rms_norm,
  rope,
  attention_prefill,
  attention_decode,
  ssd_scan,
  ssd_state_update,
  conv1d,
  conv1d_update,
  gated_rmsnorm,
  mamba2_decode_step,
  norm_linear,
  norm_swiglu,
  linear_residual,
  rope_kv_append,
  mamba2_layers_decode,
  count_
};

const char* op_name(Op op);
/// What the op's fast path supports, in words ("none built" when this build has none).
const char* op_fast_path_support(Op op);

/// Records one call. path: "reference" or the fast path's name; why: the reason a call that could not
/// take the fast path fell back (nullptr when none). Both must be string literals (they are kept).
void record_op_path(Op op, const char* path, const char* why = nullptr);

struct OpPathRecord {
  std::string op;
  int64_t fast_calls = 0, reference_calls = 0;
  std::string fast_path;  ///< the last fast path taken ("" if none)
  std::string fallback;   ///< the last reason for falling back ("" if none)
};
/// One record per op, in enum order (ops never called have zero counts).
std::vector<OpPathRecord> op_path_records();
/// Short status text from the records: "ops: attention_decode cuda 100% · ssd_scan reference · ...",
/// only ops called since the last reset; "ops: nothing run yet" before any call.
std::string op_path_status();
/// A table: one line per op with its fast path, what it supports, calls per path and the last fallback.
std::string op_path_report();
void reset_op_paths();

/// The records as they stand, to put back after calls that should leave no trace (a self-test run
/// while the studio reports what its models ran).
struct OpPathSnapshot {
  struct Entry {
    int64_t fast = 0, ref = 0;
    const char* fast_path = nullptr;
    const char* fallback = nullptr;
  };
  std::vector<Entry> entries;
};
OpPathSnapshot snapshot_op_paths();
void restore_op_paths(const OpPathSnapshot& snapshot);

/// Sends every call of op to its reference while forced (a benchmark's before/after in one run, or a
/// suspect fast path); calls record the fallback "forced to the reference". Process-wide.
void set_reference_forced(Op op, bool forced);
bool reference_forced(Op op);
/// The op named name (as op_name() spells it); false when there is none.
bool op_from_name(const std::string& name, Op& op);

/// Whether this build carries the CUDA kernels (kernels/) and the SDPA flash backend (LibTorch >= 2 with CUDA).
bool cuda_kernels_built();
bool sdpa_flash_built();

}  // namespace mm
