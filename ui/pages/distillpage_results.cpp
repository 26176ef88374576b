// The Distill page's results: a past run reopened, the evaluation table, exports.
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
#include <QStandardPaths>
#include <QTableWidget>
#include <QVBoxLayout>

#include "controller/enginecontroller.h"
#include "plots/exportplot.h"
#include "plots/layerlossplot.h"
#include "plots/lossplot.h"
#include "train/run_metrics.h"
#include "widgets/messages.h"
#include "widgets/text.h"

using ui::qs;

namespace {

/// A run directory's recipe, metrics, checkpoints and evaluation; false with the reason.
bool readRun(const QString& dir, mm::RunHistory* h, QString* error) {
  try {
    *h = mm::read_run_history(dir.toStdString());
    return true;
  } catch (const std::exception& e) {
    if (error) *error = QString::fromUtf8(e.what());
    return false;
  }
}

}  // namespace

bool DistillPage::openRun(const QString& dir, QString* error) {
  mm::RunHistory h;
  if (!readRun(dir, &h, error)) return false;
  m_runDir->setText(dir);
  const nlohmann::json r = nlohmann::json::parse(h.recipe_text, nullptr, false);
  if (r.is_object()) {
    fillEditor(r);
    rememberStageSteps(r);
  }
  m_recipeBase = dir;
  m_loss->clearAll();
  m_layers->clearAll();
  m_metrics = h.metrics;
  for (const mm::MetricEvent& m : h.metrics) {
    m_loss->addMetric(m);
    m_layers->addMetric(m);
  }
  m_loss->flush();
  m_layers->flush();
  m_checkpoints.clear();
  for (const auto& [stage, path] : h.latest) m_checkpoints[qs(stage)] = qs(path);
  for (const auto& [stage, path] : h.finals) m_checkpoints[qs(stage)] = qs(path);
  if (!h.metrics.empty()) onMetric(h.metrics.back());  // progress and the last step's numbers, as when it ran
  showEval(h.eval);  // the run's saved evaluation, or an empty table
  m_status->setText(tr("Run %1: %2 metric points, checkpoints of %3.")
                        .arg(dir).arg(h.metrics.size()).arg(QStringList(m_checkpoints.keys()).join(", ")));
  return true;
}

bool DistillPage::compareWith(const QString& dir, QString* error) {
  mm::RunHistory h;
  if (!readRun(dir, &h, error)) return false;
  if (h.metrics.empty()) {
    if (error) *error = tr("%1 has no loss points yet (metrics.jsonl is empty).").arg(dir);
    return false;
  }
  m_loss->setComparison(QFileInfo(dir).fileName(), h.metrics, mseFactors(nlohmann::json::parse(h.recipe_text, nullptr, false)));
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
  m_evalRunDir = QFileInfo::exists(m_runDir->text() + "/recipe.json") ? m_runDir->text() : QString();
}

void DistillPage::onEvaluated(const std::vector<mm::EvalResult>& results) {
  showEval(results);
  m_layers->showPage(m_evalBox);  // the table the user asked for comes to the front
  if (m_evalRunDir.isEmpty()) return;  // no run to keep it in
  try {  // kept in the run, so reopening it shows the table again
    mm::save_run_eval(m_evalRunDir.toStdString(), results);
  } catch (const std::exception& e) {
    ui::showError(this, tr("Cannot save the evaluation"),
                  tr("The table is shown but was not saved in %1: %2").arg(m_evalRunDir, QString::fromUtf8(e.what())));
  }
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

QString DistillPage::runTitle() const {
  const QString name = m_recipe.is_object() && m_recipe.contains("name") && m_recipe["name"].is_string()
                           ? qs(m_recipe["name"].get<std::string>()) : QString();
  const QString dir = QFileInfo(m_runDir->text()).fileName();
  return name.isEmpty() || name == dir ? dir : dir.isEmpty() ? name : QString("%1 (%2)").arg(name, dir);
}

bool DistillPage::exportTo(const QString& path, QString* error) {
  const int dot = path.lastIndexOf('.');
  const QString stem = dot > 0 ? path.left(dot) : path;
  const QString ext = dot > 0 ? path.mid(dot) : QString(".png");
  const QString run = runTitle();
  return ui::exportPlot(m_loss, stem + ext, tr("%1: distillation loss per step").arg(run), error) &&
         ui::exportPlot(m_layers->curves(), stem + "-layers" + ext, tr("%1: loss per converted layer").arg(run), error) &&
         ui::exportPlot(m_layers->heatmap(), stem + "-heatmap" + ext, tr("%1: per-layer loss over steps").arg(run), error) &&
         ui::writeTextFile(stem + "-metrics.csv", qs(mm::metrics_csv(m_metrics)), error);
}

void DistillPage::exportPlots() {
  const QString path = QFileDialog::getSaveFileName(this, tr("Export plots and CSV (base name)"), "distill.png",
                                                    tr("PNG (*.png);;SVG (*.svg);;PDF (*.pdf)"));
  QString error;
  if (!path.isEmpty() && !exportTo(path, &error)) ui::showError(this, tr("Export failed"), error);
}
