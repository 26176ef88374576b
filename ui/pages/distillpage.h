// The Distill page: edit or load a recipe, start / pause / resume / stop a run (stages chain with the
// engine's stage guard), watch the total loss per stage, the per-layer losses and their heatmap live
// with ETA, tokens/s and learning rate; reopen a past run and compare it with another; export plots
// and CSV; evaluate the run's checkpoints per question family.
#pragma once

#include <QElapsedTimer>
#include <QWidget>

#include <nlohmann/json.hpp>

#include "controller/uitypes.h"
#include "data/scene.h"

class EngineController;
class LayerLossPlot;
class LossPlot;
class QCheckBox;
class QComboBox;
class QLabel;
class QLineEdit;
class QProgressBar;
class QPushButton;
class QSettings;
class QSlider;
class QSpinBox;
class QTableWidget;

class DistillPage : public QWidget {
  Q_OBJECT
 public:
  explicit DistillPage(EngineController* engine, QWidget* parent = nullptr);

  /// Loads a recipe file into the editor. False with a reason when it cannot be read.
  bool loadRecipe(const QString& path, QString* error);
  /// Fills the editor with a shipped CPU demo recipe ("demo-linear" or "demo-hybrid"), keeping the
  /// teacher and data fields where the recipe's own paths are not here; a run directory named studio-*
  /// becomes studio-linear or studio-hybrid. False when the recipe is not found.
  bool loadDemoRecipe(const QString& name);
  /// The teacher checkpoint; layers > 0 lets the plan be checked against its layer count.
  void setTeacher(const QString& checkpointDir, int layers = 0);
  /// Sets the plan field (mmmamba plan syntax), e.g. from the Model page's planner.
  void setPlan(const QString& plan);
  QString planText() const;
  /// Why the plan field cannot run, or empty when it can (checked on every edit).
  QString planProblem() const;
  void setRunDirectory(const QString& dir);
  QString runDirectory() const;
  /// The held-out split that Evaluate checkpoints scores.
  void setEvalData(const QString& path);
  /// The recipe as the editor shows it (JSON).
  nlohmann::json recipe() const;
  void start();
  void resumeRun();
  void setPaused(bool paused);
  void stop();
  /// Writes these splits (SceneDataDialog) and sets Train / Eval data when they are done.
  void generateSceneData(const std::vector<mm::data::SceneDataOptions>& splits);
  /// Redraws a past run's curves from its directory and lists its checkpoints.
  bool openRun(const QString& dir, QString* error);
  /// Overlays another run's total loss on the loss plot (dashed), beside the run shown.
  bool compareWith(const QString& dir, QString* error);
  void evaluateCheckpoints();
  /// Writes the three plots to PATH (its extension picks PNG, SVG or PDF; the layer plots get
  /// -layers and -heatmap before it), each titled with the run's name, and every metric column to
  /// STEM-metrics.csv. False with a reason when a file cannot be written.
  bool exportTo(const QString& path, QString* error);
  bool running() const { return m_runJob != 0; }
  /// The run's student: the checkpoint of its last stage (the final one once the run finished), with that
  /// stage's name; empty when the run has none yet.
  std::pair<QString, QString> studentCheckpoint() const;
  QString cliEquivalent() const;
  /// The recipe in the editor (with its data paths) and the run directory, under distill/ (QSettings).
  void saveSettings(QSettings& settings) const;
  void restoreSettings(const QSettings& settings);
  QString teacherPath() const;

  LossPlot* lossPlot() const { return m_loss; }
  LayerLossPlot* layerPlot() const { return m_layers; }
  QTableWidget* stageTable() const { return m_stages; }
  QTableWidget* evalTable() const { return m_eval; }
  QLabel* statusLabel() const { return m_status; }
  /// The current run's warnings: the recipe check's and the engine's (records left out, ...).
  QLabel* warningsLabel() const { return m_warnings; }
  QComboBox* planField() const { return m_plan; }
  QLabel* planCheck() const { return m_planCheck; }

 signals:
  void runStopped(bool finished);
  void checkpointReady(const QString& stage, const QString& path);
  /// Every split of the last Generate scene data finished (the status line says where and how many).
  void sceneDataReady();

 private:
  void buildRecipeEditor(QWidget* host);
  void fillEditor(const nlohmann::json& recipe);
  void checkPlan();
  void onMetric(const mm::MetricEvent& m);
  void setRunning(bool running);
  /// Steps per stage of the run being shown, for progress and ETA.
  void addRunWarning(const QString& warning);
  void rememberStageSteps(const nlohmann::json& recipe);
  /// "stage1" -> mse_factor for every stage of a recipe (the default where it names none).
  static QMap<QString, double> mseFactors(const nlohmann::json& recipe);
  void showEval(const std::vector<mm::EvalResult>& results);
  /// Shows a finished evaluation and saves it in the run it was made for (eval.json).
  void onEvaluated(const std::vector<mm::EvalResult>& results);
  void exportPlots();
  /// The run's name for titles: the recipe's name and the run directory's last part.
  QString runTitle() const;

  EngineController* m_engine;
  nlohmann::json m_recipe;  ///< fields the editor does not show are kept as loaded
  QString m_recipeBase;     ///< relative paths in the recipe resolve against this directory
  quint64 m_runJob = 0, m_evalJob = 0;
  QString m_evalRunDir;  ///< the run directory the running evaluation is saved into, or empty
  QMap<QString, QString> m_checkpoints;  ///< stage -> latest checkpoint of the current run
  QString m_runStage;
  std::vector<mm::MetricEvent> m_metrics;  ///< every step of the run shown, for the CSV export
  QMap<QString, int64_t> m_stageSteps;  ///< "stage1" -> steps
  QList<quint64> m_dataJobs;            ///< scene data generation jobs still running
  QStringList m_dataMade;               ///< "train.jsonl (3000 conversations)" per finished split

  QLineEdit* m_teacher;
  QComboBox* m_plan;
  QLabel* m_planCheck;
  int m_teacherLayers = 0;
  QComboBox* m_init;
  QLineEdit* m_trainData;
  QLineEdit* m_evalData;
  QTableWidget* m_stages;
  QLineEdit* m_runDir;
  QPushButton* m_start;
  QPushButton* m_pause;
  QPushButton* m_stop;
  QPushButton* m_resume;
  QSpinBox* m_workers;
  QProgressBar* m_progress;
  QLabel* m_status;
  QLabel* m_warnings;       ///< hidden while the run has none
  QStringList m_runWarnings;
  LossPlot* m_loss;
  LayerLossPlot* m_layers;
  QSlider* m_smoothing;
  QCheckBox* m_log;
  QTableWidget* m_eval;
  QWidget* m_evalBox;  ///< the accuracy table and its button, a page of m_layers
  QPushButton* m_evalButton;
};
