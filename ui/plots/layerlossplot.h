// Per-layer losses of stages 1-2: one curve per converted layer, and the same numbers as a
// layer × step heatmap (log colour scale). Batched like LossPlot.
#pragma once

#include <QMap>
#include <QTimer>
#include <QVector>
#include <QWidget>

#include "runtime/job.h"

class QComboBox;
class QCustomPlot;
class QCPColorMap;
class QCPItemText;
class QTabWidget;

class LayerLossPlot : public QWidget {
  Q_OBJECT
 public:
  explicit LayerLossPlot(QWidget* parent = nullptr);

  void addMetric(const mm::MetricEvent& m);
  /// The recipe's mse_factor of a stage ("stage1"): curves and heatmap show factor x MSE, the unit of
  /// the total loss (which is factor x the mean over layers), and say so on the axis. Default 1000.
  void setMseFactor(const QString& stage, double factor);
  double mseFactor(const QString& stage) const { return m_factors.value(stage, 1000.0); }
  void clearAll();
  void flush();
  /// Steps with per-layer values for a stage.
  int stepCount(const QString& stage) const;
  QCustomPlot* curves() const { return m_curves; }
  QCustomPlot* heatmap() const { return m_heat; }
  /// Adds a page beside the curves and the heatmap (the Distill page's accuracy table), so they share
  /// one height; the stage selector is enabled on the plots' pages only.
  void addPage(QWidget* page, const QString& title);
  void showPage(QWidget* page);
  QString toCsv() const;

 private:
  struct StageData {
    QVector<double> steps;
    QVector<QVector<double>> layers;  ///< [layer][i]
  };
  void redraw();

  QMap<QString, StageData> m_data;  ///< raw (unscaled) MSE, as metrics.jsonl has it
  QMap<QString, double> m_factors;
  class QCPColorScale* m_scale = nullptr;
  QVector<mm::MetricEvent> m_pending;
  QTimer m_flushTimer;
  QComboBox* m_stage;
  QTabWidget* m_tabs;
  QCustomPlot* m_curves;
  QCustomPlot* m_heat;
  QCPColorMap* m_map;
  QCPItemText* m_curvesEmpty;  ///< notes shown while a plot has nothing to draw
  QCPItemText* m_heatEmpty;
};
