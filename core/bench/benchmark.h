// The benchmark job: sweeps context lengths for several models (checkpoints or named architectures
// with random weights) and measures prefill time, decode time per token and peak memory, one row at a
// time (each row is also sent as a BenchEvent the moment it is measured). Torch-free header.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "bench/bench_row.h"
#include "runtime/job.h"

namespace mm {

struct BenchModelSpec {
  std::string label;         ///< row label; defaults to the checkpoint's folder name or "<arch>/<plan>"
  std::string checkpoint;    ///< HF checkpoint directory, or empty
  std::string architecture;  ///< preset name ("micro", "tiny", "demo", "hovle-2.6b") when no checkpoint
  /// "teacher" | "linear" | "hybrid" | any config/layer_plan.h spec. Architecture: applied to the preset,
  /// random weights (models/random_init.h, seed BenchOptions::seed). Checkpoint: empty = as saved; a
  /// plan on a teacher checkpoint seeds that student (seeding/seed_student.h, mimic init).
  std::string plan;
  /// Ops (op_name() spelling) forced to their reference while this model is measured: with the same
  /// model measured again without, a fast path's before/after side by side in one run.
  std::vector<std::string> reference_ops;
  /// Decode eagerly even where BenchOptions::cuda_graph would capture a graph (graph before/after).
  bool eager_decode = false;
};

struct BenchOptions {
  std::vector<BenchModelSpec> models;
  std::vector<int64_t> lengths;  ///< context lengths in tokens; run in ascending order
  /// Sequences per measurement, run ascending at each length: decode rows then give throughput
  /// (batch x tokens per second per sequence). Prompts differ per sequence.
  std::vector<int64_t> batches = {1};
  bool prefill = true;           ///< measure prefill of each length
  bool decode = true;            ///< measure single-token decode steps after a prefill of each length
  int repeats = 3;               ///< timed repeats per measurement
  int warmup = 1;                ///< untimed repeats before them (new buffer sizes fault in on the first run)
  int decode_tokens = 16;        ///< decode steps per repeat; the row reports seconds per token
  int64_t prefill_chunk = 0;  ///< prompt tokens per forward while prefilling (as in chat; 0: the model's default)
  /// Decode through a captured CUDA graph where the model and build allow (generate/decode_graph.h);
  /// rows say whether it did.
  bool cuda_graph = true;
  std::string device = "auto";   ///< "auto" | "cpu" | "cuda[:N]"
  std::string dtype;             ///< "" = the device's default (bf16 on CUDA, f32 on CPU)
  /// Memory bandwidth for the decode floor; 0 = from the known-device table (H100: 3.0e12, measured
  /// copy bandwidth) or unknown (floor_seconds negative).
  double bandwidth_bytes_per_s = 0;
  uint64_t seed = 0;             ///< random weights and prompt ids
  /// After each prefill's timed repeats, one more untimed prefill with op timing on (ops/op_timing.h):
  /// the row's op_times say where its time went.
  bool op_times = false;
  /// Test hook: simulate an out-of-memory when a measurement at this length starts (-1 = off).
  int64_t fail_oom_at_length = -1;
};

/// Runs the sweep: for each model in order, each length ascending, prefill then decode. Every row is
/// sent through ctx (BenchEvent) as soon as measured, with ProgressEvents ("bench", fraction) between.
/// An out-of-memory (c10::OutOfMemoryError, std::bad_alloc, an allocator "out of memory") becomes an
/// oom row and the sweep goes on with the next model; the model's longer lengths are reported as
/// skipped oom rows. Cancellation is checked between measurements (and inside long prefills) and
/// throws Cancelled; rows sent before stay valid. Throws InputError/ConfigError/CheckpointError for
/// bad options, before anything is measured.
std::vector<BenchRow> run_benchmark(const BenchOptions& opts, const JobContext& ctx);

/// The options as run_benchmark will use them: labels filled, lengths sorted and unique, plans
/// checked. Throws InputError/ConfigError with a hint.
BenchOptions resolve_bench_options(const BenchOptions& opts);

/// Describes where a sweep runs: {"device", "device_type", "dtype", "threads", "bandwidth_bytes_per_s",
/// "memory_measure", "torch_version"}.
nlohmann::json bench_environment(const BenchOptions& opts);

/// Everything needed to redraw a saved sweep: environment, date, versions, options and rows.
nlohmann::json bench_json(const std::vector<BenchRow>& rows, const BenchOptions& opts);
/// One line per row: model,length,phase,seconds,stddev,min,repeats,peak_bytes,predicted_bytes,
/// floor_seconds,floor_ratio,tokens_per_s,oom,error,rss_peak_bytes.
std::string bench_csv(const std::vector<BenchRow>& rows);

struct BenchFile {
  std::string device;       ///< as described when measured, e.g. "cuda:0 (NVIDIA H100 80GB HBM3)"
  std::string dtype;
  std::string created_utc;  ///< "2025-01-31T12:00:00Z"
  nlohmann::json meta;      ///< the whole file except "rows"
  std::vector<BenchRow> rows;
};
/// Reads a file written from bench_json. Throws IoError (unreadable) or InputError (not a bench file).
BenchFile read_bench_json(const std::string& path);
BenchFile parse_bench_json(const nlohmann::json& j);

/// Fixed-width table text: a header line, and one line per row.
std::string format_bench_header();
std::string format_bench_row(const BenchRow& r);
/// The row's op_times as indented lines under it ("" when it has none).
std::string format_op_times(const BenchRow& r);

}  // namespace mm
