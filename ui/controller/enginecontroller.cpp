// ATen before Qt: Qt's `slots` macro breaks ATen headers.
#include <ATen/ATen.h>

#include "controller/enginecontroller.h"

#include <QDir>
#include <QFileInfo>

#include <thread>

#include <c10/core/GradMode.h>
#include <torch/version.h>

#include "bench/benchmark.h"
#include "config/plan_stats.h"
#include "data/scene.h"
#include "dist/dist_env.h"
#include "dist/dist_group.h"
#include "controller/enginestate.h"
#include "io/checkpoint.h"
#include "io/safetensors.h"
#include "ops/op_check.h"
#include "runtime/device.h"
#include "seeding/seed_job.h"
#include "train/jobs.h"
#include "widgets/text.h"

namespace {

using ui::qs;

ModelInfo describeCheckpoint(const std::string& dir) {
  auto cfg = std::make_shared<mm::ModelConfig>(mm::load_model_config(dir));
  const mm::CheckReport check = mm::check_checkpoint(dir, *cfg);
  if (!check.ok())
    throw mm::CheckpointError(dir + " does not match its config.json:\n" + check.describe(),
                              "open a complete checkpoint directory, or re-export it with `mmmamba export`");
  ModelInfo info;
  info.path = QFileInfo(qs(dir)).absoluteFilePath();
  info.name = QFileInfo(info.path).fileName();
  info.role = cfg->is_teacher() ? "teacher" : cfg->count(mm::LayerKind::attention) ? "hybrid" : "linear";
  for (const auto& [k, v] : mm::SafetensorsDir::open(dir).metadata()) info.metadata.insert(qs(k), qs(v));
  info.hasTokenizer = QFileInfo::exists(info.path + "/tokenizer.model");
  info.params = mm::compute_plan_stats(*cfg).total_params;
  info.config = std::move(cfg);
  return info;
}

}  // namespace

void registerUiTypes() {
  qRegisterMetaType<ModelInfo>();
  qRegisterMetaType<SeedSummary>();
  qRegisterMetaType<TilePreview>();
  qRegisterMetaType<QVector<ChatExchange>>();
  qRegisterMetaType<ChatReplyInfo>();
  qRegisterMetaType<RunSummary>();
  qRegisterMetaType<mm::MetricEvent>();
  qRegisterMetaType<mm::CheckpointEvent>();
  qRegisterMetaType<mm::StageEvent>();
  qRegisterMetaType<mm::BenchRow>();
  qRegisterMetaType<SelfTestSummary>();
  qRegisterMetaType<std::vector<mm::EvalResult>>();
}

LoadedModel& EngineState::load(const std::string& dir, const mm::JobContext& ctx) {
  auto it = models.find(dir);
  if (it != models.end()) return *it->second;
  ctx.progress("load", -1, "loading " + dir);
  auto m = std::make_unique<LoadedModel>();
  mm::Checkpoint ck = mm::load_checkpoint(dir, mm::default_dtype(device));
  m->model = std::make_unique<mm::VlmModel>(std::move(ck.config), std::move(ck.weights));
  m->model->release_unused_weights();
  if (!device.is_cpu()) m->model->to(device, mm::default_dtype(device));
  m->model->fuse_for_inference();
  m->tokenizer = mm::Tokenizer::load(dir);
  return *models.emplace(dir, std::move(m)).first->second;
}

mm::ChatSession& EngineState::session(LoadedModel& m, const std::string& systemPrompt) {
  if (!m.session || m.systemPrompt != systemPrompt) {
    m.session = std::make_unique<mm::ChatSession>(*m.model, *m.tokenizer, systemPrompt);
    m.systemPrompt = systemPrompt;
  }
  return *m.session;
}

EngineController::EngineController(QObject* parent)
    : QObject(parent),
      m_state(std::make_shared<EngineState>()),
      m_trainControl(std::make_shared<mm::TrainControl>()),
      m_queue(std::make_unique<mm::JobQueue>()) {
  registerUiTypes();
  mm::configure_cpu_threads();
  m_state->device = mm::parse_device("auto");
}

EngineController::~EngineController() {
  m_queue.reset();  // cancels and joins before the state goes
}

QString EngineController::deviceDescription() const { return qs(mm::describe_device(m_state->device)); }

bool EngineController::onCuda() const { return m_state->device.is_cuda(); }

void EngineController::setCpuThreads(int threads) { mm::configure_cpu_threads(threads); }

int EngineController::cpuThreads() { return mm::cpu_threads(); }

QString EngineController::torchVersion() { return TORCH_VERSION; }

void EngineController::cancel(quint64 jobId) { m_queue->cancel(jobId); }
void EngineController::waitIdle() { m_queue->wait_idle(); }

quint64 EngineController::submit(std::function<GuiResult(mm::JobContext&, const Poster&)> body) {
  auto idBox = std::make_shared<quint64>(0);  // set below, read only on the GUI thread
  Poster post = [this, idBox](GuiResult f) {
    QMetaObject::invokeMethod(this, [idBox, f = std::move(f)] { f(*idBox); }, Qt::QueuedConnection);
  };
  mm::EventSink sink = [this, post](const mm::Event& e) { post([this, e](quint64 id) { dispatch(id, e); }); };
  auto job = [body = std::move(body), post](mm::JobContext& ctx) { return body(ctx, post); };
  auto done = [this, post](mm::Outcome<GuiResult> out) {
    if (out.ok()) {
      post([this, emitResult = *out.value](quint64 id) {
        if (emitResult) emitResult(id);
        emit finished(id);
      });
    } else if (out.error->kind == mm::ErrorKind::cancelled) {
      post([this](quint64 id) { emit finished(id); });
    } else {
      const QString message = qs(out.error->full_message());
      post([this, message](quint64 id) { emit failed(id, message); });
    }
  };
  *idBox = m_queue->submit<GuiResult>(std::move(job), std::move(sink), std::move(done));
  return *idBox;
}

void EngineController::dispatch(quint64 id, const mm::Event& event) {
  if (auto* p = std::get_if<mm::ProgressEvent>(&event)) emit progressChanged(id, qs(p->stage), p->fraction, qs(p->message));
  else if (auto* l = std::get_if<mm::LogEvent>(&event)) emit logged(id, qs(l->text));
  else if (auto* t = std::get_if<mm::TokenEvent>(&event)) emit tokenAvailable(id, t->id, qs(t->text_delta));
  else if (auto* m = std::get_if<mm::MetricEvent>(&event)) emit metricAvailable(id, *m);
  else if (auto* c = std::get_if<mm::CheckpointEvent>(&event)) emit checkpointWritten(id, *c);
  else if (auto* s = std::get_if<mm::StageEvent>(&event)) emit stageChanged(id, *s);
  else if (auto* b = std::get_if<mm::BenchEvent>(&event)) emit benchRowAvailable(id, b->row);
}

quint64 EngineController::openModel(const QString& dir) {
  const std::string path = dir.toStdString();
  return submit([this, path](mm::JobContext& ctx, const Poster&) -> GuiResult {
    ctx.progress("open", -1, "reading " + path);
    ModelInfo info = describeCheckpoint(path);
    return [this, info](quint64 id) { emit modelOpened(id, info); };
  });
}

quint64 EngineController::seedStudent(const QString& teacherDir, const QString& plan, const QString& init,
                                      const QString& outDir) {
  mm::SeedJobOptions o;
  o.teacher_dir = teacherDir.toStdString();
  o.out_dir = outDir.toStdString();
  o.plan = mm::LayerPlan::parse(plan.toStdString());
  o.init = mm::parse_seed_init(init.toStdString());
  return submit([this, o](mm::JobContext& ctx, const Poster&) -> GuiResult {
    c10::NoGradGuard noGrad;
    const mm::SeedResult r = mm::seed_to_directory(o, ctx);
    SeedSummary s;
    s.teacherPath = qs(o.teacher_dir);
    s.studentPath = QFileInfo(qs(o.out_dir)).absoluteFilePath();
    s.plan = qs(o.plan.to_string());
    s.init = qs(mm::seed_init_name(o.init));
    s.report = qs(mm::format_seed_report(r));
    for (const mm::SeedEntry& e : r.report) {
      if (e.origin == "copied") ++s.copied;
      else if (e.origin == "inherited") ++s.inherited;
      else ++s.initialised;
    }
    return [this, s](quint64 id) { emit seeded(id, s); };
  });
}

quint64 EngineController::startRun(const RunRequest& req) {
  mm::TrainRunOptions o;
  o.run_dir = req.runDir.toStdString();
  o.resume = req.resume;
  o.control = m_trainControl;
  m_trainControl->paused = false;
  if (!req.recipeJson.isEmpty())
    o.recipe = mm::Recipe::from_json(nlohmann::json::parse(req.recipeJson.toStdString()), req.recipeBase.toStdString());
  const bool teacher = req.teacher;
  const int workers = std::max(1, req.workers);
  return submit([this, o, teacher, workers](mm::JobContext& ctx, const Poster&) -> GuiResult {
    auto job = teacher ? &mm::train_teacher : &mm::distill;
    if (workers == 1) return finishedRun(o, job(o, ctx));
    // Data parallel in this process: rank 0 here (progress, metrics, Stop), ranks 1.. on threads of
    // their own; the trainer's agreed stop takes rank 0's Stop to every rank at the same step.
    mm::DistEnv env;
    env.world_size = workers;
    env.master_port = mm::free_local_port();
    env.timeout_s = 60;
    std::vector<std::thread> peers;
    for (int r = 1; r < workers; ++r)
      peers.emplace_back([o, env, r, job]() mutable {
        env.rank = env.local_rank = r;
        o.control.reset();  // Pause is rank 0's alone (the page offers none with several workers)
        try {
          o.group = mm::DistGroup::rendezvous(env);
          job(o, mm::JobContext{});
        } catch (const std::exception&) {
          // rank 0 reports the run's failure: a peer's end reaches it through the group, naming the rank
        }
        o.group.reset();
      });
    struct Join {  // every peer is joined however rank 0 ends
      std::vector<std::thread>& t;
      ~Join() { for (auto& p : t) p.join(); }
    } join{peers};
    mm::TrainRunOptions lead = o;
    lead.group = mm::DistGroup::rendezvous(env);
    const mm::TrainRunResult r = job(lead, ctx);
    lead.group.reset();
    return finishedRun(o, r);
  });
}

EngineController::GuiResult EngineController::finishedRun(const mm::TrainRunOptions& o, const mm::TrainRunResult& r) {
  RunSummary s;
  s.runDir = qs(o.run_dir);
  for (const auto& [stage, path] : r.checkpoints) s.checkpoints.insert(qs(stage), qs(path));
  for (const auto& [stage, sec] : r.stage_seconds) s.stageSeconds.insert(qs(stage), sec);
  for (const std::string& w : r.warnings) s.warnings << qs(w);
  return [this, s](quint64 id) { emit runFinished(id, s); };
}

void EngineController::setRunPaused(bool paused) { m_trainControl->paused = paused; }

quint64 EngineController::evaluate(const QStringList& checkpoints, const QStringList& labels, const QString& data,
                                   int limit) {
  mm::EvalOptions o;
  for (const QString& c : checkpoints) o.checkpoints.push_back(c.toStdString());
  for (const QString& l : labels) o.labels.push_back(l.toStdString());
  o.data = data.toStdString();
  o.limit = limit;
  o.device = m_state->device.str();
  return submit([this, o](mm::JobContext& ctx, const Poster&) -> GuiResult {
    c10::NoGradGuard noGrad;
    auto results = mm::evaluate(o, ctx);
    return [this, results](quint64 id) { emit evaluated(id, results); };
  });
}

quint64 EngineController::makeData(const mm::data::SceneDataOptions& o) {
  mm::data::validate(o);
  return submit([this, o](mm::JobContext& ctx, const Poster&) -> GuiResult {
    const mm::data::SceneDataSummary s = mm::data::make_scene_dataset(o, ctx);
    const QString path = qs(s.jsonl_path);
    const int samples = s.samples;
    return [this, path, samples](quint64 id) { emit dataMade(id, path, samples); };
  });
}

quint64 EngineController::runSelfTest(const QString& onlyOp) {
  const std::string only = onlyOp.toStdString();
  return submit([this, only](mm::JobContext& ctx, const Poster&) -> GuiResult {
    c10::NoGradGuard noGrad;
    ctx.progress("self-test", -1, "checking each fast path against its reference");
    const mm::SelfTestReport report = mm::run_self_test(m_state->device, only);
    SelfTestSummary summary;
    summary.device = qs(report.device);
    for (const mm::OpCheckResult& r : report.results)
      summary.rows.push_back({qs(r.op), qs(r.label), qs(r.path), qs(r.worst), qs(r.note), r.max_diff, r.budget, r.passed,
                              r.skipped});
    for (const std::string& op : report.turned_off) summary.turnedOff << qs(op);
    summary.passed = report.passed, summary.failed = report.failed, summary.skipped = report.skipped;
    return [this, summary](quint64 id) { emit selfTestFinished(id, summary); };
  });
}

quint64 EngineController::runBenchmark(const mm::BenchOptions& options) {
  const mm::BenchOptions o = mm::resolve_bench_options(options);  // bad options fail here, before queueing
  return submit([this, o](mm::JobContext& ctx, const Poster&) -> GuiResult {
    c10::NoGradGuard noGrad;
    const std::vector<mm::BenchRow> rows = mm::run_benchmark(o, ctx);
    const QString json = qs(mm::bench_json(rows, o).dump(2));
    return [this, json](quint64 id) { emit benchFinished(id, json); };
  });
}
