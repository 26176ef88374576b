// Training engine on a micro model: each stage's loss falls, each stage changes exactly its trainable
// set, runs resume after a crash with the same next-step loss, an interrupted checkpoint write or a NaN
// keeps the last good checkpoint, a stop is resumable, and stage 3 refuses stage-1 weights.
#include <ATen/ATen.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "eval/evaluate.h"
#include "io/checkpoint.h"
#include "models/random_init.h"
#include "seeding/seed_student.h"
#include "text/tokenizer_files.h"
#include "train/jobs.h"
#include "train/losses.h"

// Qt after ATen: Qt's `slots` macro breaks ATen headers.
#include <QTemporaryDir>
#include <QtTest>

using namespace mm;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

const char* kColours[] = {"red", "green", "blue", "yellow"};
const char* kShapes[] = {"circle", "square", "triangle", "cross"};

void write_data(const std::string& path, int n, int salt) {
  std::ofstream out(path);
  for (int i = 0; i < n; ++i) {
    const std::string c = kColours[(i + salt) % 4], s = kShapes[(i / 4 + salt) % 4];
    const std::string answer = (i % 3 == 0) ? "yes" : "no";
    out << json{{"id", std::to_string(i)}, {"family", "exist"},
                {"conversations",
                 {{{"from", "human"}, {"value", "Is there a " + c + " " + s + " in the image?"}},
                  {{"from", "gpt"}, {"value", answer}}}}}
               .dump()
        << "\n";
  }
}

std::vector<json> read_metrics(const std::string& run, const std::string& stage) {
  std::vector<json> out;
  std::ifstream in(run + "/metrics.jsonl");
  for (std::string line; std::getline(in, line);) {
    const json j = json::parse(line);
    if (j["stage"] == stage) out.push_back(j);
  }
  return out;
}

double mean_loss(const std::vector<json>& m, size_t from, size_t to) {
  double s = 0;
  for (size_t i = from; i < to; ++i) s += m[i]["loss"].get<double>();
  return s / double(to - from);
}

bool same(const at::Tensor& a, const at::Tensor& b) { return a.sizes() == b.sizes() && at::equal(a, b); }

}  // namespace

class TestTrain : public QObject {
  Q_OBJECT

  QTemporaryDir dir_;
  std::string root_, teacher_, train_data_, eval_data_;
  ModelConfig cfg_ = architecture_preset("micro");

  std::string path(const std::string& name) const { return root_ + "/" + name; }

  Recipe recipe(std::vector<StageSettings> stages, const std::string& plan = "linear") const {
    Recipe r;
    r.name = "test";
    r.teacher = teacher_;
    r.train_data = train_data_;
    r.eval_data = eval_data_;
    r.plan = plan;
    r.seed = 7;
    r.stages = std::move(stages);
    return r;
  }

  static StageSettings stage(int n, int64_t steps, double lr, int64_t every = 0) {
    StageSettings s = paper_stage(n, steps);
    s.lr = lr;
    s.batch = 4;
    s.checkpoint_every = every;
    s.eval_batches = 1;
    return s;
  }

  TrainRunResult run(const Recipe& r, const std::string& dir, bool resume = false, TrainHooks hooks = {},
                     JobContext ctx = {}) {
    TrainRunOptions o;
    o.run_dir = dir;
    o.recipe = r;
    o.resume = resume;
    o.hooks = hooks;
    return distill(o, ctx);
  }

 private slots:
  void initTestCase() {
    QVERIFY(dir_.isValid());
    root_ = dir_.path().toStdString();
    const std::string tok = path("tok");
    fs::create_directories(tok);
    write_tokenizer_dir(tok, int(cfg_.vocab_size), sample_scene_sentences(500, 1));
    teacher_ = path("teacher");
    auto meta = base_metadata();
    meta["mmmamba.stage"] = "teacher";
    save_checkpoint(teacher_, cfg_, random_weights(cfg_, 11, 0.1), meta, tok);
    train_data_ = path("train.jsonl");
    eval_data_ = path("eval.jsonl");
    write_data(train_data_, 32, 0);
    write_data(eval_data_, 8, 1);
  }

  void stagesLowerTheirLossAndTrainExactlyTheirSet() {
    const std::string run_dir = path("full");
    const Recipe r = recipe({stage(1, 30, 1e-2), stage(2, 30, 5e-3), stage(3, 30, 2e-3)}, "interval:3");
    std::vector<std::string> events;
    JobContext ctx;
    ctx.sink = [&](const Event& e) {
      if (auto* s = std::get_if<StageEvent>(&e)) events.push_back(s->stage + (s->finished ? ":end" : ":start"));
      if (std::get_if<CheckpointEvent>(&e)) events.push_back("ckpt");
    };
    const TrainRunResult res = run(r, run_dir, false, {}, ctx);
    QVERIFY2(res.warnings.empty(), res.warnings.empty() ? "" : res.warnings[0].c_str());
    QCOMPARE(events, (std::vector<std::string>{"stage1:start", "ckpt", "stage1:end", "stage2:start", "ckpt",
                                               "stage2:end", "stage3:start", "ckpt", "stage3:end"}));
    for (const char* st : {"stage1", "stage2", "stage3"}) {
      const auto m = read_metrics(run_dir, st);
      QCOMPARE(m.size(), size_t(30));
      const double first = mean_loss(m, 0, 5), last = mean_loss(m, 25, 30);
      qInfo("%s loss %.5g -> %.5g", st, first, last);
      QVERIFY2(last < 0.8 * first, st);
      if (std::string(st) != "stage3") QCOMPARE(m[0]["layer_losses"].size(), size_t(cfg_.n_layers()));
    }
    // Exactly the trainable set moves; stage 3 restores every third layer to the teacher's attention.
    const Checkpoint teacher = load_checkpoint(teacher_);
    TensorMap start = seed_student(teacher.config, teacher.weights, LayerPlan::parse("linear"), 7).weights;
    for (int s = 1; s <= 3; ++s) {
      const Checkpoint fin = load_checkpoint(res.checkpoints.at("stage" + std::to_string(s)));
      QCOMPARE(fin.metadata.at("mmmamba.stage"), "stage" + std::to_string(s));
      const auto names = trainable_tensors(fin.config, fin.weights, stage(s, 1, 1));
      const std::set<std::string> trainable(names.begin(), names.end());
      QVERIFY(!trainable.empty());
      for (const auto& [name, t] : fin.weights) {
        auto it = start.find(name);
        const at::Tensor& before = it != start.end() ? it->second : teacher.weights.at(name);
        QVERIFY2(same(before, t) != bool(trainable.count(name)), (std::to_string(s) + " " + name).c_str());
      }
      start = fin.weights;
    }
    const Checkpoint s3 = load_checkpoint(res.checkpoints.at("stage3"));
    QCOMPARE(s3.config.count(LayerKind::attention), int64_t(2));
    QVERIFY(same(s3.weights.at("embedding_model.encoder.0.attention.wqkv.weight"),
                 teacher.weights.at("embedding_model.encoder.0.attention.wqkv.weight")));
    // dt_bias is frozen in stage 3: carried from stage 2, not re-initialised.
    const Checkpoint s2 = load_checkpoint(res.checkpoints.at("stage2"));
    const std::string dt = "embedding_model.encoder.1.attention.dt_bias";
    QVERIFY(same(s2.weights.at(dt), s3.weights.at(dt)));
    const json start3 = json::parse(std::ifstream(run_dir + "/stage3/start.json"));
    QCOMPARE(start3["source_stage"].get<std::string>(), std::string("stage2"));
    QVERIFY(!start3["from_teacher"].empty());
  }

  void crashThenResumeGivesTheSameNextLoss() {
    const Recipe r = recipe({stage(1, 8, 1e-2, 3)});
    run(r, path("straight"));
    TrainHooks crash;
    crash.crash_after_step = 5;
    QVERIFY_EXCEPTION_THROWN(run(r, path("crashed"), false, crash), std::runtime_error);
    QVERIFY(fs::exists(path("crashed/stage1/ckpt-000003")));
    run(r, path("crashed"), true);
    const auto a = read_metrics(path("straight"), "stage1"), b = read_metrics(path("crashed"), "stage1");
    QCOMPARE(b.size(), size_t(8));  // the steps after the checkpoint were dropped and redone
    for (size_t i = 0; i < 8; ++i) {
      QCOMPARE(b[i]["step"].get<int>(), int(i + 1));
      QCOMPARE(b[i]["loss"].get<double>(), a[i]["loss"].get<double>());
    }
  }

  void stopIsResumable() {
    const Recipe r = recipe({stage(1, 6, 1e-2, 0)});
    JobContext ctx;
    ctx.sink = [&](const Event& e) {
      if (auto* m = std::get_if<MetricEvent>(&e); m && m->step == 2) ctx.cancel.cancel();
    };
    QVERIFY_EXCEPTION_THROWN(run(r, path("stopped"), false, {}, ctx), Cancelled);
    QVERIFY(fs::exists(path("stopped/stage1/ckpt-000002/train_state/state.json")));
    QVERIFY_EXCEPTION_THROWN(run(r, path("stopped")), ConfigError);  // without --resume: refused
    const TrainRunResult res = run(r, path("stopped"), true);
    QCOMPARE(read_metrics(path("stopped"), "stage1").size(), size_t(6));
    QVERIFY(fs::path(res.checkpoints.at("stage1")).filename() == "ckpt-000006");
  }

  void interruptedCheckpointWriteKeepsThePreviousOne() {
    const Recipe r = recipe({stage(1, 8, 1e-2, 3)});
    TrainHooks fail;
    fail.fail_checkpoint_at_step = 6;
    QVERIFY_EXCEPTION_THROWN(run(r, path("torn"), false, fail), IoError);
    RunDir rd(path("torn"));
    QCOMPARE(fs::path(*rd.latest("stage1")).filename().string(), std::string("ckpt-000003"));
    const TrainCheckpoint ck = load_train_checkpoint(*rd.latest("stage1"));
    QCOMPARE(ck.state.step, int64_t(3));
    QVERIFY(!ck.optimizer.empty());
    run(r, path("torn"), true);
    QCOMPARE(read_metrics(path("torn"), "stage1").size(), size_t(8));
  }

  void nanStopsTheRunWithTheLastGoodCheckpoint() {
    const Recipe r = recipe({stage(1, 8, 1e-2, 2)});
    TrainHooks nan;
    nan.nan_at_step = 5;
    try {
      run(r, path("nan"), false, nan);
      QFAIL("a NaN loss must stop the run");
    } catch (const DivergedError& e) {
      QVERIFY(std::string(e.what()).find("nan") != std::string::npos);
      QVERIFY(e.hint().find("ckpt-000004") != std::string::npos);
    }
    RunDir rd(path("nan"));
    QCOMPARE(load_train_checkpoint(*rd.latest("stage1")).state.step, int64_t(4));
  }

  void stage3RefusesStage1Weights() {
    const Recipe first = recipe({stage(1, 2, 1e-2)});
    const TrainRunResult one = run(first, path("s1only"));
    StageSettings s3 = stage(3, 2, 1e-3);
    s3.from = one.checkpoints.at("stage1");
    try {
      run(recipe({s3}), path("s3bad"));
      QFAIL("stage 3 from stage-1 weights must be refused");
    } catch (const ConfigError& e) {
      const std::string msg = e.what();
      QVERIFY2(msg.find("stage2") != std::string::npos && msg.find("stage1") != std::string::npos, msg.c_str());
    }
    StageSettings bare = stage(3, 2, 1e-3);
    QVERIFY_EXCEPTION_THROWN(run(recipe({bare}), path("s3none")), ConfigError);
    bare.from = "seed";  // the S3-only ablation starts from fresh seeds when asked to
    QVERIFY(!run(recipe({bare}), path("s3seed")).checkpoints.at("stage3").empty());
  }

  void evaluationScoresPerFamily() {
    QCOMPARE(normalise_answer("  Yes.\n"), std::string("yes"));
    QCOMPARE(normalise_answer("Top Left!"), std::string("top left"));
    EvalOptions o;
    o.checkpoints = {teacher_, teacher_};
    o.labels = {"a", "b"};
    o.data = eval_data_;
    o.max_new_tokens = 3;
    const auto results = evaluate(o, JobContext{});
    QCOMPARE(results.size(), size_t(2));
    QCOMPARE(results[0].overall.total, int64_t(8));
    QCOMPARE(results[0].families.at("exist").total, int64_t(8));
    QCOMPARE(results[0].overall.correct, results[1].overall.correct);  // greedy decoding is deterministic
    const std::string table = format_eval_table(results);
    QVERIFY(table.find("exist") != std::string::npos && table.find("overall") != std::string::npos);
    QCOMPARE(eval_json(results)["results"][1]["label"].get<std::string>(), std::string("b"));
    QVERIFY(eval_csv(results).find("a,overall,") != std::string::npos);
    o.labels = {"only-one"};
    QVERIFY_EXCEPTION_THROWN(evaluate(o, JobContext{}), InputError);
  }

  void teacherTrainingLowersCrossEntropy() {
    Recipe r;
    r.architecture = "micro";
    r.tokenizer = path("tok");
    r.train_data = train_data_;
    r.eval_data = eval_data_;
    StageSettings s = stage(0, 40, 3e-3);
    s.warmup = 0.05;
    r.stages = {s};
    TrainRunOptions o;
    o.run_dir = path("teacher-run");
    o.recipe = r;
    const TrainRunResult res = train_teacher(o, JobContext{});
    const auto m = read_metrics(path("teacher-run"), "teacher");
    QCOMPARE(m.size(), size_t(40));
    qInfo("teacher CE %.4g -> %.4g", mean_loss(m, 0, 5), mean_loss(m, 35, 40));
    QVERIFY(mean_loss(m, 35, 40) < 0.5 * mean_loss(m, 0, 5));
    QVERIFY(m.back().contains("eval_loss"));
    const Checkpoint t = load_checkpoint(res.checkpoints.at("teacher"));
    QVERIFY(t.config.is_teacher());
    QCOMPARE(t.metadata.at("mmmamba.stage"), std::string("teacher"));
  }
};

QTEST_GUILESS_MAIN(TestTrain)
#include "test_train.moc"
