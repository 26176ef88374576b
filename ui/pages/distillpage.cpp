// The Distill page: layout, the run (start, pause, stop, resume) and its live progress. The recipe
// editor is in distillpage_recipe.cpp, reopened runs, evaluation and export in distillpage_results.cpp.
#include "pages/distillpage.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDir>
#include <QFile>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QProgressBar>
#include <QPushButton>
#include <QSaveFile>
#include <QSlider>
#include <QSpinBox>
#include <QSplitter>
#include <QStandardPaths>
#include <QTableWidget>
#include <QVBoxLayout>

#include "controller/enginecontroller.h"
#include "plots/exportplot.h"
#include "plots/layerlossplot.h"
#include "plots/lossplot.h"
#include "runtime/errors.h"
#include "runtime/resources.h"
#include "train/recipe.h"
#include "train/recipe_validate.h"
#include "train/run_metrics.h"
#include "widgets/messages.h"
#include "widgets/scrollable.h"
#include "widgets/text.h"
#include "widgets/textscale.h"

namespace {

using ui::qs;

QString formatSeconds(double s) {
  if (s < 0 || !std::isfinite(s)) return "–";
  const int t = int(s + 0.5);
  return t >= 60 ? QString("%1m%2s").arg(t / 60).arg(t % 60, 2, 10, QChar('0')) : QString("%1s").arg(t);
}

/// A shipped demo recipe, examples/recipes/NAME.json (its stages, plan and init), without its data and
/// teacher paths unless they exist here (the demo data is generated with Generate scene data; the teacher
/// comes from the Model page). Empty when the file is not found. The page starts with demo-linear.
nlohmann::json shippedDemoRecipe(const QString& name) {
  const QString path = qs(mm::find_shipped_recipe(name.toStdString()));
  QFile f(path);
  if (path.isEmpty() || !f.open(QIODevice::ReadOnly)) return nlohmann::json::object();
  nlohmann::json r = nlohmann::json::parse(f.readAll().toStdString(), nullptr, false);
  if (!r.is_object()) return nlohmann::json::object();
  for (const char* key : {"teacher", "train_data", "eval_data"}) {
    if (!r.contains(key) || !r[key].is_string()) continue;
    const QString resolved = QDir::cleanPath(QFileInfo(path).dir().absoluteFilePath(qs(r[key].get<std::string>())));
    if (QFileInfo::exists(resolved)) r[key] = resolved.toStdString();
    else r.erase(key);
  }
  return r;
}

}  // namespace

DistillPage::DistillPage(EngineController* engine, QWidget* parent) : QWidget(parent), m_engine(engine) {
  auto* editor = new QWidget;
  buildRecipeEditor(editor);
  ui::followTextSize(editor, [editor] { editor->setMaximumWidth(ui::scaledPx(360)); });

  m_progress = new QProgressBar;
  m_progress->setRange(0, 1000);
  m_progress->setValue(0);
  m_progress->setFormat(tr("whole run: %p%"));  // the status bar's bar is the current job's
  m_progress->setToolTip(tr("Steps done over all the recipe's stages"));
  m_status = new QLabel(tr("No run yet. Choose a teacher, data and a run directory, then Start."));
  m_status->setWordWrap(true);
  m_warnings = new QLabel;
  m_warnings->setObjectName("runWarnings");
  m_warnings->setWordWrap(true);
  m_warnings->setStyleSheet("color: #a60");
  m_warnings->hide();
  m_loss = new LossPlot;
  m_layers = new LayerLossPlot;
  m_smoothing = new QSlider(Qt::Horizontal);
  m_smoothing->setRange(0, 99);
  m_smoothing->setValue(90);
  m_smoothing->setToolTip(tr("Smoothing of the line (raw points stay visible)"));
  m_log = new QCheckBox(tr("Log scale"));
  m_log->setChecked(true);
  m_loss->setLogScale(true);
  auto* exportButton = new QPushButton(tr("Export…"));
  exportButton->setToolTip(tr("Save the plots as PNG, SVG or PDF and the numbers as CSV"));
  auto* openRunButton = new QPushButton(tr("Open run…"));
  auto* compareButton = new QPushButton(tr("Compare…"));
  compareButton->setToolTip(tr("Draw another run's loss (dashed) beside this one"));
  auto* plotBar = new QHBoxLayout;
  plotBar->addWidget(new QLabel(tr("Smoothing")));
  plotBar->addWidget(m_smoothing, 1);
  plotBar->addWidget(m_log);
  plotBar->addWidget(openRunButton);
  plotBar->addWidget(compareButton);
  plotBar->addWidget(exportButton);

  m_eval = new QTableWidget;
  m_eval->setEditTriggers(QAbstractItemView::NoEditTriggers);
  m_eval->verticalHeader()->hide();
  m_evalButton = new QPushButton(tr("Evaluate checkpoints"));
  m_evalButton->setToolTip(tr("Greedy accuracy per question family on the eval data (first 200 samples)"));
  m_evalBox = new QWidget;
  auto* evalLayout = new QVBoxLayout(m_evalBox);
  evalLayout->addWidget(new QLabel(tr("Greedy accuracy on held-out scenes, per question family")));
  evalLayout->addWidget(m_eval, 1);
  evalLayout->addWidget(m_evalButton, 0, Qt::AlignLeft);
  // The accuracy table is a third page beside the per-layer plots: at 700 px of height the loss and
  // one more view fit, three stacked do not.
  m_layers->addPage(m_evalBox, tr("Accuracy"));

  auto* plots = new QSplitter(Qt::Vertical);
  plots->addWidget(m_loss);
  plots->addWidget(m_layers);
  plots->setStretchFactor(0, 1);
  plots->setStretchFactor(1, 1);
  plots->setSizes({1000, 1000});  // an even split at any size (the size hints alone favour the layer plots)
  auto* right = new QVBoxLayout;
  right->addWidget(m_status);
  right->addWidget(m_warnings);
  right->addWidget(m_progress);
  right->addLayout(plotBar);
  right->addWidget(plots, 1);
  auto* layout = new QHBoxLayout(this);
  layout->addWidget(ui::scrollable(editor));  // scrolls instead of widening the window on small screens
  layout->addLayout(right, 1);

  connect(m_smoothing, &QSlider::valueChanged, this, [this](int v) { m_loss->setSmoothing(v / 100.0); });
  connect(m_log, &QCheckBox::toggled, m_loss, &LossPlot::setLogScale);
  connect(exportButton, &QPushButton::clicked, this, &DistillPage::exportPlots);
  connect(compareButton, &QPushButton::clicked, this, [this] {
    const QString dir = QFileDialog::getExistingDirectory(this, tr("A run to compare with"), m_runDir->text());
    QString error;
    if (!dir.isEmpty() && !compareWith(dir, &error)) ui::showError(this, tr("Cannot compare"), error);
  });
  connect(openRunButton, &QPushButton::clicked, this, [this] {
    const QString dir = QFileDialog::getExistingDirectory(this, tr("Open a run directory"), m_runDir->text());
    QString error;
    if (!dir.isEmpty() && !openRun(dir, &error)) ui::showError(this, tr("Cannot open run"), error);
  });
  connect(m_evalButton, &QPushButton::clicked, this, &DistillPage::evaluateCheckpoints);

  connect(engine, &EngineController::metricAvailable, this, [this](quint64 id, const mm::MetricEvent& m) {
    if (id != m_runJob) return;
    mm::add_metric(m_metrics, m);
    onMetric(m);
  });
  connect(engine, &EngineController::stageChanged, this, [this](quint64 id, const mm::StageEvent& s) {
    if (id != m_runJob) return;
    m_runStage = qs(s.stage);
    m_status->setText(s.finished ? tr("%1 finished. %2").arg(m_runStage, qs(s.message))
                                 : tr("%1 started. %2").arg(m_runStage, qs(s.message)));
  });
  connect(engine, &EngineController::logged, this, [this](quint64 id, const QString& text) {
    if (id == m_runJob && text.startsWith("warning: ")) addRunWarning(text.mid(9));  // records left out, ...
  });
  connect(engine, &EngineController::checkpointWritten, this, [this](quint64 id, const mm::CheckpointEvent& c) {
    if (id != m_runJob) return;
    m_checkpoints[qs(c.stage)] = qs(c.path);
    emit checkpointReady(qs(c.stage), qs(c.path));
  });
  connect(engine, &EngineController::progressChanged, this,
          [this](quint64 id, const QString&, double, const QString& message) {
            if (id == m_runJob && !message.isEmpty() && m_progress->value() == 0) m_status->setText(message);
          });
  connect(engine, &EngineController::runFinished, this, [this](quint64 id, const RunSummary& s) {
    if (id != m_runJob) return;
    for (auto it = s.checkpoints.begin(); it != s.checkpoints.end(); ++it) m_checkpoints[it.key()] = it.value();
    QStringList times;
    for (auto it = s.stageSeconds.begin(); it != s.stageSeconds.end(); ++it)
      times << QString("%1 %2").arg(it.key(), formatSeconds(it.value()));
    m_status->setText(tr("Run finished: %1.%2").arg(times.join(", "),
                                                    s.warnings.isEmpty() ? QString() : "\n⚠ " + s.warnings.join("\n⚠ ")));
  });
  connect(engine, &EngineController::finished, this, [this](quint64 id) {
    if (id == m_runJob) {
      const bool done = m_status->text().startsWith(tr("Run finished"));
      if (!done) m_status->setText(tr("Stopped at the last finished step; a checkpoint was written. Resume continues it."));
      m_runJob = 0;
      setRunning(false);
      emit runStopped(done);
    }
    if (id == m_evalJob) {
      m_evalJob = 0;
      m_evalButton->setEnabled(true);
    }
  });
  connect(engine, &EngineController::failed, this, [this](quint64 id, const QString& message) {
    if (id == m_runJob) {
      m_runJob = 0;
      setRunning(false);
      m_status->setText(tr("The run stopped: %1").arg(message.section('\n', 0, 0)));
      ui::showError(this, tr("Distillation stopped"), message);
      emit runStopped(false);
    }
    if (id == m_evalJob) {
      m_evalJob = 0;
      m_evalButton->setEnabled(true);
      ui::showError(this, tr("Evaluation failed"), message);
    }
  });
  connect(engine, &EngineController::evaluated, this, [this](quint64 id, const std::vector<mm::EvalResult>& r) {
    if (id == m_evalJob) onEvaluated(r);
  });
  fillEditor(shippedDemoRecipe("demo-linear"));
  setRunning(false);
}

bool DistillPage::loadDemoRecipe(const QString& name) {
  const nlohmann::json r = shippedDemoRecipe(name);
  if (r.empty()) return false;
  fillEditor(r);
  // A run directory the studio named after a demo follows the recipe, so the two demos keep apart.
  const QFileInfo dir(m_runDir->text());
  if (dir.fileName().startsWith("studio-")) m_runDir->setText(dir.dir().filePath("studio-" + name.section('-', 1)));
  return true;
}

std::pair<QString, QString> DistillPage::studentCheckpoint() const {
  if (m_checkpoints.isEmpty()) return {};
  return {m_checkpoints.lastKey(), m_checkpoints.last()};  // keys sort stage1 < stage2 < stage3
}

void DistillPage::setRunDirectory(const QString& dir) { m_runDir->setText(dir); }
QString DistillPage::runDirectory() const { return m_runDir->text(); }
void DistillPage::setEvalData(const QString& path) { m_evalData->setText(path); }

void DistillPage::start() {
  if (running()) return;
  if (const QString problem = planProblem(); !problem.isEmpty()) {
    ui::showError(this, tr("The plan is not valid"),
                  tr("Plan \"%1\": %2\nHINT: use linear, hybrid, interval:K[:head|:tail], stacked:N[:head|:tail] "
                     "or list:I,J").arg(planText(), problem));
    return;
  }
  const QString dir = m_runDir->text().trimmed();
  if (QFileInfo::exists(dir + "/recipe.json") && mm::run_has_started(dir.toStdString())) {  // else the engine replaces it
    ui::showError(this, tr("A run already exists there"),
                  tr("%1 already holds a run.\nPress \"Resume run\" to continue it, or choose another directory.").arg(dir));
    return;
  }
  RunRequest req;
  req.runDir = dir;
  const nlohmann::json r = recipe();
  rememberStageSteps(r);
  req.recipeJson = QString::fromStdString(r.dump());
  req.recipeBase = m_recipeBase.isEmpty() ? QDir::currentPath() : m_recipeBase;
  std::vector<std::string> warnings;
  try {  // the engine's check of the whole recipe, as mmmamba distill runs it, before anything starts
    warnings = mm::validate_recipe(mm::Recipe::from_json(r, req.recipeBase.toStdString()));
  } catch (const mm::Error& e) {
    ui::showError(this, tr("The recipe is not valid"), QString::fromStdString(e.full_message()));
    return;
  }
  m_runWarnings.clear();
  m_warnings->clear();
  m_warnings->hide();
  for (const std::string& w : warnings) addRunWarning(QString::fromStdString(w));
  m_loss->clearAll();
  m_layers->clearAll();
  m_checkpoints.clear();
  m_metrics.clear();
  m_progress->setValue(0);
  req.workers = m_workers->value();
  try {
    m_runJob = m_engine->startRun(req);
  } catch (const std::exception& e) {
    ui::showError(this, tr("The recipe is not valid"), QString::fromUtf8(e.what()));
    return;
  }
  m_status->setText(tr("Starting…"));
  setRunning(true);
}

void DistillPage::addRunWarning(const QString& warning) {
  if (m_runWarnings.contains(warning)) return;  // the engine logs the recipe check's warnings again
  m_runWarnings << warning;
  m_warnings->setText("⚠ " + m_runWarnings.join("\n⚠ "));
  m_warnings->show();
}

void DistillPage::resumeRun() {
  if (running()) return;
  const QString dir = m_runDir->text().trimmed();
  QString error;
  if (!openRun(dir, &error)) {
    ui::showError(this, tr("Cannot resume"), error);
    return;
  }
  RunRequest req;
  req.runDir = dir;
  req.resume = true;
  req.workers = m_workers->value();  // the checkpoint resumes on any number of workers
  m_runWarnings.clear();
  m_warnings->hide();
  m_runJob = m_engine->startRun(req);
  m_status->setText(tr("Resuming from the last checkpoint…"));
  setRunning(true);
}

void DistillPage::setPaused(bool paused) {
  m_engine->setRunPaused(paused);
  m_pause->setText(paused ? tr("Continue") : tr("Pause"));
  if (running()) m_status->setText(paused ? tr("Paused after the current step.") : tr("Running."));
}

void DistillPage::stop() {
  if (!running()) return;
  setPaused(false);
  m_engine->cancel(m_runJob);
  m_status->setText(tr("Stopping after the current step…"));
}

QMap<QString, double> DistillPage::mseFactors(const nlohmann::json& recipe) {
  QMap<QString, double> factors;
  if (recipe.is_object() && recipe.contains("stages") && recipe["stages"].is_array())
    for (const auto& st : recipe["stages"])
      if (st.is_object() && st.value("stage", nlohmann::json(0)).is_number_integer()) {
        const nlohmann::json factor = st.value("mse_factor", nlohmann::json(mm::StageSettings{}.mse_factor));
        if (factor.is_number()) factors.insert(QString("stage%1").arg(st.value("stage", 0)), factor.get<double>());
      }
  return factors;
}

void DistillPage::rememberStageSteps(const nlohmann::json& recipe) {
  m_stageSteps.clear();
  if (recipe.contains("stages") && recipe["stages"].is_array())
    for (const auto& st : recipe["stages"])
      if (st.is_object() && st.value("stage", nlohmann::json(0)).is_number_integer() && st.value("steps", nlohmann::json(0)).is_number_integer())
        m_stageSteps.insert(QString("stage%1").arg(st.value("stage", 0)), st.value("steps", int64_t(0)));
  // The unit of stages 1-2's losses, the same in the total and the per-layer plots.
  const QMap<QString, double> factors = mseFactors(recipe);
  for (auto it = factors.begin(); it != factors.end(); ++it) m_loss->setMseFactor(it.key(), *it), m_layers->setMseFactor(it.key(), *it);
}

void DistillPage::setRunning(bool on) {
  m_start->setEnabled(!on);
  m_resume->setEnabled(!on);
  m_pause->setEnabled(on && m_workers->value() == 1);
  m_stop->setEnabled(on);
  m_workers->setEnabled(!on);
  if (!on) {
    const QSignalBlocker block(m_pause);
    m_pause->setChecked(false);
    m_pause->setText(tr("Pause"));
  }
}

void DistillPage::onMetric(const mm::MetricEvent& m) {
  m_loss->addMetric(m);
  m_layers->addMetric(m);
  // Overall progress and ETA over the run's stages, at this stage's pace.
  int64_t total = 0, done = m.step;
  for (auto it = m_stageSteps.begin(); it != m_stageSteps.end(); ++it) {
    total += it.value();
    if (it.key() < QString::fromStdString(m.stage)) done += it.value();  // "stage1" < "stage2" < "stage3"
  }
  const double perStep = m.step > 0 ? m.wall_s / double(m.step) : 0;
  m_progress->setValue(total ? int(1000.0 * double(done) / double(total)) : 0);
  m_status->setText(tr("%1 · step %2/%3 · loss %4%5 · lr %6 · %7 tok/s · ETA %8")
                        .arg(qs(m.stage)).arg(m.step).arg(m.total_steps)
                        .arg(m.loss, 0, 'g', 4)
                        .arg(m.eval_loss >= 0 ? tr(" (held-out %1)").arg(m.eval_loss, 0, 'g', 4) : QString())
                        .arg(m.lr, 0, 'e', 2)
                        .arg(m.tokens_per_s, 0, 'f', 0)
                        .arg(formatSeconds(perStep * double(total - done))));
  if (m.rank_tokens_per_s.size() > 1) {
    QStringList ranks;
    for (double t : m.rank_tokens_per_s) ranks << QString::number(t, 'f', 0);
    m_status->setText(m_status->text() + tr(" · %1 workers: %2 tok/s each").arg(m.rank_tokens_per_s.size()).arg(ranks.join(" / ")));
  }
}

QString DistillPage::cliEquivalent() const {
  const QString nproc = m_workers->value() > 1 ? QString(" --nproc %1").arg(m_workers->value()) : QString();
  return QString("mmmamba distill%3 --recipe RECIPE.json --run %1   # the recipe as shown, saved with Save…\n"
                 "mmmamba distill%3 --run %1 --resume\n"
                 "mmmamba eval --data %2 --run %1")
      .arg(ui::shellQuote(m_runDir->text()), ui::shellQuote(m_evalData->text()), nproc);
}
