// mmmamba bench: prefill and decode speed and peak memory over context lengths for checkpoints or
// random-weight architectures, one table row per measurement as it arrives.
#include <cstdio>
#include <sstream>

#include "bench/benchmark.h"
#include "cli/common.h"
#include "ops/op_registry.h"
#include "runtime/files.h"

namespace mm::cli {
namespace {

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream ss(text);
  std::string part;
  while (std::getline(ss, part, ','))
    if (!part.empty()) out.push_back(part);
  return out;
}

/// "128,1k,4K" -> {128, 1024, 4096}; `flag` names the option in errors.
std::vector<int64_t> parse_sizes(const std::string& text, const std::string& flag, const std::string& example) {
  std::vector<int64_t> out;
  for (std::string p : split_list(text)) {
    int64_t scale = 1;
    if (p.back() == 'k' || p.back() == 'K') scale = 1024, p.pop_back();
    else if (p.back() == 'm' || p.back() == 'M') scale = 1024 * 1024, p.pop_back();
    try {
      size_t used = 0;
      const long long v = std::stoll(p, &used);
      if (used != p.size() || v < 1) throw std::invalid_argument(p);
      out.push_back(int64_t(v) * scale);
    } catch (const std::exception&) {
      throw InputError("--" + flag + ": '" + p + "' is not a positive number", "give " + flag + " as " + example);
    }
  }
  if (out.empty()) throw InputError("--" + flag + " is empty", "give " + flag + " as " + example);
  return out;
}

void write_outputs(const std::vector<BenchRow>& rows, const BenchOptions& o, const Args& args) {
  if (args.has("json")) write_text_atomic(args.get("json"), bench_json(rows, o).dump(2) + "\n");
  if (args.has("csv")) write_text_atomic(args.get("csv"), bench_csv(rows));
  for (const char* k : {"json", "csv"})
    if (args.has(k)) std::printf("wrote %s (%zu rows)\n", args.get(k).c_str(), rows.size());
}

}  // namespace

int cmd_bench(const std::vector<std::string>& argv) {
  Args args("bench", "[CHECKPOINT...] [--arch NAME [--plans teacher,linear,hybrid]] [--lengths 128,256,512]",
            "Measures prefill time, decode time per token (single-token steps after a prefill of each length)\n"
            "and peak memory, for each model, context length and batch, with random prompt ids. Decode rows\n"
            "give tokens/s over the batch and the bandwidth floor (layer + head weights once plus every\n"
            "sequence's cache, read once per step) and the ratio to it when the\n"
            "bandwidth is known (H100, or --bandwidth). Peak memory: CUDA allocator peak on GPU, process peak\n"
            "RSS on CPU. A model that runs out of memory is reported and the sweep goes on with the next one.\n"
            "--arch benchmarks random weights of a named architecture under each of --plans.",
            {{"arch", "NAME", "micro, tiny, demo or hovle-2.6b (random weights)", "", true},
             {"plans", "LIST", "plans for --arch (and, when given, for teacher checkpoints)", "teacher,linear,hybrid"},
             {"label", "NAME", "a label per positional checkpoint, in order", "", true},
             {"lengths", "LIST", "context lengths in tokens (k = x1024, m = x1048576)", "128,256,512"},
             {"batch", "LIST", "sequences decoded together at each length, for throughput (e.g. 1,8,64)", "1"},
             {"mode", "MODE", "prefill, decode or both", "both"},
             {"repeats", "N", "timed repeats per measurement", "3"},
             {"warmup", "N", "untimed repeats before the timed ones", "1"},
             {"tokens", "N", "decode steps per repeat", "16"},
             {"chunk", "N", "prefill chunk in tokens; 0 = each model's: 4096 on CUDA or without attention layers, else 2048", "0"},
             {"graph", "on|off|both", "decode through a captured CUDA graph where the model allows; both = each model eager, then graphed", "on"},
             {"op-times", "", "after each prefill, one more with every op timed (waits around each op): where the time goes"},
             {"reference-ops", "LIST", "each model measured first with these ops on their reference, then as built (e.g. ssd_scan)", ""},
             {"device", "DEV", "auto, cpu, cuda[:N]", "auto"},
             {"dtype", "DTYPE", "f32, bf16, f16 or auto (bf16 on CUDA, f32 on CPU)", "auto"},
             {"bandwidth", "B/S", "memory bandwidth in bytes/s for the floor (0 = known devices only)", "0"},
             {"seed", "N", "seed of random weights and prompts", "0"},
             {"json", "FILE", "write the results as JSON (device, date, versions, options, rows)"},
             {"csv", "FILE", "write the results as CSV"}});
  if (parse_or_help(args, argv)) return 0;
  BenchOptions o;
  const auto labels = args.all("label");
  if (!labels.empty() && labels.size() != args.positionals().size()) throw InputError("give one --label per checkpoint");
  check_result_files(args, args.positionals());
  const auto plans = split_list(args.get("plans"));
  if (plans.empty()) throw InputError("--plans is empty", "e.g. --plans teacher,linear,hybrid");
  for (size_t i = 0; i < args.positionals().size(); ++i) {
    for (const std::string& plan : args.has("plans") ? plans : std::vector<std::string>{""}) {
      BenchModelSpec s;
      s.checkpoint = args.positionals()[i];
      s.plan = plan;
      if (!labels.empty()) s.label = plan.empty() ? labels[i] : labels[i] + "/" + plan;
      o.models.push_back(s);
    }
  }
  for (const std::string& arch : args.all("arch"))
    for (const std::string& plan : plans) o.models.push_back({"", "", arch, plan});
  o.lengths = parse_sizes(args.get("lengths"), "lengths", "128,256,4k");
  o.batches = parse_sizes(args.get("batch"), "batch", "1,8,64");
  const std::string mode = args.get("mode");
  if (mode != "prefill" && mode != "decode" && mode != "both")
    throw InputError("--mode must be prefill, decode or both, not '" + mode + "'");
  o.prefill = mode != "decode";
  o.decode = mode != "prefill";
  o.repeats = int(args.get_int("repeats"));
  o.warmup = int(args.get_int("warmup"));
  o.decode_tokens = int(args.get_int("tokens"));
  o.prefill_chunk = args.get_int("chunk");
  const std::string graph = args.get("graph");
  if (graph != "on" && graph != "off" && graph != "both") throw InputError("--graph must be on, off or both");
  o.cuda_graph = graph != "off";
  // Before/after pairs, side by side in one run: each model first with the listed ops on the reference
  // (or decoding eagerly), then as built.
  const auto ref_ops = split_list(args.get("reference-ops"));
  if (!ref_ops.empty() || graph == "both") {
    std::vector<BenchModelSpec> paired;
    for (const BenchModelSpec& m : o.models) {
      BenchModelSpec before = m;
      before.reference_ops = ref_ops;
      before.eager_decode = graph == "both";
      if (!m.label.empty())
        before.label = m.label + (ref_ops.empty() ? "" : " ref:" + args.get("reference-ops")) + (before.eager_decode ? " eager" : "");
      paired.push_back(before);
      paired.push_back(m);
    }
    o.models = paired;
  }
  o.device = args.get("device");
  o.dtype = args.get("dtype");
  o.bandwidth_bytes_per_s = args.get_double("bandwidth");
  o.seed = uint64_t(args.get_int("seed"));
  o.op_times = args.has("op-times");
  o = resolve_bench_options(o);  // labels, sorted lengths; bad input fails here, before any model is built

  std::vector<BenchRow> rows;
  const auto on_event = [&](const Event& e) {
    if (auto* b = std::get_if<BenchEvent>(&e)) {
      if (rows.empty()) std::printf("%s", format_bench_header().c_str());
      rows.push_back(b->row);
      std::printf("%s", format_bench_row(b->row).c_str());
      if (!b->row.op_times.empty()) std::printf("%s", format_op_times(b->row).c_str());
      std::fflush(stdout);
      return true;
    }
    auto* p = std::get_if<ProgressEvent>(&e);
    if (p && p->stage == "bench" && p->fraction == 0) std::fprintf(stderr, "bench on %s\n", p->message.c_str());
    return p && p->stage == "bench";  // the table is the progress
  };
  try {
    run_on_engine<std::vector<BenchRow>>([&](JobContext& ctx) { return run_benchmark(o, ctx); }, {}, on_event);
  } catch (...) {
    // Cancelled, or a later model failed with something other than an out-of-memory: keep what was measured.
    if (!rows.empty()) write_outputs(rows, o, args);
    throw;
  }
  write_outputs(rows, o, args);
  std::fprintf(stderr, "%s\n", op_path_status().c_str());  // stdout is the table
  return 0;
}

}  // namespace mm::cli
