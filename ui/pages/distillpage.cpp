#include "pages/distillpage.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDir>
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
#include <QSplitter>
#include <QStandardPaths>
#include <QTableWidget>
#include <QVBoxLayout>

#include "controller/enginecontroller.h"
#include "plots/exportplot.h"
#include "plots/layerlossplot.h"
#include "plots/lossplot.h"
#include "runtime/errors.h"
#include "train/recipe_validate.h"
#include "train/run_metrics.h"
#include "widgets/messages.h"
#include "widgets/text.h"

namespace {

using ui::qs;

/// A line edit with a browse button (directory or file).
QLineEdit* pathRow(QFormLayout* form, const QString& label, bool directory, QWidget* parent) {
  auto* edit = new QLineEdit;
  auto* browse = new QPushButton(QObject::tr("…"));
  browse->setMaximumWidth(32);
  auto* row = new QHBoxLayout;
  row->addWidget(edit, 1);
  row->addWidget(browse);
  form->addRow(label, row);
  QObject::connect(browse, &QPushButton::clicked, parent, [=] {
    const QString p = directory ? QFileDialog::getExistingDirectory(parent, label, edit->text())
                                : QFileDialog::getOpenFileName(parent, label, edit->text(), QObject::tr("JSONL (*.jsonl)"));
    if (!p.isEmpty()) edit->setText(p);
  });
  return edit;
}

QString formatSeconds(double s) {
  if (s < 0 || !std::isfinite(s)) return "–";
  const int t = int(s + 0.5);
  return t >= 60 ? QString("%1m%2s").arg(t / 60).arg(t % 60, 2, 10, QChar('0')) : QString("%1s").arg(t);
}

/// The demo recipe the page starts with: the three stages of examples/recipes/demo-linear.json.
nlohmann::json defaultRecipe() {
  return nlohmann::json::parse(R"({
    "name": "studio", "plan": "linear", "init": "mimic", "seed": 0, "max_length": 512,
    "stages": [
      {"stage": 1, "steps": 200, "lr": 0.001, "batch": 16, "checkpoint_every": 50, "eval_every": 50},
      {"stage": 2, "steps": 200, "lr": 0.0005, "batch": 16, "checkpoint_every": 50, "eval_every": 50},
      {"stage": 3, "steps": 300, "lr": 0.0005, "batch": 16, "checkpoint_every": 50, "eval_every": 100}]})");
}

}  // namespace

DistillPage::DistillPage(EngineController* engine, QWidget* parent) : QWidget(parent), m_engine(engine) {
  auto* editor = new QWidget;
  buildRecipeEditor(editor);
  editor->setMaximumWidth(420);

  m_progress = new QProgressBar;
  m_progress->setRange(0, 1000);
  m_progress->setValue(0);
  m_status = new QLabel(tr("No run yet. Choose a teacher, data and a run directory, then Start."));
  m_status->setWordWrap(true);
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
  auto* plotBar = new QHBoxLayout;
  plotBar->addWidget(new QLabel(tr("Smoothing")));
  plotBar->addWidget(m_smoothing, 1);
  plotBar->addWidget(m_log);
  plotBar->addWidget(openRunButton);
  plotBar->addWidget(exportButton);

  m_eval = new QTableWidget;
  m_eval->setEditTriggers(QAbstractItemView::NoEditTriggers);
  m_eval->verticalHeader()->hide();
  m_evalButton = new QPushButton(tr("Evaluate checkpoints"));
  m_evalButton->setToolTip(tr("Greedy accuracy per question family on the eval data (first 200 samples)"));
  auto* evalBox = new QGroupBox(tr("Accuracy on held-out scenes"));
  auto* evalLayout = new QVBoxLayout(evalBox);
  evalLayout->addWidget(m_eval);
  evalLayout->addWidget(m_evalButton, 0, Qt::AlignLeft);

  auto* plots = new QSplitter(Qt::Vertical);
  plots->addWidget(m_loss);
  plots->addWidget(m_layers);
  plots->addWidget(evalBox);
  plots->setStretchFactor(0, 3);
  plots->setStretchFactor(1, 3);
  plots->setStretchFactor(2, 1);
  auto* right = new QVBoxLayout;
  right->addWidget(m_status);
  right->addWidget(m_progress);
  right->addLayout(plotBar);
  right->addWidget(plots, 1);
  auto* layout = new QHBoxLayout(this);
  layout->addWidget(editor);
  layout->addLayout(right, 1);

  connect(m_smoothing, &QSlider::valueChanged, this, [this](int v) { m_loss->setSmoothing(v / 100.0); });
  connect(m_log, &QCheckBox::toggled, m_loss, &LossPlot::setLogScale);
  connect(exportButton, &QPushButton::clicked, this, &DistillPage::exportPlots);
  connect(openRunButton, &QPushButton::clicked, this, [this] {
    const QString dir = QFileDialog::getExistingDirectory(this, tr("Open a run directory"), m_runDir->text());
    QString error;
    if (!dir.isEmpty() && !openRun(dir, &error)) ui::showError(this, tr("Cannot open run"), error);
  });
  connect(m_evalButton, &QPushButton::clicked, this, &DistillPage::evaluateCheckpoints);

  connect(engine, &EngineController::metricAvailable, this, [this](quint64 id, const mm::MetricEvent& m) {
    if (id == m_runJob) onMetric(m);
  });
  connect(engine, &EngineController::stageChanged, this, [this](quint64 id, const mm::StageEvent& s) {
    if (id != m_runJob) return;
    m_runStage = qs(s.stage);
    m_status->setText(s.finished ? tr("%1 finished. %2").arg(m_runStage, qs(s.message))
                                 : tr("%1 started. %2").arg(m_runStage, qs(s.message)));
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
    if (id == m_evalJob) showEval(r);
  });
  fillEditor(defaultRecipe());
  setRunning(false);
}

void DistillPage::buildRecipeEditor(QWidget* host) {
  auto* recipeBox = new QGroupBox(tr("Recipe"));
  auto* form = new QFormLayout(recipeBox);
  m_teacher = pathRow(form, tr("Teacher"), true, this);
  m_plan = new QLineEdit;
  m_plan->setToolTip(tr("linear, interval:K[:head|:tail], stacked:N[:head|:tail] or list:I,J"));
  form->addRow(tr("Plan"), m_plan);
  m_init = new QComboBox;
  for (const char* i : {"mimic", "inherit", "scratch"}) m_init->addItem(i);
  form->addRow(tr("Init"), m_init);
  m_trainData = pathRow(form, tr("Train data"), false, this);
  m_evalData = pathRow(form, tr("Eval data"), false, this);
  auto* makeData = new QPushButton(tr("Generate scene data…"));
  makeData->setToolTip(tr("Write a train split (3000 conversations) and a val split (200) of generated scenes"));
  form->addRow(makeData);

  m_stages = new QTableWidget(3, 4);
  m_stages->setHorizontalHeaderLabels({tr("use"), tr("steps"), tr("learning rate"), tr("batch")});
  m_stages->setVerticalHeaderLabels({tr("stage 1"), tr("stage 2"), tr("stage 3")});
  m_stages->horizontalHeader()->setSectionResizeMode(QHeaderView::Stretch);
  m_stages->setToolTip(tr("Stage 1: new parameters, layerwise MSE. Stage 2: whole layer, layerwise MSE. "
                          "Stage 3: end-to-end KL against the teacher."));
  m_stages->setMaximumHeight(130);
  form->addRow(m_stages);
  auto* load = new QPushButton(tr("Load…"));
  auto* save = new QPushButton(tr("Save…"));
  auto* recipeButtons = new QHBoxLayout;
  recipeButtons->addWidget(load);
  recipeButtons->addWidget(save);
  form->addRow(recipeButtons);

  auto* runBox = new QGroupBox(tr("Run"));
  auto* runForm = new QFormLayout(runBox);
  m_runDir = pathRow(runForm, tr("Directory"), true, this);
  m_runDir->setText(QStandardPaths::writableLocation(QStandardPaths::AppLocalDataLocation) + "/runs/studio-linear");
  m_start = new QPushButton(tr("Start"));
  m_pause = new QPushButton(tr("Pause"));
  m_pause->setCheckable(true);
  m_stop = new QPushButton(tr("Stop"));
  m_resume = new QPushButton(tr("Resume run"));
  m_resume->setToolTip(tr("Continue the run in this directory from its last checkpoint"));
  auto* buttons = new QHBoxLayout;
  for (QPushButton* b : {m_start, m_pause, m_stop, m_resume}) buttons->addWidget(b);
  runForm->addRow(buttons);

  auto* layout = new QVBoxLayout(host);
  layout->setContentsMargins(0, 0, 0, 0);
  layout->addWidget(recipeBox);
  layout->addWidget(runBox);
  layout->addStretch();

  connect(load, &QPushButton::clicked, this, [this] {
    const QString f = QFileDialog::getOpenFileName(this, tr("Load recipe"), {}, tr("Recipes (*.json)"));
    QString error;
    if (!f.isEmpty() && !loadRecipe(f, &error)) ui::showError(this, tr("Cannot load recipe"), error);
  });
  connect(save, &QPushButton::clicked, this, [this] {
    const QString f = QFileDialog::getSaveFileName(this, tr("Save recipe"), "recipe.json", tr("Recipes (*.json)"));
    if (f.isEmpty()) return;
    QSaveFile out(f);
    if (!out.open(QIODevice::WriteOnly) || out.write(QByteArray::fromStdString(recipe().dump(2) + "\n")) < 0 || !out.commit())
      ui::showError(this, tr("Cannot save recipe"), out.errorString());
  });
  connect(m_engine, &EngineController::dataMade, this, [this](quint64 id, const QString& path, int) {
    if (!m_dataJobs.contains(id)) return;
    (path.endsWith("val.jsonl") ? m_evalData : m_trainData)->setText(path);
  });
  connect(m_engine, &EngineController::finished, this, [this, makeData](quint64 id) {
    if (m_dataJobs.removeOne(id) && m_dataJobs.isEmpty()) makeData->setEnabled(true);
  });
  connect(m_engine, &EngineController::failed, this, [this, makeData](quint64 id, const QString& message) {
    if (!m_dataJobs.removeOne(id)) return;
    if (m_dataJobs.isEmpty()) makeData->setEnabled(true);
    ui::showError(this, tr("Cannot generate scene data"), message);
  });
  connect(makeData, &QPushButton::clicked, this, [this, makeData] {
    const QString dir = QFileDialog::getExistingDirectory(
        this, tr("Directory for the scene data"), QStandardPaths::writableLocation(QStandardPaths::AppLocalDataLocation));
    if (dir.isEmpty()) return;
    makeData->setEnabled(false);
    m_dataJobs = {m_engine->makeData(dir, "train", 3000, 0, 3), m_engine->makeData(dir, "val", 200, 1, 1)};
    m_status->setText(tr("Generating scene data in %1…").arg(dir));
  });
  connect(m_start, &QPushButton::clicked, this, &DistillPage::start);
  connect(m_pause, &QPushButton::toggled, this, &DistillPage::setPaused);
  connect(m_stop, &QPushButton::clicked, this, &DistillPage::stop);
  connect(m_resume, &QPushButton::clicked, this, &DistillPage::resumeRun);
}

void DistillPage::fillEditor(const nlohmann::json& r) {
  m_recipe = r;
  m_teacher->setText(qs(r.value("teacher", m_teacher->text().toStdString())));
  m_plan->setText(qs(r.value("plan", std::string("linear"))));
  m_init->setCurrentText(qs(r.value("init", std::string("mimic"))));
  m_trainData->setText(qs(r.value("train_data", m_trainData->text().toStdString())));
  m_evalData->setText(qs(r.value("eval_data", m_evalData->text().toStdString())));
  for (int row = 0; row < 3; ++row) {
    nlohmann::json stage = nlohmann::json::object();
    if (r.contains("stages") && r["stages"].is_array())
      for (const auto& s : r["stages"])
        if (s.is_object() && s.value("stage", 0) == row + 1) stage = s;
    auto* use = new QTableWidgetItem;
    use->setCheckState(stage.empty() ? Qt::Unchecked : Qt::Checked);
    m_stages->setItem(row, 0, use);
    m_stages->setItem(row, 1, new QTableWidgetItem(QString::number(stage.value("steps", 200))));
    m_stages->setItem(row, 2, new QTableWidgetItem(QString::number(stage.value("lr", 5e-4))));
    m_stages->setItem(row, 3, new QTableWidgetItem(QString::number(stage.value("batch", 16))));
  }
}

nlohmann::json DistillPage::recipe() const {
  nlohmann::json r = m_recipe;
  auto set = [&](const char* key, const QString& v) {
    if (!v.trimmed().isEmpty()) r[key] = v.trimmed().toStdString();
  };
  set("teacher", m_teacher->text());
  set("plan", m_plan->text());
  set("init", m_init->currentText());
  set("train_data", m_trainData->text());
  set("eval_data", m_evalData->text());
  nlohmann::json stages = nlohmann::json::array();
  for (int row = 0; row < 3; ++row) {
    if (m_stages->item(row, 0)->checkState() != Qt::Checked) continue;
    nlohmann::json s = nlohmann::json::object();
    if (m_recipe.contains("stages") && m_recipe["stages"].is_array())
      for (const auto& old : m_recipe["stages"])
        if (old.is_object() && old.value("stage", 0) == row + 1) s = old;
    s["stage"] = row + 1;
    s["steps"] = m_stages->item(row, 1)->text().toLongLong();
    s["lr"] = m_stages->item(row, 2)->text().toDouble();
    s["batch"] = m_stages->item(row, 3)->text().toLongLong();
    stages.push_back(s);
  }
  r["stages"] = stages;
  return r;
}

bool DistillPage::loadRecipe(const QString& path, QString* error) {
  QFile f(path);
  if (!f.open(QIODevice::ReadOnly)) {
    if (error) *error = tr("Cannot read %1: %2").arg(path, f.errorString());
    return false;
  }
  const nlohmann::json j = nlohmann::json::parse(f.readAll().toStdString(), nullptr, false);
  if (!j.is_object()) {
    if (error) *error = tr("%1 is not a JSON recipe object.\nHINT: see examples/recipes/demo-linear.json").arg(path);
    return false;
  }
  m_recipeBase = QFileInfo(path).absolutePath();
  nlohmann::json resolved = j;  // the editor shows absolute paths
  for (const char* key : {"teacher", "train_data", "eval_data", "tokenizer"})
    if (j.contains(key) && j[key].is_string() && !j[key].get<std::string>().empty())
      resolved[key] = QDir(m_recipeBase).absoluteFilePath(qs(j[key].get<std::string>())).toStdString();
  fillEditor(resolved);
  return true;
}

void DistillPage::setTeacher(const QString& dir) { m_teacher->setText(dir); }
void DistillPage::setRunDirectory(const QString& dir) { m_runDir->setText(dir); }

void DistillPage::start() {
  if (running()) return;
  const QString dir = m_runDir->text().trimmed();
  if (QFileInfo::exists(dir + "/recipe.json")) {
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
  try {  // the engine's check of the whole recipe, as mmmamba distill runs it, before anything starts
    mm::validate_recipe(mm::Recipe::from_json(r, req.recipeBase.toStdString()));
  } catch (const mm::Error& e) {
    ui::showError(this, tr("The recipe is not valid"), QString::fromStdString(e.full_message()));
    return;
  }
  m_loss->clearAll();
  m_layers->clearAll();
  m_checkpoints.clear();
  m_progress->setValue(0);
  try {
    m_runJob = m_engine->startRun(req);
  } catch (const std::exception& e) {
    ui::showError(this, tr("The recipe is not valid"), QString::fromUtf8(e.what()));
    return;
  }
  m_status->setText(tr("Starting…"));
  setRunning(true);
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

void DistillPage::rememberStageSteps(const nlohmann::json& recipe) {
  m_stageSteps.clear();
  if (recipe.contains("stages") && recipe["stages"].is_array())
    for (const auto& st : recipe["stages"])
      if (st.is_object() && st.value("stage", nlohmann::json(0)).is_number_integer() && st.value("steps", nlohmann::json(0)).is_number_integer())
        m_stageSteps.insert(QString("stage%1").arg(st.value("stage", 0)), st.value("steps", int64_t(0)));
}

void DistillPage::setRunning(bool on) {
  m_start->setEnabled(!on);
  m_resume->setEnabled(!on);
  m_pause->setEnabled(on);
  m_stop->setEnabled(on);
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
}

bool DistillPage::openRun(const QString& dir, QString* error) {
  mm::RunHistory h;
  try {
    h = mm::read_run_history(dir.toStdString());
  } catch (const std::exception& e) {
    if (error) *error = QString::fromUtf8(e.what());
    return false;
  }
  m_runDir->setText(dir);
  const nlohmann::json r = nlohmann::json::parse(h.recipe_text, nullptr, false);
  if (r.is_object()) {
    fillEditor(r);
    rememberStageSteps(r);
  }
  m_recipeBase = dir;
  m_loss->clearAll();
  m_layers->clearAll();
  for (const mm::MetricEvent& m : h.metrics) {
    m_loss->addMetric(m);
    m_layers->addMetric(m);
  }
  m_loss->flush();
  m_layers->flush();
  m_checkpoints.clear();
  for (const auto& [stage, path] : h.latest) m_checkpoints[qs(stage)] = qs(path);
  for (const auto& [stage, path] : h.finals) m_checkpoints[qs(stage)] = qs(path);
  m_status->setText(tr("Run %1: %2 metric points, checkpoints of %3.")
                        .arg(dir).arg(h.metrics.size()).arg(QStringList(m_checkpoints.keys()).join(", ")));
  return true;
}

void DistillPage::evaluateCheckpoints() {
  QStringList paths, labels;
  if (!m_teacher->text().isEmpty()) paths << m_teacher->text(), labels << "teacher";
  for (auto it = m_checkpoints.begin(); it != m_checkpoints.end(); ++it) paths << it.value(), labels << it.key();
  if (m_evalData->text().isEmpty() || paths.isEmpty()) {
    ui::showError(this, tr("Nothing to evaluate"), tr("Evaluation needs eval data and at least one checkpoint.\n"
                                                      "Set Eval data in the recipe and run or open a run."));
    return;
  }
  m_evalButton->setEnabled(false);
  m_evalJob = m_engine->evaluate(paths, labels, m_evalData->text(), 200);
}

void DistillPage::showEval(const std::vector<mm::EvalResult>& results) {
  QStringList families;
  for (const mm::EvalResult& r : results)
    for (const auto& [f, s] : r.families)
      if (!families.contains(qs(f))) families << qs(f);
  m_eval->clear();
  m_eval->setRowCount(int(results.size()));
  m_eval->setColumnCount(families.size() + 2);
  m_eval->setHorizontalHeaderLabels(QStringList{tr("model")} + families + QStringList{tr("overall")});
  for (int i = 0; i < int(results.size()); ++i) {
    const mm::EvalResult& r = results[size_t(i)];
    m_eval->setItem(i, 0, new QTableWidgetItem(qs(r.label)));
    for (int f = 0; f < families.size(); ++f) {
      const auto it = r.families.find(families[f].toStdString());
      m_eval->setItem(i, f + 1, new QTableWidgetItem(it == r.families.end() ? "–"
                                                      : QString::number(100 * it->second.accuracy(), 'f', 1) + "%"));
    }
    m_eval->setItem(i, families.size() + 1, new QTableWidgetItem(QString::number(100 * r.overall.accuracy(), 'f', 1) + "%"));
  }
  m_eval->resizeColumnsToContents();
}

void DistillPage::exportPlots() {
  const QString base = QFileDialog::getSaveFileName(this, tr("Export plots and CSV (base name)"), "distill.png",
                                                    tr("PNG (*.png);;SVG (*.svg);;PDF (*.pdf)"));
  if (base.isEmpty()) return;
  QString error;
  const QString stem = base.left(base.lastIndexOf('.'));
  const QString ext = base.mid(base.lastIndexOf('.'));
  bool ok = ui::exportPlot(m_loss, base, &error) &&
            ui::exportPlot(m_layers->curves(), stem + "-layers" + ext, &error) &&
            ui::exportPlot(m_layers->heatmap(), stem + "-heatmap" + ext, &error) &&
            ui::writeTextFile(stem + "-loss.csv", m_loss->toCsv(), &error) &&
            ui::writeTextFile(stem + "-layers.csv", m_layers->toCsv(), &error);
  if (!ok) ui::showError(this, tr("Export failed"), error);
}

QString DistillPage::cliEquivalent() const {
  return QString("mmmamba distill --recipe RECIPE.json --run %1   # the recipe as shown, saved with Save…\n"
                 "mmmamba distill --run %1 --resume\n"
                 "mmmamba eval --data %2 --run %1")
      .arg(ui::shellQuote(m_runDir->text()), ui::shellQuote(m_evalData->text()));
}
