// The benchmark job: one row per (model, length, phase) in sweep order, each sent as an event as it is
// measured; an out-of-memory becomes an oom row and the sweep goes on; cancellation; the JSON round trip.
// Structure only: timings are real but never asserted beyond being positive.
#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>

#include <ATen/ATen.h>
#include <c10/core/CPUAllocator.h>

#include "bench/benchmark.h"
#include "bench/peak_memory.h"
#include "test_support.h"

// Qt after ATen: Qt's `slots` macro breaks ATen headers.
#include <QTemporaryDir>
#include <QtTest>

using namespace mm;

namespace {

BenchOptions micro_options() {
  BenchOptions o;
  o.models = {{"", "", "micro", "teacher"}, {"", "", "micro", "linear"}};
  o.lengths = {16, 8, 32};  // run ascending
  o.repeats = 1;
  o.decode_tokens = 2;
  o.device = "cpu";
  return o;
}

struct Recorder {
  std::vector<BenchRow> rows;
  std::vector<double> fractions;
  std::vector<std::string> order;  ///< "row" / "progress" in arrival order
  JobContext ctx;
  Recorder() {
    ctx.sink = [this](const Event& e) {
      if (auto* b = std::get_if<BenchEvent>(&e)) rows.push_back(b->row), order.push_back("row");
      if (auto* p = std::get_if<ProgressEvent>(&e); p && p->stage == "bench")
        fractions.push_back(p->fraction), order.push_back("progress");
    };
  }
};

}  // namespace

class TestBench : public QObject {
  Q_OBJECT
  QTemporaryDir dir_;

 private slots:
  void cpuMemoryCounterCountsAndServesRawAllocations() {
    // Installed by the first sweep; the studio's chat runs after it in the same process, and its image
    // embedding's convolution (oneDNN) allocates raw buffers: it failed an internal assert before.
    install_cpu_memory_counter();
    const int64_t before = cpu_tensor_bytes();
    {
      const at::Tensor t = at::empty({1000}, at::kFloat);
      QCOMPARE(cpu_tensor_bytes() - before, int64_t(4000));
      QCOMPARE(reinterpret_cast<uintptr_t>(t.data_ptr()) % 64, uintptr_t(0));
    }
    QCOMPARE(cpu_tensor_bytes(), before);
    c10::Allocator* a = c10::GetCPUAllocator();
    void* raw = a->raw_allocate(256);
    QVERIFY(raw);
    QCOMPARE(cpu_tensor_bytes() - before, int64_t(256));
    a->raw_deallocate(raw);
    QCOMPARE(cpu_tensor_bytes(), before);
    at::manual_seed(3);
    const at::Tensor img = at::randn({2, 3, 56, 56}), w = at::randn({16, 3, 14, 14});
    const at::Tensor y = at::conv2d(img, w, {}, {14, 14});  // (2, 16, 4, 4), through oneDNN where built
    QCOMPARE(y.sizes(), at::IntArrayRef({2, 16, 4, 4}));
    QVERIFY(at::allclose(y, at::conv2d(img.to(at::kDouble), w.to(at::kDouble), {}, {14, 14}).to(at::kFloat), 1e-4, 1e-4));
  }

  void rowsArriveInSweepOrder() {
    BenchOptions o = micro_options();
    o.bandwidth_bytes_per_s = 1e10;
    Recorder rec;
    const std::vector<BenchRow> rows = run_benchmark(o, rec.ctx);
    QCOMPARE(rows.size(), size_t(2 * 3 * 2));
    QCOMPARE(rec.rows.size(), rows.size());
    size_t i = 0;
    for (const char* model : {"micro/teacher", "micro/linear"})
      for (int64_t L : {8, 16, 32})
        for (const char* phase : {"prefill", "decode"}) {
          const BenchRow& r = rows[i];
          QCOMPARE(r.model, std::string(model));
          QCOMPARE(r.length, L);
          QCOMPARE(r.phase, std::string(phase));
          QCOMPARE(rec.rows[i].phase, r.phase);  // the event carries the same row, in the same order
          QVERIFY(!r.oom && r.error.empty());
          QCOMPARE(r.repeats, 1);
          QVERIFY(r.seconds > 0 && r.min > 0 && r.stddev == 0);
          QVERIFY(r.predicted_bytes > 0);
          // The model's tensors (weights, cache, activations), not the process: at least the predicted
          // weights + cache, and not far above it for these small lengths.
          QVERIFY2(r.peak_bytes >= r.predicted_bytes && r.peak_bytes < 3 * r.predicted_bytes,
                   qPrintable(QString("%1 %2 %3: peak %4, predicted %5").arg(model).arg(L).arg(phase)
                                  .arg(r.peak_bytes).arg(r.predicted_bytes)));
          QVERIFY(r.rss_peak_bytes != 0);  // the process peak RSS beside it, or -1 where /proc cannot reset it
          QCOMPARE(r.floor_seconds > 0, r.phase == "decode");  // the floor is a decode figure
          ++i;
        }
    // Teacher: the KV cache grows with L; linear: constant state, so a flat prediction and floor.
    QVERIFY(rows[2].predicted_bytes > rows[0].predicted_bytes && rows[5].floor_seconds > rows[1].floor_seconds);
    QCOMPARE(rows[8].predicted_bytes, rows[6].predicted_bytes);
    QCOMPARE(rows[11].floor_seconds, rows[7].floor_seconds);
    // Progress: starts at 0, never goes back, ends at 1; every row is followed by its progress event.
    QVERIFY(rec.fractions.size() == rows.size() + 1 && rec.fractions.front() == 0.0 && rec.fractions.back() == 1.0);
    QVERIFY(std::is_sorted(rec.fractions.begin(), rec.fractions.end()));
    for (size_t k = 1; k < rec.order.size(); k += 2) QCOMPARE(rec.order[k], std::string("row"));
  }

  void opTimesSayWhereThePrefillWent() {
    BenchOptions o = micro_options();
    o.models = {{"", "", "micro", "hybrid"}};
    o.lengths = {32};
    o.prefill_chunk = 16;  // two chunks
    o.op_times = true;
    Recorder rec;
    const std::vector<BenchRow> rows = run_benchmark(resolve_bench_options(o), rec.ctx);
    QCOMPARE(rows.size(), size_t(2));
    const BenchRow& p = rows[0];
    QVERIFY(p.phase == "prefill" && p.op_times_wall > 0);
    QVERIFY(rows[1].op_times.empty());  // decode rows are not op-timed
    double sum = 0;
    std::map<std::string, int64_t> calls;
    for (const OpTime& t : p.op_times) {
      QVERIFY2(t.seconds >= 0 && t.calls > 0, t.op.c_str());
      QCOMPARE(t.path, std::string("reference"));  // the CPU build
      sum += t.seconds, calls[t.op] += t.calls;
    }
    QVERIFY(sum <= p.op_times_wall);
    // Sorted slowest first; each outermost op counted once per call, nested ones not at all: the
    // micro hybrid has attention and Mamba-2 layers, every layer two linear_residual calls per chunk,
    // and the rms_norm inside norm_linear's and norm_swiglu's references is theirs.
    QVERIFY(std::is_sorted(p.op_times.begin(), p.op_times.end(),
                           [](const OpTime& a, const OpTime& b) { return a.seconds > b.seconds; }));
    const int64_t layers = calls["norm_swiglu"] / 2;
    QVERIFY(layers > 0 && calls["norm_swiglu"] == 2 * layers);
    QCOMPARE(calls["linear_residual"], 4 * layers);
    QVERIFY(calls["ssd_scan"] > 0 && calls["attention_prefill"] > 0 && calls["conv1d"] == calls["ssd_scan"]);
    QVERIFY(calls["norm_linear"] >= 2 * layers && calls["rms_norm"] < calls["norm_linear"]);  // not one per nested call
    QVERIFY(!op_timing_enabled());  // off again after the pass
    const std::string text = format_op_times(p);
    QVERIFY(text.find("norm_swiglu (reference)") != std::string::npos && text.find("outside the ops") != std::string::npos);
    QVERIFY(bench_json(rows, o).dump().find("\"op_times\"") != std::string::npos);
  }

  void batchesGiveThroughputRowsAtEachLength() {
    BenchOptions o = micro_options();
    o.lengths = {16};
    o.batches = {4, 1, 4};  // sorted and unique: 1 then 4
    o.bandwidth_bytes_per_s = 1e10;
    Recorder rec;
    const std::vector<BenchRow> rows = run_benchmark(resolve_bench_options(o), rec.ctx);
    QCOMPARE(rows.size(), size_t(2 * 1 * 2 * 2));
    size_t i = 0;
    for (const char* model : {"micro/teacher", "micro/linear"})
      for (int64_t B : {1, 4})
        for (const char* phase : {"prefill", "decode"}) {
          const BenchRow& r = rows[i++];
          QVERIFY(r.model == model && r.batch == B && r.phase == phase && !r.oom);
          if (r.phase == "decode") QVERIFY(std::abs(r.tokens_per_second() - double(B) / r.seconds) < 1e-9);
        }
    // Four sequences: four caches in the prediction and in what a step must read (the teacher's KV
    // grows with the batch; the weights are read once whatever the batch).
    const BenchRow &t1 = rows[1], &t4 = rows[3];
    QVERIFY(t4.predicted_bytes > t1.predicted_bytes && t4.floor_seconds > t1.floor_seconds);
    QVERIFY(t4.floor_seconds < 4 * t1.floor_seconds);
    // Bad batch sizes fail before anything is measured.
    for (int64_t bad : {int64_t(0), int64_t(5000)}) {
      o.batches = {bad};
      QVERIFY_THROWS_EXCEPTION(InputError, resolve_bench_options(o));
    }
    o.batches = {};
    QVERIFY_THROWS_EXCEPTION(InputError, resolve_bench_options(o));
  }

  void anOutOfMemorySkipsLargerBatchesAndLongerLengths() {
    BenchOptions o = micro_options();
    o.models.resize(1);
    o.lengths = {8, 16, 32};
    o.batches = {1, 2};
    o.fail_oom_at_length = 16;
    Recorder rec;
    const std::vector<BenchRow> rows = run_benchmark(resolve_bench_options(o), rec.ctx);
    QCOMPARE(rows.size(), size_t(3 * 2 * 2));
    for (const BenchRow& r : rows) {
      QCOMPARE(r.oom, r.length >= 16);
      if (r.length == 16 && r.batch == 1 && r.phase == "prefill") QVERIFY(r.error.find("simulated") != std::string::npos);
      else if (r.oom) QVERIFY2(r.error.rfind("skipped: out of memory at 16 tokens", 0) == 0, r.error.c_str());
    }
  }

  void lengthsPastTheTrainedPositionsAreMeasured() {
    // Random weights measure speed only: a teacher prompt longer than max_position_embeddings (4096 in
    // every preset's HE stack) is prefilled and decoded, not refused as a chat prompt would be.
    BenchOptions o;
    o.models = {{"", "", "micro", "teacher"}};
    o.lengths = {4100};
    o.repeats = 1;
    o.warmup = 0;
    o.decode_tokens = 1;
    o.device = "cpu";
    Recorder rec;
    const std::vector<BenchRow> rows = run_benchmark(o, rec.ctx);
    QCOMPARE(rows.size(), size_t(2));
    for (const BenchRow& r : rows) QVERIFY2(!r.oom && r.error.empty() && r.seconds > 0, r.error.c_str());
  }

  void outOfMemoryBecomesRowsAndTheSweepGoesOn() {
    BenchOptions o = micro_options();
    o.fail_oom_at_length = 16;
    Recorder rec;
    const std::vector<BenchRow> rows = run_benchmark(o, rec.ctx);
    QCOMPARE(rows.size(), size_t(12));  // skipped points are reported too
    for (size_t m = 0; m < 2; ++m) {    // both models: 8 measured, 16 out of memory, 32 skipped
      const BenchRow* r = &rows[m * 6];
      QVERIFY(!r[0].oom && !r[1].oom && r[1].seconds > 0);
      QVERIFY(r[2].oom && r[2].length == 16 && r[2].phase == "prefill");
      QVERIFY2(r[2].error.find("out of memory") != std::string::npos, r[2].error.c_str());
      for (int k = 3; k < 6; ++k) QVERIFY(r[k].oom && r[k].error.rfind("skipped", 0) == 0 && r[k].repeats == 0);
    }
    QCOMPARE(rows[6].model, std::string("micro/linear"));  // the next model ran after the first one's OOM
  }

  void cancellationStopsTheSweep() {
    Recorder rec;
    const auto record = rec.ctx.sink;
    rec.ctx.sink = [&](const Event& e) {
      record(e);
      if (rec.rows.size() == 3) rec.ctx.cancel.cancel();
    };
    bool cancelled = false;
    try {
      run_benchmark(micro_options(), rec.ctx);
    } catch (const Cancelled&) {
      cancelled = true;
    }
    QVERIFY(cancelled);
    QCOMPARE(rec.rows.size(), size_t(3));
  }

  void badOptionsFailBeforeMeasuring() {
    Recorder rec;
    auto expect_error = [&](BenchOptions o, ErrorKind kind) {
      try {
        run_benchmark(o, rec.ctx);
        QFAIL("no error");
      } catch (const Error& e) {
        QCOMPARE(int(e.kind()), int(kind));
      }
    };
    BenchOptions o = micro_options();
    o.models.clear();
    expect_error(o, ErrorKind::input);
    o = micro_options();
    o.models[1].architecture = "nonesuch";
    expect_error(o, ErrorKind::config);
    o = micro_options();
    o.models[1].plan = "interval:x";
    expect_error(o, ErrorKind::input);
    o = micro_options();
    o.lengths = {0};
    expect_error(o, ErrorKind::input);
    QVERIFY(rec.rows.empty());
  }

  void jsonRoundTrip() {
    BenchOptions o = micro_options();
    o.lengths = {8};
    o.fail_oom_at_length = 8;
    o.models[0].label = "with, comma";
    Recorder rec;
    std::vector<BenchRow> rows = run_benchmark(resolve_bench_options(o), rec.ctx);
    BenchRow measured;
    measured.model = "x";
    measured.length = 4096;
    measured.batch = 8;
    measured.phase = "decode";
    measured.seconds = 0.00123;
    measured.stddev = 1e-5;
    measured.min = 0.0012;
    measured.repeats = 3;
    measured.peak_bytes = 123456789;
    measured.rss_peak_bytes = 234567890;
    measured.predicted_bytes = 987654321;
    measured.floor_seconds = 0.001;
    rows.push_back(measured);
    const std::string path = test::temp_path(dir_, "bench.json");
    std::ofstream(path) << bench_json(rows, resolve_bench_options(o)).dump(2);
    const BenchFile f = read_bench_json(path);
    QCOMPARE(f.rows.size(), rows.size());
    QVERIFY(f.device.rfind("cpu", 0) == 0 && f.dtype == "f32" && !f.created_utc.empty());
    QVERIFY(f.meta.contains("environment") && f.meta.contains("options") && !f.meta.contains("rows"));
    QVERIFY(f.meta["environment"].contains("torch_version") && f.meta.contains("mmmamba_version"));
    for (size_t i = 0; i < rows.size(); ++i) {
      const BenchRow &a = rows[i], &b = f.rows[i];
      QVERIFY(a.model == b.model && a.length == b.length && a.phase == b.phase && a.oom == b.oom && a.error == b.error);
      QCOMPARE(a.batch, b.batch);
      QVERIFY(a.seconds == b.seconds && a.stddev == b.stddev && a.min == b.min && a.repeats == b.repeats);
      QVERIFY(a.peak_bytes == b.peak_bytes && a.predicted_bytes == b.predicted_bytes && a.floor_seconds == b.floor_seconds);
      QCOMPARE(a.rss_peak_bytes, b.rss_peak_bytes);
    }
    QVERIFY(std::abs(f.rows.back().floor_ratio() - 1.23) < 1e-9);
    const std::string csv = bench_csv(rows);
    QCOMPARE(size_t(std::count(csv.begin(), csv.end(), '\n')), rows.size() + 1);
    QVERIFY(csv.find("\"with, comma\"") != std::string::npos);

    std::ofstream(test::temp_path(dir_, "other.json")) << "{\"format\": \"something-else\"}";
    bool rejected = false;
    try {
      read_bench_json(test::temp_path(dir_, "other.json"));
    } catch (const InputError&) {
      rejected = true;
    }
    QVERIFY(rejected);
  }
};

QTEST_GUILESS_MAIN(TestBench)
#include "test_bench.moc"
