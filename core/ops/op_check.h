// The op harness: every op's dispatch (fast path where one applies) against its reference over a
// table of cases named after real shapes (HoVLE-2.6B layer: 16 heads, 8 kv heads, head dim 128).
// Used by `mmmamba selftest` (small table, or --full), by tests/core/test_ops.cpp on CPU, and on the
// device. Each case runs the dispatch on inputs in its dtype and compares with the reference run in
// fp32 on the same (rounded) inputs; the budget is max(2 x the reference's own error in that dtype,
// a per-dtype floor), so a fast path may be as inexact as the reference is, not more.
#pragma once

#include <ATen/ATen.h>

#include <string>
#include <vector>

namespace mm {

struct OpCheckResult {
  std::string op;     ///< op_name() of the op
  std::string label;  ///< the case: shape and dtype, e.g. "decode T=4096 B=3 g=2 bf16"
  std::string path;   ///< the path the dispatch took ("reference", "cuda", ...)
  std::string worst;  ///< the output with the largest diff relative to its budget
  double max_diff = 0, mean_diff = 0;  ///< of the dispatch against the fp32 reference, on `worst`
  double baseline = 0;                 ///< max diff of the reference in this dtype against fp32
  double budget = 0;                   ///< allowed max diff
  bool passed = false;
  bool skipped = false;
  std::string note;  ///< why skipped
};

/// Runs the case table on device. full = every case (lengths 1, 127, 128, 129, 4K; batch 1 and 3;
/// GQA groups 1 and 2; non-contiguous inputs; bf16 and fp32); otherwise a small input per op. On a
/// CPU device the cases that exist to exercise CUDA fast paths are reported as skipped, saying so.
/// only_op: just that op's cases (op_name() spelling; "" = every op, and the decode-graph check).
std::vector<OpCheckResult> run_op_checks(const c10::Device& device, bool full, const std::string& only_op = "");
/// A table: one line per case with path, max/mean diff, budget and the verdict.
std::string format_op_checks(const std::vector<OpCheckResult>& results);

/// The comparison itself, exposed for tests: |got - want| over all elements (both cast to fp32);
/// a non-finite diff or a shape mismatch gives max_diff = infinity.
struct DiffStats {
  double max_diff = 0, mean_diff = 0;
};
DiffStats diff_stats(const at::Tensor& got, const at::Tensor& want);
/// The budget for a dispatch result whose reference in the same dtype is off by baseline_max from
/// the fp32 reference whose largest magnitude is ref_absmax.
double diff_budget(at::ScalarType dtype, double baseline_max, double ref_absmax);

}  // namespace mm

namespace mm {
/// The captured CUDA-graph decode against eager decode for a small model of plan's kind ("teacher",
/// "linear", "hybrid") on a static cache; skipped off CUDA. Part of run_op_checks' full table.
OpCheckResult check_decode_graph(const c10::Device& dev, const std::string& plan);
/// generate() with its decode on a CUDA graph against generate() eager (SamplingOptions::decode_graph
/// false): the same tokens over two turns on one cache, a sampled turn and, for the teacher, a reply that
/// outgrows its first KV reservation; skipped off CUDA.
OpCheckResult check_generate_graph(const c10::Device& dev, const std::string& plan);

/// The studio's self-test: run_op_checks' small table (or one op's cases) on device, leaving the op path
/// records as they were (what the status bar reports stays about the user's own work), then every op
/// whose fast path failed its check sent to the reference for the rest of the process
/// (set_reference_forced). Checks that are not one op's (the decode-graph ones) are reported only.
struct SelfTestReport {
  std::string device;                  ///< describe_op_device(device)
  std::vector<OpCheckResult> results;
  std::vector<std::string> turned_off;  ///< ops now forced to their reference, op_name() spelling
  int passed = 0, failed = 0, skipped = 0;
};
SelfTestReport run_self_test(const c10::Device& device, const std::string& only_op = "");
/// Sends each op with a failed fast-path result to its reference (set_reference_forced); returns those
/// ops. Results on the reference path, skipped ones and checks that are not one op's are left alone.
std::vector<std::string> turn_off_failed_fast_paths(const std::vector<OpCheckResult>& results);

/// "cuda:0 (NVIDIA H200): CUDA kernels built, SDPA flash built" - where the ops run and what fast paths exist.
std::string describe_op_device(const c10::Device& device);
}  // namespace mm
