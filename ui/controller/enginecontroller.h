// The studio's one door into the engine. Jobs run in submission order on the engine's own thread
// (mm::JobQueue), which owns the device and every loaded model; their events and results come back
// to the GUI thread as queued signals tagged with the job id, so a page drops results of jobs it no
// longer waits for. Every request returns at once.
#pragma once

#include <QObject>
#include <QString>

#include <functional>
#include <memory>

#include "controller/uitypes.h"
#include "data/scene.h"

namespace mm {
struct BenchOptions;
class JobQueue;
struct JobContext;
struct TrainControl;
struct TrainRunOptions;
struct TrainRunResult;
}  // namespace mm
struct EngineState;

class EngineController : public QObject {
  Q_OBJECT
 public:
  explicit EngineController(QObject* parent = nullptr);
  ~EngineController() override;

  /// Reads a checkpoint directory's config, metadata and tokenizer list -> modelOpened.
  quint64 openModel(const QString& dir);
  /// Seeds a student from a teacher checkpoint with a plan and init, writes it to outDir -> seeded.
  quint64 seedStudent(const QString& teacherDir, const QString& plan, const QString& init, const QString& outDir);
  /// One chat turn (loads the model on first use) -> tilesReady, tokenAvailable..., replyFinished.
  quint64 chat(const ChatRequest& request);
  /// Starts a fresh conversation for a model from finished exchanges (a loaded conversation): they are
  /// read into its cache without generating.
  quint64 restoreChat(const QString& modelPath, const QString& systemPrompt, const QVector<ChatExchange>& exchanges);
  /// Makes an earlier version of the model's last reply (replaced by a regenerate) the one its
  /// conversation continues from.
  quint64 useReply(const QString& modelPath, const ChatReplyInfo& version);
  /// Forgets the conversation held for a model.
  void resetChat(const QString& modelPath);
  /// Distillation or teacher training in a run directory -> metricAvailable, checkpointWritten,
  /// stageChanged, runFinished. Stop with cancel(id): the run checkpoints and stays resumable.
  quint64 startRun(const RunRequest& request);
  /// Pauses or resumes the running training job between steps.
  void setRunPaused(bool paused);
  /// Greedy accuracy per question family of each checkpoint on a JSONL split -> evaluated.
  quint64 evaluate(const QStringList& checkpoints, const QStringList& labels, const QString& data, int limit);

  /// A speed and memory sweep -> benchRowAvailable per measured row, then benchFinished.
  quint64 runBenchmark(const mm::BenchOptions& options);
  /// Generates a split of scene data (images + JSONL) -> dataMade with the JSONL path.
  /// Writes one split of generated scenes (mmmamba make-data); options are validated before queueing.
  quint64 makeData(const mm::data::SceneDataOptions& options);

  /// Each fast path of this device checked against its reference on small inputs (onlyOp: one op's
  /// cases) -> selfTestFinished. A fast path that fails is sent to its reference for the rest of the
  /// session; the status bar's record of what ran is left as it was.
  quint64 runSelfTest(const QString& onlyOp = {});

  void cancel(quint64 jobId);
  /// "cpu (2 threads)" or the GPU's name.
  QString deviceDescription() const;
  /// Whether the engine runs on a CUDA device (where the fast paths are).
  bool onCuda() const;
  /// CPU threads for the engine's jobs from the next one on; 0 = auto (OMP_NUM_THREADS or every core).
  void setCpuThreads(int threads);
  /// The count jobs run with now.
  static int cpuThreads();
  /// The LibTorch version the engine was built against.
  static QString torchVersion();
  /// Blocks until every submitted job has finished (tests, shutdown).
  void waitIdle();

 signals:
  void progressChanged(quint64 jobId, const QString& stage, double fraction, const QString& message);
  void logged(quint64 jobId, const QString& text);
  void failed(quint64 jobId, const QString& message);
  /// Every job ends with exactly one of finished or failed (a cancelled job finishes).
  void finished(quint64 jobId);

  void modelOpened(quint64 jobId, const ModelInfo& info);
  void seeded(quint64 jobId, const SeedSummary& summary);
  void tilesReady(quint64 jobId, const TilePreview& preview);
  void tokenAvailable(quint64 jobId, qint64 token, const QString& textDelta);
  void replyFinished(quint64 jobId, const ChatReplyInfo& reply);
  void metricAvailable(quint64 jobId, const mm::MetricEvent& metric);
  void checkpointWritten(quint64 jobId, const mm::CheckpointEvent& checkpoint);
  void stageChanged(quint64 jobId, const mm::StageEvent& stage);
  void runFinished(quint64 jobId, const RunSummary& summary);
  void evaluated(quint64 jobId, const std::vector<mm::EvalResult>& results);
  void dataMade(quint64 jobId, const QString& jsonlPath, int samples);
  void benchRowAvailable(quint64 jobId, const mm::BenchRow& row);
  /// The sweep's file contents (environment, options, rows) for saving.
  void benchFinished(quint64 jobId, const QString& json);
  void selfTestFinished(quint64 jobId, const SelfTestSummary& summary);

 private:
  /// Runs on the GUI thread with the job's id: emits a job's result.
  using GuiResult = std::function<void(quint64)>;
  /// Lets a running job emit something on the GUI thread before it ends.
  using Poster = std::function<void(GuiResult)>;
  /// Queues body on the engine thread; its events become signals and the GuiResult it returns runs on
  /// the GUI thread. A failure becomes failed(), a success (after its result) or a cancellation finished().
  quint64 submit(std::function<GuiResult(mm::JobContext&, const Poster&)> body);
  void dispatch(quint64 jobId, const mm::Event& event);
  GuiResult finishedRun(const mm::TrainRunOptions& o, const mm::TrainRunResult& r);

  std::shared_ptr<EngineState> m_state;  ///< touched only on the engine thread
  std::shared_ptr<mm::TrainControl> m_trainControl;
  std::unique_ptr<mm::JobQueue> m_queue;  ///< declared last: destroyed (and joined) first
};
