// Benchmark results as JSON (saved sweeps the UI overlays), CSV and a terminal table.
#include <algorithm>
#include <cstdio>

#include "bench/benchmark.h"
#include "io/checkpoint.h"
#include "ops/op_registry.h"
#include "runtime/errors.h"
#include "runtime/files.h"

namespace mm {
using nlohmann::json;

namespace {

constexpr const char* kFormat = "mmmamba-bench";
constexpr int kVersion = 1;

json row_json(const BenchRow& r) {
  json j = {{"model", r.model},
          {"length", r.length},
          {"batch", r.batch},
          {"phase", r.phase},
          {"seconds", r.seconds},
          {"stddev", r.stddev},
          {"min", r.min},
          {"repeats", r.repeats},
          {"peak_bytes", r.peak_bytes},
          {"rss_peak_bytes", r.rss_peak_bytes},
          {"predicted_bytes", r.predicted_bytes},
          {"floor_seconds", r.floor_seconds},
          {"oom", r.oom},
          {"cuda_graph", r.cuda_graph},
          {"error", r.error}};
  if (!r.op_times.empty()) {
    json ops = json::array();
    for (const OpTime& t : r.op_times) ops.push_back({{"op", t.op}, {"path", t.path}, {"calls", t.calls}, {"seconds", t.seconds}});
    j["op_times"] = ops;
    j["op_times_wall"] = r.op_times_wall;
  }
  return j;
}

BenchRow row_from_json(const json& j) {
  BenchRow r;
  r.model = j.at("model").get<std::string>();
  r.length = j.at("length").get<int64_t>();
  r.batch = j.value("batch", int64_t(1));  // files from before batches were measured
  r.phase = j.at("phase").get<std::string>();
  r.seconds = j.value("seconds", 0.0);
  r.stddev = j.value("stddev", 0.0);
  r.min = j.value("min", 0.0);
  r.repeats = j.value("repeats", 0);
  r.peak_bytes = j.value("peak_bytes", int64_t(-1));
  r.rss_peak_bytes = j.value("rss_peak_bytes", int64_t(-1));
  r.predicted_bytes = j.value("predicted_bytes", int64_t(0));
  r.floor_seconds = j.value("floor_seconds", -1.0);
  r.oom = j.value("oom", false);
  r.cuda_graph = j.value("cuda_graph", false);
  r.error = j.value("error", std::string());
  return r;
}

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

}  // namespace

json bench_json(const std::vector<BenchRow>& rows, const BenchOptions& opts) {
  json models = json::array();
  for (const BenchModelSpec& m : opts.models)
    models.push_back({{"label", m.label}, {"checkpoint", m.checkpoint}, {"architecture", m.architecture}, {"plan", m.plan},
                      {"reference_ops", m.reference_ops}, {"eager_decode", m.eager_decode}});
  json j = {{"format", kFormat},
            {"version", kVersion},
            {"mmmamba_version", MM_VERSION},
            {"created_utc", base_metadata().at("mmmamba.created_utc")},
            {"environment", bench_environment(opts)},
            {"options",
             {{"models", models},
              {"lengths", opts.lengths},
              {"batches", opts.batches},
              {"prefill", opts.prefill},
              {"decode", opts.decode},
              {"repeats", opts.repeats},
              {"warmup", opts.warmup},
              {"decode_tokens", opts.decode_tokens},
              {"prefill_chunk", opts.prefill_chunk},
              {"cuda_graph", opts.cuda_graph},
              {"seed", opts.seed}}}};
  // The path each op took during the sweep (the registry is reset when a sweep starts).
  json paths = json::array();
  for (const OpPathRecord& p : op_path_records())
    if (p.fast_calls + p.reference_calls > 0)
      paths.push_back({{"op", p.op}, {"fast_path", p.fast_path}, {"fast_calls", p.fast_calls},
                       {"reference_calls", p.reference_calls}, {"fallback", p.fallback}});
  j["op_paths"] = paths;
  json out = json::array();
  for (const BenchRow& r : rows) out.push_back(row_json(r));
  j["rows"] = out;
  return j;
}

std::string bench_csv(const std::vector<BenchRow>& rows) {
  std::string out =
      "model,length,phase,seconds,stddev,min,repeats,peak_bytes,predicted_bytes,floor_seconds,floor_ratio,"
      "tokens_per_s,oom,error,rss_peak_bytes,batch\n";
  char buf[256];
  for (const BenchRow& r : rows) {
    std::snprintf(buf, sizeof buf, ",%lld,%s,%.9g,%.9g,%.9g,%d,%lld,%lld,%.9g,%.6g,%.6g,%d,",
                  static_cast<long long>(r.length), r.phase.c_str(), r.seconds, r.stddev, r.min, r.repeats,
                  static_cast<long long>(r.peak_bytes), static_cast<long long>(r.predicted_bytes), r.floor_seconds,
                  r.floor_ratio(), r.tokens_per_second(), r.oom ? 1 : 0);
    out += csv_field(r.model) + buf + csv_field(r.error) + "," + std::to_string(r.rss_peak_bytes) + "," +
           std::to_string(r.batch) + "\n";
  }
  return out;
}

BenchFile parse_bench_json(const json& j) {
  if (!j.is_object() || j.value("format", std::string()) != kFormat)
    throw InputError("not an mmmamba benchmark file (no \"format\": \"mmmamba-bench\")",
                     "write one with: mmmamba bench ... --json FILE");
  if (j.value("version", 0) > kVersion)
    throw InputError("benchmark file version " + std::to_string(j.value("version", 0)) + " is newer than this build reads",
                     "update mmmamba");
  BenchFile f;
  f.meta = j;
  f.meta.erase("rows");
  const json env = j.value("environment", json::object());
  f.device = env.value("device", std::string());
  f.dtype = env.value("dtype", std::string());
  f.created_utc = j.value("created_utc", std::string());
  try {
    for (const json& r : j.value("rows", json::array())) f.rows.push_back(row_from_json(r));
  } catch (const json::exception& e) {
    throw InputError(std::string("a benchmark row is malformed: ") + e.what(), "rewrite the file with mmmamba bench --json");
  }
  return f;
}

BenchFile read_bench_json(const std::string& path) {
  const auto text = read_text(path);
  if (!text) throw IoError("cannot read " + path, "check the path");
  json j;
  try {
    j = json::parse(*text);
  } catch (const json::exception& e) {
    throw InputError(path + " is not valid JSON: " + e.what(), "write it with mmmamba bench --json");
  }
  return parse_bench_json(j);
}

std::string format_bench_header() {
  char buf[200];
  std::snprintf(buf, sizeof buf, "%-24s %8s %5s %-7s %13s %6s %9s %13s %7s %11s %11s %11s\n", "model", "length", "batch",
                "phase", "time", "+-", "tokens/s", "floor", "x floor", "peak mem", "predicted", "peak RSS");
  return buf;
}

std::string format_bench_row(const BenchRow& r) {
  auto mib = [](int64_t b) {
    char s[32];
    if (b < 0) return std::string("-");
    std::snprintf(s, sizeof s, "%.1f MiB", double(b) / (1024.0 * 1024.0));
    return std::string(s);
  };
  auto time = [&](double s) {  // decode rows are per step (one token for each sequence)
    char t[32];
    if (s <= 0) return std::string("-");
    if (r.phase == "decode" && s < 1e-4) std::snprintf(t, sizeof t, "%.2f us/tok", s * 1e6);
    else if (r.phase == "decode") std::snprintf(t, sizeof t, "%.3f ms/tok", s * 1e3);
    else std::snprintf(t, sizeof t, "%.4f s", s);
    return std::string(t);
  };
  char buf[256];
  const std::string name = r.model.size() > 24 ? r.model.substr(0, 24) : r.model;
  if (r.oom) {
    std::snprintf(buf, sizeof buf, "%-24s %8lld %5lld %-7s %s\n", name.c_str(), static_cast<long long>(r.length),
                  static_cast<long long>(r.batch), r.phase.c_str(), r.error.rfind("skipped", 0) == 0 ? "skipped (out of memory earlier)" : "OUT OF MEMORY");
    return buf;
  }
  char ratio[32] = "-", tps[32] = "-", spread[32];
  if (r.floor_ratio() > 0) std::snprintf(ratio, sizeof ratio, "%.2f", r.floor_ratio());
  if (r.tokens_per_second() > 0) std::snprintf(tps, sizeof tps, "%.1f", r.tokens_per_second());
  std::snprintf(spread, sizeof spread, "%.1f%%", r.seconds > 0 ? 100.0 * r.stddev / r.seconds : 0.0);
  std::snprintf(buf, sizeof buf, "%-24s %8lld %5lld %-7s %13s %6s %9s %13s %7s %11s %11s %11s\n", name.c_str(),
                static_cast<long long>(r.length), static_cast<long long>(r.batch), r.phase.c_str(), time(r.seconds).c_str(), spread, tps,
                time(r.floor_seconds).c_str(), ratio, mib(r.peak_bytes).c_str(), mib(r.predicted_bytes).c_str(),
                mib(r.rss_peak_bytes).c_str());
  return buf;
}

}  // namespace mm

namespace mm {

std::string format_op_times(const BenchRow& r) {
  if (r.op_times.empty()) return "";
  double covered = 0;
  for (const OpTime& t : r.op_times) covered += t.seconds;
  const double wall = r.op_times_wall;
  char buf[200];
  std::snprintf(buf, sizeof buf, "    where the time goes (one more prefill, waits around each op: %.4f s)\n", wall);
  std::string out = buf;
  const auto line = [&](const std::string& what, int64_t calls, double s) {
    std::snprintf(buf, sizeof buf, "      %-40s %7lld calls %10.4f s %5.1f%%\n", what.c_str(), static_cast<long long>(calls), s,
                  wall > 0 ? 100.0 * s / wall : 0.0);
    out += buf;
  };
  for (const OpTime& t : r.op_times) line(t.op + " (" + t.path + ")", t.calls, t.seconds);
  line("outside the ops", 0, std::max(0.0, wall - covered));
  return out;
}

}  // namespace mm
