// The Benchmark page: choose models (loaded checkpoints or named architectures with random weights),
// context lengths, prefill/decode and repeats; latency and peak memory curves fill in live on log axes,
// one colour per model, out-of-memory as a marked point while the sweep goes on, the decode floor
// (bytes / bandwidth) dashed where the device is known; overlay saved sweeps; export.
#pragma once

#include <QMap>
#include <QWidget>

#include "bench/benchmark.h"
#include "controller/uitypes.h"

class BenchTable;
class EngineController;
class QCheckBox;
class QComboBox;
class QCPItemText;
class QCPTextElement;
class QCustomPlot;
class QLineEdit;
class QListWidget;
class QPushButton;
class QSettings;
class QSplitter;
class QSpinBox;

class BenchmarkPage : public QWidget {
  Q_OBJECT
 public:
  explicit BenchmarkPage(EngineController* engine, QWidget* parent = nullptr);

  /// Offers a checkpoint in the model list (checked when asked).
  void addCheckpoint(const QString& label, const QString& path, bool checked);
  /// Adds a named architecture with a plan (random weights), e.g. ("hovle-2.6b", "hybrid").
  void addArchitecture(const QString& architecture, const QString& plan, bool checked);
  void setLengths(const QString& commaSeparated);
  void setPhases(bool prefill, bool decode);
  void setRepeats(int repeats);
  /// After each prefill, one more with every op timed (mmmamba bench --op-times); the table shows it.
  void setOpTimes(bool on);
  /// Test hook passed to the engine: simulate an out-of-memory at this length.
  void setInjectedOomLength(qint64 length) { m_injectOom = length; }
  void start();
  void stop();
  bool running() const { return m_job != 0; }
  /// Draws a saved sweep (bench JSON) beside the live curves. False with a reason when unreadable.
  bool loadOverlay(const QString& path, QString* error);
  QString cliEquivalent() const;
  /// The splitters' positions (table against plots, time against memory), remembered across starts.
  void saveSettings(QSettings& settings) const;
  void restoreSettings(const QSettings& settings);
  QSplitter* pageSplitter() const { return m_pageSplit; }
  /// Writes both plots to STEM-latency.EXT and STEM-memory.EXT (the extension picks PNG, SVG or PDF),
  /// the live rows to STEM.csv and the last sweep's JSON to STEM.json. False with a reason on failure.
  bool exportTo(const QString& path, QString* error);

  /// Points drawn for a model (live rows; an oom row counts as one point).
  int pointCount(const QString& model) const;
  int oomCount() const;
  QCustomPlot* latencyPlot() const { return m_latency; }
  /// The line key under the latency plot's legend.
  QString latencyKeyText() const;
  QCustomPlot* memoryPlot() const { return m_memory; }
  /// Short plots (under 600 px together, as at 1024x700) drop what the other one shows: the
  /// latency plot's x-axis title (the memory plot's, just below, names the same lengths) and the
  /// memory plot's legend (the latency plot's, just above, has the same models in the same colours).
  /// Exports always have both.
  bool compact() const { return m_compact; }
  /// A row per measurement, under the plots at the page's full width.
  BenchTable* resultsTable() const { return m_table; }

 signals:
  void sweepFinished();

 private:
  struct Curve {
    int color = 0;
    QVector<mm::BenchRow> rows;
    bool overlay = false;
  };
  QMap<QString, int> m_colorOf;  ///< model -> palette index, kept across sweeps and Clear
  mm::BenchOptions options() const;
  void addRow(const QString& key, const mm::BenchRow& row, bool overlay);
  void redraw();
  void exportResults();
  bool eventFilter(QObject* watched, QEvent* event) override;
  void setCompact(bool compact);
  /// Splits the plots' height so that their data areas are as tall as each other (a legend of many
  /// entries above the latency plot left it a 42 px strip), until the user moves the splitter.
  void balancePlots();
  /// Each plot's legend in its row while it has entries (the memory plot's only when not compact).
  void placeLegends();

  EngineController* m_engine;
  quint64 m_job = 0;
  qint64 m_injectOom = -1;
  bool m_compact = false;
  bool m_plotsSizedByUser = false;  ///< the plot splitter was dragged (now or in a saved session)
  QString m_lastJson;
  QMap<QString, Curve> m_curves;  ///< by model label (overlays suffixed with their card or file)

  QListWidget* m_models;
  QComboBox* m_arch;
  QComboBox* m_archPlan;
  QLineEdit* m_lengths;
  QComboBox* m_phase;
  QSpinBox* m_repeats;
  QSpinBox* m_tokens;
  QCheckBox* m_opTimes;
  QComboBox* m_device;
  QPushButton* m_run;
  QPushButton* m_stop;
  QCustomPlot* m_latency;
  QCPTextElement* m_latencyKey;  ///< what the latency plot's line styles mean
  QCPItemText* m_latencyEmpty;   ///< "No measurements yet" on each plot before a sweep
  QCPItemText* m_memoryEmpty;
  QCustomPlot* m_memory;
  BenchTable* m_table;
  QSplitter* m_pageSplit;
  QSplitter* m_plotSplit;
};
