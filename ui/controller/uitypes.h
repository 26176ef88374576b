// Value types the engine controller hands to the pages. Copyable, registered as Qt metatypes, and
// free of LibTorch: pages include this and never a tensor header.
#pragma once

#include <QImage>
#include <QMap>
#include <QMetaType>
#include <QString>
#include <QStringList>
#include <QVector>

#include <memory>

#include "bench/bench_row.h"
#include "config/model_config.h"
#include "eval/evaluate.h"
#include "runtime/job.h"

/// An opened checkpoint directory: its config and provenance (the weights stay on the engine thread).
struct ModelInfo {
  QString path;
  QString name;  ///< the directory's name
  QString role;  ///< "teacher", "linear" or "hybrid"
  std::shared_ptr<const mm::ModelConfig> config;
  QMap<QString, QString> metadata;  ///< safetensors __metadata__ (stage, step, recipe, versions)
  bool hasTokenizer = false;
  qint64 params = 0;
};

/// A student seeded from a teacher and written as a checkpoint.
struct SeedSummary {
  QString teacherPath;
  QString studentPath;
  QString plan;
  QString init;
  QString report;  ///< the readable seeding report (what was inherited, what initialised how)
  int copied = 0, inherited = 0, initialised = 0;
};

struct SamplingSettings {
  double temperature = 0.0;
  int topK = 0;
  double topP = 1.0;
  double repetitionPenalty = 1.0;
  int maxNewTokens = 128;
  quint64 seed = 0;
};

/// One chat turn for one model. An empty question with regenerate set replaces the last reply.
struct ChatRequest {
  QString modelPath;
  QString question;
  QImage image;  ///< null: no image with this turn
  QString systemPrompt;
  SamplingSettings sampling;
  bool regenerate = false;
};

/// A finished question and answer, e.g. from a saved conversation.
struct ChatExchange {
  QString question;
  QImage image;  ///< null: none
  QString reply;
};

/// The tiles a model receives for one image, for showing what it sees.
struct TilePreview {
  QString modelPath;
  QVector<QImage> tiles;  ///< row-major, thumbnail last
  int cols = 1, rows = 1;
  bool thumbnail = false;
};

struct ChatReplyInfo {
  QString modelPath;
  QString text;
  QVector<qint64> ids;   ///< reply tokens
  QStringList pieces;    ///< the text of each reply token
  qint64 promptTokens = 0;
  qint64 newTokens = 0;
  double timeToFirstToken = 0;
  double tokensPerSecond = 0;
  qint64 cacheBytes = 0;
  qint64 kvBytesPerToken = 0;  ///< 0 for a fully linear model: its state does not grow
  qint64 stateBytes = 0;
  QString stopReason;
  qint64 lastToken = -1;  ///< the last sampled token (a stop token is not in ids), for putting this reply back
};

/// A training run to start or resume: distillation or teacher training.
struct RunRequest {
  QString runDir;
  QString recipeJson;  ///< the recipe text (a new run)
  QString recipeBase;  ///< directory the recipe's relative paths are resolved against
  bool resume = false;
  bool teacher = false;  ///< stage 0 (train-teacher) instead of distillation
  int workers = 1;       ///< data parallel: ranks in this process, one thread each, over Gloo on loopback
};

struct RunSummary {
  QString runDir;
  QMap<QString, QString> checkpoints;  ///< stage -> final checkpoint
  QMap<QString, double> stageSeconds;
  QStringList warnings;
  bool stopped = false;  ///< stopped by the user; resumable
};

/// One case of the fast-path self-test (mm::run_self_test): the op's fast path against its reference.
struct SelfTestRow {
  QString op, label, path, output, note;  ///< note: why a case was skipped
  double maxDiff = 0, budget = 0;
  bool passed = false, skipped = false;
};

/// The self-test's result: every case, and the ops whose fast path failed and now run on the reference.
struct SelfTestSummary {
  QString device;  ///< "cuda:0 (NVIDIA H200): CUDA kernels built, SDPA flash built"
  QVector<SelfTestRow> rows;
  QStringList turnedOff;
  int passed = 0, failed = 0, skipped = 0;
};

Q_DECLARE_METATYPE(ModelInfo)
Q_DECLARE_METATYPE(SeedSummary)
Q_DECLARE_METATYPE(ChatExchange)
Q_DECLARE_METATYPE(TilePreview)
Q_DECLARE_METATYPE(ChatReplyInfo)
Q_DECLARE_METATYPE(RunSummary)
Q_DECLARE_METATYPE(mm::MetricEvent)
Q_DECLARE_METATYPE(mm::CheckpointEvent)
Q_DECLARE_METATYPE(mm::StageEvent)
Q_DECLARE_METATYPE(mm::BenchRow)
Q_DECLARE_METATYPE(std::vector<mm::EvalResult>)
Q_DECLARE_METATYPE(SelfTestSummary)

/// Registers the types above for queued connections (call once, before the first job).
void registerUiTypes();
