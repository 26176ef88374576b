// The Model page: open a checkpoint, see its architecture and layer strip, plan a hybrid (interval,
// head/tail interleaving or stacking, or clicked cells) with its predicted params and memory curve,
// and seed a student from the teacher.
#pragma once

#include <QWidget>

#include "controller/uitypes.h"

class EngineController;
class LayerStrip;
class QComboBox;
class QCustomPlot;
class QLabel;
class QPlainTextEdit;
class QPushButton;
class QSpinBox;

class ModelPage : public QWidget {
  Q_OBJECT
 public:
  explicit ModelPage(EngineController* engine, QWidget* parent = nullptr);

  /// Opens a checkpoint directory (also from drag and drop and the recent list).
  void openModel(const QString& dir);
  const ModelInfo& model() const { return m_model; }
  /// The plan currently chosen, in mmmamba's plan syntax ("interval:4:head", "list:0,3", ...).
  QString planText() const;
  /// The plan's layer kinds applied to the open model.
  mm::ModelConfig plannedConfig() const;
  /// Sets the planner to a plan in planText() syntax (the Distill recipe's, when its teacher opens here),
  /// without emitting planChanged. A plan that does not parse or fit the open model leaves it as it is.
  void showPlan(const QString& plan);
  QString cliEquivalent() const;

  // For tests and the screenshot script.
  LayerStrip* layerStrip() const { return m_strip; }
  QCustomPlot* memoryPlot() const { return m_plot; }
  QComboBox* planMode() const { return m_mode; }
  QSpinBox* intervalBox() const { return m_interval; }

 signals:
  void modelLoaded(const ModelInfo& info);
  void studentSeeded(const SeedSummary& summary);
  /// The user changed the plan (mode, interval, placement or clicked cells), in planText() syntax. Opening
  /// a checkpoint or showPlan does not emit it.
  void planChanged(const QString& plan);

 protected:
  void dragEnterEvent(QDragEnterEvent* event) override;
  void dropEvent(QDropEvent* event) override;

 private:
  void showModel(const ModelInfo& info);
  void updatePlan();
  void updateMemoryPlot(const mm::ModelConfig& planned);
  void seedStudent();
  void rememberRecent(const QString& dir);
  void chooseDirectory();

  EngineController* m_engine;
  ModelInfo m_model;
  quint64 m_openJob = 0, m_seedJob = 0;
  std::vector<mm::LayerKind> m_custom;  ///< kinds of the "custom" plan (clicked cells)

  QComboBox* m_recent;
  QLabel* m_path;
  QLabel* m_summary;
  LayerStrip* m_strip;
  QComboBox* m_mode;
  QSpinBox* m_interval;
  QSpinBox* m_count;
  QComboBox* m_placement;
  QLabel* m_planLabel;
  QLabel* m_planStats;
  QCustomPlot* m_plot;
  QComboBox* m_init;
  QPushButton* m_seed;
  QPlainTextEdit* m_report;
};
