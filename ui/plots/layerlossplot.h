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

  QMap<QString, StageData> m_data;
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
