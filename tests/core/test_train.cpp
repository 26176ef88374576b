// Training engine on a micro model: each stage's loss falls, each stage changes exactly its trainable
// set, runs resume after a crash with the same next-step loss, an interrupted checkpoint write or a NaN
// keeps the last good checkpoint, a stop is resumable, a pause is not counted as training time, and
// stage 3 refuses stage-1 weights.
#include <ATen/ATen.h>

#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "eval/evaluate.h"
#include "io/checkpoint.h"
#include "models/random_init.h"
#include "seeding/seed_student.h"
#include "text/chat_template.h"
#include "text/tokenizer.h"
#include "text/tokenizer_files.h"
#include "train/jobs.h"
#include "train/losses.h"
#include "train/recipe_validate.h"

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

  void pausedTimeIsNotTrainingTime() {
    TrainRunOptions o;
    o.run_dir = path("paused");
    o.recipe = recipe({stage(1, 4, 1e-2, 0)});
    o.control = std::make_shared<TrainControl>();
    constexpr double pause_s = 2.0;
    std::map<int64_t, MetricEvent> at;
    std::map<int64_t, std::chrono::steady_clock::time_point> seen;
    std::thread resumer;
    JobContext ctx;
    ctx.sink = [&](const Event& e) {
      auto* m = std::get_if<MetricEvent>(&e);
      if (!m) return;
      at[m->step] = *m;
      seen[m->step] = std::chrono::steady_clock::now();
      if (m->step == 2) {  // pause after step 2, continue after pause_s
        o.control->paused = true;
        resumer = std::thread([&] {
          std::this_thread::sleep_for(std::chrono::duration<double>(pause_s));
          o.control->paused = false;
        });
      }
    };
    const TrainRunResult res = distill(o, ctx);
    if (resumer.joinable()) resumer.join();
    QCOMPARE(at.size(), size_t(4));
    const double real = std::chrono::duration<double>(seen[3] - seen[2]).count();
    QVERIFY2(real >= pause_s, "the run did pause");
    // Step 3's clock and speed are its own: the pause is in neither.
    const double counted = at[3].wall_s - at[2].wall_s;
    QVERIFY2(counted < real - 0.9 * pause_s, qPrintable(QString("step 3 counted %1 s of %2 s").arg(counted).arg(real)));
    QVERIFY(at[3].tokens_per_s > 0 && at[3].tokens > at[2].tokens);
    QVERIFY(res.stage_seconds.at("stage1") < at[4].wall_s + 1e-9);
    QCOMPARE(read_metrics(path("paused"), "stage1").back()["wall_s"].get<double>(), at[4].wall_s);
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
    QCOMPARE(int64_t(results[0].mistakes.size()), results[0].overall.total - results[0].overall.correct);  // every one
    const std::string table = format_eval_table(results);
    QVERIFY(table.find("exist") != std::string::npos && table.find("overall") != std::string::npos);
    QCOMPARE(eval_json(results)["results"][1]["label"].get<std::string>(), std::string("b"));
    // By images per conversation: these records have none, so every one is counted under 0.
    QCOMPARE(results[0].by_images.size(), size_t(1));
    QCOMPARE(results[0].by_images.at(0).total, int64_t(8));
    QCOMPARE(results[0].by_images.at(0).correct, results[0].overall.correct);
    QVERIFY(format_images_table(results).find("0 images") != std::string::npos);
    json j = eval_json(results);
    j["results"][0]["images"] = {{"1", {{"correct", 3}, {"total", 4}}}, {"2", {{"correct", 1}, {"total", 2}}},
                                 {"x", {{"correct", 1}, {"total", 1}}}, {"99999", {{"correct", 1}, {"total", 1}}},
                                 {"3", {{"correct", 5}, {"total", 2}}}};  // the last three are refused
    const auto back = eval_from_json(j);
    QCOMPARE(back[0].by_images.size(), size_t(2));
    QCOMPARE(back[0].by_images.at(2).correct, int64_t(1));
    QCOMPARE(back[1].by_images.at(0).total, int64_t(8));
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
    QCOMPARE(t.metadata.at("mmmamba.system_prompt"), std::string());  // chat's default for this model
  }

  // Stage 0 "from": training continues from a teacher's weights (not a random init), with its config.
  void teacherTrainingContinuesFromAModel() {
    Recipe r;
    r.tokenizer = path("tok");
    r.train_data = train_data_;
    StageSettings s = stage(0, 2, 1e-9);
    s.from = teacher_;
    r.stages = {s};
    TrainRunOptions o;
    o.run_dir = path("teacher-continued");
    o.recipe = r;
    const TrainRunResult res = train_teacher(o, JobContext{});
    const json start = json::parse(std::ifstream(path("teacher-continued/teacher/start.json")));
    QCOMPARE(start.at("source").get<std::string>(), teacher_);
    const Checkpoint before = load_checkpoint(teacher_), after = load_checkpoint(res.checkpoints.at("teacher"));
    QCOMPARE(after.weights.size(), before.weights.size());
    for (const auto& [name, w] : before.weights)  // two steps at lr 1e-9 move nothing measurable
      QVERIFY2(at::allclose(after.weights.at(name), w, 1e-5, 1e-6), name.c_str());

    r.architecture = "micro";  // "from" brings its own architecture: both at once is refused
    o.run_dir = path("teacher-from-and-arch");
    o.recipe = r;
    QVERIFY_EXCEPTION_THROWN(train_teacher(o, JobContext{}), ConfigError);
    QVERIFY(!fs::exists(path("teacher-from-and-arch/recipe.json")));
  }

  // ---- issue 10: nothing lost, nothing injected ----

  // Leftovers of killed writes (ckpt-N.partial-PID) never count as checkpoints: with two of them for
  // step N the good ckpt-N and the one before it stay, and `latest` names a checkpoint that exists.
  void leftoverPartialsNeverPushAGoodCheckpointOut() {
    const Checkpoint t = load_checkpoint(teacher_);
    RunDir rd(path("retention"));
    const fs::path sdir = rd.stage_dir("stage1");
    for (const char* left : {"ckpt-000002.partial-111", "ckpt-000002.partial-222"}) {
      fs::create_directories(sdir / left);
      std::ofstream(sdir / left / "model.safetensors") << "torn";
    }
    TrainState st;
    st.step = 1;
    rd.save("stage1", t.config, t.weights, t.metadata, "", {}, st);
    st.step = 2;
    rd.save("stage1", t.config, t.weights, t.metadata, "", {}, st);
    QVERIFY(rd.latest("stage1"));
    QCOMPARE(fs::path(*rd.latest("stage1")).filename().string(), std::string("ckpt-000002"));
    QVERIFY(fs::exists(sdir / "ckpt-000001" / "train_state" / "state.json"));
    st.step = 3;
    rd.save("stage1", t.config, t.weights, t.metadata, "", {}, st);
    QVERIFY(!fs::exists(sdir / "ckpt-000001"));  // retention still keeps only the newest two
    QVERIFY(fs::exists(sdir / "ckpt-000002") && fs::exists(sdir / "ckpt-000003"));
  }

  // A checkpoint write killed halfway (test hook: the staging directory stays, as after kill -9) costs
  // nothing: the run resumes from the previous checkpoint, and the leftover is removed at start.
  void killedCheckpointWriteIsCleanedOnResume() {
    const Recipe r = recipe({stage(1, 8, 1e-2, 3)});
    TrainHooks kill;
    kill.kill_checkpoint_at_step = 6;
    QVERIFY_EXCEPTION_THROWN(run(r, path("killed"), false, kill), IoError);
    const fs::path sdir = path("killed/stage1");
    auto partials = [&] {
      int n = 0;
      for (const auto& e : fs::directory_iterator(sdir)) n += e.path().filename().string().find(".partial-") != std::string::npos;
      return n;
    };
    QCOMPARE(partials(), 1);
    QCOMPARE(fs::path(*RunDir(path("killed")).latest("stage1")).filename().string(), std::string("ckpt-000003"));
    const TrainRunResult res = run(r, path("killed"), true);
    QCOMPARE(partials(), 0);
    QCOMPARE(fs::path(res.checkpoints.at("stage1")).filename().string(), std::string("ckpt-000008"));
    QCOMPARE(read_metrics(path("killed"), "stage1").size(), size_t(8));
  }

  // One process per run directory: a second one is refused with the holder's PID.
  void aRunDirectoryHasOneWriter() {
    RunDir holder(path("locked"));
    holder.lock();
    try {
      run(recipe({stage(1, 2, 1e-2)}), path("locked"));
      QFAIL("a locked run directory must be refused");
    } catch (const ConfigError& e) {
      const std::string msg = e.what();
      QVERIFY2(msg.find("in use by process " + std::to_string(::getpid())) != std::string::npos, msg.c_str());
    }
    QVERIFY(!fs::exists(path("locked/metrics.jsonl")));
  }

  // A bad plan, a missing "from" or missing data is found before stage 1 runs, not after it.
  void recipesAreValidatedBeforeStage1() {
    StageSettings s2 = stage(2, 2, 1e-3);
    s2.from = path("no-such-checkpoint");
    QVERIFY_EXCEPTION_THROWN(run(recipe({stage(1, 2, 1e-2), s2}), path("v-from")), InputError);
    QVERIFY_EXCEPTION_THROWN(run(recipe({stage(1, 2, 1e-2), stage(3, 2, 1e-3)}, "sometimes"), path("v-plan")), InputError);
    Recipe no_data = recipe({stage(1, 2, 1e-2)});
    no_data.train_data = path("missing.jsonl");
    QVERIFY_EXCEPTION_THROWN(run(no_data, path("v-data")), InputError);
    // A device this machine cannot use is found here too, not when stage 1 starts (it used to leave a
    // recipe.json that only --resume, with the same bad device, would accept).
    for (const char* device : {"banana", "cuda:-1", "tpu"}) {
      Recipe bad_device = recipe({stage(1, 2, 1e-2)});
      bad_device.device = device;
      try {
        run(bad_device, path("v-device"));
        QFAIL(device);
      } catch (const ConfigError& e) {
        QVERIFY2(std::string(e.what()).find("device") != std::string::npos && !e.hint().empty(), e.what());
      }
    }
    for (const char* d : {"v-from", "v-plan", "v-data", "v-device"}) {
      QVERIFY2(!fs::exists(path(d) + "/metrics.jsonl") && !fs::exists(path(d) + "/stage1"), d);
      QVERIFY2(!fs::exists(path(d) + "/recipe.json"), d);  // a corrected recipe can start there
    }
    // An all-attention plan trains nothing: with a stage 3 it is an error here (that stage used to die
    // in autograd after stages 1-2 had run), without one a warning.
    try {
      validate_recipe(recipe({stage(1, 2, 1e-2), stage(3, 2, 1e-3)}, "teacher"));
      QFAIL("stage 3 with an all-attention student must be refused");
    } catch (const ConfigError& e) {
      QVERIFY2(std::string(e.what()).find("nothing to train") != std::string::npos && !e.hint().empty(), e.what());
    }
    const auto w = validate_recipe(recipe({stage(1, 2, 1e-2), stage(2, 2, 1e-3)}, "teacher"));
    QVERIFY(w.size() == 1 && w[0].find("every layer attention") != std::string::npos);
    QVERIFY(validate_recipe(recipe({stage(1, 2, 1e-2), stage(3, 2, 1e-3)}, "interval:3")).empty());
  }

  // A run whose setup failed after its recipe.json was written (here: no record fits max_length) takes
  // a corrected recipe in the same directory; once a stage has begun, a different recipe is refused.
  void aRunThatNeverStartedTakesACorrectedRecipe() {
    Recipe tight = recipe({stage(1, 1, 1e-2)});
    tight.max_length = 3;
    QVERIFY_EXCEPTION_THROWN(run(tight, path("setup-failed")), Error);
    QVERIFY(fs::exists(path("setup-failed/recipe.json")) && !RunDir(path("setup-failed")).has_started());
    const Recipe fixed = recipe({stage(1, 1, 1e-2)});
    QCOMPARE(fs::path(run(fixed, path("setup-failed")).checkpoints.at("stage1")).filename().string(), std::string("ckpt-000001"));
    QCOMPARE(Recipe::from_json(RunDir(path("setup-failed")).read_recipe(), root_).max_length, fixed.max_length);
    QVERIFY_EXCEPTION_THROWN(run(tight, path("setup-failed")), ConfigError);  // started: resume or a new directory
  }

  // A stage with no tensor to train (stage 3 of an all-attention model) is a ConfigError with a hint,
  // not autograd's "element 0 of tensors does not require grad".
  void aStageWithNothingToTrainIsAnError() {
    const Checkpoint t = load_checkpoint(teacher_);
    VlmModel model(t.config, t.weights);
    const auto tok = std::shared_ptr<const Tokenizer>(Tokenizer::load(teacher_));
    const ExampleSet train(data::read_dataset(train_data_), tok, t.config, "", 2048);
    const RunDir rd(path("nothing-to-train"));
    StageJob job;
    job.settings = stage(3, 1, 1e-3);
    job.model = &model;
    job.loss = [&](const Batch& b) { return lm_loss(model, b); };
    job.train = &train;
    job.run = &rd;
    try {
      run_stage(job, JobContext{});
      QFAIL("a stage with nothing to train must be refused");
    } catch (const ConfigError& e) {
      QVERIFY2(std::string(e.what()).find("no tensor to train") != std::string::npos && !e.hint().empty(), e.what());
    }
  }

  // A typo is an error naming the key and the nearest valid one: top level, stages and --set.
  void unknownRecipeKeysAndBadRangesAreErrors() {
    auto message = [&](const json& j) -> std::string {
      try {
        Recipe::from_json(j, root_);
      } catch (const ConfigError& e) {
        return e.full_message();
      }
      return "accepted";
    };
    const json base = recipe({stage(1, 2, 1e-2)}).to_json();
    json j = base;
    j["stages"][0].erase("steps");
    j["stages"][0]["step"] = 5;
    QVERIFY2(message(j).find("\"step\" (did you mean \"steps\"?)") != std::string::npos, message(j).c_str());
    j = base;
    j["teachr"] = teacher_;
    QVERIFY2(message(j).find("did you mean \"teacher\"") != std::string::npos, message(j).c_str());
    const std::string file = path("typo.json");
    std::ofstream(file) << base.dump();
    for (const auto& [set, near] : {std::pair{"stage1.step=5", "steps"}, {"max_lenght=9", "max_length"}}) {
      try {
        load_recipe(file, {set});
        QFAIL(set);
      } catch (const ConfigError& e) {
        QVERIFY2(std::string(e.what()).find(std::string("did you mean \"") + near + "\"") != std::string::npos, e.what());
      }
    }
    // Every range error names the field and carries a HINT; whole-number fields refuse fractions
    // (2.5 steps used to train 2) and values past any real run (a batch of 1e12 used to be killed for memory).
    for (const auto& [key, value] : {std::pair{"clip", json(-1)}, {"weight_decay", json(2)}, {"mse_factor", json(0)},
                                     {"checkpoint_every", json(-1)}, {"eval_every", json(-5)}, {"eval_batches", json(0)},
                                     {"steps", json(0)}, {"steps", json(2.5)}, {"steps", json(int64_t(1) << 40)},
                                     {"batch", json(int64_t(1) << 40)}, {"batch", json(1e12)}, {"micro_batch", json(-1)},
                                     {"lr", json(-1e-3)}, {"temperature", json(0)}, {"warmup", json(0.8)},
                                     {"stage", json(1.5)}, {"stage", json(7)}}) {
      j = base;
      j["stages"][0][key] = value;
      if (std::string(key) == "warmup") j["stages"][0]["decay"] = 0.5;
      const std::string m = message(j);
      QVERIFY2(m.find(key) != std::string::npos && m.find("\nHINT: ") != std::string::npos, (std::string(key) + ": " + m).c_str());
    }
    for (const auto& [key, value] : {std::pair{"threads", json(-1)}, {"threads", json(2.5)}, {"seed", json(-1)},
                                     {"max_length", json(0)}, {"max_length", json(1e3)}, {"zero", json(3)}}) {
      j = base;
      j[key] = value;
      const std::string m = message(j);
      QVERIFY2(m.find(key) != std::string::npos && m.find("\nHINT: ") != std::string::npos, (std::string(key) + ": " + m).c_str());
    }
  }

  // "heads": 0 used to divide by zero (SIGFPE) before the config was checked.
  void teacherOverridesAreCheckedBeforeArithmetic() {
    // An odd head size (hidden 6 over 2 heads) used to start training and fail in RoPE with a shape
    // error; an image_size past the tile limit used to fail only when the data was read.
    for (const json& o : {json{{"heads", 0}}, json{{"hidden", 63}}, json{{"heads", 2.5}}, json{{"head", 2}},
                          json{{"kv_heads", 3}}, json{{"llm_layers", -1}}, json{{"hidden", 6}, {"heads", 2}, {"kv_heads", 1}},
                          json{{"image_size", 4480}}, json{{"image_size", 30}}}) {
      Recipe r;
      r.architecture = "micro";
      r.architecture_overrides = o;
      r.tokenizer = path("tok");
      r.train_data = train_data_;
      r.stages = {stage(0, 2, 1e-3)};
      TrainRunOptions opts;
      opts.run_dir = path("teacher-bad");
      opts.recipe = r;
      try {
        train_teacher(opts, JobContext{});
        QFAIL(o.dump().c_str());
      } catch (const ConfigError& e) {
        QVERIFY2(std::string(e.what()).find(o.begin().key().substr(0, 4)) != std::string::npos, e.what());
      }
      QVERIFY(!fs::exists(path("teacher-bad/recipe.json")));
    }
  }

  // Records longer than max_length are left out and said so (count, longest, first id), not silently.
  void longRecordsAreCountedAndReported() {
    write_data(path("with-long.jsonl"), 8, 0);
    std::string words;
    for (int i = 0; i < 120; ++i) words += "red circle ";
    std::ofstream(path("with-long.jsonl"), std::ios::app)
        << json{{"id", "the-long-one"}, {"conversations", {{{"from", "human"}, {"value", words}}, {{"from", "gpt"}, {"value", "yes"}}}}}.dump()
        << "\n";
    Recipe r = recipe({stage(1, 1, 1e-2)});
    r.train_data = path("with-long.jsonl");
    r.eval_data = "";
    r.max_length = 100;
    std::vector<std::string> logs;
    JobContext ctx;
    ctx.sink = [&](const Event& e) {
      if (auto* l = std::get_if<LogEvent>(&e)) logs.push_back(l->text);
    };
    run(r, path("long-records"), false, {}, ctx);
    const std::string expect = "1 of 9 records are longer than max_length 100";
    QVERIFY(std::any_of(logs.begin(), logs.end(), [&](const std::string& l) {
      return l.find(expect) != std::string::npos && l.find("the-long-one") != std::string::npos;
    }));
    std::ifstream log(path("long-records/run.log"));
    const std::string text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
    QVERIFY(text.find(expect) != std::string::npos);
  }

  // 200 random mutations of a valid recipe and of a valid record: each is a clear error (mm::Error) or
  // valid; valid recipes are run (steps capped at 2, at most 10 runs), valid records are encoded.
  void fuzzedRecipesAndRecordsGiveErrorsNotCrashes() {
    std::mt19937 rng(20261201);
    auto pick = [&](size_t n) { return size_t(rng() % n); };
    const std::vector<json> values = {nullptr, -1, 0, 1, 2, 3, 7, 1e12, 0.5, -0.25, "", "x", "seed", "linear",
                                      "interval:3", "teacher", json::array(), json::object(), true, false,
                                      std::string(300, 'a'), path("nowhere"), teacher_, "<|im_end|>", json{{"stage", 1}}};
    auto mutate = [&](json j, const std::vector<std::string>& keys, int n) {
      for (int k = 0; k < n; ++k) {
        json* target = &j;
        if (j.is_object() && j.contains("stages") && j["stages"].is_array() && !j["stages"].empty() && pick(2))
          target = &j["stages"][pick(j["stages"].size())];
        if (!target->is_object()) continue;
        const std::string key = keys[pick(keys.size())];
        switch (pick(5)) {
          case 0: target->erase(key); break;
          case 1: (*target)[key] = values[pick(values.size())]; break;
          case 2: (*target)[key.substr(0, key.size() - 1)] = values[pick(values.size())]; break;  // a typo
          case 3: if (j.contains("stages") && j["stages"].is_array()) j["stages"].push_back(j["stages"][0]); break;
          default: (*target)[key] = json::array({values[pick(values.size())]}); break;
        }
      }
      return j;
    };
    const json base = recipe({stage(1, 1, 1e-2)}).to_json();
    std::vector<std::string> recipe_keys;
    for (const auto& [k, v] : base.items()) recipe_keys.push_back(k);
    for (const auto& [k, v] : base["stages"][0].items()) recipe_keys.push_back(k);
    int errors = 0, valid = 0, runs = 0;
    for (int i = 0; i < 200; ++i) {
      const json j = mutate(base, recipe_keys, 1 + int(pick(3)));
      try {
        Recipe r = Recipe::from_json(j, root_);
        validate_recipe(r);
        ++valid;
        if (runs < 10) {
          for (StageSettings& s : r.stages) s.steps = std::min<int64_t>(s.steps, 2), s.batch = std::min<int64_t>(s.batch, 4);
          try {
            run(r, path("fuzz-" + std::to_string(i)));
          } catch (const Error& e) {
            QVERIFY2(!std::string(e.what()).empty(), j.dump().c_str());
          }
          ++runs;
        }
      } catch (const Error& e) {
        QVERIFY2(!std::string(e.what()).empty(), j.dump().c_str());
        ++errors;
      } catch (const std::exception& e) {
        QFAIL((j.dump() + ": not an mm::Error: " + e.what()).c_str());
      }
    }
    qInfo("recipes: %d errors, %d valid, %d run", errors, valid, runs);
    QVERIFY(errors > 0 && valid > 0);

    const auto tok = std::shared_ptr<const Tokenizer>(Tokenizer::load(teacher_));
    const json record = {{"id", "r"}, {"family", "exist"},
                         {"conversations", {{{"from", "human"}, {"value", "Is there a red circle?"}}, {{"from", "gpt"}, {"value", "yes"}}}}};
    const std::vector<std::string> record_keys = {"id", "family", "image", "conversations", "from", "value"};
    int rec_errors = 0, rec_valid = 0;
    for (int i = 0; i < 200; ++i) {
      std::string line;
      if (i % 2 == 0) {
        json j = record;
        json* target = pick(2) ? &j : &j["conversations"][pick(2)];
        const std::string key = record_keys[pick(record_keys.size())];
        (*target)[key] = pick(3) ? values[pick(values.size())] : json(std::string("<image> ") + kImgContext);
        line = j.dump();
      } else {  // bytes: flip, cut, insert
        line = record.dump();
        for (int k = 0; k < 3; ++k) {
          const size_t at = pick(line.size());
          switch (pick(3)) {
            case 0: line[at] = char(rng() & 0xFF); break;
            case 1: line.resize(at); break;
            default: line.insert(at, 1, "{}[]\",:\\\n"[pick(9)]); break;
          }
          if (line.empty()) line = "x";
        }
      }
      const std::string file = path("fuzz-record.jsonl");
      std::ofstream(file, std::ios::trunc) << line << "\n";
      try {
        ExampleSet set(data::read_dataset(file), tok, cfg_, "", 2048);
        QVERIFY(set.size() > 0);
        ++rec_valid;
      } catch (const Error& e) {
        QVERIFY2(!std::string(e.what()).empty(), line.c_str());
        ++rec_errors;
      } catch (const std::exception& e) {
        QFAIL((line + ": not an mm::Error: " + e.what()).c_str());
      }
    }
    qInfo("records: %d errors, %d valid", rec_errors, rec_valid);
    QVERIFY(rec_errors > 0 && rec_valid > 0);
  }
};

QTEST_GUILESS_MAIN(TestTrain)
#include "test_train.moc"
