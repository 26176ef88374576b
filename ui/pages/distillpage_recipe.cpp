// The Distill page's recipe editor: teacher, plan (checked as it is typed), init, data (with the
// Generate scene data dialog), stages; loading and saving recipes.
#include "pages/distillpage.h"

#include <algorithm>

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
#include <QMenu>
#include <QProgressBar>
#include <QPushButton>
#include <QSaveFile>
#include <QSettings>
#include <QSpinBox>
#include <QStandardPaths>
#include <QTableWidget>
#include <QVBoxLayout>

#include "config/layer_plan.h"
#include "controller/enginecontroller.h"
#include "widgets/messages.h"
#include "widgets/scenedatadialog.h"
#include "widgets/text.h"
#include "widgets/textscale.h"

namespace {

using ui::qs;

/// A line edit with a browse button (directory or file).
QLineEdit* pathRow(QFormLayout* form, const QString& label, bool directory, QWidget* parent) {
  auto* edit = new QLineEdit;
  auto* browse = new QPushButton(QObject::tr("…"));
  ui::followTextSize(browse, [browse] { browse->setMaximumWidth(ui::scaledPx(32)); });
  auto* row = new QHBoxLayout;
  row->addWidget(edit, 1);
  row->addWidget(browse);
  form->addRow(label, row);
  // A long path shows only its tail in the narrow recipe column: the tooltip holds all of it.
  QObject::connect(edit, &QLineEdit::textChanged, edit, [edit](const QString& text) { edit->setToolTip(text); });
  QObject::connect(browse, &QPushButton::clicked, parent, [=] {
    const QString p = directory ? QFileDialog::getExistingDirectory(parent, label, edit->text())
                                : QFileDialog::getOpenFileName(parent, label, edit->text(), QObject::tr("JSONL (*.jsonl)"));
    if (!p.isEmpty()) edit->setText(p);
  });
  return edit;
}

/// "2 of 6 layers stay attention" for a valid plan; the plan's kinds over `layers` when known.
QString planSummary(const QString& plan, int layers) {
  if (layers <= 0) return QObject::tr("a valid plan");
  const std::vector<mm::LayerKind> kinds = mm::LayerPlan::parse(plan.toStdString()).kinds(layers);
  const auto attention = std::count(kinds.begin(), kinds.end(), mm::LayerKind::attention);
  return QObject::tr("%1 of %2 layers stay attention, %3 become Mamba-2").arg(attention).arg(layers).arg(layers - attention);
}

}  // namespace

void DistillPage::buildRecipeEditor(QWidget* host) {
  auto* recipeBox = new QGroupBox(tr("Recipe"));
  auto* form = new QFormLayout(recipeBox);
  m_teacher = pathRow(form, tr("Teacher"), true, this);
  m_plan = new QComboBox;
  m_plan->setEditable(true);
  m_plan->setInsertPolicy(QComboBox::NoInsert);
  m_plan->addItems({"linear", "hybrid", "interval:2:head", "interval:4:tail", "stacked:2:head", "stacked:3:head", "stacked:2:tail"});
  m_plan->setToolTip(tr("linear, hybrid (= interval:4:head), interval:K[:head|:tail], stacked:N[:head|:tail] or "
                        "list:I,J (layers numbered over the whole model). The Model page's planner sets it too."));
  form->addRow(tr("Plan"), m_plan);
  m_planCheck = new QLabel;
  m_planCheck->setObjectName("planCheck");
  m_planCheck->setWordWrap(true);
  // One line high: a growable label took all the form's spare height (an 83 px row at 1080 px).
  m_planCheck->setSizePolicy(QSizePolicy::Preferred, QSizePolicy::Maximum);
  form->addRow(QString(), m_planCheck);
  connect(m_plan, &QComboBox::editTextChanged, this, &DistillPage::checkPlan);
  m_init = new QComboBox;
  for (const char* i : {"mimic", "inherit", "scratch"}) m_init->addItem(i);
  form->addRow(tr("Init"), m_init);
  m_trainData = pathRow(form, tr("Train data"), false, this);
  m_evalData = pathRow(form, tr("Eval data"), false, this);
  auto* makeData = new QPushButton(tr("Generate scene data…"));
  makeData->setToolTip(tr("Write a train and a val split of generated scenes (count, families, seed, image size)"));
  form->addRow(makeData);

  m_stages = new QTableWidget(3, 4);
  m_stages->setHorizontalHeaderLabels({tr("use"), tr("steps"), tr("learning rate"), tr("batch")});
  m_stages->setVerticalHeaderLabels({tr("stage 1"), tr("stage 2"), tr("stage 3")});
  m_stages->horizontalHeader()->setSectionResizeMode(QHeaderView::Stretch);
  m_stages->horizontalHeader()->setSectionResizeMode(0, QHeaderView::ResizeToContents);
  m_stages->horizontalHeader()->setSectionResizeMode(2, QHeaderView::ResizeToContents);
  m_stages->setToolTip(tr("Stage 1: new parameters, layerwise MSE. Stage 2: whole layer, layerwise MSE. "
                          "Stage 3: end-to-end KL against the teacher."));
  // Exactly the header and three rows: no empty band below stage 3 (and none cut at a new text size).
  ui::followTextSize(m_stages, [this] {
    m_stages->setFixedHeight(m_stages->horizontalHeader()->sizeHint().height() +
                             3 * m_stages->verticalHeader()->defaultSectionSize() + 2 * m_stages->frameWidth());
  });
  form->addRow(m_stages);
  auto* demo = new QPushButton(tr("Demo"));
  demo->setObjectName("demoRecipes");
  demo->setToolTip(tr("The shipped CPU demo recipes: all three stages in under 15 minutes on 2 cores"));
  auto* demoMenu = new QMenu(demo);
  const auto addDemo = [this, demoMenu](const QString& text, const QString& name) {
    demoMenu->addAction(text, this, [this, name] {
      if (!loadDemoRecipe(name))
        ui::showError(this, tr("Cannot load the demo recipe"),
                      tr("%1.json is not installed (share/mmmamba/recipes beside the studio, or the source tree's "
                         "examples/recipes).\nHINT: reinstall the package, or Load… a recipe file.").arg(name));
    });
  };
  addDemo(tr("Linear student (demo-linear.json)"), "demo-linear");
  addDemo(tr("Hybrid student, 3 attention layers (demo-hybrid.json)"), "demo-hybrid");
  demo->setMenu(demoMenu);
  auto* load = new QPushButton(tr("Load…"));
  auto* save = new QPushButton(tr("Save…"));
  auto* recipeButtons = new QHBoxLayout;
  recipeButtons->addWidget(demo);
  recipeButtons->addWidget(load);
  recipeButtons->addWidget(save);
  form->addRow(recipeButtons);

  auto* runBox = new QGroupBox(tr("Run"));
  auto* runForm = new QFormLayout(runBox);
  m_runDir = pathRow(runForm, tr("Directory"), true, this);
  m_runDir->setText(QStandardPaths::writableLocation(QStandardPaths::AppLocalDataLocation) + "/runs/studio-linear");
  m_start = new QPushButton(tr("Start"));
  m_pause = new QPushButton(tr("Pause"));
  m_pause->setObjectName("pause");
  m_pause->setCheckable(true);
  m_stop = new QPushButton(tr("Stop"));
  m_resume = new QPushButton(tr("Resume run"));
  m_resume->setToolTip(tr("Continue the run in this directory from its last checkpoint"));
  m_workers = new QSpinBox;
  m_workers->setObjectName("workers");
  m_workers->setRange(1, 8);
  m_workers->setToolTip(tr("Data parallel: ranks that each take a share of every batch and average their "
                           "gradients (c10d over Gloo, in this process). The results match one worker; "
                           "Pause needs one worker. mmmamba distill --nproc N does the same in N processes."));
  runForm->addRow(tr("Workers"), m_workers);
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
  connect(m_engine, &EngineController::dataMade, this, [this](quint64 id, const QString& path, int samples) {
    if (!m_dataJobs.contains(id)) return;
    (path.endsWith("val.jsonl") ? m_evalData : m_trainData)->setText(path);
    m_dataMade << tr("%1 (%2 conversations)").arg(QFileInfo(path).fileName()).arg(samples);
  });
  connect(m_engine, &EngineController::finished, this, [this, makeData](quint64 id) {
    if (!m_dataJobs.removeOne(id) || !m_dataJobs.isEmpty()) return;
    makeData->setEnabled(true);
    m_status->setText(tr("Scene data ready in %1: %2. Train and Eval data are set.")
                          .arg(QFileInfo(m_trainData->text()).absolutePath(), m_dataMade.join(", ")));
    emit sceneDataReady();
  });
  connect(m_engine, &EngineController::failed, this, [this, makeData](quint64 id, const QString& message) {
    if (!m_dataJobs.removeOne(id)) return;
    if (m_dataJobs.isEmpty()) makeData->setEnabled(true);
    ui::showError(this, tr("Cannot generate scene data"), message);
  });
  connect(makeData, &QPushButton::clicked, this, [this, makeData] {
    SceneDataDialog dialog(this);
    if (dialog.exec() != QDialog::Accepted) return;
    makeData->setEnabled(false);
    generateSceneData(dialog.splits());
  });
  connect(m_start, &QPushButton::clicked, this, &DistillPage::start);
  connect(m_pause, &QPushButton::toggled, this, &DistillPage::setPaused);
  connect(m_stop, &QPushButton::clicked, this, &DistillPage::stop);
  connect(m_resume, &QPushButton::clicked, this, &DistillPage::resumeRun);
}

void DistillPage::generateSceneData(const std::vector<mm::data::SceneDataOptions>& splits) {
  m_dataMade.clear();
  m_dataJobs.clear();
  for (const mm::data::SceneDataOptions& o : splits) m_dataJobs << m_engine->makeData(o);
  m_status->setText(tr("Generating scene data in %1…").arg(qs(splits.front().out_dir)));
}

void DistillPage::fillEditor(const nlohmann::json& r) {
  m_recipe = r;
  if (r.contains("teacher") && qs(r.value("teacher", std::string())) != m_teacher->text())
    m_teacherLayers = 0;  // another teacher: its layer count is not known here
  m_teacher->setText(qs(r.value("teacher", m_teacher->text().toStdString())));
  setPlan(qs(r.value("plan", std::string("linear"))));
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
  set("plan", planText());
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
void DistillPage::setTeacher(const QString& dir, int layers) {
  m_teacher->setText(dir);
  m_teacherLayers = layers;
  checkPlan();  // against the layer count
}

void DistillPage::checkPlan() {
  const QString problem = planProblem();
  m_planCheck->setText(problem.isEmpty() ? tr("✓ %1").arg(planSummary(planText(), m_teacherLayers))
                                         : tr("<font color=#b00>✗ %1</font>").arg(problem.toHtmlEscaped()));
}

void DistillPage::setPlan(const QString& plan) { m_plan->setEditText(plan); }

QString DistillPage::planText() const { return m_plan->currentText().trimmed(); }

QString DistillPage::planProblem() const {
  try {
    const mm::LayerPlan plan = mm::LayerPlan::parse(planText().toStdString());
    if (plan.mode == mm::LayerPlan::Mode::teacher) return tr("the teacher plan keeps every layer: nothing to distil");
    if (m_teacherLayers > 0) (void)plan.kinds(m_teacherLayers);  // a list or count past the model's layers
  } catch (const std::exception& e) {
    QString why = QString::fromUtf8(e.what()).section('\n', 0, 0);
    const QString prefix = QString("layer plan '%1': ").arg(planText());  // the field shows the plan already
    return why.startsWith(prefix) ? why.mid(prefix.size()) : why;
  }
  return {};
}

QString DistillPage::teacherPath() const { return m_teacher->text().trimmed(); }

void DistillPage::saveSettings(QSettings& settings) const {
  settings.setValue("distill/recipe", QString::fromStdString(recipe().dump()));
  settings.setValue("distill/recipeBase", m_recipeBase);
  settings.setValue("distill/runDir", m_runDir->text());
}

void DistillPage::restoreSettings(const QSettings& settings) {
  const nlohmann::json r = nlohmann::json::parse(settings.value("distill/recipe").toString().toStdString(), nullptr, false);
  if (r.is_object()) {  // a missing or damaged entry leaves the shipped demo recipe
    m_recipeBase = settings.value("distill/recipeBase").toString();
    fillEditor(r);
  }
  const QString runDir = settings.value("distill/runDir").toString();
  if (!runDir.isEmpty()) m_runDir->setText(runDir);
}
